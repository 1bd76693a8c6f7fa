// See limits.hpp.
#include "auth/limits.hpp"

#include "ratelimit/rate_limiter.hpp"

#include <algorithm>

namespace permiso::auth {

std::optional<Failure> consume(ratelimit::RateLimiter& limiter, std::string key, RateRule rule) {
  if (rule.count == 0) return std::nullopt;
  const auto d = limiter.consume(key, ratelimit::Rate{rule.count, rule.period_s});
  if (d.allowed) return std::nullopt;
  Failure f(AuthError::RateLimited, "Too many requests; retry later.");
  f.retry_after_s = static_cast<int>(std::max<std::uint32_t>(1, d.retry_after_s));
  return f;
}

}  // namespace permiso::auth
