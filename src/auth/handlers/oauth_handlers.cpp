// The OAuth endpoints of permiso-auth: they read the form (or Basic credentials), call the
// grants, revocation and session services, and render RFC 6749 answers. Anything that
// touches storage or Argon2 runs on the worker pool. Client credentials are the hot path:
// cache lookup, HMAC, sign — no storage call, so it answers on the I/O thread.
#include "auth/handlers/oauth_handlers.hpp"

#include "auth/handlers/browser_session.hpp"
#include "auth/render.hpp"
#include "auth/revocation_list.hpp"
#include "auth/scopes.hpp"
#include "common/json_scratch.hpp"
#include "common/worker_pool.hpp"
#include "http/body.hpp"
#include "http/numbers.hpp"
#include "http/offload.hpp"
#include "jose/key_store.hpp"
#include "storage/storage.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

namespace permiso::auth {
namespace {

using http::ParamMap;
using http::Reply;
using http::Request;
using http::Response;

constexpr int kMaxFeedWaitS = 25;
constexpr int kFeedPage = 1000;

std::string param(const ParamMap& p, std::string_view name) {
  return http::param_or_empty(p, name);
}

/// Runs `work` on the worker pool and replies with its answer (http::offload: a full pool
/// is 503 at once).
void on_pool(AuthContext& ctx, Request& req, Reply reply, std::function<Response()> work) {
  http::offload(ctx.blocking, req, std::move(reply),
                [work = std::move(work)](Request&, const Reply& answer) { answer(work()); });
}

AuthResult<ParamMap> read_params(const Request& req) {
  auto p = http::read_oauth_params(req);
  if (!p) return Failure(AuthError::InvalidRequest, std::string(http::describe(p.error())));
  return std::move(*p);
}

/// client_secret_basic, else client_secret_post.
AuthResult<ClientCredentials> client_credentials_of(const Request& req, const ParamMap& p) {
  auto basic = http::parse_basic_auth(req);
  if (basic) return ClientCredentials{std::move(basic->client_id), std::move(basic->client_secret)};
  if (basic.error() != http::BodyError::MissingCredentials) {
    return Failure(AuthError::InvalidClient, "The Basic client credentials are malformed.");
  }
  return ClientCredentials{param(p, "client_id"), param(p, "client_secret")};
}

Response token_response(const IssuedToken& issued) {
  JsonScratch scratch;
  return no_store_json(200, boost::json::object({{"access_token", issued.access_token},
                                                 {"token_type", "Bearer"},
                                                 {"expires_in", issued.expires_in},
                                                 {"scope", issued.scope}},
                                                scratch.storage()));
}

Response user_grant_response(const AuthContext& ctx, const UserGrant& grant) {
  if (is_browser_grant(grant)) return browser_grant_response(grant, ctx.deps().settings.refresh_token_ttl_s);
  return no_store_json(200, {{"access_token", grant.access.access_token},
                             {"token_type", "Bearer"},
                             {"expires_in", grant.access.expires_in},
                             {"refresh_token", grant.refresh_token},
                             {"scope", grant.access.scope},
                             {"session_id", grant.session_id}});
}

// ---- grants ----

/// Hot path: runs on the I/O thread unless the client must first be loaded from storage.
Response client_credentials(const AuthContext& ctx, const Request& req, const ClientCredentials& credentials,
                            const std::string& scope) {
  const auto origin = origin_of(req);
  auto client = ctx.services.clients.authenticate(credentials, origin);
  if (!client) return to_response(req, client.error());
  auto issued = ctx.services.grants.client_credentials(**client, scope, origin);
  if (!issued) return to_response(req, issued.error());
  return token_response(*issued);
}

void answer_client_credentials(AuthContext& ctx, Request& req, Reply reply, const ParamMap& p) {
  auto credentials = client_credentials_of(req, p);
  if (!credentials) return reply(to_response(req, credentials.error()));
  auto scope = param(p, "scope");
  if (!ctx.services.clients.needs_load(credentials->id)) {
    return reply(client_credentials(ctx, req, *credentials, scope));
  }
  on_pool(ctx, req, std::move(reply), [&ctx, &req, c = std::move(*credentials), scope = std::move(scope)] {
    ctx.services.clients.load_if_unknown(c.id);
    return client_credentials(ctx, req, c, scope);
  });
}

Response password(const AuthContext& ctx, const Request& req, const ParamMap& p) {
  auto grant =
      ctx.services.grants.password({param(p, "username"), param(p, "password"), param(p, "scope")}, origin_of(req));
  if (!grant) return to_response(req, grant.error());
  return user_grant_response(ctx, *grant);
}

/// A public client's code, its PKCE verifier and redirect URI → a browser session.
Response authorization_code(const AuthContext& ctx, const Request& req, const ParamMap& p) {
  auto code = ctx.services.authorization.redeem(
      {param(p, "code"), param(p, "client_id"), param(p, "redirect_uri"), param(p, "code_verifier")});
  if (!code) return to_response(req, code.error());
  auto grant = ctx.services.grants.authorization_code(*code, origin_of(req));
  if (!grant) return to_response(req, grant.error());
  return user_grant_response(ctx, *grant);
}

/// `seed_endpoint`: /auth/refresh answers invalid_grant with 401, /auth/token with 400.
/// A browser presents its refresh token in the cookie (only /auth/token receives it).
Response refresh(const AuthContext& ctx, const Request& req, const ParamMap& p, bool seed_endpoint) {
  auto presented = param(p, "refresh_token");
  const auto cookie = presented.empty() ? refresh_cookie_of(req) : std::nullopt;
  if (cookie) presented = *cookie;
  auto grant = ctx.services.grants.refresh(presented, origin_of(req));
  if (!grant) {
    Failure f = grant.error();
    if (f.code == AuthError::InvalidGrant) f.grant_error_is_401 = seed_endpoint;
    auto res = to_response(req, f);
    // A spent or revoked cookie is of no further use to the browser.
    if (cookie && f.code == AuthError::InvalidGrant) res.set_header("Set-Cookie", cleared_refresh_cookie());
    return res;
  }
  return user_grant_response(ctx, *grant);
}

void answer_token(AuthContext& ctx, Request& req, Reply reply) {
  auto p = read_params(req);
  if (!p) return reply(to_response(req, p.error()));
  std::string grant = param(*p, "grant_type");
  if (grant.empty() && p->contains("username") && p->contains("password")) grant = "password";
  if (grant == "client_credentials") return answer_client_credentials(ctx, req, std::move(reply), *p);
  if (grant == "password") {
    return on_pool(ctx, req, std::move(reply), [&ctx, &req, p = std::move(*p)] { return password(ctx, req, p); });
  }
  if (grant == "authorization_code") {
    return on_pool(ctx, req, std::move(reply),
                   [&ctx, &req, p = std::move(*p)] { return authorization_code(ctx, req, p); });
  }
  if (grant == "refresh_token") {
    return on_pool(ctx, req, std::move(reply),
                   [&ctx, &req, p = std::move(*p)] { return refresh(ctx, req, p, /*seed_endpoint=*/false); });
  }
  if (grant.empty()) return reply(to_response(req, Failure(AuthError::InvalidRequest, "grant_type is required.")));
  reply(to_response(req,
                    Failure(AuthError::UnsupportedGrantType, "Unsupported grant_type: " + grant.substr(0, 64) + ".")));
}

// ---- revocation, introspection, logout ----

/// Either a valid bearer token or client authentication (revocation, introspection).
/// Worker pool only: an unknown client is looked up in storage.
AuthResult<Principal> authenticate_caller(const AuthContext& ctx, const Request& req, const ParamMap& p) {
  if (http::bearer_token(req)) return authenticate(ctx, req);
  auto credentials = client_credentials_of(req, p);
  if (!credentials) return credentials.error();
  ctx.services.clients.load_if_unknown(credentials->id);
  auto client = ctx.services.clients.authenticate(*credentials, origin_of(req));
  if (!client) return client.error();
  return ClientAuthenticator::principal_of(**client);
}

/// 200 for unknown tokens (RFC 7009 §2.2).
Response revoke(const AuthContext& ctx, const Request& req, const ParamMap& p) {
  auto caller = authenticate_caller(ctx, req, p);
  if (!caller) return to_response(req, caller.error());
  const std::string token = param(p, "token");
  if (token.empty()) return to_response(req, Failure(AuthError::InvalidRequest, "token is required."));
  if (auto f = ctx.services.revocation.revoke(*caller, token, origin_of(req))) return to_response(req, *f);
  return no_store_json(200, {});
}

boost::json::object render_introspected(const AuthSettings& settings, const Principal& a) {
  boost::json::object out{
      {"active", true},      {"sub", a.subject},       {"client_id", a.client_id},     {"scope", join_scopes(a.scopes)},
      {"exp", a.expires_at}, {"iat", a.issued_at},     {"token_type", "access_token"}, {"type", a.type},
      {"jti", a.jti},        {"iss", settings.issuer}, {"aud", settings.audience}};
  if (a.is_user()) {
    out["username"] = a.username;
    out["session_id"] = a.session_id;
  } else {
    out["is_trusted"] = a.is_trusted;
  }
  return out;
}

boost::json::object render_introspected(const storage::RefreshToken& r) {
  return {{"active", true},
          {"sub", std::to_string(r.user_id)},
          {"client_id", r.client_id.value_or(std::string(kFirstPartyClient))},
          {"scope", r.scope},
          {"exp", r.expires_at},
          {"iat", r.issued_at},
          {"token_type", "refresh_token"}};
}

Response introspect(const AuthContext& ctx, const Request& req, const ParamMap& p) {
  auto caller = authenticate_caller(ctx, req, p);
  if (!caller) return to_response(req, caller.error());
  const auto found = ctx.services.revocation.introspect(param(p, "token"));
  if (found.access) return no_store_json(200, render_introspected(ctx.deps().settings, *found.access));
  if (found.refresh) return no_store_json(200, render_introspected(*found.refresh));
  return no_store_json(200, {{"active", false}});
}

Response logout(AuthContext& ctx, Request& req) {
  auto caller = authenticate(ctx, req);
  if (!caller) return to_response(req, caller.error());
  if (auto f = ctx.services.sessions.logout(*caller, origin_of(req))) return to_response(req, *f);
  auto res = no_store_json(200, {{"message", "Logged out"}, {"session_id", caller->session_id}});
  // A browser's refresh cookie ends with its session.
  if (refresh_cookie_of(req) || is_browser_client(caller->client_id)) {
    res.set_header("Set-Cookie", cleared_refresh_cookie());
  }
  return res;
}

/// A handler for an OAuth form POST whose work runs on the worker pool.
template <class Fn>
http::Handler form_on_pool(AuthContext& ctx, Fn fn) {
  return [&ctx, fn](Request& req, Reply reply) {
    auto p = read_params(req);
    if (!p) return reply(to_response(req, p.error()));
    on_pool(ctx, req, std::move(reply), [&ctx, &req, fn, p = std::move(*p)] { return fn(ctx, req, p); });
  };
}

// ---- sessions (the caller's) ----

AuthResult<Principal> user_caller(const AuthContext& ctx, const Request& req) {
  auto caller = authenticate(ctx, req);
  if (!caller) return caller.error();
  if (!caller->is_user()) return Failure(AuthError::Forbidden, "Sessions belong to users; this is a service token.");
  return caller;
}

Response list_sessions(AuthContext& ctx, Request& req) {
  auto caller = user_caller(ctx, req);
  if (!caller) return to_response(req, caller.error());
  auto sessions = ctx.services.sessions.live(*caller->user_id);
  if (!sessions) return to_response(req, sessions.error());
  boost::json::array out;
  for (const auto& s : *sessions) out.push_back(render_session(s, caller->session_id));
  return no_store_json(200, {{"sessions", std::move(out)}});
}

Response delete_session(AuthContext& ctx, Request& req) {
  auto caller = user_caller(ctx, req);
  if (!caller) return to_response(req, caller.error());
  const std::string id(req.param("id"));
  if (auto f = ctx.services.sessions.end_own(*caller, id, origin_of(req))) return to_response(req, *f);
  return no_store_json(200, {{"message", "Session ended"}, {"session_id", id}});
}

/// Ends every session of the caller but the one making the request.
Response delete_other_sessions(AuthContext& ctx, Request& req) {
  auto caller = user_caller(ctx, req);
  if (!caller) return to_response(req, caller.error());
  auto ended = ctx.services.sessions.end_all_but_current(*caller, origin_of(req));
  if (!ended) return to_response(req, ended.error());
  return no_store_json(200, {{"message", "Other sessions ended"}, {"ended", *ended}});
}

// ---- the revocation feed for resource servers ----

/// Long-polling holds a worker thread: at most a quarter of the pool may wait at once;
/// beyond that callers get an immediate answer and simply poll again.
class FeedWaiters {
 public:
  explicit FeedWaiters(std::size_t pool_threads) : max_(std::max<std::size_t>(1, pool_threads / 4)) {}
  /// Whether this request may wait; pair a true answer with leave().
  bool enter() {
    if (count_.fetch_add(1) < max_) return true;
    count_.fetch_sub(1);
    return false;
  }
  void leave() { count_.fetch_sub(1); }

 private:
  std::size_t max_;
  std::atomic<std::size_t> count_{0};
};

struct FeedQuery {
  std::int64_t since = 0;
  int wait_s = 0;
};

AuthResult<FeedQuery> read_feed_query(const Request& req) {
  FeedQuery q;
  if (auto v = req.query_param("since")) {
    const auto since = http::whole_number<std::int64_t>(*v);
    if (!since || *since < 0) return validation_failure("since", "must be a non-negative integer (a feed cursor)");
    q.since = *since;
  }
  if (auto v = req.query_param("wait")) {
    const auto wait = http::whole_number<std::int64_t>(*v);
    if (!wait) return validation_failure("wait", "must be an integer number of seconds");
    q.wait_s = static_cast<int>(std::clamp<std::int64_t>(*wait, 0, kMaxFeedWaitS));
  }
  return q;
}

/// The first non-empty page after `since`, waiting up to `wait_s` for one (not past the drain).
AuthResult<std::vector<storage::Revocation>> wait_for_revocations(const AuthContext& ctx, const FeedQuery& q) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(q.wait_s);
  for (;;) {
    auto page = ctx.services.revocation.since(q.since, kFeedPage);
    if (!page || !page->empty() || std::chrono::steady_clock::now() >= deadline || ctx.draining.load()) return page;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

/// `more`: the page is full, so entries may follow it; a resource server keeps reading before it
/// calls itself caught up (ready).
Response render_feed(const std::vector<storage::Revocation>& page, std::int64_t since) {
  boost::json::array items;
  std::int64_t cursor = since;
  for (const auto& r : page) {
    RevocationList::Kind kind{};
    std::string id;
    if (!RevocationList::parse_storage_key(r.key, kind, id)) continue;
    items.push_back(boost::json::object{{"key", r.key},
                                        {"kind", kind == RevocationList::Kind::Token ? "token" : "session"},
                                        {"id", id},
                                        {"expires_at", r.expires_at},
                                        {"revoked_at", r.revoked_at},
                                        {"seq", r.seq}});
    cursor = std::max(cursor, r.seq);
  }
  const bool more = page.size() >= static_cast<std::size_t>(kFeedPage);
  return no_store_json(200, {{"revocations", std::move(items)}, {"cursor", cursor}, {"more", more}});
}

Response revocation_feed(const AuthContext& ctx, FeedWaiters& waiters, const Request& req) {
  auto caller = authenticate(ctx, req);
  if (!caller) return to_response(req, caller.error());
  // The feed is for resource servers: it is read with their own client-credentials token.
  if (caller->is_user()) {
    return to_response(req, Failure(AuthError::Forbidden,
                                    "The revocation feed is read with a service client's client-credentials token."));
  }
  auto query = read_feed_query(req);
  if (!query) return to_response(req, query.error());
  const bool waits = query->wait_s > 0 && waiters.enter();
  if (!waits) query->wait_s = 0;
  auto page = wait_for_revocations(ctx, *query);
  if (waits) waiters.leave();
  if (!page) return to_response(req, page.error());
  return render_feed(*page, query->since);
}

/// RFC 8414 metadata; endpoint URLs from the configured public base URL, else from the
/// address the client used (behind a trusted proxy: its X-Forwarded-Proto and -Host).
Response discovery(const AuthContext& ctx, const Request& req) {
  const auto& settings = ctx.deps().settings;
  const std::string base = settings.public_base_url.empty() ? http::public_base_url(req) : settings.public_base_url;
  boost::json::array scopes;
  if (auto all = ctx.services.roles.scopes()) {
    for (const auto& s : *all) scopes.emplace_back(s.name);
  }
  boost::json::array auth_methods{"client_secret_basic", "client_secret_post"};
  // No private_key_jwt or client_secret_jwt, so no token_endpoint_auth_signing_alg_values_supported:
  // RFC 8414 §2 ties that member to those methods only.
  boost::json::array token_auth_methods{"client_secret_basic", "client_secret_post", "none"};
  boost::json::object doc{{"issuer", settings.issuer},
                          {"authorization_endpoint", base + "/api/v1/auth/authorize"},
                          {"token_endpoint", base + "/api/v1/auth/token"},
                          {"jwks_uri", base + "/.well-known/jwks.json"},
                          {"revocation_endpoint", base + "/api/v1/auth/revoke"},
                          {"introspection_endpoint", base + "/api/v1/auth/introspect"},
                          {"grant_types_supported",
                           boost::json::array{"authorization_code", "password", "client_credentials", "refresh_token"}},
                          {"response_types_supported", boost::json::array{"code"}},
                          {"response_modes_supported", boost::json::array{"query"}},
                          {"code_challenge_methods_supported", boost::json::array{"S256"}},
                          {"authorization_response_iss_parameter_supported", true},
                          {"token_endpoint_auth_methods_supported", token_auth_methods},
                          {"revocation_endpoint_auth_methods_supported", auth_methods},
                          {"introspection_endpoint_auth_methods_supported", auth_methods},
                          {"scopes_supported", std::move(scopes)}};
  auto res = http::json_response(200, doc);
  res.set_header("Cache-Control", "public, max-age=300");
  return res;
}

}  // namespace

void register_oauth_routes(http::Router& router, AuthContext& ctx) {
  router.add("POST", "/api/v1/auth/token",
             [&ctx](Request& req, Reply reply) { answer_token(ctx, req, std::move(reply)); });
  router.add("POST", "/api/v1/auth/service-token", [&ctx](Request& req, Reply reply) {
    auto p = read_params(req);
    if (!p) return reply(to_response(req, p.error()));
    answer_client_credentials(ctx, req, std::move(reply), *p);
  });
  router.add("POST", "/api/v1/auth/refresh",
             form_on_pool(ctx, [](const AuthContext& c, const Request& req, const ParamMap& p) {
               return refresh(c, req, p, /*seed_endpoint=*/true);
             }));
  router.add("POST", "/api/v1/auth/revoke", form_on_pool(ctx, revoke));
  router.add("POST", "/api/v1/auth/introspect", form_on_pool(ctx, introspect));
  router.add("POST", "/api/v1/auth/logout", on_blocking_pool(ctx, logout));
  auto waiters = std::make_shared<FeedWaiters>(ctx.blocking.thread_count());
  router.add("GET", "/api/v1/auth/revocations", http::on_pool(ctx.blocking, [&ctx, waiters](Request& req) {
               return revocation_feed(ctx, *waiters, req);
             }));
  register_session_routes(router, ctx);
  register_authorize_routes(router, ctx);
}

void register_session_routes(http::Router& router, AuthContext& ctx) {
  router.add("GET", "/api/v1/sessions", on_blocking_pool(ctx, list_sessions));
  router.add("DELETE", "/api/v1/sessions/{id}", on_blocking_pool(ctx, delete_session));
  router.add("DELETE", "/api/v1/sessions", on_blocking_pool(ctx, delete_other_sessions));
}

void register_wellknown_routes(http::Router& router, AuthContext& ctx) {
  router.add_sync("GET", "/.well-known/jwks.json", [&ctx](Request&) {
    auto res = http::json_response(200, ctx.deps().keys.jwks());
    // Verifiers may cache briefly; a rotated key is published before it signs, so a cache
    // shorter than the publish delay never misses a key.
    res.set_header("Cache-Control", "public, max-age=300");
    return res;
  });
  router.add("GET", "/.well-known/oauth-authorization-server",
             http::on_pool(ctx.blocking, [&ctx](Request& req) { return discovery(ctx, req); }));
}

}  // namespace permiso::auth
