// See redis_token_cache.hpp.
#include "redis_token_cache.hpp"

namespace permiso::client_detail {
namespace {

using redis::command;

constexpr std::chrono::seconds kRetryInterval{1};

}  // namespace

RedisTokenCache::RedisTokenCache(redis::Endpoint target, std::chrono::milliseconds timeout)
    : target_(std::move(target)), timeout_(timeout) {}

RedisTokenCache::~RedisTokenCache() = default;

void RedisTokenCache::drop() {
  ctx_.reset();
  retry_at_ = std::chrono::steady_clock::now() + kRetryInterval;
}

bool RedisTokenCache::ensure_connected() {
  if (ctx_ && ctx_->err == 0) return true;
  if (ctx_) drop();
  if (std::chrono::steady_clock::now() < retry_at_) return false;
  ctx_ = redis::connect(target_, {timeout_, timeout_});
  if (!ctx_) {
    drop();
    return false;
  }
  return true;
}

std::optional<RedisTokenCache::Hit> RedisTokenCache::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (!ensure_connected()) return std::nullopt;
  auto value = command(ctx_.get(), {"GET", key});
  if (!value) {
    drop();
    return std::nullopt;
  }
  if (value->type != REDIS_REPLY_STRING) return std::nullopt;
  auto ttl = command(ctx_.get(), {"PTTL", key});
  if (!ttl) {
    drop();
    return std::nullopt;
  }
  // -2: expired in between; -1: no TTL (never written by us): both a miss.
  if (ttl->type != REDIS_REPLY_INTEGER || ttl->integer <= 0) return std::nullopt;
  return Hit{std::string(value->str, value->len), std::chrono::milliseconds(ttl->integer)};
}

bool RedisTokenCache::put(const std::string& key, const std::string& value, std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) return false;
  std::lock_guard lock(mutex_);
  if (!ensure_connected()) return false;
  auto r = command(ctx_.get(), {"SET", key, value, "PX", std::to_string(ttl.count())});
  if (!r) {
    drop();
    return false;
  }
  return r->type == REDIS_REPLY_STATUS;
}

bool RedisTokenCache::erase_if_equal(const std::string& key, const std::string& value) {
  static constexpr std::string_view kScript =
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
  std::lock_guard lock(mutex_);
  if (!ensure_connected()) return false;
  auto r = command(ctx_.get(), {"EVAL", std::string(kScript), "1", key, value});
  if (!r) {
    drop();
    return false;
  }
  return r->type == REDIS_REPLY_INTEGER && r->integer == 1;
}

}  // namespace permiso::client_detail
