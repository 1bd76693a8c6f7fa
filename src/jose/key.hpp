// JOSE keys: one type for signing (private) and verification (public or shared-secret) keys
// of the four algorithms we speak. The key fixes its algorithm, so a token's "alg" header
// can never pick how it is verified (no HS/RS confusion).
#pragma once

#include "common/result.hpp"

#include <boost/json/object.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace permiso::jose {

enum class Algorithm { HS256, RS256, ES256, EdDSA };
std::string_view to_string(Algorithm a);
std::optional<Algorithm> algorithm_from_string(std::string_view s);

enum class KeyError { InvalidPem, WrongKeyType, SecretTooShort, InvalidJwk, GenerationFailed, Io };
std::string_view to_string(KeyError e);
PERMISO_RESULT_ERROR(KeyError)

/// An immutable key handle; cheap to copy and safe to share across threads.
class SigningKey {
 public:
  /// A fresh key: RSA 2048, P-256, Ed25519 or a 32-byte HMAC secret.
  static Result<SigningKey, KeyError> generate(Algorithm alg);
  /// A private key in PEM (PKCS#8 or traditional); its type must fit `alg`.
  static Result<SigningKey, KeyError> from_pem(Algorithm alg, std::string_view pem);
  /// A shared HS256 secret of at least 32 bytes (RFC 7518 §3.2).
  static Result<SigningKey, KeyError> from_hmac_secret(std::string_view secret);
  /// A public key from a JWK (kty RSA, EC P-256 or OKP Ed25519) for verification only.
  static Result<SigningKey, KeyError> from_public_jwk(const boost::json::object& jwk);

  [[nodiscard]] Algorithm algorithm() const;
  /// RFC 7638 thumbprint for asymmetric keys; for HMAC a hash-derived id that reveals nothing.
  [[nodiscard]] const std::string& kid() const;
  [[nodiscard]] bool can_sign() const;
  [[nodiscard]] bool is_symmetric() const { return algorithm() == Algorithm::HS256; }
  /// The public JWK (kty, kid, alg, use, and n/e, crv/x/y or crv/x). Empty for HMAC keys:
  /// shared secrets are never published.
  [[nodiscard]] boost::json::object public_jwk() const;
  /// PEM of the private key (empty for HMAC and public-only keys).
  [[nodiscard]] std::string private_pem() const;
  /// For HMAC keys the secret itself (persisted by the key store); empty otherwise.
  [[nodiscard]] std::string secret() const;

  /// JWS signature of `signing_input` (ES256: raw R||S). Empty on failure.
  [[nodiscard]] std::string sign(std::string_view signing_input) const;
  [[nodiscard]] bool verify(std::string_view signing_input, std::string_view signature) const;

  /// A copy with another kid (keys loaded from PEM files may carry configured ids).
  [[nodiscard]] SigningKey with_kid(std::string kid) const;
  /// The public half only (for verifiers that must not hold the private key). HMAC keys
  /// have no public half: they are returned as they are.
  [[nodiscard]] SigningKey verification_key() const;
  /// SubjectPublicKeyInfo PEM of the public key (empty for HMAC keys).
  [[nodiscard]] std::string public_pem() const;

  /// base64url of the JWS header {"alg","typ","kid"} for this key. Cached for the common
  /// types ("at+jwt", "JWT") so issuing a token serialises no header JSON.
  [[nodiscard]] std::string encoded_header(std::string_view typ) const;

  struct Impl;

 private:
  explicit SigningKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

using VerificationKey = SigningKey;

/// RFC 7638 JWK thumbprint (base64url SHA-256 of the required members); empty when the
/// JWK lacks them or has an unknown kty.
std::string jwk_thumbprint(const boost::json::object& jwk);

}  // namespace permiso::jose
