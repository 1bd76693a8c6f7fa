// Token buckets shared by every replica through Redis: one atomic Lua script per decision
// (refill and take in one step, Redis's own clock, keys expire when idle). When Redis is
// unreachable the limiter fails open by default (availability of logins over strictness),
// counts it, reports the change of state once, and stops trying for retry_interval so a
// dead Redis costs callers nothing. Given a local fallback limiter, it decides with that one
// instead while Redis is away: limits then hold per replica rather than not at all.
#pragma once

#include "ratelimit/rate_limiter.hpp"
#include "redis/connection.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace permiso::ratelimit {

class RedisRateLimiter final : public RateLimiter {
 public:
  struct Options {
    std::chrono::milliseconds connect_timeout{200};
    std::chrono::milliseconds command_timeout{100};
    std::size_t pool_size = 8;
    bool fail_open = true;  // decisions while Redis is unreachable (without a local_fallback)
    /// Decides while Redis is unreachable, when set (e.g. the process's MemoryRateLimiter):
    /// a Redis outage then turns shared limits into per-replica ones. Must outlive this.
    RateLimiter* local_fallback = nullptr;
    std::string key_prefix = "permiso:rl:";
    std::chrono::milliseconds retry_interval{1000};  // after a failure, no new attempt before
    /// Called (on the calling thread) when Redis becomes unreachable (false) or usable again
    /// (true); e.g. to log it once instead of per request.
    std::function<void(bool available)> on_availability_change;
  };

  RedisRateLimiter(redis::Endpoint endpoint, Options options);
  ~RedisRateLimiter() override;

  Decision consume(std::string_view key, Rate rate, std::uint32_t cost = 1) override;
  void reset(std::string_view key) override;

  /// Decisions made without Redis (it was unreachable).
  [[nodiscard]] std::uint64_t unavailable_count() const { return unavailable_.load(); }
  /// False from a failed call until the next successful one.
  [[nodiscard]] bool available() const { return available_.load(); }

 private:
  using Connection = redis::Connection;
  Connection acquire();
  void release(Connection c);
  Connection connect();
  /// Runs `exchange` on a pooled connection and, when that fails, once more on a fresh one (a
  /// Redis restart leaves every pooled connection dead). Marks Redis up or down; false when it
  /// could not be used.
  bool with_connection(const std::function<bool(redisContext*)>& exchange);
  /// The bucket script (loaded on first use and after NOSCRIPT) with `args` after its SHA;
  /// nullopt on any failure.
  std::optional<Decision> run_script(redisContext* c, const std::vector<std::string>& args);
  void mark_down();
  void mark_up();
  [[nodiscard]] bool backing_off() const;

  redis::Endpoint endpoint_;
  Options options_;
  std::mutex mutex_;
  std::vector<Connection> idle_;
  std::string script_sha_;
  std::atomic<std::uint64_t> unavailable_{0};
  std::atomic<bool> available_{true};
  std::atomic<std::int64_t> retry_at_ms_{0};  // steady clock
};

}  // namespace permiso::ratelimit
