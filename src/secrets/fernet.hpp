// Fernet (https://github.com/fernet/spec): authenticated symmetric encryption of short values,
// the scheme the seed's `encrypted` secrets provider uses. A token is
//   base64url( 0x80 | timestamp (64-bit big-endian seconds) | IV (16) | AES-128-CBC ciphertext
//              | HMAC-SHA256 over everything before it )
// and a key is base64url of 32 bytes: the HMAC key, then the AES key. Byte-compatible with
// Python's cryptography.fernet, so values encrypted there decrypt here and the other way round.
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace permiso::secrets {

enum class FernetError {
  BadKey,         // the key is not base64url of 32 bytes
  Malformed,      // not base64url, wrong version byte, or too short
  BadSignature,   // the HMAC does not match: another key, or a changed token
  BadPadding,     // authentic but the plaintext's PKCS#7 padding is wrong
  Expired,        // older than the time-to-live asked for
  FromTheFuture,  // timestamped more than the allowed clock skew ahead of now
};
std::string_view to_string(FernetError e);
PERMISO_RESULT_ERROR(FernetError)

class FernetKey {
 public:
  /// Tokens stamped this far ahead of the reader's clock are refused (Python's rule too).
  static constexpr std::int64_t kMaxClockSkewSeconds = 60;

  /// A key as Fernet writes it: base64url (padded or not) of 32 bytes.
  static Result<FernetKey, FernetError> parse(std::string_view encoded);
  /// 32 fresh bytes from the CSPRNG.
  static FernetKey generate();

  FernetKey(const FernetKey&) = default;
  FernetKey& operator=(const FernetKey&) = default;
  FernetKey(FernetKey&&) = default;
  FernetKey& operator=(FernetKey&&) = default;
  ~FernetKey();

  /// The key in Fernet's own spelling (padded base64url).
  [[nodiscard]] std::string encoded() const;
  /// A token for `plaintext` stamped `now` with a fresh random IV.
  [[nodiscard]] std::string encrypt(std::string_view plaintext, std::int64_t now) const;
  /// The same with a given 16-byte IV: only for reproducing published vectors.
  [[nodiscard]] std::string encrypt_with_iv(std::string_view plaintext, std::int64_t now, std::string_view iv) const;
  /// The plaintext of an authentic token. With `ttl_seconds`, a token older than that is
  /// Expired; without, age is not checked (stored secrets do not expire).
  [[nodiscard]] Result<std::string, FernetError> decrypt(std::string_view token, std::int64_t now,
                                                         std::optional<std::int64_t> ttl_seconds = std::nullopt) const;

 private:
  FernetKey(std::string signing, std::string encryption)
      : signing_(std::move(signing)), encryption_(std::move(encryption)) {}
  std::string signing_;     // 16 bytes
  std::string encryption_;  // 16 bytes
};

}  // namespace permiso::secrets
