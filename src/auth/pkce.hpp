// Proof Key for Code Exchange (RFC 7636), S256 only: the plain method would hand the
// verifier to anyone who sees the authorization request, so it is refused.
#pragma once

#include <string>
#include <string_view>

namespace permiso::auth::pkce {

/// 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).
[[nodiscard]] bool valid_verifier(std::string_view verifier);
/// A base64url SHA-256 without padding: exactly 43 characters of [A-Za-z0-9-_].
[[nodiscard]] bool valid_challenge(std::string_view challenge);
/// BASE64URL(SHA256(verifier)), the S256 challenge of `verifier`.
[[nodiscard]] std::string s256(std::string_view verifier);
/// Whether `verifier` is well-formed and its S256 challenge is `challenge` (constant time).
[[nodiscard]] bool verifies(std::string_view verifier, std::string_view challenge);

}  // namespace permiso::auth::pkce
