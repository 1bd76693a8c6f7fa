// See rate_limiter.hpp.
#include "ratelimit/rate_limiter.hpp"

namespace permiso::ratelimit {

std::optional<Rate> parse_rate(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 9) return std::nullopt;
  std::uint32_t count = 0;
  for (const char c : text.substr(0, slash)) {
    if (c < '0' || c > '9') return std::nullopt;
    count = count * 10 + static_cast<std::uint32_t>(c - '0');
  }
  const auto unit = text.substr(slash + 1);
  if (unit == "second") return Rate{count, 1};
  if (unit == "minute") return Rate{count, 60};
  if (unit == "hour") return Rate{count, 3600};
  if (unit == "day") return Rate{count, 86400};
  return std::nullopt;
}

}  // namespace permiso::ratelimit
