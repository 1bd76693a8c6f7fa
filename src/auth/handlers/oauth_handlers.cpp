// The OAuth endpoints of permiso-auth. Handlers parse and validate, call storage and the
// token service, and render; anything that touches storage or Argon2 runs on the worker
// pool. Client credentials are the hot path: cache lookup, HMAC, sign — no storage call.
#include "auth/handlers/oauth_handlers.hpp"

#include "auth/audit_log.hpp"
#include "auth/client_cache.hpp"
#include "auth/client_secrets.hpp"
#include "auth/handlers/handler_support.hpp"
#include "auth/password_hasher.hpp"
#include "auth/principal.hpp"
#include "auth/render.hpp"
#include "auth/revocation_list.hpp"
#include "auth/scopes.hpp"
#include "auth/token_service.hpp"
#include "auth/validation.hpp"
#include "common/worker_pool.hpp"
#include "http/body.hpp"
#include "http/offload.hpp"
#include "jose/crypto.hpp"
#include "jose/key_store.hpp"
#include "ratelimit/rate_limiter.hpp"
#include "storage/storage.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace permiso::auth {
namespace {

using http::ParamMap;
using http::Reply;
using http::Request;
using http::Response;

/// The client_id claim of tokens from the password grant: Permiso's own first-party login.
constexpr std::string_view kFirstPartyClient = "permiso";
constexpr int kMaxFeedWaitS = 25;

std::string param(const ParamMap& p, std::string_view name) {
  const auto it = p.find(name);
  return it == p.end() ? std::string() : it->second;
}

Failure grant_failure(std::string description, bool seed_endpoint) {
  Failure f(AuthError::InvalidGrant, std::move(description));
  f.grant_error_is_401 = seed_endpoint;
  return f;
}

/// Runs `work` on the worker pool and replies with its answer (http::offload: a full pool
/// is 503 at once).
void on_pool(AuthContext& ctx, Request& req, Reply reply, std::function<Response()> work) {
  http::offload(ctx.blocking, req, std::move(reply),
                [work = std::move(work)](Request&, const Reply& answer) { answer(work()); });
}

class OAuth {
 public:
  explicit OAuth(AuthContext& ctx) : ctx_(ctx) {}

  // ---- request reading ----

  AuthResult<ParamMap> params(const Request& req) const {
    auto p = http::read_oauth_params(req);
    if (!p) return Failure(AuthError::InvalidRequest, std::string(http::describe(p.error())));
    return std::move(*p);
  }

  /// client_secret_basic or client_secret_post, against the in-memory client cache.
  AuthResult<std::shared_ptr<const CachedClient>> authenticate_client(const Request& req, const ParamMap& p) const {
    std::string id;
    std::string secret;
    auto basic = http::parse_basic_auth(req);
    if (basic) {
      id = std::move(basic->client_id);
      secret = std::move(basic->client_secret);
    } else if (basic.error() != http::BodyError::missing_credentials) {
      return Failure(AuthError::InvalidClient, "The Basic client credentials are malformed.");
    } else {
      id = param(p, "client_id");
      secret = param(p, "client_secret");
    }
    if (id.empty()) return Failure(AuthError::InvalidClient, "Client authentication is required.");
    const auto client = ctx_.clients.find(id);
    const auto now = ctx_.clock.now_seconds();
    bool ok = false;
    if (client) {
      const auto& c = client->client;
      ok = ctx_.client_secrets.matches(secret, c.secret_hash) ||
           (c.previous_secret_hash && c.previous_secret_expires_at && *c.previous_secret_expires_at > now &&
            ctx_.client_secrets.matches(secret, *c.previous_secret_hash));
    } else {
      (void)ctx_.client_secrets.hash(secret);  // same work whether or not the id exists
    }
    if (!ok) {
      ctx_.audit.record(audit_event(req, "client.auth", "failure", id, "client", id));
      return Failure(AuthError::InvalidClient, "Client authentication failed.");
    }
    if (!client->client.is_active) {
      return Failure(AuthError::ClientDisabled, "This client is disabled.");
    }
    if (!client->allowed_ips.empty() &&
        std::find(client->allowed_ips.begin(), client->allowed_ips.end(), req.remote_ip) == client->allowed_ips.end()) {
      ctx_.audit.record(audit_event(req, "client.auth", "denied", id, "client", id));
      return Failure(AuthError::InvalidClient, "This client may not be used from this address.");
    }
    return client;
  }

  /// The client id a request authenticates as (Basic header or form), without checking it.
  static std::string presented_client_id(const Request& req, const ParamMap& p) {
    if (auto basic = http::parse_basic_auth(req)) return basic->client_id;
    return param(p, "client_id");
  }

  /// True when the client is in the cache or storage certainly does not have it. A client
  /// created on another replica is loaded here, once (worker pool only: it may query storage).
  void load_client_if_unknown(const std::string& id) const {
    const auto now = ctx_.clock.now_seconds();
    if (id.empty() || ctx_.clients.find(id) || ctx_.clients.recently_missing(id, now)) return;
    if (ctx_.clients.refresh(ctx_.storage, id) && !ctx_.clients.find(id)) ctx_.clients.mark_missing(id, now);
  }

  /// Whether answering needs a storage lookup first (an id the cache has not seen).
  bool needs_client_load(const std::string& id) const {
    return !id.empty() && !ctx_.clients.find(id) && !ctx_.clients.recently_missing(id, ctx_.clock.now_seconds());
  }

  /// Either a valid bearer token or client authentication (revocation, introspection).
  AuthResult<Principal> authenticate_caller(const Request& req, const ParamMap& p) const {
    if (http::bearer_token(req)) return authenticate(ctx_, req);
    load_client_if_unknown(presented_client_id(req, p));  // runs on the worker pool
    auto client = authenticate_client(req, p);
    if (!client) return client.error();
    Principal caller;
    caller.subject = (*client)->client.client_id;
    caller.client_id = (*client)->client.client_id;
    caller.type = "service";
    caller.scopes = (*client)->scopes;
    caller.is_trusted = (*client)->client.is_trusted;
    return caller;
  }

  std::optional<Failure> limit(std::string key, RateRule rule) const {
    if (rule.count == 0) return std::nullopt;
    const auto d = ctx_.limiter.consume(key, ratelimit::Rate{rule.count, rule.period_s});
    if (d.allowed) return std::nullopt;
    Failure f(AuthError::RateLimited, "Too many requests; retry later.");
    f.retry_after_s = static_cast<int>(std::max<std::uint32_t>(1, d.retry_after_s));
    return f;
  }

  // ---- grants ----

  /// Hot path: cache lookup, HMAC, limits (in memory unless Redis is configured), sign.
  Response client_credentials(const Request& req, const ParamMap& p) const {
    auto client = authenticate_client(req, p);
    if (!client) return to_response(req, client.error());
    const auto& c = (*client)->client;
    if (c.rate_limit_per_minute && *c.rate_limit_per_minute > 0) {
      if (auto f = limit("client:" + c.client_id + ":m",
                         RateRule{static_cast<std::uint32_t>(*c.rate_limit_per_minute), 60})) {
        return to_response(req, *f);
      }
    }
    if (c.rate_limit_per_hour && *c.rate_limit_per_hour > 0) {
      if (auto f = limit("client:" + c.client_id + ":h",
                         RateRule{static_cast<std::uint32_t>(*c.rate_limit_per_hour), 3600})) {
        return to_response(req, *f);
      }
    }
    if (auto f = limit("client:" + c.client_id + ":svc", ctx_.settings.service_token_rate)) {
      return to_response(req, *f);
    }
    const auto scopes = grant_scopes(split_scopes(param(p, "scope")), (*client)->scopes);
    if (!scopes) {
      return to_response(
          req, Failure(AuthError::InvalidScope, "The requested scope exceeds the scopes granted to this client."));
    }
    const auto issued = ctx_.tokens->issue_service_token(**client, *scopes);
    auto event = audit_event(req, "token.issue", "success", c.client_id, "client", c.client_id);
    event.details = boost::json::serialize(
        boost::json::object{{"grant_type", "client_credentials"}, {"scope", issued.scope}, {"jti", issued.jti}});
    ctx_.audit.record(std::move(event));
    return no_store_json(200, {{"access_token", issued.access_token},
                               {"token_type", "Bearer"},
                               {"expires_in", issued.expires_in},
                               {"scope", issued.scope}});
  }

  /// Runs on the worker pool (storage and Argon2).
  Response password(const Request& req, const ParamMap& p) const {
    const std::string username = normalize_username(param(p, "username"));
    const std::string password = param(p, "password");
    if (username.empty() || password.empty()) {
      return to_response(req, Failure(AuthError::InvalidRequest, "username and password are required."));
    }
    if (auto f = limit("login:" + req.remote_ip + ":" + username, ctx_.settings.login_rate)) {
      ctx_.audit.record(audit_event(req, "auth.login", "denied", username, "user", username));
      return to_response(req, *f);
    }
    const auto now = ctx_.clock.now_seconds();
    auto user = ctx_.storage.get_user_by_username(username);
    if (!user) {
      if (user.error().code != storage::StorageError::NotFound) return to_response(req, storage_failure(user.error()));
      // Same Argon2 work as for a real user, so timing does not reveal which names exist.
      (void)ctx_.passwords.verify(ctx_.passwords.dummy_hash(), password);
      ctx_.audit.record(audit_event(req, "auth.login", "failure", username, "user", username));
      return to_response(req, grant_failure("Invalid username or password.", true));
    }
    if (user->locked_until && *user->locked_until > now) return locked(req, *user->locked_until);
    if (!ctx_.passwords.verify(user->password_hash, password)) {
      auto failed = ctx_.storage.record_failed_login(user->id, now, ctx_.settings.lockout_threshold,
                                                     ctx_.settings.lockout_seconds);
      if (!failed) return to_response(req, storage_failure(failed.error()));
      auto event = audit_event(req, "auth.login", "failure", username, "user", username);
      event.details = boost::json::serialize(
          boost::json::object{{"reason", "bad_password"}, {"failed_login_count", failed->failed_login_count}});
      ctx_.audit.record(std::move(event));
      if (failed->was_already_locked && failed->locked_until) return locked(req, *failed->locked_until);
      if (failed->locked_until && failed->failed_login_count >= ctx_.settings.lockout_threshold) {
        ctx_.audit.record(audit_event(req, "auth.lockout", "success", username, "user", username));
      }
      return to_response(req, grant_failure("Invalid username or password.", true));
    }
    if (!user->is_active) {
      ctx_.audit.record(audit_event(req, "auth.login", "denied", username, "user", username));
      return to_response(req, Failure(AuthError::AccountDisabled, "This account is disabled."));
    }
    if (auto ok = ctx_.storage.record_successful_login(user->id, now); !ok) {
      return to_response(req, storage_failure(ok.error()));
    }
    if (ctx_.passwords.needs_rehash(user->password_hash)) {
      // Parameters were raised since this hash was made: upgrade it while we know the password.
      if (auto h = ctx_.passwords.hash(password)) {
        user->password_hash = std::move(*h);
        (void)ctx_.storage.update_user(*user);
      }
    }
    auto allowed = ctx_.storage.user_scope_names(user->id);
    if (!allowed) return to_response(req, storage_failure(allowed.error()));
    const auto scopes = grant_scopes(split_scopes(param(p, "scope")), *allowed);
    if (!scopes) {
      return to_response(req, Failure(AuthError::InvalidScope, "The requested scope exceeds this user's scopes."));
    }
    auto roles = role_names(user->id);
    if (!roles) return to_response(req, roles.error());

    storage::Session session;
    session.id = jose::random_token(16);
    session.user_id = user->id;
    session.client_id = std::string(kFirstPartyClient);
    session.created_at = session.last_seen_at = now;
    session.expires_at = now + ctx_.settings.session_ttl_s;
    session.ip = req.remote_ip;
    session.user_agent = std::string(req.header("user-agent").value_or("")).substr(0, 256);
    if (auto s = ctx_.storage.create_session(session); !s) return to_response(req, storage_failure(s.error()));

    auto refresh = new_refresh_row(user->id, session.id, join_scopes(*scopes), jose::random_token(16), now);
    if (auto r = ctx_.storage.insert_refresh_token(refresh.row); !r)
      return to_response(req, storage_failure(r.error()));

    const auto issued = ctx_.tokens->issue_user_token(*user, *scopes, *roles, session.id, kFirstPartyClient);
    auto event = audit_event(req, "auth.login", "success", username, "user", username);
    event.details = boost::json::serialize(boost::json::object{{"session_id", session.id}, {"jti", issued.jti}});
    ctx_.audit.record(std::move(event));
    return no_store_json(200, {{"access_token", issued.access_token},
                               {"token_type", "Bearer"},
                               {"expires_in", issued.expires_in},
                               {"refresh_token", refresh.token},
                               {"scope", issued.scope},
                               {"session_id", session.id}});
  }

  /// Runs on the worker pool. `seed_endpoint`: /auth/refresh answers 401, /auth/token 400.
  Response refresh(const Request& req, const ParamMap& p, bool seed_endpoint) const {
    const std::string presented = param(p, "refresh_token");
    if (presented.empty()) {
      return to_response(req, Failure(AuthError::InvalidRequest, "refresh_token is required."));
    }
    const auto now = ctx_.clock.now_seconds();
    const auto hash = TokenService::hash_refresh_token(presented);
    auto old = ctx_.storage.get_refresh_token_by_hash(hash);
    if (!old) {
      if (old.error().code != storage::StorageError::NotFound) return to_response(req, storage_failure(old.error()));
      return to_response(req, grant_failure("The refresh token is invalid.", seed_endpoint));
    }
    auto next = new_refresh_row(old->user_id, old->session_id, old->scope, old->family_id, now);
    next.row.client_id = old->client_id;
    auto rotated = ctx_.storage.rotate_refresh_token(hash, next.row, now);
    if (!rotated) return to_response(req, storage_failure(rotated.error()));
    switch (rotated->outcome) {
      case storage::RotateOutcome::Rotated:
        break;
      case storage::RotateOutcome::AlreadyRotated: {
        // A rotated token came back: it was stolen, or a client raced itself. Either way the
        // whole family and its sessions end (RFC 6819 §5.2.2.3; OAuth 2.1 §4.3.1).
        auto sessions = ctx_.storage.revoke_refresh_family(old->family_id, now);
        if (sessions) end_sessions(*sessions, "refresh_reuse");
        auto event =
            audit_event(req, "auth.refresh_reuse", "denied", std::to_string(old->user_id), "user", old->family_id);
        ctx_.audit.record(std::move(event));
        return to_response(req, grant_failure("The refresh token was already used.", seed_endpoint));
      }
      case storage::RotateOutcome::Revoked:
      case storage::RotateOutcome::Expired:
      case storage::RotateOutcome::NotFound:
        return to_response(req, grant_failure("The refresh token is invalid or expired.", seed_endpoint));
    }
    auto session = ctx_.storage.get_session(old->session_id);
    if (!session || session->revoked_at || session->expires_at <= now) {
      return to_response(req, grant_failure("The session of this refresh token has ended.", seed_endpoint));
    }
    auto user = ctx_.storage.get_user(old->user_id);
    if (!user) return to_response(req, grant_failure("The user no longer exists.", seed_endpoint));
    if (!user->is_active) return to_response(req, Failure(AuthError::AccountDisabled, "This account is disabled."));
    auto roles = role_names(user->id);
    if (!roles) return to_response(req, roles.error());
    (void)ctx_.storage.touch_session(session->id, now);
    const auto issued = ctx_.tokens->issue_user_token(*user, split_scopes(old->scope), *roles, session->id,
                                                      old->client_id.value_or(std::string(kFirstPartyClient)));
    ctx_.audit.record(audit_event(req, "token.refresh", "success", user->username, "user", session->id));
    return no_store_json(200, {{"access_token", issued.access_token},
                               {"token_type", "Bearer"},
                               {"expires_in", issued.expires_in},
                               {"refresh_token", next.token},
                               {"scope", issued.scope},
                               {"session_id", session->id}});
  }

  // ---- revocation, introspection, logout ----

  /// Runs on the worker pool. 200 for unknown tokens (RFC 7009 §2.2).
  Response revoke(const Request& req, const ParamMap& p) const {
    auto caller = authenticate_caller(req, p);
    if (!caller) return to_response(req, caller.error());
    const std::string token = param(p, "token");
    if (token.empty()) return to_response(req, Failure(AuthError::InvalidRequest, "token is required."));
    const auto now = ctx_.clock.now_seconds();
    if (auto access = ctx_.tokens->verify(token)) {
      if (may_manage(*caller, access->subject, access->client_id)) {
        if (auto f = revoke_jti(access->jti, access->expires_at, "revoked")) return to_response(req, *f);
        ctx_.audit.record(
            audit_event(req, "token.revoke", "success", caller->actor(), caller->actor_type(), access->jti));
      }
      return no_store_json(200, {});
    }
    auto refresh = ctx_.storage.get_refresh_token_by_hash(TokenService::hash_refresh_token(token));
    if (refresh) {
      if (may_manage(*caller, std::to_string(refresh->user_id), refresh->client_id.value_or(""))) {
        auto sessions = ctx_.storage.revoke_refresh_family(refresh->family_id, now);
        if (!sessions) return to_response(req, storage_failure(sessions.error()));
        ctx_.audit.record(audit_event(req, "token.revoke", "success", caller->actor(), caller->actor_type(),
                                      "refresh:" + refresh->family_id));
      }
    } else if (refresh.error().code == storage::StorageError::Unavailable) {
      return to_response(req, storage_failure(refresh.error()));
    }
    return no_store_json(200, {});
  }

  /// Runs on the worker pool (refresh tokens are looked up in storage).
  Response introspect(const Request& req, const ParamMap& p) const {
    auto caller = authenticate_caller(req, p);
    if (!caller) return to_response(req, caller.error());
    const std::string token = param(p, "token");
    const boost::json::object inactive{{"active", false}};
    if (token.empty()) return no_store_json(200, inactive);
    if (auto a = ctx_.tokens->verify(token)) {
      boost::json::object out{{"active", true},
                              {"sub", a->subject},
                              {"client_id", a->client_id},
                              {"scope", join_scopes(a->scopes)},
                              {"exp", a->expires_at},
                              {"iat", a->issued_at},
                              {"token_type", "access_token"},
                              {"type", a->type},
                              {"jti", a->jti},
                              {"iss", ctx_.settings.issuer},
                              {"aud", ctx_.settings.audience}};
      if (a->is_user()) {
        out["username"] = a->username;
        out["session_id"] = a->session_id;
      } else {
        out["is_trusted"] = a->is_trusted;
      }
      return no_store_json(200, out);
    }
    auto r = ctx_.storage.get_refresh_token_by_hash(TokenService::hash_refresh_token(token));
    const auto now = ctx_.clock.now_seconds();
    if (r && !r->revoked_at && !r->rotated_at && r->expires_at > now) {
      return no_store_json(200, {{"active", true},
                                 {"sub", std::to_string(r->user_id)},
                                 {"client_id", r->client_id.value_or(std::string(kFirstPartyClient))},
                                 {"scope", r->scope},
                                 {"exp", r->expires_at},
                                 {"iat", r->issued_at},
                                 {"token_type", "refresh_token"}});
    }
    return no_store_json(200, inactive);
  }

  /// Runs on the worker pool.
  Response logout(const Request& req) const {
    auto caller = authenticate(ctx_, req);
    if (!caller) return to_response(req, caller.error());
    if (caller->session_id.empty()) {
      return to_response(req, Failure(AuthError::InvalidRequest, "This token does not belong to a login session."));
    }
    if (auto f = end_sessions({caller->session_id}, "logout")) return to_response(req, *f);
    ctx_.audit.record(audit_event(req, "auth.logout", "success", caller->username, "user", caller->session_id));
    return no_store_json(200, {{"message", "Logged out"}, {"session_id", caller->session_id}});
  }

  // ---- sessions (the caller's) ----

  Response list_sessions(const Request& req) const {
    auto caller = user_caller(req);
    if (!caller) return to_response(req, caller.error());
    auto sessions = ctx_.storage.list_live_sessions(*caller->user_id, ctx_.clock.now_seconds());
    if (!sessions) return to_response(req, storage_failure(sessions.error()));
    boost::json::array out;
    for (const auto& s : *sessions) {
      if (ctx_.revocations.contains(RevocationList::Kind::Session, s.id)) continue;
      out.push_back(render_session(s, caller->session_id));
    }
    return no_store_json(200, {{"sessions", std::move(out)}});
  }

  Response delete_session(const Request& req) const {
    auto caller = user_caller(req);
    if (!caller) return to_response(req, caller.error());
    const std::string id(req.param("id"));
    auto session = ctx_.storage.get_session(id);
    // Another user's session is "not found": its existence is not the caller's business.
    if (!session || session->user_id != *caller->user_id || session->revoked_at) {
      if (!session && session.error().code == storage::StorageError::Unavailable) {
        return to_response(req, storage_failure(session.error()));
      }
      return to_response(req, Failure(AuthError::NotFound, "No such session."));
    }
    if (auto f = end_sessions({id}, "session_deleted")) return to_response(req, *f);
    ctx_.audit.record(audit_event(req, "session.delete", "success", caller->username, "user", id));
    return no_store_json(200, {{"message", "Session ended"}, {"session_id", id}});
  }

  /// Ends every session of the caller but the one making the request.
  Response delete_other_sessions(const Request& req) const {
    auto caller = user_caller(req);
    if (!caller) return to_response(req, caller.error());
    auto sessions = ctx_.storage.list_live_sessions(*caller->user_id, ctx_.clock.now_seconds());
    if (!sessions) return to_response(req, storage_failure(sessions.error()));
    std::vector<std::string> ids;
    for (const auto& s : *sessions) {
      if (s.id != caller->session_id) ids.push_back(s.id);
    }
    if (auto f = end_sessions(ids, "sessions_deleted")) return to_response(req, *f);
    ctx_.audit.record(
        audit_event(req, "session.delete_all", "success", caller->username, "user", std::to_string(ids.size())));
    return no_store_json(200, {{"message", "Other sessions ended"}, {"ended", ids.size()}});
  }

  // ---- the revocation feed for resource servers ----

  Response revocation_feed(const Request& req) const {
    auto caller = authenticate(ctx_, req);
    if (!caller) return to_response(req, caller.error());
    std::int64_t since = 0;
    int wait_s = 0;
    try {
      if (auto v = req.query_param("since")) since = std::stoll(std::string(*v));
      if (auto v = req.query_param("wait")) wait_s = std::clamp(std::stoi(std::string(*v)), 0, kMaxFeedWaitS);
    } catch (const std::exception&) {
      Failure f(AuthError::ValidationError, "since and wait must be integers.");
      return to_response(req, f.with("field", "since"));
    }
    // Long-polling holds a worker thread: at most a quarter of the pool may wait at once;
    // beyond that callers get an immediate answer and simply poll again.
    const bool may_wait =
        wait_s > 0 && waiters_.fetch_add(1) < std::max<std::size_t>(1, ctx_.blocking.thread_count() / 4);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(may_wait ? wait_s : 0);
    storage::StorageResult<std::vector<storage::Revocation>> page = std::vector<storage::Revocation>{};
    for (;;) {
      page = ctx_.storage.revocations_since(since, 1000);
      if (!page || !page->empty() || std::chrono::steady_clock::now() >= deadline ||
          (ctx_.draining != nullptr && ctx_.draining->load())) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (wait_s > 0) waiters_.fetch_sub(1);
    if (!page) return to_response(req, storage_failure(page.error()));
    boost::json::array items;
    std::int64_t cursor = since;
    for (const auto& r : *page) {
      RevocationList::Kind kind{};
      std::string id;
      if (!RevocationList::parse_storage_key(r.key, kind, id)) continue;
      items.push_back(boost::json::object{{"key", r.key},
                                          {"kind", kind == RevocationList::Kind::Token ? "token" : "session"},
                                          {"id", id},
                                          {"expires_at", r.expires_at},
                                          {"seq", r.seq}});
      cursor = std::max(cursor, r.seq);
    }
    return no_store_json(200, {{"revocations", std::move(items)}, {"cursor", cursor}});
  }

 private:
  struct NewRefresh {
    std::string token;
    storage::RefreshToken row;
  };

  NewRefresh new_refresh_row(std::int64_t user_id, const std::string& session_id, std::string scope,
                             std::string family_id, std::int64_t now) const {
    NewRefresh out;
    out.token = TokenService::new_refresh_token();
    out.row.id = jose::random_token(16);
    out.row.token_hash = TokenService::hash_refresh_token(out.token);
    out.row.family_id = std::move(family_id);
    out.row.session_id = session_id;
    out.row.user_id = user_id;
    out.row.client_id = std::string(kFirstPartyClient);
    out.row.scope = std::move(scope);
    out.row.issued_at = now;
    out.row.expires_at = now + ctx_.settings.refresh_token_ttl_s;
    return out;
  }

  AuthResult<std::vector<std::string>> role_names(std::int64_t user_id) const {
    auto roles = ctx_.storage.user_roles(user_id);
    if (!roles) return storage_failure(roles.error());
    std::vector<std::string> names;
    for (auto& r : *roles) names.push_back(std::move(r.name));
    return names;
  }

  AuthResult<Principal> user_caller(const Request& req) const {
    auto caller = authenticate(ctx_, req);
    if (!caller) return caller.error();
    if (!caller->is_user()) return Failure(AuthError::Forbidden, "Sessions belong to users; this is a service token.");
    return caller;
  }

  /// The caller may revoke a token it owns (same subject or same client) or any token with
  /// admin:system. Anything else is silently ignored (RFC 7009: no oracle for foreign tokens).
  static bool may_manage(const Principal& caller, const std::string& subject, const std::string& client_id) {
    return caller.subject == subject || (!caller.is_user() && caller.client_id == client_id) ||
           caller.has_scope("admin:system");
  }

  Response locked(const Request& req, std::int64_t until) const {
    Failure f(AuthError::AccountLocked, "Too many failed logins; the account is locked.");
    f.with("locked_until", boost::json::value(iso8601(until)));
    return to_response(req, f);
  }

  std::optional<Failure> revoke_jti(const std::string& jti, std::int64_t expires_at, std::string_view reason) const {
    const auto now = ctx_.clock.now_seconds();
    auto added = ctx_.storage.add_revocation(RevocationList::storage_key(RevocationList::Kind::Token, jti), expires_at,
                                             now, reason);
    if (!added) return storage_failure(added.error());
    ctx_.revocations.add(RevocationList::Kind::Token, jti, expires_at);
    notify(ctx_, "revocation");
    return std::nullopt;
  }

  std::optional<Failure> end_sessions(const std::vector<std::string>& ids, std::string_view reason) const {
    return auth::end_sessions(ctx_, ids, reason);
  }

  AuthContext& ctx_;
  mutable std::atomic<std::size_t> waiters_{0};
};

std::string sanitized_host(const Request& req) {
  const auto host = req.header("host").value_or("");
  const bool clean = !host.empty() && host.size() <= 255 && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
  return clean ? std::string(host) : std::string("localhost");
}

}  // namespace

void register_oauth_routes(http::Router& router, AuthContext& ctx) {
  auto oauth = std::make_shared<OAuth>(ctx);

  router.add("POST", "/api/v1/auth/token", [oauth, &ctx](Request& req, Reply reply) {
    auto p = oauth->params(req);
    if (!p) return reply(to_response(req, p.error()));
    std::string grant = param(*p, "grant_type");
    if (grant.empty() && p->contains("username") && p->contains("password")) grant = "password";
    if (grant == "client_credentials") {
      if (!oauth->needs_client_load(OAuth::presented_client_id(req, *p)))
        return reply(oauth->client_credentials(req, *p));
      return on_pool(ctx, req, std::move(reply), [oauth, &req, p = std::move(*p)] {
        oauth->load_client_if_unknown(OAuth::presented_client_id(req, p));
        return oauth->client_credentials(req, p);
      });
    }
    if (grant == "password") {
      return on_pool(ctx, req, std::move(reply), [oauth, &req, p = std::move(*p)] { return oauth->password(req, p); });
    }
    if (grant == "refresh_token") {
      return on_pool(ctx, req, std::move(reply),
                     [oauth, &req, p = std::move(*p)] { return oauth->refresh(req, p, /*seed_endpoint=*/false); });
    }
    if (grant.empty()) return reply(to_response(req, Failure(AuthError::InvalidRequest, "grant_type is required.")));
    reply(to_response(
        req, Failure(AuthError::UnsupportedGrantType, "Unsupported grant_type: " + grant.substr(0, 64) + ".")));
  });

  router.add("POST", "/api/v1/auth/service-token", [oauth, &ctx](Request& req, Reply reply) {
    auto p = oauth->params(req);
    if (!p) return reply(to_response(req, p.error()));
    if (!oauth->needs_client_load(OAuth::presented_client_id(req, *p)))
      return reply(oauth->client_credentials(req, *p));
    on_pool(ctx, req, std::move(reply), [oauth, &req, p = std::move(*p)] {
      oauth->load_client_if_unknown(OAuth::presented_client_id(req, p));
      return oauth->client_credentials(req, p);
    });
  });

  router.add("POST", "/api/v1/auth/refresh", [oauth, &ctx](Request& req, Reply reply) {
    auto p = oauth->params(req);
    if (!p) return reply(to_response(req, p.error()));
    on_pool(ctx, req, std::move(reply), [oauth, &req, p = std::move(*p)] { return oauth->refresh(req, p, true); });
  });

  router.add("POST", "/api/v1/auth/revoke", [oauth, &ctx](Request& req, Reply reply) {
    auto p = oauth->params(req);
    if (!p) return reply(to_response(req, p.error()));
    on_pool(ctx, req, std::move(reply), [oauth, &req, p = std::move(*p)] { return oauth->revoke(req, p); });
  });

  router.add("POST", "/api/v1/auth/introspect", [oauth, &ctx](Request& req, Reply reply) {
    auto p = oauth->params(req);
    if (!p) return reply(to_response(req, p.error()));
    on_pool(ctx, req, std::move(reply), [oauth, &req, p = std::move(*p)] { return oauth->introspect(req, p); });
  });

  router.add("POST", "/api/v1/auth/logout", [oauth, &ctx](Request& req, Reply reply) {
    on_pool(ctx, req, std::move(reply), [oauth, &req] { return oauth->logout(req); });
  });

  router.add("GET", "/api/v1/auth/revocations", [oauth, &ctx](Request& req, Reply reply) {
    on_pool(ctx, req, std::move(reply), [oauth, &req] { return oauth->revocation_feed(req); });
  });

  register_session_routes(router, ctx);
}

void register_session_routes(http::Router& router, AuthContext& ctx) {
  auto oauth = std::make_shared<OAuth>(ctx);
  router.add("GET", "/api/v1/sessions", [oauth, &ctx](Request& req, Reply reply) {
    on_pool(ctx, req, std::move(reply), [oauth, &req] { return oauth->list_sessions(req); });
  });
  router.add("DELETE", "/api/v1/sessions/{id}", [oauth, &ctx](Request& req, Reply reply) {
    on_pool(ctx, req, std::move(reply), [oauth, &req] { return oauth->delete_session(req); });
  });
  router.add("DELETE", "/api/v1/sessions", [oauth, &ctx](Request& req, Reply reply) {
    on_pool(ctx, req, std::move(reply), [oauth, &req] { return oauth->delete_other_sessions(req); });
  });
}

void register_wellknown_routes(http::Router& router, AuthContext& ctx) {
  router.add_sync("GET", "/.well-known/jwks.json", [&ctx](Request&) {
    auto res = http::json_response(200, ctx.keys.jwks());
    // Verifiers may cache briefly; a rotated key is published before it signs, so a cache
    // shorter than the publish delay never misses a key.
    res.set_header("Cache-Control", "public, max-age=300");
    return res;
  });
  router.add("GET", "/.well-known/oauth-authorization-server", [&ctx](Request& req, Reply reply) {
    on_pool(ctx, req, std::move(reply), [&ctx, &req] {
      const std::string base =
          ctx.settings.public_base_url.empty() ? "http://" + sanitized_host(req) : ctx.settings.public_base_url;
      boost::json::array scopes;
      if (auto all = ctx.storage.list_scopes()) {
        for (const auto& s : *all) scopes.emplace_back(s.name);
      }
      boost::json::array auth_methods{"client_secret_basic", "client_secret_post"};
      boost::json::object doc{
          {"issuer", ctx.settings.issuer},
          {"token_endpoint", base + "/api/v1/auth/token"},
          {"jwks_uri", base + "/.well-known/jwks.json"},
          {"revocation_endpoint", base + "/api/v1/auth/revoke"},
          {"introspection_endpoint", base + "/api/v1/auth/introspect"},
          {"grant_types_supported", boost::json::array{"password", "client_credentials", "refresh_token"}},
          {"response_types_supported", boost::json::array{}},
          {"token_endpoint_auth_methods_supported", auth_methods},
          {"revocation_endpoint_auth_methods_supported", auth_methods},
          {"introspection_endpoint_auth_methods_supported", auth_methods},
          {"token_endpoint_auth_signing_alg_values_supported",
           boost::json::array{std::string(jose::to_string(ctx.keys.algorithm()))}},
          {"scopes_supported", std::move(scopes)}};
      auto res = http::json_response(200, doc);
      res.set_header("Cache-Control", "public, max-age=300");
      return res;
    });
  });
}

}  // namespace permiso::auth
