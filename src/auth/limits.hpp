// A rate rule applied to one key: nothing when it allows the request, else the 429 refusal
// with its Retry-After.
#pragma once

#include "auth/context.hpp"
#include "auth/errors.hpp"

#include <optional>
#include <string>

namespace permiso::auth {

/// Consumes one request of `rule` for `key` (a rule with count 0 is unlimited).
std::optional<Failure> consume(ratelimit::RateLimiter& limiter, std::string key, RateRule rule);

}  // namespace permiso::auth
