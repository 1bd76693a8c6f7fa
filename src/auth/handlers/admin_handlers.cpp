// The admin endpoints: audit trail query (admin:audit), signing keys (admin:system) and the
// dashboard statistics (admin:system or admin:users).
#include "auth/admin.hpp"
#include "auth/handlers/handler_support.hpp"
#include "auth/handlers/rest_handlers.hpp"
#include "auth/render.hpp"
#include "http/offload.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <ctime>

namespace permiso::auth {
namespace {

using http::Request;
using http::Response;

Response fail(const Request& req, const Failure& f) {
  return to_response(req, f);
}

// ---- admin ----

/// Unix seconds, or ISO 8601 UTC: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS" with optional fraction and "Z".
std::optional<std::int64_t> parse_time(std::string_view v) {
  if (is_decimal_id(v)) return std::stoll(std::string(v));
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
    if (!is_decimal_id(*limit) || std::stoll(std::string(*limit)) < 1 || std::stoll(std::string(*limit)) > 1000) {
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
  auto page = ctx.services.admin.audit_trail(q);
  if (!page) return fail(req, page.error());
  boost::json::array events;
  for (const auto& e : page->items) events.push_back(render_audit_event(e));
  return http::json_response(200, page_envelope("events", std::move(events), page->total, *paging));
}

boost::json::object key_json(const jose::KeyInfo& k) {
  return {
      {"kid", k.kid},
      {"alg", std::string(jose::to_string(k.algorithm))},
      {"state", std::string(jose::to_string(k.state))},
      {"created_at", iso8601(k.created_at)},
      {"activate_at", iso8601(k.activate_at)},
      {"retire_after", k.retire_after && *k.retire_after < INT64_MAX / 2 ? boost::json::value(iso8601(*k.retire_after))
                                                                         : boost::json::value(nullptr)}};
}

Response list_keys(AuthContext& ctx, Request& req) {
  if (auto c = require(ctx, req, {"admin:system"}); !c) return fail(req, c.error());
  const auto listing = ctx.services.admin.keys();
  boost::json::array keys;
  for (const auto& k : listing.keys) {
    auto j = key_json(k);
    j["signing"] = k.kid == listing.signing_kid;
    keys.push_back(std::move(j));
  }
  return http::json_response(200, boost::json::object{{"keys", std::move(keys)}});
}

Response rotate_keys(AuthContext& ctx, Request& req) {
  auto caller = require(ctx, req, {"admin:system"});
  if (!caller) return fail(req, caller.error());
  auto info = ctx.services.admin.rotate_keys(*caller, origin_of(req));
  if (!info) return fail(req, info.error());
  return http::json_response(201, boost::json::object{{"key", key_json(*info)}});
}

Response dashboard_stats(AuthContext& ctx, Request& req) {
  // Either admin scope may read the dashboard: it is aggregate counts only.
  if (auto c = require(ctx, req, {"admin:system"}); !c) {
    if (auto u = require(ctx, req, {"admin:users"}); !u) return fail(req, c.error());
  }
  auto s = ctx.services.admin.dashboard();
  if (!s) return fail(req, s.error());
  const auto& u = s->users;
  return http::json_response(200, boost::json::object{{"users", boost::json::object{{"total", u.total},
                                                                                    {"active", u.active},
                                                                                    {"verified", u.verified},
                                                                                    {"locked", u.locked}}},
                                                      {"service_clients", s->service_clients},
                                                      {"logins_24h", s->logins_24h},
                                                      {"failed_logins_24h", s->failed_logins_24h},
                                                      {"signing_keys", s->signing_keys},
                                                      {"revocations_cached", s->revocations_cached},
                                                      {"audit_dropped", s->audit_dropped}});
}

}  // namespace

void register_admin_routes(http::Router& router, AuthContext& ctx) {
  router.add("GET", "/api/v1/admin/audit", on_blocking_pool(ctx, audit_query));
  router.add("GET", "/api/v1/admin/keys", on_blocking_pool(ctx, list_keys));
  router.add("POST", "/api/v1/admin/keys/rotate", on_blocking_pool(ctx, rotate_keys));
  router.add("GET", "/api/v1/admin/dashboard/stats", on_blocking_pool(ctx, dashboard_stats));
}

}  // namespace permiso::auth
