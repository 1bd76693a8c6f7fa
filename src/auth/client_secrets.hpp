// Service-client secrets: 256 random bits shown once, stored as HMAC-SHA-256 under a server
// pepper. A slow password hash buys nothing for 256-bit random secrets and would put
// Argon2 on the token hot path; a keyed hash keeps a stolen table useless without the pepper.
#pragma once

#include "jose/crypto.hpp"

#include <string>
#include <string_view>

namespace permiso::auth {

class ClientSecrets {
 public:
  /// `pepper` is the server-side HMAC key (PERMISO_CLIENT_SECRET_PEPPER, or generated
  /// under the data dir); it never leaves the process.
  explicit ClientSecrets(std::string_view pepper) : keyed_(pepper) {}

  /// A new secret: 32 random bytes, base64url without padding (43 characters).
  [[nodiscard]] static std::string generate();
  /// "hmac-sha256$" + hex digest: what the database stores.
  [[nodiscard]] std::string hash(std::string_view secret) const;
  /// Constant-time comparison of the presented secret's hash with the stored one.
  [[nodiscard]] bool matches(std::string_view secret, std::string_view stored_hash) const;

 private:
  jose::HmacSha256 keyed_;  // under the pepper, keyed once: every token checks a secret
};

}  // namespace permiso::auth
