// See guard.hpp.
#include "resource/guard.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <stdexcept>

namespace permiso::http {
void throw_exception_from_error(const Response& r, const boost::source_location&) {
  throw ::permiso::BadResultAccess("unexpected error result: HTTP " + std::to_string(r.status));
}
}  // namespace permiso::http

namespace permiso::resource {
namespace {

constexpr std::string_view kRealm = "Bearer realm=\"permiso\"";

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

boost::json::array to_array(const std::vector<std::string>& items) {
  boost::json::array a;
  for (const auto& i : items) a.emplace_back(i);
  return a;
}

/// Scope names come from our own route tables, but a header value must never carry a quote,
/// a backslash or a control character (RFC 6750 §3: scope-token is NQCHAR).
std::string header_safe(std::string_view in) {
  std::string out;
  for (char c : in) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') out.push_back(c);
  }
  return out;
}

http::Response scope_refusal(const http::Request& req, const std::vector<std::string>& required,
                             const std::vector<std::string>& missing, bool any_of) {
  const boost::json::object extra{{"required_scopes", to_array(required)}, {"missing_scopes", to_array(missing)}};
  const std::string description =
      std::string(any_of && required.size() > 1 ? "This request requires one of the scopes: "
                                                : "This request requires the scopes: ") +
      join(required, ", ") + "; the token lacks: " + join(missing, ", ") + ".";
  auto res = http::error_response(req, 403, "insufficient_scope", description, &extra);
  res.set_header("WWW-Authenticate", std::string(kRealm) + ", error=\"insufficient_scope\", scope=\"" +
                                         header_safe(join(required, " ")) + "\"");
  res.set_header("Cache-Control", "no-store");
  return res;
}

}  // namespace

http::Response unauthorized(const http::Request& req, AuthFailure failure) {
  if (failure == AuthFailure::KeysUnavailable) {
    auto res = http::error_response(req, 503, "temporarily_unavailable", describe(failure));
    res.set_header("Retry-After", "1");
    return res;
  }
  // `reason` is machine-readable: a client drops a revoked token and does not retry with a
  // fresh one, while an expired or rotated one is simply replaced.
  const boost::json::object extra{{"reason", to_string(failure)}};
  auto res = http::error_response(req, 401, "invalid_token", describe(failure), &extra);
  // RFC 6750 §3.1 lets a challenge to an anonymous request omit the error code; the contract
  // (and permiso-auth) name it on every 401, so clients have one rule: fetch a new token.
  res.set_header("WWW-Authenticate", std::string(kRealm) + ", error=\"invalid_token\", error_description=\"" +
                                         header_safe(describe(failure)) + "\"");
  res.set_header("Cache-Control", "no-store");
  return res;
}

http::Response insufficient_scope(const http::Request& req, const std::vector<std::string>& required,
                                  const std::vector<std::string>& missing) {
  return scope_refusal(req, required, missing, /*any_of=*/false);
}

http::Response insufficient_any_scope(const http::Request& req, const std::vector<std::string>& required) {
  return scope_refusal(req, required, required, /*any_of=*/true);
}

std::vector<std::string> missing_scopes(const Principal& principal, std::initializer_list<std::string_view> required) {
  std::vector<std::string> missing;
  for (auto s : required) {
    if (!principal.has_scope(s)) missing.emplace_back(s);
  }
  return missing;
}

Guarded require_scopes(const Authenticator& auth, const http::Request& req,
                       std::initializer_list<std::string_view> all_of) {
  auto who = auth.authenticate(req);
  if (!who) return unauthorized(req, who.error());
  auto missing = missing_scopes(**who, all_of);
  if (!missing.empty()) return insufficient_scope(req, std::vector<std::string>(all_of.begin(), all_of.end()), missing);
  return std::move(*who);
}

Guarded require_any_scope(const Authenticator& auth, const http::Request& req,
                          std::initializer_list<std::string_view> any_of) {
  auto who = auth.authenticate(req);
  if (!who) return unauthorized(req, who.error());
  for (auto s : any_of) {
    if ((*who)->has_scope(s)) return std::move(*who);
  }
  if (any_of.size() == 0) return std::move(*who);
  const std::vector<std::string> required(any_of.begin(), any_of.end());
  return scope_refusal(req, required, required, /*any_of=*/true);
}

}  // namespace permiso::resource
