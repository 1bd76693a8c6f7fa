// See redis_limiter.hpp.
#include "ratelimit/redis_limiter.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

namespace permiso::ratelimit {
namespace {

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

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::optional<RedisEndpoint> parse_redis_url(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  RedisEndpoint ep;
  if (const auto at = url.rfind('@'); at != std::string_view::npos) {
    auto userinfo = url.substr(0, at);
    const auto colon = userinfo.find(':');
    ep.password = std::string(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
    url.remove_prefix(at + 1);
  }
  if (const auto slash = url.find('/'); slash != std::string_view::npos) {
    const auto db = url.substr(slash + 1);
    if (!db.empty()) {
      auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), ep.db);
      if (ec != std::errc() || p != db.data() + db.size() || ep.db < 0) return std::nullopt;
    }
    url = url.substr(0, slash);
  }
  if (const auto colon = url.rfind(':'); colon != std::string_view::npos) {
    const auto port = url.substr(colon + 1);
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), ep.port);
    if (ec != std::errc() || p != port.data() + port.size() || ep.port < 1 || ep.port > 65535) return std::nullopt;
    url = url.substr(0, colon);
  }
  if (url.empty()) return std::nullopt;
  ep.host = std::string(url);
  return ep;
}

void RedisRateLimiter::ContextFree::operator()(redisContext* c) const {
  redisFree(c);
}

RedisRateLimiter::RedisRateLimiter(RedisEndpoint endpoint, Options options)
    : endpoint_(std::move(endpoint)), options_(std::move(options)) {}

RedisRateLimiter::~RedisRateLimiter() = default;

RedisRateLimiter::Connection RedisRateLimiter::connect() {
  Connection c(redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, to_timeval(options_.connect_timeout)));
  if (!c || c->err != 0) return nullptr;
  redisSetTimeout(c.get(), to_timeval(options_.command_timeout));
  if (!endpoint_.password.empty()) {
    auto r = command(c.get(), {"AUTH", endpoint_.password});
    if (!r || r->type == REDIS_REPLY_ERROR) return nullptr;
  }
  if (endpoint_.db != 0) {
    auto r = command(c.get(), {"SELECT", std::to_string(endpoint_.db)});
    if (!r || r->type == REDIS_REPLY_ERROR) return nullptr;
  }
  return c;
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

Decision RedisRateLimiter::consume(std::string_view key, Rate rate, std::uint32_t cost) {
  if (rate.count == 0) return Decision{true, UINT32_MAX, 0};
  const auto retry_s =
      static_cast<std::uint32_t>(std::max<std::int64_t>(1, (options_.retry_interval.count() + 999) / 1000));
  const Decision fallback{options_.fail_open, 0, options_.fail_open ? 0U : retry_s};
  if (backing_off()) {
    unavailable_.fetch_add(1);
    return fallback;
  }
  auto c = acquire();
  if (!c) {
    mark_down();
    return fallback;
  }
  const std::string full_key = options_.key_prefix + std::string(key);
  const std::vector<std::string> tail{
      "1", full_key, std::to_string(rate.count),
      std::to_string(static_cast<std::uint64_t>(std::max<std::uint32_t>(1, rate.period_s)) * 1000),
      std::to_string(cost)};
  auto evalsha = [&](const std::string& sha) {
    std::vector<std::string> args{"EVALSHA", sha};
    args.insert(args.end(), tail.begin(), tail.end());
    return command(c.get(), args);
  };
  // SCRIPT LOAD on first use, and again on NOSCRIPT (Redis restarted or flushed its cache).
  auto load = [&]() -> std::string {
    auto loaded = command(c.get(), {"SCRIPT", "LOAD", kScript});
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
  if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
    mark_down();
    if (c && c->err == 0 && reply) release(std::move(c));
    return fallback;
  }
  Decision d;
  d.allowed = reply->element[0]->integer == 1;
  d.remaining = static_cast<std::uint32_t>(std::max<long long>(0, reply->element[1]->integer));
  d.retry_after_s = static_cast<std::uint32_t>(std::max<long long>(0, reply->element[2]->integer));
  release(std::move(c));
  mark_up();
  return d;
}

void RedisRateLimiter::reset(std::string_view key) {
  if (backing_off()) {
    unavailable_.fetch_add(1);
    return;
  }
  auto c = acquire();
  if (!c) {
    mark_down();
    return;
  }
  auto r = command(c.get(), {"DEL", options_.key_prefix + std::string(key)});
  if (!r) {
    mark_down();
    return;
  }
  release(std::move(c));
  mark_up();
}

}  // namespace permiso::ratelimit
