// Service clients (admin:clients), under both /api/v1/service-clients and
// /api/v1/admin/service-clients. Every change refreshes the token endpoint's client cache.
#include "auth/audit_log.hpp"
#include "auth/client_cache.hpp"
#include "auth/client_secrets.hpp"
#include "auth/handlers/handler_support.hpp"
#include "auth/handlers/rest_handlers.hpp"
#include "auth/render.hpp"
#include "http/offload.hpp"
#include "jose/crypto.hpp"

#include <arpa/inet.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace permiso::auth {
namespace {

using http::Request;
using http::Response;

Response fail(const Request& req, const Failure& f) {
  return to_response(req, f);
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
    if (*t != "confidential" && *t != "public")
      return validation_failure("client_type", "must be confidential or public");
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
  auto scopes = ctx.deps().storage.client_scopes(c.client_id);
  if (!scopes) return storage_failure(scopes.error());
  std::vector<std::string> names;
  for (auto& s : *scopes) names.push_back(std::move(s.name));
  return render_client(c, names);
}

std::string client_param(const Request& req) {
  return std::string(req.param("client_id"));
}

Response list_clients(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:clients"}); !c) return fail(req, c.error());
  auto paging = read_paging(req, 20, 100);
  if (!paging) return fail(req, paging.error());
  auto page = ctx.deps().storage.list_clients(paging->page, paging->per_page);
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
  if (!valid_client_id(c.client_id))
    return fail(req, validation_failure("client_id", "must be 3 to 64 of [A-Za-z0-9._-]"));
  if (!body->has("name")) return fail(req, validation_failure("name", "is required"));
  if (auto f = apply_client_fields(*body, c)) return fail(req, *f);
  auto scope_refs = body->list("scope_ids");
  if (!scope_refs) scope_refs = body->list("scopes");
  if (body->error()) return fail(req, *body->error());
  std::vector<std::int64_t> scope_ids;
  if (scope_refs) {
    auto ids = resolve_scope_refs(ctx, *scope_refs, "scope_ids");
    if (!ids) return fail(req, ids.error());
    scope_ids = std::move(*ids);
  }
  // The secret exists in clear only in this response.
  const std::string secret = ClientSecrets::generate();
  c.secret_hash = ctx.deps().client_secrets.hash(secret);
  c.created_at = c.updated_at = ctx.deps().clock.now_seconds();
  auto created = ctx.deps().storage.create_client(c);
  if (!created) return fail(req, storage_failure(created.error()));
  if (auto r = ctx.deps().storage.set_client_scopes(created->client_id, scope_ids); !r) {
    (void)ctx.deps().storage.delete_client(created->client_id);
    return fail(req, storage_failure(r.error()));
  }
  if (auto r = ctx.deps().clients.refresh(ctx.deps().storage, created->client_id); !r)
    return fail(req, storage_failure(r.error()));
  publish(ctx.deps().notify, "client:" + created->client_id);
  ctx.deps().audit.record(
      audit_event(req, "client.create", "success", caller->actor(), caller->actor_type(), created->client_id));
  auto j = client_json(ctx, *created);
  if (!j) return fail(req, j.error());
  return no_store_json(201, {{"client", std::move(*j)}, {"client_secret", secret}});
}

Response get_client(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:clients"}); !c) return fail(req, c.error());
  auto client = ctx.deps().storage.get_client(client_param(req));
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
  auto client = ctx.deps().storage.get_client(client_param(req));
  if (!client) return fail(req, storage_failure(client.error()));
  if (auto f = apply_client_fields(*body, *client)) return fail(req, *f);
  client->updated_at = ctx.deps().clock.now_seconds();
  auto updated = ctx.deps().storage.update_client(*client);
  if (!updated) return fail(req, storage_failure(updated.error()));
  if (body->has("scope_ids")) {
    auto refs = body->list("scope_ids");
    if (body->error()) return fail(req, *body->error());
    auto ids = resolve_scope_refs(ctx, refs.value_or(std::vector<std::string>{}), "scope_ids");
    if (!ids) return fail(req, ids.error());
    if (auto r = ctx.deps().storage.set_client_scopes(updated->client_id, *ids); !r)
      return fail(req, storage_failure(r.error()));
  }
  (void)ctx.deps().clients.refresh(ctx.deps().storage, updated->client_id);
  publish(ctx.deps().notify, "client:" + updated->client_id);
  ctx.deps().audit.record(
      audit_event(req, "client.update", "success", caller->actor(), caller->actor_type(), updated->client_id));
  auto j = client_json(ctx, *updated);
  if (!j) return fail(req, j.error());
  return http::json_response(200, *j);
}

Response delete_client(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:clients"});
  if (!caller) return fail(req, caller.error());
  const auto id = client_param(req);
  if (auto r = ctx.deps().storage.delete_client(id); !r) return fail(req, storage_failure(r.error()));
  ctx.deps().clients.erase(id);  // its tokens stop verifying at once (see TokenService::verify)
  publish(ctx.deps().notify, "client:" + id);
  ctx.deps().audit.record(audit_event(req, "client.delete", "success", caller->actor(), caller->actor_type(), id));
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
    if (grace < 0 || grace > 86400)
      return fail(req, validation_failure("grace_period_seconds", "must be from 0 to 86400"));
  }
  const auto now = ctx.deps().clock.now_seconds();
  const std::string secret = ClientSecrets::generate();
  auto rotated =
      ctx.deps().storage.rotate_client_secret(client_param(req), ctx.deps().client_secrets.hash(secret),
                                              grace > 0 ? std::optional<std::int64_t>(now + grace) : std::nullopt, now);
  if (!rotated) return fail(req, storage_failure(rotated.error()));
  (void)ctx.deps().clients.refresh(ctx.deps().storage, rotated->client_id);
  publish(ctx.deps().notify, "client:" + rotated->client_id);
  auto event =
      audit_event(req, "client.rotate_secret", "success", caller->actor(), caller->actor_type(), rotated->client_id);
  event.details = boost::json::serialize(boost::json::object{{"grace_period_seconds", grace}});
  ctx.deps().audit.record(std::move(event));
  auto j = client_json(ctx, *rotated);
  if (!j) return fail(req, j.error());
  return no_store_json(200, {{"client", std::move(*j)}, {"client_secret", secret}});
}

Response set_client_scopes(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:clients"});
  if (!caller) return fail(req, caller.error());
  auto ids = required_scope_ids(ctx, req);
  if (!ids) return fail(req, ids.error());
  const auto id = client_param(req);
  if (auto r = ctx.deps().storage.set_client_scopes(id, *ids); !r) return fail(req, storage_failure(r.error()));
  (void)ctx.deps().clients.refresh(ctx.deps().storage, id);
  publish(ctx.deps().notify, "client:" + id);
  auto client = ctx.deps().storage.get_client(id);
  if (!client) return fail(req, storage_failure(client.error()));
  ctx.deps().audit.record(audit_event(req, "client.scopes", "success", caller->actor(), caller->actor_type(), id));
  auto j = client_json(ctx, *client);
  if (!j) return fail(req, j.error());
  return http::json_response(200, *j);
}

}  // namespace

void register_client_routes(http::Router& router, AuthContext& ctx) {
  for (const std::string prefix : {"/api/v1/service-clients", "/api/v1/admin/service-clients"}) {
    router.add("GET", prefix, on_blocking_pool(ctx, list_clients));
    router.add("POST", prefix, on_blocking_pool(ctx, create_client));
    router.add("GET", prefix + "/{client_id}", on_blocking_pool(ctx, get_client));
    router.add("PUT", prefix + "/{client_id}", on_blocking_pool(ctx, update_client));
    router.add("DELETE", prefix + "/{client_id}", on_blocking_pool(ctx, delete_client));
    router.add("POST", prefix + "/{client_id}/rotate-secret", on_blocking_pool(ctx, rotate_secret));
    router.add("PUT", prefix + "/{client_id}/scopes", on_blocking_pool(ctx, set_client_scopes));
  }
}

}  // namespace permiso::auth
