// Service clients (admin:clients), under both /api/v1/service-clients and
// /api/v1/admin/service-clients. The handlers read and validate the request, call
// ClientService (which keeps the token endpoint's client cache current) and render.
#include "auth/authorization.hpp"
#include "auth/clients.hpp"
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

/// A positive limit, or null for unlimited; absent: unchanged.
std::optional<Failure> read_rate_limit(JsonBody& body, const char* key,
                                       std::optional<std::optional<std::int64_t>>& out) {
  if (!body.has(key)) return std::nullopt;
  if (body.is_null(key)) {
    out.emplace(std::nullopt);
    return std::nullopt;
  }
  auto v = body.integer(key);
  if (body.error()) return body.error();
  if (!v || *v < 1 || *v > 1'000'000'000) return validation_failure(key, "must be a positive integer or null");
  out.emplace(*v);
  return std::nullopt;
}

/// IP addresses, stored as a JSON array.
std::optional<Failure> read_allowed_ips(JsonBody& body, std::optional<std::string>& out) {
  if (!body.has("allowed_ips")) return std::nullopt;
  auto ips = body.list("allowed_ips");
  if (body.error()) return body.error();
  boost::json::array arr;
  for (const auto& ip : ips.value_or(std::vector<std::string>{})) {
    if (!valid_ip(ip)) return validation_failure("allowed_ips", "'" + ip + "' is not an IP address");
    arr.emplace_back(ip);
  }
  out = boost::json::serialize(arr);
  return std::nullopt;
}

/// Exact redirect URIs for the authorization code grant, stored as a JSON array.
std::optional<Failure> read_redirect_uris(JsonBody& body, std::optional<std::string>& out) {
  if (!body.has("redirect_uris")) return std::nullopt;
  auto uris = body.list("redirect_uris");
  if (body.error()) return body.error();
  boost::json::array arr;
  for (const auto& uri : uris.value_or(std::vector<std::string>{})) {
    if (auto why = redirect_uri_problem(uri); !why.empty()) return validation_failure("redirect_uris", why);
    arr.emplace_back(uri);
  }
  if (arr.size() > 20) return validation_failure("redirect_uris", "at most 20");
  out = boost::json::serialize(arr);
  return std::nullopt;
}

/// The mutable client fields of a create or update body, validated.
AuthResult<ClientPatch> read_client_patch(JsonBody& body) {
  ClientPatch patch;
  if (body.has("name")) {
    auto name = body.str("name");
    if (body.error()) return *body.error();
    if (!name || name->empty() || name->size() > 100) return validation_failure("name", "must be 1 to 100 characters");
    patch.name = std::move(name);
  }
  if (auto d = body.str("description")) {
    if (d->size() > 1000) return validation_failure("description", "must be at most 1000 characters");
    patch.description = std::move(d);
  }
  if (auto t = body.str("client_type")) {
    if (*t != "confidential" && *t != "public")
      return validation_failure("client_type", "must be confidential or public");
    patch.client_type = std::move(t);
  }
  patch.is_active = body.boolean("is_active");
  patch.is_trusted = body.boolean("is_trusted");
  if (auto v = body.integer("access_token_lifetime")) {
    if (*v < 300 || *v > 86400) return validation_failure("access_token_lifetime", "must be from 300 to 86400 seconds");
    patch.access_token_lifetime = v;
  }
  for (const auto& [key, field] : {std::pair{"rate_limit_per_minute", &patch.rate_limit_per_minute},
                                   std::pair{"rate_limit_per_hour", &patch.rate_limit_per_hour}}) {
    if (auto f = read_rate_limit(body, key, *field)) return *f;
  }
  if (auto f = read_allowed_ips(body, patch.allowed_ips)) return *f;
  if (auto f = read_redirect_uris(body, patch.redirect_uris)) return *f;
  if (body.error()) return *body.error();
  return patch;
}

std::string client_param(const Request& req) {
  return std::string(req.param("client_id"));
}

Response client_response(const AuthResult<ClientView>& client, const Request& req) {
  if (!client) return fail(req, client.error());
  return http::json_response(200, render_client(client->client, client->scopes));
}

/// The client with its secret, which exists in clear only in this answer (null: a public client).
Response secret_response(const AuthResult<ClientWithSecret>& created, const Request& req, int status) {
  if (!created) return fail(req, created.error());
  boost::json::value secret = nullptr;
  if (created->secret) secret = *created->secret;
  return no_store_json(status, {{"client", render_client(created->view.client, created->view.scopes)},
                                {"client_secret", std::move(secret)}});
}

Response list_clients(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:clients"}); !c) return fail(req, c.error());
  auto paging = read_paging(req, 20, 100);
  if (!paging) return fail(req, paging.error());
  auto page = ctx.services.client_admin.list(paging->page, paging->per_page);
  if (!page) return fail(req, page.error());
  boost::json::array out;
  for (const auto& c : page->items) out.push_back(render_client(c.client, c.scopes));
  return http::json_response(200, page_envelope("clients", std::move(out), page->total, *paging));
}

Response create_client(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:clients"});
  if (!caller) return fail(req, caller.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  auto id = body->str("client_id");
  if (body->error()) return fail(req, *body->error());
  const std::string client_id = id ? *id : "svc-" + jose::hex(jose::random_bytes(8));
  if (!valid_client_id(client_id))
    return fail(req, validation_failure("client_id", "must be 3 to 64 of [A-Za-z0-9._-]"));
  if (!body->has("name")) return fail(req, validation_failure("name", "is required"));
  auto settings = read_client_patch(*body);
  if (!settings) return fail(req, settings.error());
  auto scope_ids = optional_scope_ids(ctx, *body);
  if (!scope_ids) return fail(req, scope_ids.error());
  return secret_response(
      ctx.services.client_admin.create(client_id, *settings, scope_ids->value_or(std::vector<std::int64_t>{}), *caller,
                                       origin_of(req)),
      req, 201);
}

Response get_client(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:clients"}); !c) return fail(req, c.error());
  return client_response(ctx.services.client_admin.get(client_param(req)), req);
}

Response update_client(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:clients"});
  if (!caller) return fail(req, caller.error());
  auto body = JsonBody::parse(req);
  if (!body) return fail(req, body.error());
  const auto id = client_param(req);
  auto patch = read_client_patch(*body);
  if (!patch) return fail(req, missing_first(ctx.services.client_admin.get(id), patch.error()));
  auto scope_ids = optional_scope_ids(ctx, *body);
  if (!scope_ids) return fail(req, missing_first(ctx.services.client_admin.get(id), scope_ids.error()));
  return client_response(ctx.services.client_admin.update(id, *patch, *scope_ids, *caller, origin_of(req)), req);
}

Response delete_client(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:clients"});
  if (!caller) return fail(req, caller.error());
  const auto id = client_param(req);
  if (auto f = ctx.services.client_admin.remove(id, *caller, origin_of(req))) return fail(req, *f);
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
  return secret_response(ctx.services.client_admin.rotate_secret(client_param(req), grace, *caller, origin_of(req)),
                         req, 200);
}

Response set_client_scopes(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:clients"});
  if (!caller) return fail(req, caller.error());
  auto ids = required_scope_ids(ctx, req);
  if (!ids) return fail(req, ids.error());
  return client_response(ctx.services.client_admin.set_scopes(client_param(req), *ids, *caller, origin_of(req)), req);
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
