// Who is calling a resource server: the identity a verified Permiso access token carries.
// Immutable once built; the authenticator shares one instance per cached token.
#pragma once

#include "common/result.hpp"
#include "resource/failure.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::resource {

struct Principal {
  std::string subject;     // "sub": a user id as a string, or the client_id of a service
  std::string client_id;   // the client the token was issued to
  std::string username;    // users only
  std::string token_type;  // "access" (a user's token) or "service" (client credentials)
  std::string jti;
  std::string session_id;  // "sid": users' tokens only
  std::vector<std::string> scopes;
  std::vector<std::string> roles;
  bool is_trusted = false;  // service clients only
  std::int64_t expires_at = 0;

  [[nodiscard]] bool has_scope(std::string_view scope) const;
  [[nodiscard]] bool is_service() const { return token_type == "service"; }
  /// The owner of resources (e.g. a trading account): "client:<client_id>" for service
  /// tokens, "user:<sub>" for users. Never collides across the two kinds.
  [[nodiscard]] std::string account_key() const;
};

/// The principal of verified claims: sub and jti present, type access or service (else
/// WrongType), scope split at spaces. Claims of the wrong JSON type count as absent.
[[nodiscard]] Result<Principal, AuthFailure> principal_from_claims(const boost::json::object& claims);

}  // namespace permiso::resource
