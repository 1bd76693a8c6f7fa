// The token endpoint's grants (RFC 6749 §4.3, §4.4, §6): a service client's token, a user's
// login with its lockout, session and refresh token, and a refresh token's rotation with
// reuse detection. Each returns what was issued or the refusal; the handlers render it.
#pragma once

#include "auth/audit_log.hpp"
#include "auth/client_cache.hpp"
#include "auth/context.hpp"
#include "auth/counters.hpp"
#include "auth/errors.hpp"
#include "auth/token_service.hpp"
#include "storage/storage.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace permiso::auth {

class SessionService;

/// The password grant's request, as presented.
struct LoginAttempt {
  std::string username;
  std::string password;
  std::string scope;  // space-separated; empty: every scope the user has
};

/// What a user's login or refresh issues.
struct UserGrant {
  IssuedToken access;
  std::string refresh_token;
  std::string session_id;
  std::string client_id;  // the client the session signed in through
};

/// The client_id claim of tokens from the password grant: Permiso's own first-party login.
inline constexpr std::string_view kFirstPartyClient = "permiso";

class Grants {
 public:
  Grants(const AuthSettings& settings, storage::Storage& storage, const PasswordHasher& passwords,
         ratelimit::RateLimiter& limiter, AuditLog& audit, const TokenService& tokens, const SessionService& sessions,
         AuthCounters& counters, const Clock& clock);

  /// Hot path (an authenticated client): its limits, the scope it may have, sign. No storage.
  [[nodiscard]] AuthResult<IssuedToken> client_credentials(const CachedClient& client, std::string_view scope,
                                                           const Origin& origin) const;
  /// Storage and Argon2: worker pool only. InvalidGrant answers 401 (the seed's endpoints).
  [[nodiscard]] AuthResult<UserGrant> password(const LoginAttempt& attempt, const Origin& origin) const;
  /// The person behind a username and password, with the password grant's limits, lockout
  /// and audit (the sign-in page uses it). Worker pool only.
  [[nodiscard]] AuthResult<storage::User> sign_in(const LoginAttempt& attempt, const Origin& origin) const;
  /// A redeemed authorization code's session: its user, still active, signed in through
  /// the code's client. Worker pool only.
  [[nodiscard]] AuthResult<UserGrant> authorization_code(const storage::AuthorizationCode& code,
                                                         const Origin& origin) const;
  /// Rotates the refresh token; a rotated one presented again ends its family and sessions.
  /// Worker pool only.
  [[nodiscard]] AuthResult<UserGrant> refresh(std::string_view presented, const Origin& origin) const;

 private:
  struct NewRefresh {
    std::string token;
    storage::RefreshToken row;
  };

  [[nodiscard]] std::optional<Failure> client_limits(const ClientFields& client) const;
  [[nodiscard]] AuthResult<storage::User> authenticate(const LoginAttempt& attempt, const Origin& origin) const;
  [[nodiscard]] AuthResult<storage::User> check_password(const std::string& username, const std::string& password,
                                                         const Origin& origin) const;
  [[nodiscard]] Failure failed_password(const storage::User& user, const Origin& origin) const;
  void after_login(storage::User& user, const std::string& password) const;
  [[nodiscard]] AuthResult<UserGrant> start_session(const storage::User& user, std::string_view scope,
                                                    std::string_view client_id, GrantType grant,
                                                    const Origin& origin) const;
  [[nodiscard]] std::optional<Failure> check_rotation(const storage::RotateResult& rotated,
                                                      const storage::RefreshToken& old, const Origin& origin) const;
  [[nodiscard]] AuthResult<storage::User> refreshable_user(const storage::RefreshToken& old) const;
  [[nodiscard]] AuthResult<std::vector<std::string>> role_names(std::int64_t user_id) const;
  [[nodiscard]] NewRefresh new_refresh(std::int64_t user_id, const std::string& session_id, std::string scope,
                                       std::string family_id, std::int64_t now) const;

  const AuthSettings& settings_;
  storage::Storage& storage_;
  const PasswordHasher& passwords_;
  ratelimit::RateLimiter& limiter_;
  AuditLog& audit_;
  const TokenService& tokens_;
  const SessionService& sessions_;
  AuthCounters& counters_;
  const Clock& clock_;
};

}  // namespace permiso::auth
