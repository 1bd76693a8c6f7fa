// Roles and scopes, service clients, and the admin endpoints (audit, keys, dashboard stats).
#include "auth/audit_log.hpp"
#include "auth/client_cache.hpp"
#include "auth/client_secrets.hpp"
#include "auth/handlers/handler_support.hpp"
#include "auth/handlers/rest_handlers.hpp"
#include "auth/render.hpp"
#include "auth/revocation_list.hpp"
#include "auth/scopes.hpp"
#include "auth/token_service.hpp"
#include "http/offload.hpp"
#include "jose/crypto.hpp"
#include "jose/key_store.hpp"

#include <arpa/inet.h>
#include <boost/json.hpp>

namespace permiso::auth {
namespace {

using http::Request;
using http::Response;

Response fail(const Request& req, const Failure& f) { return to_response(req, f); }

bool is_digits(std::string_view s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

AuthResult<std::int64_t> id_param(const Request& req, std::string_view what) {
  const auto raw = req.param("id");
  if (!is_digits(raw)) return Failure(AuthError::NotFound, "No such " + std::string(what) + ".");
  return std::stoll(std::string(raw));
}

/// Scope references (names or ids) → ids; an unknown one is 422 naming `field`.
AuthResult<std::vector<std::int64_t>> resolve_scopes(AuthContext& ctx, const std::vector<std::string>& refs,
                                                     std::string_view field) {
  std::vector<std::int64_t> ids;
  for (const auto& ref : refs) {
    auto scope = is_digits(ref) ? ctx.storage.get_scope(std::stoll(ref)) : ctx.storage.get_scope_by_name(ref);
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

// ---- roles ----

AuthResult<boost::json::object> role_json(AuthContext& ctx, const storage::Role& role) {
  auto scopes = ctx.storage.role_scopes(role.id);
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
  auto roles = ctx.storage.list_roles();
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
    auto ids = resolve_scopes(ctx, *scope_refs, "scope_ids");
    if (!ids) return fail(req, ids.error());
    scope_ids = std::move(*ids);
  }
  auto created = ctx.storage.create_role(role);
  if (!created) return fail(req, storage_failure(created.error()));
  if (!scope_ids.empty()) {
    if (auto r = ctx.storage.set_role_scopes(created->id, scope_ids); !r) return fail(req, storage_failure(r.error()));
  }
  ctx.audit.record(audit_event(req, "role.create", "success", caller->actor(), caller->actor_type(), created->name));
  return role_response(ctx, req, *created, 201);
}

Response get_role(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  auto id = id_param(req, "role");
  if (!id) return fail(req, id.error());
  auto role = ctx.storage.get_role(*id);
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
  auto role = ctx.storage.get_role(*id);
  if (!role) return fail(req, storage_failure(role.error()));
  if (body->has("name")) {
    auto name = body->str("name");
    if (auto f = check_name(name, "name")) return fail(req, body->error().value_or(*f));
    role->name = *name;
  }
  if (auto d = body->str("description")) role->description = *d;
  if (body->error()) return fail(req, *body->error());
  auto updated = ctx.storage.update_role(*role);
  if (!updated) return fail(req, storage_failure(updated.error()));
  ctx.audit.record(audit_event(req, "role.update", "success", caller->actor(), caller->actor_type(), updated->name));
  return role_response(ctx, req, *updated);
}

Response delete_role(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  auto id = id_param(req, "role");
  if (!id) return fail(req, id.error());
  if (auto r = ctx.storage.delete_role(*id); !r) return fail(req, storage_failure(r.error()));
  ctx.audit.record(audit_event(req, "role.delete", "success", caller->actor(), caller->actor_type(), std::to_string(*id)));
  return http::json_response(200, boost::json::object{{"message", "Role deleted"}, {"id", *id}});
}

Response set_role_scopes(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  auto id = id_param(req, "role");
  if (!id) return fail(req, id.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto refs = body->list("scope_ids");
  if (!refs) refs = body->list("scopes");
  if (body->error()) return fail(req, *body->error());
  if (!refs) return fail(req, validation_failure("scope_ids", "is required"));
  auto ids = resolve_scopes(ctx, *refs, "scope_ids");
  if (!ids) return fail(req, ids.error());
  if (auto r = ctx.storage.set_role_scopes(*id, *ids); !r) return fail(req, storage_failure(r.error()));
  auto role = ctx.storage.get_role(*id);
  if (!role) return fail(req, storage_failure(role.error()));
  ctx.audit.record(audit_event(req, "role.scopes", "success", caller->actor(), caller->actor_type(), role->name));
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
  auto scopes = ctx.storage.list_scopes();
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
  auto created = ctx.storage.create_scope(s);
  if (!created) return fail(req, storage_failure(created.error()));
  ctx.audit.record(audit_event(req, "scope.create", "success", caller->actor(), caller->actor_type(), created->name));
  return http::json_response(201, render_scope(*created));
}

Response get_scope(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  auto id = id_param(req, "scope");
  if (!id) return fail(req, id.error());
  auto s = ctx.storage.get_scope(*id);
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
  auto s = ctx.storage.get_scope(*id);
  if (!s) return fail(req, storage_failure(s.error()));
  if (body->has("name")) {
    auto name = body->str("name");
    if (auto f = check_name(name, "name")) return fail(req, body->error().value_or(*f));
    s->name = *name;
    split_resource_action(*s);
  }
  if (auto d = body->str("description")) s->description = *d;
  if (body->error()) return fail(req, *body->error());
  auto updated = ctx.storage.update_scope(*s);
  if (!updated) return fail(req, storage_failure(updated.error()));
  (void)ctx.clients.reload(ctx.storage);  // client scope names may have changed
  notify(ctx, "clients");
  ctx.audit.record(audit_event(req, "scope.update", "success", caller->actor(), caller->actor_type(), updated->name));
  return http::json_response(200, render_scope(*updated));
}

Response delete_scope(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  auto id = id_param(req, "scope");
  if (!id) return fail(req, id.error());
  if (auto r = ctx.storage.delete_scope(*id); !r) return fail(req, storage_failure(r.error()));
  (void)ctx.clients.reload(ctx.storage);
  notify(ctx, "clients");
  ctx.audit.record(audit_event(req, "scope.delete", "success", caller->actor(), caller->actor_type(), std::to_string(*id)));
  return http::json_response(200, boost::json::object{{"message", "Scope deleted"}, {"id", *id}});
}

// ---- service clients ----

bool valid_client_id(std::string_view id) {
  return id.size() >= 3 && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
}

bool valid_ip(const std::string& ip) {
  unsigned char buf[16];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

/// Applies the mutable client fields of a create or update body.
std::optional<Failure> apply_client_fields(JsonBody& body, storage::ServiceClient& c) {
  if (body.has("name")) {
    auto name = body.str("name");
    if (body.error()) return body.error();
    if (!name || name->empty() || name->size() > 100) return validation_failure("name", "must be 1 to 100 characters");
    c.name = *name;
  }
  if (auto d = body.str("description")) {
    if (d->size() > 1000) return validation_failure("description", "must be at most 1000 characters");
    c.description = *d;
  }
  if (auto t = body.str("client_type")) {
    if (*t != "confidential" && *t != "public") return validation_failure("client_type", "must be confidential or public");
    c.client_type = *t;
  }
  if (auto v = body.boolean("is_active")) c.is_active = *v;
  if (auto v = body.boolean("is_trusted")) c.is_trusted = *v;
  if (auto v = body.integer("access_token_lifetime")) {
    if (*v < 300 || *v > 86400) return validation_failure("access_token_lifetime", "must be from 300 to 86400 seconds");
    c.access_token_lifetime = *v;
  }
  for (const auto& [key, field] : {std::pair{"rate_limit_per_minute", &c.rate_limit_per_minute},
                                   std::pair{"rate_limit_per_hour", &c.rate_limit_per_hour}}) {
    if (!body.has(key)) continue;
    if (body.is_null(key)) {
      field->reset();  // null: unlimited
      continue;
    }
    auto v = body.integer(key);
    if (body.error()) return body.error();
    if (!v || *v < 1 || *v > 1'000'000'000) return validation_failure(key, "must be a positive integer or null");
    *field = *v;
  }
  if (body.has("allowed_ips")) {
    auto ips = body.list("allowed_ips");
    if (body.error()) return body.error();
    boost::json::array arr;
    for (const auto& ip : ips.value_or(std::vector<std::string>{})) {
      if (!valid_ip(ip)) return validation_failure("allowed_ips", "'" + ip + "' is not an IP address");
      arr.emplace_back(ip);
    }
    c.allowed_ips = boost::json::serialize(arr);
  }
  return body.error();
}

AuthResult<boost::json::object> client_json(AuthContext& ctx, const storage::ServiceClient& c) {
  auto scopes = ctx.storage.client_scopes(c.client_id);
  if (!scopes) return storage_failure(scopes.error());
  std::vector<std::string> names;
  for (auto& s : *scopes) names.push_back(std::move(s.name));
  return render_client(c, names);
}

std::string client_param(const Request& req) { return std::string(req.param("client_id")); }

Response list_clients(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:clients"}); !c) return fail(req, c.error());
  auto paging = read_paging(req, 20, 100);
  if (!paging) return fail(req, paging.error());
  auto page = ctx.storage.list_clients(paging->page, paging->per_page);
  if (!page) return fail(req, storage_failure(page.error()));
  boost::json::array out;
  for (const auto& c : page->items) {
    auto j = client_json(ctx, c);
    if (!j) return fail(req, j.error());
    out.push_back(std::move(*j));
  }
  return http::json_response(200, page_envelope("clients", std::move(out), page->total, *paging));
}

Response create_client(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:clients"});
  if (!caller) return fail(req, caller.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  storage::ServiceClient c;
  auto id = body->str("client_id");
  if (body->error()) return fail(req, *body->error());
  c.client_id = id ? *id : "svc-" + jose::hex(jose::random_bytes(8));
  if (!valid_client_id(c.client_id)) return fail(req, validation_failure("client_id", "must be 3 to 64 of [A-Za-z0-9._-]"));
  if (!body->has("name")) return fail(req, validation_failure("name", "is required"));
  if (auto f = apply_client_fields(*body, c)) return fail(req, *f);
  auto scope_refs = body->list("scope_ids");
  if (!scope_refs) scope_refs = body->list("scopes");
  if (body->error()) return fail(req, *body->error());
  std::vector<std::int64_t> scope_ids;
  if (scope_refs) {
    auto ids = resolve_scopes(ctx, *scope_refs, "scope_ids");
    if (!ids) return fail(req, ids.error());
    scope_ids = std::move(*ids);
  }
  // The secret exists in clear only in this response.
  const std::string secret = ClientSecrets::generate();
  c.secret_hash = ctx.client_secrets.hash(secret);
  c.created_at = c.updated_at = ctx.clock.now_seconds();
  auto created = ctx.storage.create_client(c);
  if (!created) return fail(req, storage_failure(created.error()));
  if (auto r = ctx.storage.set_client_scopes(created->client_id, scope_ids); !r) {
    (void)ctx.storage.delete_client(created->client_id);
    return fail(req, storage_failure(r.error()));
  }
  if (auto r = ctx.clients.refresh(ctx.storage, created->client_id); !r) return fail(req, storage_failure(r.error()));
  notify(ctx, "client:" + created->client_id);
  ctx.audit.record(audit_event(req, "client.create", "success", caller->actor(), caller->actor_type(), created->client_id));
  auto j = client_json(ctx, *created);
  if (!j) return fail(req, j.error());
  return no_store_json(201, {{"client", std::move(*j)}, {"client_secret", secret}});
}

Response get_client(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:clients"}); !c) return fail(req, c.error());
  auto client = ctx.storage.get_client(client_param(req));
  if (!client) return fail(req, storage_failure(client.error()));
  auto j = client_json(ctx, *client);
  if (!j) return fail(req, j.error());
  return http::json_response(200, *j);
}

Response update_client(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:clients"});
  if (!caller) return fail(req, caller.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto client = ctx.storage.get_client(client_param(req));
  if (!client) return fail(req, storage_failure(client.error()));
  if (auto f = apply_client_fields(*body, *client)) return fail(req, *f);
  client->updated_at = ctx.clock.now_seconds();
  auto updated = ctx.storage.update_client(*client);
  if (!updated) return fail(req, storage_failure(updated.error()));
  if (body->has("scope_ids")) {
    auto refs = body->list("scope_ids");
    if (body->error()) return fail(req, *body->error());
    auto ids = resolve_scopes(ctx, refs.value_or(std::vector<std::string>{}), "scope_ids");
    if (!ids) return fail(req, ids.error());
    if (auto r = ctx.storage.set_client_scopes(updated->client_id, *ids); !r) return fail(req, storage_failure(r.error()));
  }
  (void)ctx.clients.refresh(ctx.storage, updated->client_id);
  notify(ctx, "client:" + updated->client_id);
  ctx.audit.record(audit_event(req, "client.update", "success", caller->actor(), caller->actor_type(), updated->client_id));
  auto j = client_json(ctx, *updated);
  if (!j) return fail(req, j.error());
  return http::json_response(200, *j);
}

Response delete_client(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:clients"});
  if (!caller) return fail(req, caller.error());
  const auto id = client_param(req);
  if (auto r = ctx.storage.delete_client(id); !r) return fail(req, storage_failure(r.error()));
  ctx.clients.erase(id);  // its tokens stop verifying at once (see TokenService::verify)
  notify(ctx, "client:" + id);
  ctx.audit.record(audit_event(req, "client.delete", "success", caller->actor(), caller->actor_type(), id));
  return http::json_response(200, boost::json::object{{"message", "Client deleted"}, {"client_id", id}});
}

Response rotate_secret(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:clients"});
  if (!caller) return fail(req, caller.error());
  std::int64_t grace = 0;
  if (!req.body.empty()) {
    auto body = JsonBody::parse(req);
    if (!body) return fail(req, body.error());
    grace = body->integer("grace_period_seconds").value_or(0);
    if (body->error()) return fail(req, *body->error());
    if (grace < 0 || grace > 86400) return fail(req, validation_failure("grace_period_seconds", "must be from 0 to 86400"));
  }
  const auto now = ctx.clock.now_seconds();
  const std::string secret = ClientSecrets::generate();
  auto rotated = ctx.storage.rotate_client_secret(client_param(req), ctx.client_secrets.hash(secret),
                                                  grace > 0 ? std::optional<std::int64_t>(now + grace) : std::nullopt, now);
  if (!rotated) return fail(req, storage_failure(rotated.error()));
  (void)ctx.clients.refresh(ctx.storage, rotated->client_id);
  notify(ctx, "client:" + rotated->client_id);
  auto event = audit_event(req, "client.rotate_secret", "success", caller->actor(), caller->actor_type(), rotated->client_id);
  event.details = boost::json::serialize(boost::json::object{{"grace_period_seconds", grace}});
  ctx.audit.record(std::move(event));
  auto j = client_json(ctx, *rotated);
  if (!j) return fail(req, j.error());
  return no_store_json(200, {{"client", std::move(*j)}, {"client_secret", secret}});
}

Response set_client_scopes(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:clients"});
  if (!caller) return fail(req, caller.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto refs = body->list("scope_ids");
  if (!refs) refs = body->list("scopes");
  if (body->error()) return fail(req, *body->error());
  if (!refs) return fail(req, validation_failure("scope_ids", "is required"));
  auto ids = resolve_scopes(ctx, *refs, "scope_ids");
  if (!ids) return fail(req, ids.error());
  const auto id = client_param(req);
  if (auto r = ctx.storage.set_client_scopes(id, *ids); !r) return fail(req, storage_failure(r.error()));
  (void)ctx.clients.refresh(ctx.storage, id);
  notify(ctx, "client:" + id);
  auto client = ctx.storage.get_client(id);
  if (!client) return fail(req, storage_failure(client.error()));
  ctx.audit.record(audit_event(req, "client.scopes", "success", caller->actor(), caller->actor_type(), id));
  auto j = client_json(ctx, *client);
  if (!j) return fail(req, j.error());
  return http::json_response(200, *j);
}

// ---- admin ----

/// Unix seconds, or ISO 8601 UTC: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS" with optional fraction and "Z".
std::optional<std::int64_t> parse_time(std::string_view v) {
  if (is_digits(v)) return std::stoll(std::string(v));
  std::tm tm{};
  const std::string s(v);
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) {
    tm = std::tm{};
    rest = strptime(s.c_str(), "%Y-%m-%d", &tm);
    if (rest == nullptr || *rest != '\0') return std::nullopt;
    return static_cast<std::int64_t>(timegm(&tm));
  }
  if (*rest == '.') {
    ++rest;
    if (*rest < '0' || *rest > '9') return std::nullopt;
    while (*rest >= '0' && *rest <= '9') ++rest;
  }
  if (*rest == 'Z') ++rest;
  if (*rest != '\0') return std::nullopt;  // offsets other than Z are not accepted: UTC only
  return static_cast<std::int64_t>(timegm(&tm));
}

Response audit_query(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:audit"}); !c) return fail(req, c.error());
  storage::AuditQuery q;
  auto paging = read_paging(req, 50, 1000);
  if (!paging) return fail(req, paging.error());
  q.page = paging->page;
  q.per_page = paging->per_page;
  if (auto limit = req.query_param("limit"); limit && !req.query_param("per_page")) {
    if (!is_digits(*limit) || std::stoll(std::string(*limit)) < 1 || std::stoll(std::string(*limit)) > 1000) {
      return fail(req, validation_failure("limit", "must be an integer from 1 to 1000"));
    }
    q.per_page = paging->per_page = std::stoll(std::string(*limit));
  }
  if (auto v = req.query_param("actor")) q.actor = std::string(*v);
  if (auto v = req.query_param("action")) q.action = std::string(*v);
  if (auto v = req.query_param("outcome")) q.outcome = std::string(*v);
  for (const auto& [name, field] : {std::pair{"since", &q.since}, std::pair{"until", &q.until}}) {
    if (auto v = req.query_param(name)) {
      auto t = parse_time(*v);
      if (!t) return fail(req, validation_failure(name, "must be ISO 8601 (YYYY-MM-DDTHH:MM:SS) or Unix seconds"));
      *field = *t;
    }
  }
  ctx.audit.flush(2000);  // events recorded just before this read are visible
  auto page = ctx.storage.query_audit(q);
  if (!page) return fail(req, storage_failure(page.error()));
  boost::json::array events;
  for (const auto& e : page->items) events.push_back(render_audit_event(e));
  return http::json_response(200, page_envelope("events", std::move(events), page->total, *paging));
}

boost::json::object key_json(const jose::KeyInfo& k) {
  return {{"kid", k.kid},
          {"alg", std::string(jose::to_string(k.algorithm))},
          {"state", std::string(jose::to_string(k.state))},
          {"created_at", iso8601(k.created_at)},
          {"activate_at", iso8601(k.activate_at)},
          {"retire_after", k.retire_after && *k.retire_after < INT64_MAX / 2 ? boost::json::value(iso8601(*k.retire_after))
                                                                             : boost::json::value(nullptr)}};
}

Response list_keys(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  boost::json::array keys;
  const auto current = ctx.keys.current().kid();
  for (const auto& k : ctx.keys.list()) {
    auto j = key_json(k);
    j["signing"] = k.kid == current;
    keys.push_back(std::move(j));
  }
  return http::json_response(200, boost::json::object{{"keys", std::move(keys)}});
}

Response rotate_keys(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  // Retired keys stay published while any token they signed may live: the longest lifetime
  // a token can have is a client's 24 h maximum.
  const auto max_lifetime = std::max<std::int64_t>({ctx.settings.access_token_ttl_s, ctx.settings.service_token_ttl_s, 86400}) +
                            ctx.settings.leeway_s;
  if (!ctx.keys.rotatable()) {
    return fail(req, Failure(AuthError::Conflict,
                             "Signing keys come from configuration (JWT_PRIVATE_KEY_FILE or JWT_SECRET_KEY): "
                             "rotate them there, listing the previous key until its tokens expire."));
  }
  auto info = ctx.keys.rotate(ctx.clock.now_seconds(), ctx.settings.key_publish_delay_s, max_lifetime);
  if (!info) return fail(req, Failure(AuthError::Internal, "Key rotation failed: " + std::string(jose::to_string(info.error()))));
  ctx.tokens->refresh_keys();
  ctx.audit.record(audit_event(req, "key.rotate", "success", caller->actor(), caller->actor_type(), info->kid));
  return http::json_response(201, boost::json::object{{"key", key_json(*info)}});
}

Response dashboard_stats(AuthContext& ctx, Request& req) {
  // Either admin scope may read the dashboard: it is aggregate counts only.
  if (auto c = require(ctx, req, {"admin:system"}); !c) {
    if (auto u = require(ctx, req, {"admin:users"}); !u) return fail(req, c.error());
  }
  const auto now = ctx.clock.now_seconds();
  auto users = ctx.storage.user_stats(now);
  if (!users) return fail(req, storage_failure(users.error()));
  auto clients = ctx.storage.list_clients(1, 1);
  if (!clients) return fail(req, storage_failure(clients.error()));
  ctx.audit.flush(2000);
  storage::AuditQuery failures;
  failures.action = "auth.login";
  failures.outcome = "failure";
  failures.since = now - 86400;
  failures.per_page = 1;
  auto failed = ctx.storage.query_audit(failures);
  storage::AuditQuery logins = failures;
  logins.outcome = "success";
  auto succeeded = ctx.storage.query_audit(logins);
  return http::json_response(
      200, boost::json::object{{"users", boost::json::object{{"total", users->total},
                                                             {"active", users->active},
                                                             {"verified", users->verified},
                                                             {"locked", users->locked}}},
                               {"service_clients", clients->total},
                               {"logins_24h", succeeded ? succeeded->total : 0},
                               {"failed_logins_24h", failed ? failed->total : 0},
                               {"signing_keys", ctx.keys.list().size()},
                               {"revocations_cached", ctx.revocations.size()},
                               {"audit_dropped", ctx.audit.dropped()}});
}

auto bind(AuthContext& ctx, Response (*fn)(AuthContext&, Request&)) {
  return http::on_pool(ctx.blocking, [&ctx, fn](Request& req) { return fn(ctx, req); });
}

}  // namespace

void register_role_routes(http::Router& router, AuthContext& ctx) {
  router.add("GET", "/api/v1/roles", bind(ctx, list_roles));
  router.add("POST", "/api/v1/roles", bind(ctx, create_role));
  router.add("GET", "/api/v1/roles/scopes", bind(ctx, list_scopes));
  router.add("POST", "/api/v1/roles/scopes", bind(ctx, create_scope));
  router.add("GET", "/api/v1/roles/scopes/{id}", bind(ctx, get_scope));
  router.add("PUT", "/api/v1/roles/scopes/{id}", bind(ctx, update_scope));
  router.add("DELETE", "/api/v1/roles/scopes/{id}", bind(ctx, delete_scope));
  router.add("GET", "/api/v1/roles/{id}", bind(ctx, get_role));
  router.add("PUT", "/api/v1/roles/{id}", bind(ctx, update_role));
  router.add("DELETE", "/api/v1/roles/{id}", bind(ctx, delete_role));
  router.add("PUT", "/api/v1/roles/{id}/scopes", bind(ctx, set_role_scopes));
}

void register_client_routes(http::Router& router, AuthContext& ctx) {
  for (const std::string prefix : {"/api/v1/service-clients", "/api/v1/admin/service-clients"}) {
    router.add("GET", prefix, bind(ctx, list_clients));
    router.add("POST", prefix, bind(ctx, create_client));
    router.add("GET", prefix + "/{client_id}", bind(ctx, get_client));
    router.add("PUT", prefix + "/{client_id}", bind(ctx, update_client));
    router.add("DELETE", prefix + "/{client_id}", bind(ctx, delete_client));
    router.add("POST", prefix + "/{client_id}/rotate-secret", bind(ctx, rotate_secret));
    router.add("PUT", prefix + "/{client_id}/scopes", bind(ctx, set_client_scopes));
  }
}

void register_admin_routes(http::Router& router, AuthContext& ctx) {
  router.add("GET", "/api/v1/admin/audit", bind(ctx, audit_query));
  router.add("GET", "/api/v1/admin/keys", bind(ctx, list_keys));
  router.add("POST", "/api/v1/admin/keys/rotate", bind(ctx, rotate_keys));
  router.add("GET", "/api/v1/admin/dashboard/stats", bind(ctx, dashboard_stats));
}

}  // namespace permiso::auth
