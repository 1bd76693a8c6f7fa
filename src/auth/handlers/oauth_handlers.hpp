// The OAuth endpoints (token, service-token, refresh, revoke, introspect, logout, the
// revocation feed), the caller's sessions, and discovery + JWKS.
#pragma once

#include "auth/handlers/handler_support.hpp"
#include "http/http.hpp"

namespace permiso::auth {

void register_oauth_routes(http::Router& router, AuthContext& ctx);
/// The authorization endpoint and its sign-in page (authorize_handlers.cpp).
void register_authorize_routes(http::Router& router, AuthContext& ctx);
void register_session_routes(http::Router& router, AuthContext& ctx);
void register_wellknown_routes(http::Router& router, AuthContext& ctx);

}  // namespace permiso::auth
