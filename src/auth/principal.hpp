// Who is calling: the identity a verified access token carries, and the guards handlers use
// to demand a token and scopes (RFC 6750 answers: 401 invalid_token, 403 insufficient_scope).
#pragma once

#include "auth/errors.hpp"
#include "http/http.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::auth {

class AuthContext;

struct Principal {
  std::string subject;                  // "sub": the user id as a string, or the client_id
  std::string type;                     // "access" (a user's token) or "service" (client credentials)
  std::optional<std::int64_t> user_id;  // users only
  std::string username;                 // users only
  std::string client_id;
  std::string session_id;  // "sid": users' tokens only
  std::string jti;
  std::vector<std::string> scopes;
  std::vector<std::string> roles;
  bool is_trusted = false;  // service clients only
  std::int64_t issued_at = 0;
  std::int64_t expires_at = 0;
  std::string token;  // the raw access token (for logout/revoke of the caller's own token)

  [[nodiscard]] bool has_scope(std::string_view scope) const;
  [[nodiscard]] bool is_user() const { return user_id.has_value(); }
  /// The actor named in audit events: username or client_id.
  [[nodiscard]] std::string actor() const { return is_user() ? username : client_id; }
  [[nodiscard]] std::string actor_type() const { return is_user() ? "user" : "client"; }
};

/// Verifies `Authorization: Bearer <token>`: signature with the server's own keys, claims,
/// and the revocation list (token and session). No database round trip.
/// Failure: InvalidToken (401, with WWW-Authenticate).
AuthResult<Principal> authenticate(const AuthContext& ctx, const http::Request& req);

/// Verifies a raw access token the same way (introspection, revocation).
AuthResult<Principal> verify_access_token(const AuthContext& ctx, std::string_view token);

/// InsufficientScope (403) with `required_scopes` and `missing_scopes` when any is missing.
std::optional<Failure> require_scopes(const Principal& principal, const std::vector<std::string>& required);

}  // namespace permiso::auth
