// See browser_session.hpp.
#include "auth/handlers/browser_session.hpp"

#include "auth/handlers/handler_support.hpp"

namespace permiso::auth {

bool is_browser_client(std::string_view client_id) {
  return client_id != kFirstPartyClient;
}

bool is_browser_grant(const UserGrant& grant) {
  return is_browser_client(grant.client_id);
}

std::string secure_cookie(std::string_view name, std::string_view value, std::string_view path,
                          std::int64_t max_age_s) {
  return std::string(name) + "=" + std::string(value) + "; Path=" + std::string(path) +
         "; Max-Age=" + std::to_string(max_age_s) + "; Secure; HttpOnly; SameSite=Strict";
}

std::optional<std::string> refresh_cookie_of(const http::Request& req) {
  auto value = http::cookie(req, kRefreshCookie);
  if (!value || value->empty()) return std::nullopt;
  return std::string(*value);
}

std::string refresh_cookie(std::string_view token, std::int64_t max_age_s) {
  return secure_cookie(kRefreshCookie, token, kRefreshCookiePath, max_age_s);
}

std::string cleared_refresh_cookie() {
  return refresh_cookie("", 0);
}

http::Response browser_grant_response(const UserGrant& grant, std::int64_t refresh_ttl_s) {
  auto res = no_store_json(200, {{"access_token", grant.access.access_token},
                                 {"token_type", "Bearer"},
                                 {"expires_in", grant.access.expires_in},
                                 {"scope", grant.access.scope},
                                 {"session_id", grant.session_id}});
  res.set_header("Set-Cookie", refresh_cookie(grant.refresh_token, refresh_ttl_s));
  return res;
}

}  // namespace permiso::auth
