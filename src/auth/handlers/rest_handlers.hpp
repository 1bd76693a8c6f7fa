// The REST API of permiso-auth: users (self-service and admin), roles and scopes, service
// clients, and the admin endpoints (audit trail, signing keys, dashboard statistics).
#pragma once

#include "auth/errors.hpp"
#include "auth/handlers/handler_support.hpp"
#include "auth/principal.hpp"
#include "auth/roles.hpp"
#include "http/http.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::auth {

void register_user_routes(http::Router& router, AuthContext& ctx);
void register_role_routes(http::Router& router, AuthContext& ctx);
void register_client_routes(http::Router& router, AuthContext& ctx);
void register_admin_routes(http::Router& router, AuthContext& ctx);

/// A bearer token carrying every one of `scopes` (401 / 403 otherwise).
AuthResult<Principal> require(const AuthContext& ctx, const http::Request& req, const std::vector<std::string>& scopes);

/// page/per_page query parameters: page ≥ 1, 1 ≤ per_page ≤ max (422 naming the field).
struct Paging {
  std::int64_t page = 1;
  std::int64_t per_page = 20;
};
AuthResult<Paging> read_paging(const http::Request& req, std::int64_t default_per_page, std::int64_t max_per_page);
/// The required `scope_ids` (or `scopes`) list of a request body, as scope ids: 400 for bad
/// JSON, 422 naming scope_ids when it is missing, mistyped or names an unknown scope.
AuthResult<std::vector<std::int64_t>> required_scope_ids(AuthContext& ctx, const http::Request& req);
/// The `scope_ids` member of a body, else its `scopes` (the two spellings clients use), as
/// scope ids; nullopt when the body has neither (`null`: an empty list). 422 naming
/// scope_ids when it is mistyped or names an unknown scope.
AuthResult<std::optional<std::vector<std::int64_t>>> optional_scope_ids(AuthContext& ctx, JsonBody& body);

boost::json::object page_envelope(std::string_view items_key, boost::json::array items, std::int64_t total,
                                  const Paging& paging);

}  // namespace permiso::auth
