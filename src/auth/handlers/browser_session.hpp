// How a browser holds its session (RFC 9700 §4.14, the OAuth browser-apps guidance): the
// refresh token only in an HttpOnly, Secure, SameSite=Strict cookie that is sent to the token
// endpoint and nowhere else; the access token in the app's memory, from the response body.
#pragma once

#include "auth/grants.hpp"
#include "http/http.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace permiso::auth {

/// `__Secure-`: browsers accept it only with Secure, from a secure origin.
inline constexpr std::string_view kRefreshCookie = "__Secure-permiso_refresh";
/// The cookie travels only to the endpoint that rotates it.
inline constexpr std::string_view kRefreshCookiePath = "/api/v1/auth/token";

/// Whether sessions of `client_id` are browser sessions: those signed in through the
/// authorization code grant (the password grant's are Permiso's own first-party client).
[[nodiscard]] bool is_browser_client(std::string_view client_id);
[[nodiscard]] bool is_browser_grant(const UserGrant& grant);
/// A Set-Cookie value with `Secure; HttpOnly; SameSite=Strict`, for `path`, for `max_age_s`.
[[nodiscard]] std::string secure_cookie(std::string_view name, std::string_view value, std::string_view path,
                                        std::int64_t max_age_s);
/// The refresh token the browser's cookie carries, if any.
[[nodiscard]] std::optional<std::string> refresh_cookie_of(const http::Request& req);
/// Set-Cookie values: the refresh token for `max_age_s` seconds, or its removal.
[[nodiscard]] std::string refresh_cookie(std::string_view token, std::int64_t max_age_s);
[[nodiscard]] std::string cleared_refresh_cookie();
/// A browser grant's answer: the access token in the body, the refresh token in the cookie.
[[nodiscard]] http::Response browser_grant_response(const UserGrant& grant, std::int64_t refresh_ttl_s);

}  // namespace permiso::auth
