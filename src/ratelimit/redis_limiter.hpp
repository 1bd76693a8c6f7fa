// Token buckets shared by every replica through Redis: one atomic Lua script per decision
// (refill and take in one step, Redis's own clock, keys expire when idle). When Redis is
// unreachable the limiter fails open by default (availability of logins over strictness),
// counts it, and retries the connection on the next call.
#pragma once

#include "ratelimit/rate_limiter.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct redisContext;

namespace permiso::ratelimit {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  int db = 0;
};
/// redis://[[user]:password@]host[:port][/db]; nullopt when malformed.
std::optional<RedisEndpoint> parse_redis_url(std::string_view url);

class RedisRateLimiter final : public RateLimiter {
 public:
  struct Options {
    std::chrono::milliseconds connect_timeout{200};
    std::chrono::milliseconds command_timeout{100};
    std::size_t pool_size = 8;
    bool fail_open = true;
    std::string key_prefix = "permiso:rl:";
  };

  RedisRateLimiter(RedisEndpoint endpoint, Options options);
  ~RedisRateLimiter() override;

  Decision consume(std::string_view key, Rate rate, std::uint32_t cost = 1) override;
  void reset(std::string_view key) override;

  /// Decisions made without Redis (it was unreachable).
  [[nodiscard]] std::uint64_t unavailable_count() const { return unavailable_.load(); }

 private:
  struct ContextFree {
    void operator()(redisContext* c) const;
  };
  using Connection = std::unique_ptr<redisContext, ContextFree>;
  Connection acquire();
  void release(Connection c);
  Connection connect();

  RedisEndpoint endpoint_;
  Options options_;
  std::mutex mutex_;
  std::vector<Connection> idle_;
  std::string script_sha_;
  std::atomic<std::uint64_t> unavailable_{0};
};

}  // namespace permiso::ratelimit
