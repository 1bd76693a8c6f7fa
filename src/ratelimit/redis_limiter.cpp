// See redis_limiter.hpp.
#include "ratelimit/redis_limiter.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

namespace permiso::ratelimit {
namespace {

using redis::command;
using redis::Reply;

// KEYS[1] bucket; ARGV: capacity, period_ms, cost. Returns {allowed, remaining, retry_after_s}.
constexpr const char* kScript = R"lua(
local capacity = tonumber(ARGV[1])
local period_ms = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then tokens = capacity; ts = now end
local per_ms = capacity / period_ms
tokens = math.min(capacity, tokens + math.max(0, now - ts) * per_ms)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / per_ms / 1000 - 1e-9)
  if retry < 1 then retry = 1 end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], period_ms * 2)
return {allowed, math.floor(tokens), retry}
)lua";

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RedisRateLimiter::RedisRateLimiter(redis::Endpoint endpoint, Options options)
    : endpoint_(std::move(endpoint)), options_(std::move(options)) {}

RedisRateLimiter::~RedisRateLimiter() = default;

RedisRateLimiter::Connection RedisRateLimiter::connect() {
  return redis::connect(endpoint_, {options_.connect_timeout, options_.command_timeout});
}

RedisRateLimiter::Connection RedisRateLimiter::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return connect();
}

void RedisRateLimiter::release(Connection c) {
  if (!c || c->err != 0) return;  // a broken connection is dropped, not pooled
  std::lock_guard lock(mutex_);
  if (idle_.size() < options_.pool_size) idle_.push_back(std::move(c));
}

void RedisRateLimiter::mark_down() {
  unavailable_.fetch_add(1);
  retry_at_ms_.store(steady_ms() + options_.retry_interval.count());
  if (available_.exchange(false) && options_.on_availability_change) options_.on_availability_change(false);
}

void RedisRateLimiter::mark_up() {
  if (!available_.exchange(true) && options_.on_availability_change) options_.on_availability_change(true);
}

bool RedisRateLimiter::backing_off() const {
  return !available_.load() && steady_ms() < retry_at_ms_.load();
}

bool RedisRateLimiter::with_connection(const std::function<bool(redisContext*)>& exchange) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto c = attempt == 0 ? acquire() : connect();
    if (c && exchange(c.get())) {
      release(std::move(c));
      mark_up();
      return true;
    }
  }
  mark_down();
  return false;
}

std::optional<Decision> RedisRateLimiter::run_script(redisContext* c, const std::vector<std::string>& args) {
  auto evalsha = [&](const std::string& sha) {
    std::vector<std::string> full{"EVALSHA", sha};
    full.insert(full.end(), args.begin(), args.end());
    return command(c, full);
  };
  // SCRIPT LOAD on first use, and again on NOSCRIPT (Redis restarted or flushed its cache).
  auto load = [&]() -> std::string {
    auto loaded = command(c, {"SCRIPT", "LOAD", kScript});
    if (!loaded || loaded->type != REDIS_REPLY_STRING) return {};
    std::string sha(loaded->str, loaded->len);
    std::lock_guard lock(mutex_);
    script_sha_ = sha;
    return sha;
  };
  std::string sha;
  {
    std::lock_guard lock(mutex_);
    sha = script_sha_;
  }
  if (sha.empty()) sha = load();
  Reply reply;
  if (!sha.empty()) reply = evalsha(sha);
  if (reply && reply->type == REDIS_REPLY_ERROR && std::strncmp(reply->str, "NOSCRIPT", 8) == 0) {
    sha = load();
    if (!sha.empty()) reply = evalsha(sha);
  }
  if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) return std::nullopt;
  Decision d;
  d.allowed = reply->element[0]->integer == 1;
  d.remaining = static_cast<std::uint32_t>(std::max<long long>(0, reply->element[1]->integer));
  d.retry_after_s = static_cast<std::uint32_t>(std::max<long long>(0, reply->element[2]->integer));
  return d;
}

Decision RedisRateLimiter::consume(std::string_view key, Rate rate, std::uint32_t cost) {
  if (rate.count == 0) return Decision{true, UINT32_MAX, 0};
  const auto retry_s =
      static_cast<std::uint32_t>(std::max<std::int64_t>(1, (options_.retry_interval.count() + 999) / 1000));
  const auto fallback = [&] {
    if (options_.local_fallback != nullptr) return options_.local_fallback->consume(key, rate, cost);
    return Decision{options_.fail_open, 0, options_.fail_open ? 0U : retry_s};
  };
  if (backing_off()) {
    unavailable_.fetch_add(1);
    return fallback();
  }
  const std::vector<std::string> args{
      "1", options_.key_prefix + std::string(key), std::to_string(rate.count),
      std::to_string(static_cast<std::uint64_t>(std::max<std::uint32_t>(1, rate.period_s)) * 1000),
      std::to_string(cost)};
  std::optional<Decision> decided;
  if (!with_connection([&](redisContext* c) { return (decided = run_script(c, args)).has_value(); })) {
    return fallback();
  }
  return *decided;
}

void RedisRateLimiter::reset(std::string_view key) {
  if (options_.local_fallback != nullptr) options_.local_fallback->reset(key);
  if (backing_off()) {
    unavailable_.fetch_add(1);
    return;
  }
  const std::string full_key = options_.key_prefix + std::string(key);
  (void)with_connection([&](redisContext* c) { return command(c, {"DEL", full_key}) != nullptr; });
}

}  // namespace permiso::ratelimit
