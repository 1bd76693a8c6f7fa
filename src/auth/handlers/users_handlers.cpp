// Users: self-service registration and profile, password change, and the admin API. The
// handlers read and validate the request, call UserService and render.
#include "auth/handlers/handler_support.hpp"
#include "auth/handlers/rest_handlers.hpp"
#include "auth/render.hpp"
#include "auth/users.hpp"
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

boost::json::object user_json(const UserView& v) {
  return render_user(v.user, v.roles, v.scopes);
}

Response user_response(const AuthResult<UserView>& user, const Request& req, int status = 200) {
  if (!user) return fail(req, user.error());
  return http::json_response(status, user_json(*user));
}

/// Profile fields shared by registration, admin creation and updates.
AuthResult<ProfilePatch> read_profile(JsonBody& body) {
  ProfilePatch patch;
  for (const auto& [key, field, max] :
       {std::tuple{"first_name", &patch.first_name, kNameMax}, std::tuple{"last_name", &patch.last_name, kNameMax},
        std::tuple{"display_name", &patch.display_name, kNameMax}, std::tuple{"bio", &patch.bio, kBioMax}}) {
    if (!body.has(key)) continue;
    auto v = body.str(key);
    if (body.error()) return *body.error();
    if (v) {
      if (auto why = check_text_field(*v, max)) return validation_failure(key, *why);
    }
    field->emplace(std::move(v));
  }
  if (body.has("email")) {
    auto email = body.str("email");
    if (body.error()) return *body.error();
    if (!email) return validation_failure("email", "is required");
    if (auto why = check_email(*email)) return validation_failure("email", *why);
    patch.email = normalize_email(*email);
  }
  return patch;
}

AccountFlags read_flags(JsonBody& body) {
  return AccountFlags{body.boolean("is_active"), body.boolean("is_verified"), body.boolean("is_superuser")};
}

/// A registration or admin-creation body.
AuthResult<NewUser> read_new_user(JsonBody& body) {
  auto username = body.str("username");
  auto pw = body.str("password");
  if (body.error()) return *body.error();
  if (!username) return validation_failure("username", "is required");
  if (auto why = check_username(*username)) return validation_failure("username", *why);
  if (!body.has("email")) return validation_failure("email", "is required");
  if (!pw) return validation_failure("password", "is required");
  if (auto why = check_password(*pw)) return validation_failure("password", *why);
  auto profile = read_profile(body);
  if (!profile) return profile.error();
  return NewUser{normalize_username(*username), std::move(*pw), std::move(*profile), {}};
}

/// An administrator's update body.
AuthResult<AccountPatch> read_account_patch(JsonBody& body) {
  AccountPatch patch;
  auto profile = read_profile(body);
  if (!profile) return profile.error();
  patch.profile = std::move(*profile);
  if (body.has("username")) {
    auto name = body.str("username");
    if (!name) return body.error().value_or(validation_failure("username", "is required"));
    if (auto why = check_username(*name)) return validation_failure("username", *why);
    patch.username = normalize_username(*name);
  }
  patch.flags = read_flags(body);
  if (body.has("password")) {
    auto pw = body.str("password");
    if (!pw) return body.error().value_or(validation_failure("password", "is required"));
    if (auto why = check_password(*pw)) return validation_failure("password", *why);
    patch.password = std::move(pw);
  }
  if (body.error()) return *body.error();
  patch.unlock = body.has("locked_until") && body.is_null("locked_until");
  return patch;
}

/// role_ids, else roles: nullopt when the body names neither.
AuthResult<std::optional<std::vector<std::string>>> read_role_refs(JsonBody& body) {
  auto refs = body.list("role_ids");
  if (!refs) refs = body.list("roles");
  if (body.error()) return *body.error();
  return refs;
}

AuthResult<std::int64_t> path_id(const Request& req) {
  const auto raw = req.param("id");
  if (!is_decimal_id(raw)) return Failure(AuthError::NotFound, "No such user.");
  return std::stoll(std::string(raw));
}

/// The caller's token, which must be a user's.
AuthResult<Principal> self(AuthContext& ctx, const Request& req) {
  auto caller = authenticate(ctx, req);
  if (!caller) return caller.error();
  if (!caller->is_user()) return Failure(AuthError::Forbidden, "This endpoint is for users; this is a service token.");
  return caller;
}

/// An admin:users caller and the path's user id, read in that order.
struct Edit {
  Principal caller;
  std::int64_t id = 0;
};
AuthResult<Edit> read_edit(AuthContext& ctx, const Request& req) {
  auto caller = require(ctx, req, {"admin:users"});
  if (!caller) return caller.error();
  auto id = path_id(req);
  if (!id) return id.error();
  return Edit{std::move(*caller), *id};
}

// ---- self-service ----

Response register_user(AuthContext& ctx, Request& req) {
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto user = read_new_user(*body);
  if (!user) return fail(req, user.error());
  return user_response(ctx.services.users.register_user(*user, origin_of(req)), req, 201);
}

Response get_me(AuthContext& ctx, Request& req) {
  auto caller = self(ctx, req);
  if (!caller) return fail(req, caller.error());
  return user_response(ctx.services.users.get(*caller->user_id), req);
}

Response update_me(AuthContext& ctx, Request& req) {
  auto caller = self(ctx, req);
  if (!caller) return fail(req, caller.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto patch = read_profile(*body);
  if (!patch) return fail(req, missing_first(ctx.services.users.get(*caller->user_id), patch.error()));
  return user_response(ctx.services.users.update_profile(*caller, *patch, origin_of(req)), req);
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
  if (auto f = ctx.services.users.change_password(*caller, *current, *next, origin_of(req))) return fail(req, *f);
  return http::json_response(200, boost::json::object{{"message", "Password changed"}});
}

// ---- administration ----

AuthResult<storage::UserQuery> read_user_query(const Request& req, const Paging& paging) {
  storage::UserQuery q;
  q.page = paging.page;
  q.per_page = paging.per_page;
  q.search = std::string(req.query_param("search").value_or("")).substr(0, 100);
  if (auto active = req.query_param("is_active")) {
    if (*active == "true" || *active == "1") {
      q.is_active = true;
    } else if (*active == "false" || *active == "0") {
      q.is_active = false;
    } else {
      return validation_failure("is_active", "must be true or false");
    }
  }
  return q;
}

Response list_users(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:users"}); !c) return fail(req, c.error());
  auto paging = read_paging(req, 20, 100);
  if (!paging) return fail(req, paging.error());
  auto query = read_user_query(req, *paging);
  if (!query) return fail(req, query.error());
  auto page = ctx.services.users.list(*query);
  if (!page) return fail(req, page.error());
  boost::json::array users;
  for (const auto& u : page->items) users.push_back(user_json(u));
  return http::json_response(200, page_envelope("users", std::move(users), page->total, *paging));
}

Response create_user(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:users"});
  if (!caller) return fail(req, caller.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto user = read_new_user(*body);
  if (!user) return fail(req, user.error());
  user->flags = read_flags(*body);
  auto role_refs = read_role_refs(*body);
  if (!role_refs) return fail(req, role_refs.error());
  return user_response(ctx.services.users.create(*user, *role_refs, *caller, origin_of(req)), req, 201);
}

Response get_user(AuthContext& ctx, Request& req) {
  auto edit = read_edit(ctx, req);
  if (!edit) return fail(req, edit.error());
  return user_response(ctx.services.users.get(edit->id), req);
}

Response update_user(AuthContext& ctx, Request& req) {
  auto edit = read_edit(ctx, req);
  if (!edit) return fail(req, edit.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto patch = read_account_patch(*body);
  if (!patch) return fail(req, missing_first(ctx.services.users.get(edit->id), patch.error()));
  return user_response(ctx.services.users.update(edit->id, *patch, edit->caller, origin_of(req)), req);
}

Response delete_user(AuthContext& ctx, Request& req) {
  auto edit = read_edit(ctx, req);
  if (!edit) return fail(req, edit.error());
  if (auto f = ctx.services.users.remove(edit->id, edit->caller, origin_of(req))) return fail(req, *f);
  return http::json_response(200, boost::json::object{{"message", "User deleted"}, {"id", edit->id}});
}

Response set_roles(AuthContext& ctx, Request& req) {
  auto edit = read_edit(ctx, req);
  if (!edit) return fail(req, edit.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto refs = read_role_refs(*body);
  if (!refs) return fail(req, refs.error());
  if (!*refs) return fail(req, validation_failure("role_ids", "is required"));
  return user_response(ctx.services.users.set_roles(edit->id, **refs, edit->caller, origin_of(req)), req);
}

Response user_sessions(AuthContext& ctx, Request& req) {
  auto edit = read_edit(ctx, req);
  if (!edit) return fail(req, edit.error());
  auto sessions = ctx.services.users.sessions(edit->id);
  if (!sessions) return fail(req, sessions.error());
  boost::json::array out;
  for (const auto& s : *sessions) out.push_back(render_session(s, edit->caller.session_id));
  return no_store_json(200, {{"sessions", std::move(out)}});
}

Response end_user_sessions(AuthContext& ctx, Request& req) {
  auto edit = read_edit(ctx, req);
  if (!edit) return fail(req, edit.error());
  if (auto f = ctx.services.users.end_sessions(edit->id, edit->caller, origin_of(req))) return fail(req, *f);
  return no_store_json(200, {{"message", "Every session of the user ended"}, {"user_id", edit->id}});
}

Response stats(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:users"}); !c) return fail(req, c.error());
  auto s = ctx.services.users.stats();
  if (!s) return fail(req, s.error());
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
  router.add("GET", "/api/v1/users/{id}/sessions", on_blocking_pool(ctx, user_sessions));
  router.add("DELETE", "/api/v1/users/{id}/sessions", on_blocking_pool(ctx, end_user_sessions));
}

}  // namespace permiso::auth
