// The OAuth endpoints (token, service-token, refresh, revoke, introspect, logout, the
// revocation feed), the caller's sessions, and discovery + JWKS.
#pragma once

#include "auth/handlers/handler_support.hpp"
#include "http/http.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace permiso::auth {

void register_oauth_routes(http::Router& router, AuthContext& ctx);
/// The authorization endpoint and its sign-in page (authorize_handlers.cpp).
void register_authorize_routes(http::Router& router, AuthContext& ctx);
/// `redirect_uri` with the answer's parameters appended (`?` or `&`, each percent-encoded).
[[nodiscard]] std::string redirect_with(std::string_view redirect_uri,
                                        const std::vector<std::pair<std::string, std::string>>& params);
void register_session_routes(http::Router& router, AuthContext& ctx);
void register_wellknown_routes(http::Router& router, AuthContext& ctx);

}  // namespace permiso::auth
