// Users: self-service registration and profile, password change, and the admin API.
#include "auth/audit_log.hpp"
#include "auth/handlers/handler_support.hpp"
#include "auth/handlers/rest_handlers.hpp"
#include "auth/password_hasher.hpp"
#include "auth/render.hpp"
#include "auth/seed_data.hpp"
#include "auth/validation.hpp"
#include "http/offload.hpp"

#include <boost/json.hpp>

namespace permiso::auth {
namespace {

using http::Request;
using http::Response;

constexpr std::size_t kNameMax = 100;
constexpr std::size_t kBioMax = 1000;

Response fail(const Request& req, const Failure& f) {
  return to_response(req, f);
}

AuthResult<boost::json::object> user_json(AuthContext& ctx, const storage::User& u) {
  auto roles = ctx.deps().storage.user_roles(u.id);
  if (!roles) return storage_failure(roles.error());
  auto scopes = ctx.deps().storage.user_scope_names(u.id);
  if (!scopes) return storage_failure(scopes.error());
  return render_user(u, *roles, *scopes);
}

Response user_response(AuthContext& ctx, const Request& req, const storage::User& u, int status = 200) {
  auto body = user_json(ctx, u);
  if (!body) return fail(req, body.error());
  return http::json_response(status, *body);
}

/// Profile fields shared by registration, admin creation and updates.
std::optional<Failure> apply_profile(JsonBody& body, storage::User& u) {
  for (const auto& [key, field, max] :
       {std::tuple{"first_name", &u.first_name, kNameMax}, std::tuple{"last_name", &u.last_name, kNameMax},
        std::tuple{"display_name", &u.display_name, kNameMax}, std::tuple{"bio", &u.bio, kBioMax}}) {
    if (!body.has(key)) continue;
    auto v = body.str(key);
    if (body.error()) return body.error();
    if (v) {
      if (auto why = check_text_field(*v, max)) return validation_failure(key, *why);
      *field = std::move(*v);
    } else {
      field->reset();
    }
  }
  if (body.has("email")) {
    auto email = body.str("email");
    if (body.error()) return body.error();
    if (!email) return validation_failure("email", "is required");
    if (auto why = check_email(*email)) return validation_failure("email", *why);
    u.email = normalize_email(*email);
  }
  return std::nullopt;
}

/// Validates and builds a new user from a registration or admin-creation body.
AuthResult<storage::User> new_user(AuthContext& ctx, JsonBody& body, std::string& password) {
  auto username = body.str("username");
  auto pw = body.str("password");
  if (body.error()) return *body.error();
  if (!username) return validation_failure("username", "is required");
  if (auto why = check_username(*username)) return validation_failure("username", *why);
  if (!body.has("email")) return validation_failure("email", "is required");
  if (!pw) return validation_failure("password", "is required");
  if (auto why = check_password(*pw)) return validation_failure("password", *why);
  storage::User u;
  u.username = normalize_username(*username);
  if (auto f = apply_profile(body, u)) return *f;
  const auto now = ctx.deps().clock.now_seconds();
  u.created_at = u.updated_at = now;
  password = std::move(*pw);
  return u;
}

/// Role references (names or ids) → ids. A caller may grant only the admin:* scopes it holds
/// itself: otherwise admin:users alone could hand out the admin role and with it admin:system.
AuthResult<std::vector<std::int64_t>> resolve_roles(AuthContext& ctx, const Principal& caller,
                                                    const std::vector<std::string>& refs) {
  std::vector<std::int64_t> ids;
  for (const auto& ref : refs) {
    auto role =
        is_decimal_id(ref) ? ctx.deps().storage.get_role(std::stoll(ref)) : ctx.deps().storage.get_role_by_name(ref);
    if (!role) {
      if (role.error().code == storage::StorageError::NotFound) {
        return validation_failure("role_ids", "unknown role '" + ref + "'");
      }
      return storage_failure(role.error());
    }
    auto scopes = ctx.deps().storage.role_scopes(role->id);
    if (!scopes) return storage_failure(scopes.error());
    std::vector<std::string> admin_scopes;
    for (const auto& s : *scopes) {
      if (s.name.rfind("admin:", 0) == 0) admin_scopes.push_back(s.name);
    }
    if (auto f = require_scopes(caller, admin_scopes)) return *f;
    ids.push_back(role->id);
  }
  return ids;
}

AuthResult<std::int64_t> path_id(const Request& req) {
  const auto raw = req.param("id");
  if (raw.empty() || raw.size() > 18 ||
      !std::all_of(raw.begin(), raw.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Failure(AuthError::NotFound, "No such user.");
  }
  return std::stoll(std::string(raw));
}

/// Disabling or deleting a user ends every session at once.
std::optional<Failure> end_user_sessions(AuthContext& ctx, std::int64_t user_id, std::string_view reason) {
  auto ids = ctx.deps().storage.list_live_sessions(user_id, ctx.deps().clock.now_seconds());
  if (!ids) return storage_failure(ids.error());
  std::vector<std::string> session_ids;
  for (const auto& s : *ids) session_ids.push_back(s.id);
  if (auto f = ctx.services.sessions.end(session_ids, reason)) return f;
  auto refresh = ctx.deps().storage.revoke_user_refresh_tokens(user_id, ctx.deps().clock.now_seconds());
  if (!refresh) return storage_failure(refresh.error());
  return std::nullopt;
}

Response register_user(AuthContext& ctx, Request& req) {
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  std::string password;
  auto user = new_user(ctx, *body, password);
  if (!user) return fail(req, user.error());
  auto hash = ctx.deps().passwords.hash(password);
  if (!hash) return fail(req, Failure(AuthError::Internal, "Password hashing failed."));
  user->password_hash = std::move(*hash);
  auto created = ctx.deps().storage.create_user(*user);
  if (!created) return fail(req, storage_failure(created.error()));
  if (auto role = ctx.deps().storage.get_role_by_name(kDefaultUserRole)) {
    (void)ctx.deps().storage.set_user_roles(created->id, {role->id});
  }
  ctx.deps().audit.record(
      audit_event(req, "user.register", "success", created->username, "user", std::to_string(created->id)));
  return user_response(ctx, req, *created, 201);
}

Response get_me(AuthContext& ctx, Request& req) {
  auto caller = authenticate(ctx, req);
  if (!caller) return fail(req, caller.error());
  if (!caller->is_user())
    return fail(req, Failure(AuthError::Forbidden, "This endpoint is for users; this is a service token."));
  auto user = ctx.deps().storage.get_user(*caller->user_id);
  if (!user) return fail(req, storage_failure(user.error()));
  return user_response(ctx, req, *user);
}

Response update_me(AuthContext& ctx, Request& req) {
  auto caller = authenticate(ctx, req);
  if (!caller) return fail(req, caller.error());
  if (!caller->is_user())
    return fail(req, Failure(AuthError::Forbidden, "This endpoint is for users; this is a service token."));
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto user = ctx.deps().storage.get_user(*caller->user_id);
  if (!user) return fail(req, storage_failure(user.error()));
  if (auto f = apply_profile(*body, *user)) return fail(req, *f);
  user->updated_at = ctx.deps().clock.now_seconds();
  auto updated = ctx.deps().storage.update_user(*user);
  if (!updated) return fail(req, storage_failure(updated.error()));
  ctx.deps().audit.record(
      audit_event(req, "user.update", "success", caller->username, "user", std::to_string(user->id)));
  return user_response(ctx, req, *updated);
}

Response change_password(AuthContext& ctx, Request& req) {
  auto caller = authenticate(ctx, req);
  if (!caller) return fail(req, caller.error());
  auto id = path_id(req);
  if (!id) return fail(req, id.error());
  if (!caller->is_user() || *caller->user_id != *id) {
    return fail(req, Failure(AuthError::Forbidden, "You may change only your own password."));
  }
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto current = body->str("current_password");
  auto next = body->str("new_password");
  if (body->error()) return fail(req, *body->error());
  if (!current) return fail(req, validation_failure("current_password", "is required"));
  if (!next) return fail(req, validation_failure("new_password", "is required"));
  if (auto why = check_password(*next)) return fail(req, validation_failure("new_password", *why));
  auto user = ctx.deps().storage.get_user(*id);
  if (!user) return fail(req, storage_failure(user.error()));
  if (!ctx.deps().passwords.verify(user->password_hash, *current)) {
    ctx.deps().audit.record(
        audit_event(req, "user.password", "failure", caller->username, "user", std::to_string(*id)));
    Failure f(AuthError::InvalidGrant, "The current password is wrong.");
    f.grant_error_is_401 = true;
    return fail(req, f.with("field", "current_password"));
  }
  auto hash = ctx.deps().passwords.hash(*next);
  if (!hash) return fail(req, Failure(AuthError::Internal, "Password hashing failed."));
  user->password_hash = std::move(*hash);
  user->updated_at = ctx.deps().clock.now_seconds();
  if (auto r = ctx.deps().storage.update_user(*user); !r) return fail(req, storage_failure(r.error()));
  // Every other session ends: a changed password must lock out whoever knew the old one.
  auto sessions = ctx.deps().storage.list_live_sessions(*id, ctx.deps().clock.now_seconds());
  if (sessions) {
    std::vector<std::string> others;
    for (const auto& s : *sessions) {
      if (s.id != caller->session_id) others.push_back(s.id);
    }
    if (auto f = ctx.services.sessions.end(others, "password_changed")) return fail(req, *f);
  }
  ctx.deps().audit.record(audit_event(req, "user.password", "success", caller->username, "user", std::to_string(*id)));
  return http::json_response(200, boost::json::object{{"message", "Password changed"}});
}

Response list_users(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:users"}); !c) return fail(req, c.error());
  auto paging = read_paging(req, 20, 100);
  if (!paging) return fail(req, paging.error());
  storage::UserQuery q;
  q.page = paging->page;
  q.per_page = paging->per_page;
  q.search = std::string(req.query_param("search").value_or("")).substr(0, 100);
  if (auto active = req.query_param("is_active")) {
    if (*active == "true" || *active == "1")
      q.is_active = true;
    else if (*active == "false" || *active == "0")
      q.is_active = false;
    else
      return fail(req, validation_failure("is_active", "must be true or false"));
  }
  auto page = ctx.deps().storage.list_users(q);
  if (!page) return fail(req, storage_failure(page.error()));
  boost::json::array users;
  for (const auto& u : page->items) {
    auto j = user_json(ctx, u);
    if (!j) return fail(req, j.error());
    users.push_back(std::move(*j));
  }
  return http::json_response(200, page_envelope("users", std::move(users), page->total, *paging));
}

Response create_user(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:users"});
  if (!caller) return fail(req, caller.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  std::string password;
  auto user = new_user(ctx, *body, password);
  if (!user) return fail(req, user.error());
  if (auto v = body->boolean("is_active")) user->is_active = *v;
  if (auto v = body->boolean("is_verified")) user->is_verified = *v;
  if (auto v = body->boolean("is_superuser")) user->is_superuser = *v;
  auto role_refs = body->list("role_ids");
  if (!role_refs) role_refs = body->list("roles");
  if (body->error()) return fail(req, *body->error());
  std::vector<std::int64_t> role_ids;
  if (role_refs) {
    auto ids = resolve_roles(ctx, *caller, *role_refs);
    if (!ids) return fail(req, ids.error());
    role_ids = std::move(*ids);
  } else if (auto role = ctx.deps().storage.get_role_by_name(kDefaultUserRole)) {
    role_ids.push_back(role->id);
  }
  auto hash = ctx.deps().passwords.hash(password);
  if (!hash) return fail(req, Failure(AuthError::Internal, "Password hashing failed."));
  user->password_hash = std::move(*hash);
  auto created = ctx.deps().storage.create_user(*user);
  if (!created) return fail(req, storage_failure(created.error()));
  if (auto r = ctx.deps().storage.set_user_roles(created->id, role_ids); !r)
    return fail(req, storage_failure(r.error()));
  ctx.deps().audit.record(
      audit_event(req, "user.create", "success", caller->actor(), caller->actor_type(), std::to_string(created->id)));
  return user_response(ctx, req, *created, 201);
}

Response get_user(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:users"}); !c) return fail(req, c.error());
  auto id = path_id(req);
  if (!id) return fail(req, id.error());
  auto user = ctx.deps().storage.get_user(*id);
  if (!user) return fail(req, storage_failure(user.error()));
  return user_response(ctx, req, *user);
}

Response update_user(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:users"});
  if (!caller) return fail(req, caller.error());
  auto id = path_id(req);
  if (!id) return fail(req, id.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto user = ctx.deps().storage.get_user(*id);
  if (!user) return fail(req, storage_failure(user.error()));
  const bool was_active = user->is_active;
  if (auto f = apply_profile(*body, *user)) return fail(req, *f);
  if (body->has("username")) {
    auto name = body->str("username");
    if (!name) return fail(req, body->error().value_or(validation_failure("username", "is required")));
    if (auto why = check_username(*name)) return fail(req, validation_failure("username", *why));
    user->username = normalize_username(*name);
  }
  if (auto v = body->boolean("is_active")) user->is_active = *v;
  if (auto v = body->boolean("is_verified")) user->is_verified = *v;
  if (auto v = body->boolean("is_superuser")) user->is_superuser = *v;
  if (body->has("password")) {
    auto pw = body->str("password");
    if (!pw) return fail(req, body->error().value_or(validation_failure("password", "is required")));
    if (auto why = check_password(*pw)) return fail(req, validation_failure("password", *why));
    auto hash = ctx.deps().passwords.hash(*pw);
    if (!hash) return fail(req, Failure(AuthError::Internal, "Password hashing failed."));
    user->password_hash = std::move(*hash);
  }
  if (body->error()) return fail(req, *body->error());
  if (body->has("locked_until") && body->is_null("locked_until")) {
    user->locked_until.reset();
    user->failed_login_count = 0;
  }
  user->updated_at = ctx.deps().clock.now_seconds();
  auto updated = ctx.deps().storage.update_user(*user);
  if (!updated) return fail(req, storage_failure(updated.error()));
  if (was_active && !updated->is_active) {
    if (auto f = end_user_sessions(ctx, updated->id, "user_disabled")) return fail(req, *f);
  }
  ctx.deps().audit.record(
      audit_event(req, "user.update", "success", caller->actor(), caller->actor_type(), std::to_string(*id)));
  return user_response(ctx, req, *updated);
}

Response delete_user(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:users"});
  if (!caller) return fail(req, caller.error());
  auto id = path_id(req);
  if (!id) return fail(req, id.error());
  if (caller->user_id && *caller->user_id == *id) {
    return fail(req, Failure(AuthError::Conflict, "You cannot delete your own account."));
  }
  if (auto user = ctx.deps().storage.get_user(*id); !user) return fail(req, storage_failure(user.error()));
  if (auto f = end_user_sessions(ctx, *id, "user_deleted")) return fail(req, *f);
  if (auto r = ctx.deps().storage.delete_user(*id); !r) return fail(req, storage_failure(r.error()));
  ctx.deps().audit.record(
      audit_event(req, "user.delete", "success", caller->actor(), caller->actor_type(), std::to_string(*id)));
  return http::json_response(200, boost::json::object{{"message", "User deleted"}, {"id", *id}});
}

Response set_roles(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:users"});
  if (!caller) return fail(req, caller.error());
  auto id = path_id(req);
  if (!id) return fail(req, id.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto refs = body->list("role_ids");
  if (!refs) refs = body->list("roles");
  if (body->error()) return fail(req, *body->error());
  if (!refs) return fail(req, validation_failure("role_ids", "is required"));
  auto ids = resolve_roles(ctx, *caller, *refs);
  if (!ids) return fail(req, ids.error());
  if (auto r = ctx.deps().storage.set_user_roles(*id, *ids); !r) return fail(req, storage_failure(r.error()));
  auto user = ctx.deps().storage.get_user(*id);
  if (!user) return fail(req, storage_failure(user.error()));
  ctx.deps().audit.record(
      audit_event(req, "user.roles", "success", caller->actor(), caller->actor_type(), std::to_string(*id)));
  return user_response(ctx, req, *user);
}

Response stats(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:users"}); !c) return fail(req, c.error());
  auto s = ctx.deps().storage.user_stats(ctx.deps().clock.now_seconds());
  if (!s) return fail(req, storage_failure(s.error()));
  return http::json_response(200, boost::json::object{{"total_users", s->total},
                                                      {"active_users", s->active},
                                                      {"inactive_users", s->total - s->active},
                                                      {"verified_users", s->verified},
                                                      {"superusers", s->superusers},
                                                      {"locked_users", s->locked}});
}

}  // namespace

AuthResult<Principal> require(const AuthContext& ctx, const http::Request& req,
                              const std::vector<std::string>& scopes) {
  auto caller = authenticate(ctx, req);
  if (!caller) return caller.error();
  if (auto f = require_scopes(*caller, scopes)) return *f;
  return caller;
}

AuthResult<Paging> read_paging(const http::Request& req, std::int64_t default_per_page, std::int64_t max_per_page) {
  Paging p;
  p.per_page = default_per_page;
  auto read = [&](std::string_view name, std::int64_t& out, std::int64_t lo,
                  std::int64_t hi) -> std::optional<Failure> {
    auto v = req.query_param(name);
    if (!v) return std::nullopt;
    try {
      std::size_t used = 0;
      const auto n = std::stoll(std::string(*v), &used);
      if (used != v->size() || n < lo || n > hi) throw std::out_of_range("range");
      out = n;
    } catch (const std::exception&) {
      return validation_failure(name, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    return std::nullopt;
  };
  if (auto f = read("page", p.page, 1, 1'000'000)) return *f;
  if (auto f = read("per_page", p.per_page, 1, max_per_page)) return *f;
  return p;
}

boost::json::object page_envelope(std::string_view items_key, boost::json::array items, std::int64_t total,
                                  const Paging& paging) {
  const auto pages = paging.per_page > 0 ? (total + paging.per_page - 1) / paging.per_page : 0;
  return {{items_key, std::move(items)},
          {"total", total},
          {"page", paging.page},
          {"per_page", paging.per_page},
          {"pages", pages}};
}

void register_user_routes(http::Router& router, AuthContext& ctx) {
  router.add("POST", "/api/v1/users/register", on_blocking_pool(ctx, register_user));
  router.add("GET", "/api/v1/users/me", on_blocking_pool(ctx, get_me));
  router.add("PUT", "/api/v1/users/me", on_blocking_pool(ctx, update_me));
  router.add("GET", "/api/v1/users/profile", on_blocking_pool(ctx, get_me));
  router.add("PUT", "/api/v1/users/{id}/password", on_blocking_pool(ctx, change_password));
  router.add("GET", "/api/v1/users/stats/overview", on_blocking_pool(ctx, stats));
  router.add("GET", "/api/v1/users", on_blocking_pool(ctx, list_users));
  router.add("POST", "/api/v1/users", on_blocking_pool(ctx, create_user));
  router.add("GET", "/api/v1/users/{id}", on_blocking_pool(ctx, get_user));
  router.add("PUT", "/api/v1/users/{id}", on_blocking_pool(ctx, update_user));
  router.add("DELETE", "/api/v1/users/{id}", on_blocking_pool(ctx, delete_user));
  router.add("PUT", "/api/v1/users/{id}/roles", on_blocking_pool(ctx, set_roles));
}

}  // namespace permiso::auth
