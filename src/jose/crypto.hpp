// Small cryptographic primitives over OpenSSL 3: randomness, digests, MACs, constant-time
// comparison and base64url (RFC 4648 §5, no padding, as JOSE uses it).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace permiso::jose {

/// `n` bytes from the OpenSSL CSPRNG. Throws std::runtime_error only if the CSPRNG fails.
std::string random_bytes(std::size_t n);
/// base64url of `nbytes` random bytes: ids, refresh tokens, secrets.
std::string random_token(std::size_t nbytes);
/// A 128-bit random identifier, base64url (22 characters): a token's `jti`. The bytes are
/// CSPRNG output like random_token's, taken from a per-thread block of 1 KiB drawn at once:
/// each RAND_bytes call costs about 2 µs in OpenSSL 3 (its DRBG lookup, a fork check, locks),
/// a large share of issuing a token. A forked child draws a fresh block.
std::string unique_id();
/// SHA-256 of `data`, 32 raw bytes, without an allocation: the verified-token cache hashes
/// every token presented to a resource server.
using Sha256Digest = std::array<unsigned char, 32>;
Sha256Digest sha256_digest(std::string_view data);
std::string sha256(std::string_view data);                             // the same 32 bytes
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string hex(std::string_view bytes);

/// HMAC-SHA256 under one key, keyed once. HMAC() in OpenSSL 3 looks HMAC and SHA-256 up in the
/// provider store (under its locks) and hashes the key on every call, about 3 µs. mac() borrows
/// a context already keyed from the instance's pool and restarts it under the same key: no
/// allocation, about 0.4 µs for a short input (copying the keyed state each call was 1 µs).
/// One instance serves all threads.
class HmacSha256 {
 public:
  /// Throws std::runtime_error only if OpenSSL lacks HMAC or SHA-256.
  explicit HmacSha256(std::string_view key);
  [[nodiscard]] std::string mac(std::string_view data) const;  // raw 32 bytes

 private:
  struct Keyed;                   // the keyed context and the pool of working ones (crypto.cpp)
  std::shared_ptr<Keyed> keyed_;  // shared: copies of a key share its state and its pool
};
/// False on length mismatch; otherwise compares without data-dependent timing.
bool constant_time_equal(std::string_view a, std::string_view b);

std::string base64url_encode(std::string_view bytes);
/// Strict: refuses padding, whitespace and characters outside the URL-safe alphabet.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace permiso::jose
