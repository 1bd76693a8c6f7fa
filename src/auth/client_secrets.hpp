// Service-client secrets: 256 random bits shown once, stored as HMAC-SHA-256 under a server
// pepper. A slow password hash buys nothing for 256-bit random secrets and would put
// Argon2 on the token hot path; a keyed hash keeps a stolen table useless without the pepper.
#pragma once

#include "jose/crypto.hpp"

#include <array>
#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>

namespace permiso::auth {

/// A stored client secret hash as the client cache holds it (33 bytes where the text takes a
/// 76-character string): the form ClientSecrets::hash writes, "hmac-sha256$" and 64 lowercase
/// hex digits, as its 32 bytes; any other text (empty for a client without a secret) as a view
/// of that text, which no secret matches (no computed hash has another form). Reads back as
/// the text it was made from.
class SecretHash {
 public:
  static constexpr std::size_t kDigestSize = 32;

  SecretHash() = default;  // "": no secret
  /// Views `text` unless it has hash()'s form: the text must then outlive this (the client
  /// cache keeps it in the entry).
  explicit SecretHash(std::string_view text);

  /// Whether `text` has the form hash() writes.
  [[nodiscard]] static bool is_digest_form(std::string_view text);
  /// The HMAC's 32 bytes when the text had hash()'s form, else nullptr.
  [[nodiscard]] const unsigned char* digest() const { return digest_form_ ? bytes_.data() : nullptr; }
  /// The stored text it was made from.
  [[nodiscard]] std::string text() const;

  friend bool operator==(const SecretHash& hash, std::string_view text);
  friend std::ostream& operator<<(std::ostream& out, const SecretHash& hash);

 private:
  [[nodiscard]] std::string_view other_text() const;

  std::array<unsigned char, kDigestSize> bytes_{};  // the digest, or the viewed text's pointer and size
  bool digest_form_ = false;
};

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
  /// matches() against a hash as the client cache holds it: the same answer, comparing the
  /// 32 bytes (no hex text built). The HMAC is computed whatever `stored` holds.
  [[nodiscard]] bool accepts(std::string_view secret, const SecretHash& stored) const;

 private:
  jose::HmacSha256 keyed_;  // under the pepper, keyed once: every token checks a secret
};

}  // namespace permiso::auth
