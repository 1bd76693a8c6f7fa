// See redis_token_cache.hpp.
#include "redis_token_cache.hpp"

#include <hiredis/hiredis.h>

#include <charconv>
#include <vector>

namespace permiso::client_detail {
namespace {

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

Reply command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
}

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms.count() / 1000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms.count() % 1000) * 1000);
  return tv;
}

constexpr std::chrono::seconds kRetryInterval{1};

}  // namespace

std::optional<RedisTarget> parse_redis_target(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  RedisTarget t;
  if (const auto at = url.rfind('@'); at != std::string_view::npos) {
    auto userinfo = url.substr(0, at);
    const auto colon = userinfo.find(':');
    t.password = std::string(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
    url.remove_prefix(at + 1);
  }
  if (const auto slash = url.find('/'); slash != std::string_view::npos) {
    const auto db = url.substr(slash + 1);
    if (!db.empty()) {
      auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), t.db);
      if (ec != std::errc() || p != db.data() + db.size() || t.db < 0) return std::nullopt;
    }
    url = url.substr(0, slash);
  }
  if (const auto colon = url.rfind(':'); colon != std::string_view::npos) {
    const auto port = url.substr(colon + 1);
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), t.port);
    if (ec != std::errc() || p != port.data() + port.size() || t.port < 1 || t.port > 65535) return std::nullopt;
    url = url.substr(0, colon);
  }
  if (url.empty()) return std::nullopt;
  t.host = std::string(url);
  return t;
}

void RedisTokenCache::ContextFree::operator()(redisContext* c) const {
  redisFree(c);
}

RedisTokenCache::RedisTokenCache(RedisTarget target, std::chrono::milliseconds timeout)
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
  ctx_.reset(redisConnectWithTimeout(target_.host.c_str(), target_.port, to_timeval(timeout_)));
  if (!ctx_ || ctx_->err != 0) {
    drop();
    return false;
  }
  redisSetTimeout(ctx_.get(), to_timeval(timeout_));
  if (!target_.password.empty()) {
    auto r = command(ctx_.get(), {"AUTH", target_.password});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      drop();
      return false;
    }
  }
  if (target_.db != 0) {
    auto r = command(ctx_.get(), {"SELECT", std::to_string(target_.db)});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      drop();
      return false;
    }
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

}  // namespace permiso::client_detail
