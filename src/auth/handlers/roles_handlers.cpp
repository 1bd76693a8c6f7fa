// Roles and scopes: admin:system for every route (reads too: role and scope definitions are
// system configuration, and the bootstrap admin holds admin:system). The handlers read and
// validate the request, call RoleService and render.
#include "auth/handlers/handler_support.hpp"
#include "auth/handlers/rest_handlers.hpp"
#include "auth/render.hpp"
#include "auth/roles.hpp"
#include "auth/scopes.hpp"
#include "http/offload.hpp"

#include <boost/json.hpp>

namespace permiso::auth {

AuthResult<std::vector<std::int64_t>> required_scope_ids(AuthContext& ctx, const http::Request& req) {
  auto body = JsonBody::parse(req);
  if (!body) return body.error();
  auto refs = body->list("scope_ids");
  if (!refs) refs = body->list("scopes");
  if (body->error()) return *body->error();
  if (!refs) return validation_failure("scope_ids", "is required");
  return ctx.services.roles.resolve_scopes(*refs, "scope_ids");
}

AuthResult<std::optional<std::vector<std::int64_t>>> optional_scope_ids(AuthContext& ctx, JsonBody& body) {
  const char* key = body.has("scope_ids") ? "scope_ids" : body.has("scopes") ? "scopes" : nullptr;
  if (key == nullptr) return std::optional<std::vector<std::int64_t>>();
  auto refs = body.list(key);
  if (body.error()) return *body.error();
  auto ids = ctx.services.roles.resolve_scopes(refs.value_or(std::vector<std::string>{}), "scope_ids");
  if (!ids) return ids.error();
  return std::optional<std::vector<std::int64_t>>(std::move(*ids));
}

namespace {

using http::Request;
using http::Response;

Response fail(const Request& req, const Failure& f) {
  return to_response(req, f);
}

AuthResult<std::int64_t> id_param(const Request& req, std::string_view what) {
  const auto raw = req.param("id");
  if (!is_decimal_id(raw)) return Failure(AuthError::NotFound, "No such " + std::string(what) + ".");
  return std::stoll(std::string(raw));
}

std::optional<Failure> check_name(const std::optional<std::string>& name, std::string_view field) {
  if (!name || name->empty()) return validation_failure(field, "is required");
  if (name->size() > 64 || !is_valid_scope_name(*name)) {
    return validation_failure(field, "must be 1 to 64 printable characters without spaces or quotes");
  }
  return std::nullopt;
}

/// A role or scope update body: a valid name when present, a description when a string.
AuthResult<DefinitionPatch> read_patch(JsonBody& body) {
  DefinitionPatch patch;
  if (body.has("name")) {
    auto name = body.str("name");
    if (auto f = check_name(name, "name")) return body.error().value_or(*f);
    patch.name = std::move(name);
  }
  patch.description = body.str("description");
  if (body.error()) return *body.error();
  return patch;
}

/// The caller (admin:system), the path id and the request body, read in that order.
struct Edit {
  Principal caller;
  std::int64_t id = 0;
};
AuthResult<Edit> read_edit(AuthContext& ctx, const Request& req, std::string_view what) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return caller.error();
  auto id = id_param(req, what);
  if (!id) return id.error();
  return Edit{std::move(*caller), *id};
}

Response role_response(const AuthResult<RoleView>& role, const Request& req, int status = 200) {
  if (!role) return fail(req, role.error());
  return http::json_response(status, render_role(role->role, role->scopes));
}

Response scope_response(const AuthResult<storage::Scope>& scope, const Request& req, int status = 200) {
  if (!scope) return fail(req, scope.error());
  return http::json_response(status, render_scope(*scope));
}

// ---- roles ----

Response list_roles(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  auto roles = ctx.services.roles.roles();
  if (!roles) return fail(req, roles.error());
  boost::json::array out;
  for (const auto& r : *roles) out.push_back(render_role(r.role, r.scopes));
  return http::json_response(200, boost::json::object{{"roles", std::move(out)}, {"total", roles->size()}});
}

Response create_role(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  storage::Role role;
  auto name = body->str("name");
  role.description = body->str("description").value_or("");
  if (body->error()) return fail(req, *body->error());
  if (auto f = check_name(name, "name")) return fail(req, *f);
  role.name = *name;
  auto scope_ids = optional_scope_ids(ctx, *body);
  if (!scope_ids) return fail(req, scope_ids.error());
  return role_response(ctx.services.roles.create_role(std::move(role), scope_ids->value_or(std::vector<std::int64_t>{}),
                                                      *caller, origin_of(req)),
                       req, 201);
}

Response get_role(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  auto id = id_param(req, "role");
  if (!id) return fail(req, id.error());
  return role_response(ctx.services.roles.role(*id), req);
}

Response update_role(AuthContext& ctx, Request& req) {
  auto edit = read_edit(ctx, req, "role");
  if (!edit) return fail(req, edit.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto patch = read_patch(*body);
  if (!patch) return fail(req, missing_first(ctx.services.roles.role(edit->id), patch.error()));
  auto scope_ids = optional_scope_ids(ctx, *body);
  if (!scope_ids) return fail(req, missing_first(ctx.services.roles.role(edit->id), scope_ids.error()));
  auto updated = ctx.services.roles.update_role(edit->id, *patch, edit->caller, origin_of(req));
  if (!updated || !*scope_ids) return role_response(updated, req);
  return role_response(ctx.services.roles.set_role_scopes(edit->id, **scope_ids, edit->caller, origin_of(req)), req);
}

Response delete_role(AuthContext& ctx, Request& req) {
  auto edit = read_edit(ctx, req, "role");
  if (!edit) return fail(req, edit.error());
  if (auto f = ctx.services.roles.delete_role(edit->id, edit->caller, origin_of(req))) return fail(req, *f);
  return http::json_response(200, boost::json::object{{"message", "Role deleted"}, {"id", edit->id}});
}

Response set_role_scopes(AuthContext& ctx, Request& req) {
  auto edit = read_edit(ctx, req, "role");
  if (!edit) return fail(req, edit.error());
  auto ids = required_scope_ids(ctx, req);
  if (!ids) return fail(req, ids.error());
  return role_response(ctx.services.roles.set_role_scopes(edit->id, *ids, edit->caller, origin_of(req)), req);
}

// ---- scopes ----

Response list_scopes(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  auto scopes = ctx.services.roles.scopes();
  if (!scopes) return fail(req, scopes.error());
  boost::json::array out;
  for (const auto& s : *scopes) out.push_back(render_scope(s));
  return http::json_response(200, boost::json::object{{"scopes", std::move(out)}, {"total", scopes->size()}});
}

Response create_scope(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto name = body->str("name");
  auto description = body->str("description").value_or("");
  if (body->error()) return fail(req, *body->error());
  if (auto f = check_name(name, "name")) return fail(req, *f);
  return scope_response(ctx.services.roles.create_scope(*name, description, *caller, origin_of(req)), req, 201);
}

Response get_scope(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  auto id = id_param(req, "scope");
  if (!id) return fail(req, id.error());
  return scope_response(ctx.services.roles.scope(*id), req);
}

Response update_scope(AuthContext& ctx, Request& req) {
  auto edit = read_edit(ctx, req, "scope");
  if (!edit) return fail(req, edit.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto patch = read_patch(*body);
  if (!patch) return fail(req, missing_first(ctx.services.roles.scope(edit->id), patch.error()));
  return scope_response(ctx.services.roles.update_scope(edit->id, *patch, edit->caller, origin_of(req)), req);
}

Response delete_scope(AuthContext& ctx, Request& req) {
  auto edit = read_edit(ctx, req, "scope");
  if (!edit) return fail(req, edit.error());
  if (auto f = ctx.services.roles.delete_scope(edit->id, edit->caller, origin_of(req))) return fail(req, *f);
  return http::json_response(200, boost::json::object{{"message", "Scope deleted"}, {"id", edit->id}});
}

}  // namespace

void register_role_routes(http::Router& router, AuthContext& ctx) {
  router.add("GET", "/api/v1/roles", on_blocking_pool(ctx, list_roles));
  router.add("POST", "/api/v1/roles", on_blocking_pool(ctx, create_role));
  router.add("GET", "/api/v1/roles/scopes", on_blocking_pool(ctx, list_scopes));
  router.add("POST", "/api/v1/roles/scopes", on_blocking_pool(ctx, create_scope));
  router.add("GET", "/api/v1/roles/scopes/{id}", on_blocking_pool(ctx, get_scope));
  router.add("PUT", "/api/v1/roles/scopes/{id}", on_blocking_pool(ctx, update_scope));
  router.add("DELETE", "/api/v1/roles/scopes/{id}", on_blocking_pool(ctx, delete_scope));
  router.add("GET", "/api/v1/roles/{id}", on_blocking_pool(ctx, get_role));
  router.add("PUT", "/api/v1/roles/{id}", on_blocking_pool(ctx, update_role));
  router.add("DELETE", "/api/v1/roles/{id}", on_blocking_pool(ctx, delete_role));
  router.add("PUT", "/api/v1/roles/{id}/scopes", on_blocking_pool(ctx, set_role_scopes));
}

}  // namespace permiso::auth
