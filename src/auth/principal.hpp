// Who is calling: the identity a verified access token carries, and the scope guard
// (RFC 6750: 403 insufficient_scope). Reading the bearer token is the handlers' part.
#pragma once

#include "auth/errors.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::auth {

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

/// InsufficientScope (403) with `required_scopes` and `missing_scopes` when any is missing.
std::optional<Failure> require_scopes(const Principal& principal, const std::vector<std::string>& required);

}  // namespace permiso::auth
