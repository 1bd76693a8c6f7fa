// Rate limiting behind one interface: token buckets in process (one replica) or shared
// through Redis (several replicas). Callers key buckets by what they limit, e.g.
// "login:<ip>:<username>" or "client:<id>:minute".
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace permiso::ratelimit {

struct Rate {
  std::uint32_t count = 0;      // tokens per period; 0 means unlimited
  std::uint32_t period_s = 60;  // 0 is treated as 1
};

/// "N/second", "N/minute", "N/hour" or "N/day" (the seed's RATE_LIMIT_* format, N up to
/// 9 digits); nullopt otherwise.
std::optional<Rate> parse_rate(std::string_view text);

struct Decision {
  bool allowed = true;
  std::uint32_t remaining = 0;
  std::uint32_t retry_after_s = 0;  // when refused: whole seconds until one token is back
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  /// Takes `cost` tokens from the bucket `key` (capacity rate.count, refilled evenly over
  /// rate.period_s). Must be cheap and must not block on I/O for long.
  virtual Decision consume(std::string_view key, Rate rate, std::uint32_t cost = 1) = 0;
  /// Forgets the bucket (e.g. after a successful login).
  virtual void reset(std::string_view key) = 0;
};

}  // namespace permiso::ratelimit
