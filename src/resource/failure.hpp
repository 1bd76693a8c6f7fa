// Why a resource server refused a bearer token: one closed list (Envoy jwt_authn's shape),
// mapped once from the JOSE verifier's statuses and once to HTTP answers (guard.hpp).
#pragma once

#include "common/result.hpp"
#include "jose/jwt.hpp"

#include <string_view>

namespace permiso::resource {

enum class AuthFailure {
  MissingToken,          // no Authorization: Bearer header (RFC 6750 §3.1: no error code)
  Malformed,             // not a JWS compact JWT, forbidden header (crit, jku, x5u, jwk, x5c), claims missing
  UnsupportedAlgorithm,  // "none", an algorithm outside the allow-list, or one that is not the key's
  UnknownKey,            // no published key has the token's kid
  BadSignature,
  Expired,
  NotYetValid,  // nbf or iat in the future beyond the leeway
  WrongIssuer,
  WrongAudience,
  WrongType,        // typ header not at+jwt, or a "type" claim other than access/service
  Revoked,          // its jti or its session is on the revocation list
  KeysUnavailable,  // no verification key loaded yet: the server, not the token, is at fault
};

/// A short stable name ("expired", "unknown_key", ...), for logs and metrics labels.
[[nodiscard]] std::string_view to_string(AuthFailure f);
/// A sentence for error_description (no quotes or backslashes: it goes into a header too).
[[nodiscard]] std::string_view describe(AuthFailure f);
/// The resource-server reading of a JOSE refusal.
[[nodiscard]] AuthFailure from_jwt_status(jose::JwtStatus s);
PERMISO_RESULT_ERROR(AuthFailure)

}  // namespace permiso::resource
