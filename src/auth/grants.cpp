// See grants.hpp.
#include "auth/grants.hpp"

#include "auth/limits.hpp"
#include "auth/password_hasher.hpp"
#include "auth/render.hpp"
#include "auth/scopes.hpp"
#include "auth/sessions.hpp"
#include "auth/validation.hpp"
#include "common/json_scratch.hpp"
#include "jose/crypto.hpp"
#include "ratelimit/rate_limiter.hpp"

#include <boost/json/serialize.hpp>

namespace permiso::auth {
namespace {

Failure invalid_grant(std::string description) {
  return Failure(AuthError::InvalidGrant, std::move(description));
}

/// The password grant answers invalid_grant with 401 on every endpoint (the seed's login).
Failure bad_login() {
  Failure f = invalid_grant("Invalid username or password.");
  f.grant_error_is_401 = true;
  return f;
}

Failure locked(std::int64_t until) {
  Failure f(AuthError::AccountLocked, "Too many failed logins; the account is locked.");
  f.with("locked_until", boost::json::value(iso8601(until)));
  return f;
}

/// The storage could not answer (503) or answered nonsense (500): not the client's fault.
bool is_storage_failure(const Failure& f) {
  return f.code == AuthError::Unavailable || f.code == AuthError::Internal;
}

Failure disabled() {
  return Failure(AuthError::AccountDisabled, "This account is disabled.");
}

LoginOutcome login_outcome(const AuthResult<storage::User>& signed_in) {
  if (signed_in) return LoginOutcome::Success;
  switch (signed_in.error().code) {
    case AuthError::InvalidGrant:
      return LoginOutcome::InvalidCredentials;
    case AuthError::AccountLocked:
      return LoginOutcome::Locked;
    case AuthError::AccountDisabled:
      return LoginOutcome::Disabled;
    case AuthError::RateLimited:
      return LoginOutcome::RateLimited;
    case AuthError::InvalidRequest:
      return LoginOutcome::InvalidRequest;
    default:
      return LoginOutcome::Error;
  }
}

}  // namespace

Grants::Grants(const AuthSettings& settings, storage::Storage& storage, const PasswordHasher& passwords,
               ratelimit::RateLimiter& limiter, AuditLog& audit, const TokenService& tokens,
               const SessionService& sessions, AuthCounters& counters, const Clock& clock)
    : settings_(settings),
      storage_(storage),
      passwords_(passwords),
      limiter_(limiter),
      audit_(audit),
      tokens_(tokens),
      sessions_(sessions),
      counters_(counters),
      clock_(clock) {}

// ---- client credentials ----

std::optional<Failure> Grants::client_limits(const ClientFields& c) const {
  const auto key = [&](std::string_view suffix) {
    std::string k = "client:";
    k.append(c.client_id).append(suffix);
    return k;
  };
  // The cache keeps storage's "no limit" (null, or ≤ 0) as 0.
  const auto per = [&](std::int64_t limit, std::uint32_t period_s, std::string_view suffix) {
    if (limit <= 0) return std::optional<Failure>();
    return consume(limiter_, key(suffix), RateRule{static_cast<std::uint32_t>(limit), period_s});
  };
  if (auto f = per(c.rate_limit_per_minute, 60, ":m")) return f;
  if (auto f = per(c.rate_limit_per_hour, 3600, ":h")) return f;
  return consume(limiter_, key(":svc"), settings_.service_token_rate);
}

AuthResult<IssuedToken> Grants::client_credentials(const CachedClient& client, std::string_view scope,
                                                   const Origin& origin) const {
  const auto& c = client.client;
  if (auto f = client_limits(c)) return *f;
  const auto scopes = grant_scopes(split_scopes(scope), client.scopes());
  if (!scopes) {
    return Failure(AuthError::InvalidScope, "The requested scope exceeds the scopes granted to this client.");
  }
  auto issued = tokens_.issue_service_token(client, *scopes);
  counters_.token_issued(GrantType::ClientCredentials, issued.algorithm);
  auto event = audit_event(origin, "token.issue", "success", c.client_id, "client", c.client_id);
  JsonScratch scratch;  // the details object lives only until it is serialised
  event.details = boost::json::serialize(boost::json::object(
      {{"grant_type", "client_credentials"}, {"scope", issued.scope}, {"jti", issued.jti}}, scratch.storage()));
  audit_.record(std::move(event));
  return issued;
}

// ---- password ----

AuthResult<UserGrant> Grants::password(const LoginAttempt& attempt, const Origin& origin) const {
  auto user = sign_in(attempt, origin);
  if (!user) return user.error();
  return start_session(*user, attempt.scope, kFirstPartyClient, GrantType::Password, origin);
}

AuthResult<storage::User> Grants::sign_in(const LoginAttempt& attempt, const Origin& origin) const {
  auto user = authenticate(attempt, origin);
  counters_.login(login_outcome(user));
  return user;
}

AuthResult<storage::User> Grants::authenticate(const LoginAttempt& attempt, const Origin& origin) const {
  const std::string username = normalize_username(attempt.username);
  if (username.empty() || attempt.password.empty()) {
    return Failure(AuthError::InvalidRequest, "username and password are required.");
  }
  // RATE_LIMIT_LOGIN limits failed sign-ins per (IP, username). Each attempt takes a token
  // while it runs, so parallel guesses are bounded too; a correct password gives the bucket
  // back, so a user's own sign-ins never count against them (Keycloak, OWASP).
  const std::string limit_key = "login:" + std::string(origin.ip) + ":" + username;
  if (auto f = consume(limiter_, limit_key, settings_.login_rate)) {
    audit_.record(audit_event(origin, "auth.login", "denied", username, "user", username));
    return *f;
  }
  auto user = check_password(username, attempt.password, origin);
  if (!user) return user.error();
  limiter_.reset(limit_key);
  if (!user->is_active) {
    audit_.record(audit_event(origin, "auth.login", "denied", username, "user", username));
    return disabled();
  }
  if (auto ok = storage_.record_successful_login(user->id, clock_.now_seconds()); !ok) {
    return storage_failure(ok.error());
  }
  after_login(*user, attempt.password);
  return user;
}

AuthResult<UserGrant> Grants::authorization_code(const storage::AuthorizationCode& code, const Origin& origin) const {
  auto user = storage_.get_user(code.user_id);
  if (!user) {
    if (user.error().code != storage::StorageError::NotFound) return storage_failure(user.error());
    return invalid_grant("The user of this authorization code no longer exists.");
  }
  if (!user->is_active) return disabled();
  return start_session(*user, code.scope, code.client_id, GrantType::AuthorizationCode, origin);
}

/// The user when the password is right and the account not locked. The same Argon2 work
/// is done for an unknown name, so timing does not reveal which names exist.
AuthResult<storage::User> Grants::check_password(const std::string& username, const std::string& password,
                                                 const Origin& origin) const {
  auto user = storage_.get_user_by_username(username);
  if (!user) {
    if (user.error().code != storage::StorageError::NotFound) return storage_failure(user.error());
    (void)passwords_.verify(passwords_.dummy_hash(), password);
    audit_.record(audit_event(origin, "auth.login", "failure", username, "user", username));
    return bad_login();
  }
  if (user->locked_until && *user->locked_until > clock_.now_seconds()) return locked(*user->locked_until);
  if (!passwords_.verify(user->password_hash, password)) return failed_password(*user, origin);
  return std::move(*user);
}

/// Counts the failure and locks the account at the threshold.
Failure Grants::failed_password(const storage::User& user, const Origin& origin) const {
  auto failed = storage_.record_failed_login(user.id, clock_.now_seconds(), settings_.lockout_threshold,
                                             settings_.lockout_seconds);
  if (!failed) return storage_failure(failed.error());
  auto event = audit_event(origin, "auth.login", "failure", user.username, "user", user.username);
  event.details = boost::json::serialize(
      boost::json::object{{"reason", "bad_password"}, {"failed_login_count", failed->failed_login_count}});
  audit_.record(std::move(event));
  if (failed->was_already_locked && failed->locked_until) return locked(*failed->locked_until);
  if (failed->locked_until && failed->failed_login_count >= settings_.lockout_threshold) {
    counters_.lockout();
    audit_.record(audit_event(origin, "auth.lockout", "success", user.username, "user", user.username));
  }
  return bad_login();
}

/// Parameters were raised since this hash was made: upgrade it while the password is known.
void Grants::after_login(storage::User& user, const std::string& password) const {
  if (!passwords_.needs_rehash(user.password_hash)) return;
  if (auto h = passwords_.hash(password)) {
    user.password_hash = std::move(*h);
    (void)storage_.update_user(user);
  }
}

AuthResult<UserGrant> Grants::start_session(const storage::User& user, std::string_view scope,
                                            std::string_view client_id, GrantType grant_type,
                                            const Origin& origin) const {
  auto allowed = storage_.user_scope_names(user.id);
  if (!allowed) return storage_failure(allowed.error());
  const auto scopes = grant_scopes(split_scopes(scope), *allowed);
  if (!scopes) return Failure(AuthError::InvalidScope, "The requested scope exceeds this user's scopes.");
  auto roles = role_names(user.id);
  if (!roles) return roles.error();
  auto session = sessions_.open(user.id, client_id, origin);
  if (!session) return session.error();
  const auto now = clock_.now_seconds();
  auto refresh = new_refresh(user.id, session->id, join_scopes(*scopes), jose::random_token(16), now);
  // The password grant's tokens keep a NULL client (Permiso's own login), as before.
  if (client_id != kFirstPartyClient) refresh.row.client_id = std::string(client_id);
  if (auto r = storage_.insert_refresh_token(refresh.row); !r) return storage_failure(r.error());

  UserGrant grant{tokens_.issue_user_token(user, *scopes, *roles, session->id, client_id), std::move(refresh.token),
                  session->id, std::string(client_id)};
  counters_.token_issued(grant_type, grant.access.algorithm);
  auto event = audit_event(origin, "auth.login", "success", user.username, "user", user.username);
  event.details = boost::json::serialize(boost::json::object{{"session_id", session->id}, {"jti", grant.access.jti}});
  audit_.record(std::move(event));
  return grant;
}

// ---- refresh ----

AuthResult<UserGrant> Grants::refresh(std::string_view presented, const Origin& origin) const {
  if (presented.empty()) return Failure(AuthError::InvalidRequest, "refresh_token is required.");
  const auto now = clock_.now_seconds();
  const auto hash = TokenService::hash_refresh_token(presented);
  auto old = storage_.get_refresh_token_by_hash(hash);
  if (!old) {
    if (old.error().code != storage::StorageError::NotFound) return storage_failure(old.error());
    return invalid_grant("The refresh token is invalid.");
  }
  // What the grant depends on is read before the rotation, not after: once this request wins
  // the rotation it answers with the tokens, even if a concurrent request presenting the same
  // token is meanwhile ending the family as a reuse. Concurrent refreshes then have exactly
  // one winner whatever order the threads run in. The answers keep their precedence.
  // A read that fails for want of storage answers 503 before the rotation: an outage must
  // not spend the token, and must not look like a bad token (invalid_grant).
  auto session = storage_.get_session(old->session_id);
  if (!session && session.error().code != storage::StorageError::NotFound) return storage_failure(session.error());
  const bool session_live = session && !session->revoked_at && session->expires_at > now;
  auto user = refreshable_user(*old);
  if (!user && is_storage_failure(user.error())) return user.error();
  auto roles = user ? role_names(user->id) : AuthResult<std::vector<std::string>>(std::vector<std::string>{});
  if (!roles) return roles.error();

  auto next = new_refresh(old->user_id, old->session_id, old->scope, old->family_id, now);
  next.row.client_id = old->client_id;
  auto rotated = storage_.rotate_refresh_token(hash, next.row, now);
  if (!rotated) return storage_failure(rotated.error());
  if (auto f = check_rotation(*rotated, *old, origin)) return *f;
  if (!session_live) return invalid_grant("The session of this refresh token has ended.");
  if (!user) return user.error();
  (void)storage_.touch_session(session->id, now);
  const auto client_id = old->client_id.value_or(std::string(kFirstPartyClient));
  UserGrant grant{tokens_.issue_user_token(*user, split_scopes(old->scope), *roles, session->id, client_id),
                  std::move(next.token), session->id, client_id};
  counters_.token_issued(GrantType::RefreshToken, grant.access.algorithm);
  counters_.refresh_rotated();
  audit_.record(audit_event(origin, "token.refresh", "success", user->username, "user", session->id));
  return grant;
}

std::optional<Failure> Grants::check_rotation(const storage::RotateResult& rotated, const storage::RefreshToken& old,
                                              const Origin& origin) const {
  switch (rotated.outcome) {
    case storage::RotateOutcome::Rotated:
      return std::nullopt;
    case storage::RotateOutcome::AlreadyRotated: {
      // A rotated token came back: it was stolen, or a client raced itself. Either way the
      // whole family and its sessions end (RFC 6819 §5.2.2.3; OAuth 2.1 §4.3.1).
      auto sessions = storage_.revoke_refresh_family(old.family_id, clock_.now_seconds());
      if (sessions) (void)sessions_.end(*sessions, "refresh_reuse");
      counters_.refresh_reused();
      audit_.record(
          audit_event(origin, "auth.refresh_reuse", "denied", std::to_string(old.user_id), "user", old.family_id));
      return invalid_grant("The refresh token was already used.");
    }
    case storage::RotateOutcome::Revoked:
    case storage::RotateOutcome::Expired:
    case storage::RotateOutcome::NotFound:
      break;
  }
  return invalid_grant("The refresh token is invalid or expired.");
}

AuthResult<storage::User> Grants::refreshable_user(const storage::RefreshToken& old) const {
  auto user = storage_.get_user(old.user_id);
  if (!user) {
    if (user.error().code != storage::StorageError::NotFound) return storage_failure(user.error());
    return invalid_grant("The user no longer exists.");
  }
  if (!user->is_active) return disabled();
  return std::move(*user);
}

AuthResult<std::vector<std::string>> Grants::role_names(std::int64_t user_id) const {
  auto roles = storage_.user_roles(user_id);
  if (!roles) return storage_failure(roles.error());
  std::vector<std::string> names;
  for (auto& r : *roles) names.push_back(std::move(r.name));
  return names;
}

Grants::NewRefresh Grants::new_refresh(std::int64_t user_id, const std::string& session_id, std::string scope,
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
  out.row.expires_at = now + settings_.refresh_token_ttl_s;
  return out;
}

}  // namespace permiso::auth
