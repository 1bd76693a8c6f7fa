// Roles and scopes: admin:system for every route (reads too: role and scope definitions are
// system configuration, and the bootstrap admin holds admin:system).
#include "auth/audit_log.hpp"
#include "auth/client_cache.hpp"
#include "auth/handlers/handler_support.hpp"
#include "auth/handlers/rest_handlers.hpp"
#include "auth/render.hpp"
#include "auth/scopes.hpp"
#include "http/offload.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace permiso::auth {

bool is_decimal_id(std::string_view s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Scope references (names or ids) → ids; an unknown one is 422 naming `field`.
AuthResult<std::vector<std::int64_t>> resolve_scope_refs(AuthContext& ctx, const std::vector<std::string>& refs,
                                                         std::string_view field) {
  std::vector<std::int64_t> ids;
  for (const auto& ref : refs) {
    auto scope =
        is_decimal_id(ref) ? ctx.deps().storage.get_scope(std::stoll(ref)) : ctx.deps().storage.get_scope_by_name(ref);
    if (!scope) {
      if (scope.error().code == storage::StorageError::NotFound) {
        return validation_failure(field, "unknown scope '" + ref + "'");
      }
      return storage_failure(scope.error());
    }
    ids.push_back(scope->id);
  }
  return ids;
}

AuthResult<std::vector<std::int64_t>> required_scope_ids(AuthContext& ctx, const http::Request& req) {
  auto body = JsonBody::parse(req);
  if (!body) return body.error();
  auto refs = body->list("scope_ids");
  if (!refs) refs = body->list("scopes");
  if (body->error()) return *body->error();
  if (!refs) return validation_failure("scope_ids", "is required");
  return resolve_scope_refs(ctx, *refs, "scope_ids");
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

// ---- roles ----

AuthResult<boost::json::object> role_json(AuthContext& ctx, const storage::Role& role) {
  auto scopes = ctx.deps().storage.role_scopes(role.id);
  if (!scopes) return storage_failure(scopes.error());
  return render_role(role, *scopes);
}

Response role_response(AuthContext& ctx, const Request& req, const storage::Role& role, int status = 200) {
  auto j = role_json(ctx, role);
  if (!j) return fail(req, j.error());
  return http::json_response(status, *j);
}

std::optional<Failure> check_name(const std::optional<std::string>& name, std::string_view field) {
  if (!name || name->empty()) return validation_failure(field, "is required");
  if (name->size() > 64 || !is_valid_scope_name(*name)) {
    return validation_failure(field, "must be 1 to 64 printable characters without spaces or quotes");
  }
  return std::nullopt;
}

Response list_roles(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  auto roles = ctx.deps().storage.list_roles();
  if (!roles) return fail(req, storage_failure(roles.error()));
  boost::json::array out;
  for (const auto& r : *roles) {
    auto j = role_json(ctx, r);
    if (!j) return fail(req, j.error());
    out.push_back(std::move(*j));
  }
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
  auto scope_refs = body->list("scope_ids");
  if (body->error()) return fail(req, *body->error());
  if (auto f = check_name(name, "name")) return fail(req, *f);
  role.name = *name;
  std::vector<std::int64_t> scope_ids;
  if (scope_refs) {
    auto ids = resolve_scope_refs(ctx, *scope_refs, "scope_ids");
    if (!ids) return fail(req, ids.error());
    scope_ids = std::move(*ids);
  }
  auto created = ctx.deps().storage.create_role(role);
  if (!created) return fail(req, storage_failure(created.error()));
  if (!scope_ids.empty()) {
    if (auto r = ctx.deps().storage.set_role_scopes(created->id, scope_ids); !r)
      return fail(req, storage_failure(r.error()));
  }
  ctx.deps().audit.record(
      audit_event(req, "role.create", "success", caller->actor(), caller->actor_type(), created->name));
  return role_response(ctx, req, *created, 201);
}

Response get_role(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  auto id = id_param(req, "role");
  if (!id) return fail(req, id.error());
  auto role = ctx.deps().storage.get_role(*id);
  if (!role) return fail(req, storage_failure(role.error()));
  return role_response(ctx, req, *role);
}

Response update_role(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  auto id = id_param(req, "role");
  if (!id) return fail(req, id.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto role = ctx.deps().storage.get_role(*id);
  if (!role) return fail(req, storage_failure(role.error()));
  if (body->has("name")) {
    auto name = body->str("name");
    if (auto f = check_name(name, "name")) return fail(req, body->error().value_or(*f));
    role->name = *name;
  }
  if (auto d = body->str("description")) role->description = *d;
  if (body->error()) return fail(req, *body->error());
  auto updated = ctx.deps().storage.update_role(*role);
  if (!updated) return fail(req, storage_failure(updated.error()));
  ctx.deps().audit.record(
      audit_event(req, "role.update", "success", caller->actor(), caller->actor_type(), updated->name));
  return role_response(ctx, req, *updated);
}

Response delete_role(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  auto id = id_param(req, "role");
  if (!id) return fail(req, id.error());
  if (auto r = ctx.deps().storage.delete_role(*id); !r) return fail(req, storage_failure(r.error()));
  ctx.deps().audit.record(
      audit_event(req, "role.delete", "success", caller->actor(), caller->actor_type(), std::to_string(*id)));
  return http::json_response(200, boost::json::object{{"message", "Role deleted"}, {"id", *id}});
}

Response set_role_scopes(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  auto id = id_param(req, "role");
  if (!id) return fail(req, id.error());
  auto ids = required_scope_ids(ctx, req);
  if (!ids) return fail(req, ids.error());
  if (auto r = ctx.deps().storage.set_role_scopes(*id, *ids); !r) return fail(req, storage_failure(r.error()));
  auto role = ctx.deps().storage.get_role(*id);
  if (!role) return fail(req, storage_failure(role.error()));
  ctx.deps().audit.record(
      audit_event(req, "role.scopes", "success", caller->actor(), caller->actor_type(), role->name));
  return role_response(ctx, req, *role);
}

// ---- scopes ----

void split_resource_action(storage::Scope& s) {
  const auto colon = s.name.find(':');
  s.resource = s.name.substr(0, colon);
  s.action = colon == std::string::npos ? "" : s.name.substr(colon + 1);
}

Response list_scopes(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  auto scopes = ctx.deps().storage.list_scopes();
  if (!scopes) return fail(req, storage_failure(scopes.error()));
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
  storage::Scope s;
  s.description = body->str("description").value_or("");
  if (body->error()) return fail(req, *body->error());
  if (auto f = check_name(name, "name")) return fail(req, *f);
  s.name = *name;
  split_resource_action(s);
  auto created = ctx.deps().storage.create_scope(s);
  if (!created) return fail(req, storage_failure(created.error()));
  ctx.deps().audit.record(
      audit_event(req, "scope.create", "success", caller->actor(), caller->actor_type(), created->name));
  return http::json_response(201, render_scope(*created));
}

Response get_scope(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  auto id = id_param(req, "scope");
  if (!id) return fail(req, id.error());
  auto s = ctx.deps().storage.get_scope(*id);
  if (!s) return fail(req, storage_failure(s.error()));
  return http::json_response(200, render_scope(*s));
}

Response update_scope(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  auto id = id_param(req, "scope");
  if (!id) return fail(req, id.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto s = ctx.deps().storage.get_scope(*id);
  if (!s) return fail(req, storage_failure(s.error()));
  if (body->has("name")) {
    auto name = body->str("name");
    if (auto f = check_name(name, "name")) return fail(req, body->error().value_or(*f));
    s->name = *name;
    split_resource_action(*s);
  }
  if (auto d = body->str("description")) s->description = *d;
  if (body->error()) return fail(req, *body->error());
  auto updated = ctx.deps().storage.update_scope(*s);
  if (!updated) return fail(req, storage_failure(updated.error()));
  (void)ctx.deps().clients.reload(ctx.deps().storage);  // client scope names may have changed
  publish(ctx.deps().notify, "clients");
  ctx.deps().audit.record(
      audit_event(req, "scope.update", "success", caller->actor(), caller->actor_type(), updated->name));
  return http::json_response(200, render_scope(*updated));
}

Response delete_scope(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  auto id = id_param(req, "scope");
  if (!id) return fail(req, id.error());
  if (auto r = ctx.deps().storage.delete_scope(*id); !r) return fail(req, storage_failure(r.error()));
  (void)ctx.deps().clients.reload(ctx.deps().storage);
  publish(ctx.deps().notify, "clients");
  ctx.deps().audit.record(
      audit_event(req, "scope.delete", "success", caller->actor(), caller->actor_type(), std::to_string(*id)));
  return http::json_response(200, boost::json::object{{"message", "Scope deleted"}, {"id", *id}});
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
