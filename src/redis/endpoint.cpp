// See endpoint.hpp.
#include "redis/endpoint.hpp"

#include <charconv>

namespace permiso::redis {

std::optional<Endpoint> parse_url(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  Endpoint ep;
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

}  // namespace permiso::redis
