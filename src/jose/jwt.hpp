// JWS compact serialization of JWTs: signing for the issuer, and a strict verification
// policy for every consumer (Envoy jwt_verify_lib's shape: one closed status per refusal).
#pragma once

#include "common/clock.hpp"
#include "common/result.hpp"
#include "jose/key.hpp"

#include <boost/json/object.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::jose {

/// Compact JWS with header {alg, typ, kid}. Thread-safe; hot path of token issuance.
/// Throws std::runtime_error only if the key cannot sign (a public-only key: a bug).
std::string sign_jwt(const SigningKey& key, const boost::json::object& claims, std::string_view typ = "at+jwt");

enum class JwtStatus {
  Malformed,             // not three base64url parts of JSON objects
  UnsupportedAlgorithm,  // "none", or an algorithm the policy does not allow
  ForbiddenHeader,       // crit, jku, x5u, jwk, x5c: never trusted
  UnknownKid,            // no key with that kid (or no kid while the set has several keys)
  AlgorithmKeyMismatch,  // the header's alg is not the key's algorithm
  BadSignature,
  MissingClaim,  // exp, iat (or a configured required claim) absent or mistyped
  Expired,
  NotYetValid,  // nbf or iat in the future beyond the leeway
  IssuerMismatch,
  AudienceMismatch,
  TypeMismatch,  // the typ header is not the expected one
};
std::string_view to_string(JwtStatus s);
PERMISO_RESULT_ERROR(JwtStatus)

struct VerifiedJwt {
  boost::json::object header;
  boost::json::object claims;
};

struct VerifyPolicy {
  std::vector<Algorithm> algorithms;  // the allow-list; empty allows none
  std::string issuer;                 // required when non-empty
  std::string audience;               // required when non-empty ("aud" string or array)
  std::string typ;                    // required header typ when non-empty (e.g. "at+jwt")
  std::int64_t leeway_s = 30;
  bool require_iat = true;  // exp is always required
};

/// Verifies tokens against a replaceable key set. Thread-safe: keys are swapped as one
/// immutable snapshot, so verification takes no lock.
class Verifier {
 public:
  Verifier(VerifyPolicy policy, const Clock& clock);
  void set_keys(std::vector<VerificationKey> keys);
  [[nodiscard]] Result<VerifiedJwt, JwtStatus> verify(std::string_view token) const;
  [[nodiscard]] const VerifyPolicy& policy() const { return policy_; }

 private:
  VerifyPolicy policy_;
  const Clock& clock_;
  std::atomic<std::shared_ptr<const std::vector<VerificationKey>>> keys_;
};

/// The public keys of a JWKS document; members that are not usable signature keys
/// (oct, unknown kty or curve, use other than sig) are skipped.
std::vector<VerificationKey> parse_jwks(const boost::json::object& jwks);
/// The same from JSON text; an unparsable document yields no keys.
std::vector<VerificationKey> parse_jwks(std::string_view jwks_json);

}  // namespace permiso::jose
