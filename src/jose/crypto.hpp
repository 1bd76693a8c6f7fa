// Small cryptographic primitives over OpenSSL 3: randomness, digests, MACs, constant-time
// comparison and base64url (RFC 4648 §5, no padding, as JOSE uses it).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace permiso::jose {

/// `n` bytes from the OpenSSL CSPRNG. Throws std::runtime_error only if the CSPRNG fails.
std::string random_bytes(std::size_t n);
/// base64url of `nbytes` random bytes: ids, refresh tokens, secrets.
std::string random_token(std::size_t nbytes);
std::string sha256(std::string_view data);                             // raw 32 bytes
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string hex(std::string_view bytes);
/// False on length mismatch; otherwise compares without data-dependent timing.
bool constant_time_equal(std::string_view a, std::string_view b);

std::string base64url_encode(std::string_view bytes);
/// Strict: refuses padding, whitespace and characters outside the URL-safe alphabet.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace permiso::jose
