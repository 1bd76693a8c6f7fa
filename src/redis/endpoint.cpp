// See endpoint.hpp.
#include "redis/endpoint.hpp"

#include <charconv>

namespace permiso::redis {
namespace {

/// RFC 3986 percent-decoding of the userinfo (templates encode the password this way);
/// nullopt on a '%' not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size()) return std::nullopt;
    const auto [p, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc() || p != text.data() + i + 3) return std::nullopt;
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

}  // namespace

std::optional<Endpoint> parse_url(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  Endpoint ep;
  if (const auto at = url.rfind('@'); at != std::string_view::npos) {
    auto userinfo = url.substr(0, at);
    const auto colon = userinfo.find(':');
    auto password = percent_decode(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
    if (!password) return std::nullopt;
    ep.password = std::move(*password);
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
