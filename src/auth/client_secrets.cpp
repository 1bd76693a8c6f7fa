// See client_secrets.hpp.
#include "auth/client_secrets.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ostream>
#include <stdexcept>

namespace permiso::auth {
namespace {
constexpr std::string_view kScheme = "hmac-sha256$";

/// The value of a lowercase hex digit (what jose::hex writes), or -1.
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string base64url(const unsigned char* data, std::size_t len) {
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<std::size_t>(n));
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}
}  // namespace

std::string ClientSecrets::generate() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed: no entropy for a client secret");
  }
  return base64url(bytes.data(), bytes.size());
}

std::string ClientSecrets::hash(std::string_view secret) const {
  return std::string(kScheme) + jose::hex(keyed_.mac(secret));
}

bool ClientSecrets::matches(std::string_view secret, std::string_view stored_hash) const {
  const std::string computed = hash(secret);
  // Lengths of well-formed hashes are public and equal; only the bytes are secret.
  if (computed.size() != stored_hash.size()) {
    return false;
  }
  return CRYPTO_memcmp(computed.data(), stored_hash.data(), computed.size()) == 0;
}

bool ClientSecrets::accepts(std::string_view secret, const SecretHash& stored) const {
  const std::string mac = keyed_.mac(secret);
  const unsigned char* digest = stored.digest();
  return digest != nullptr && mac.size() == SecretHash::kDigestSize &&
         CRYPTO_memcmp(mac.data(), digest, SecretHash::kDigestSize) == 0;
}

// ---- SecretHash ----

bool SecretHash::is_digest_form(std::string_view text) {
  if (text.size() != kScheme.size() + 2 * kDigestSize || !text.starts_with(kScheme)) return false;
  return std::all_of(text.begin() + static_cast<std::ptrdiff_t>(kScheme.size()), text.end(),
                     [](char c) { return hex_digit(c) >= 0; });
}

SecretHash::SecretHash(std::string_view text) {
  if (is_digest_form(text)) {
    digest_form_ = true;
    for (std::size_t i = 0; i < kDigestSize; ++i) {
      const auto hi = hex_digit(text[kScheme.size() + 2 * i]);
      const auto lo = hex_digit(text[kScheme.size() + 2 * i + 1]);
      bytes_[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return;
  }
  const char* data = text.data();
  const std::size_t size = text.size();
  static_assert(sizeof(data) + sizeof(size) <= kDigestSize);
  std::memcpy(bytes_.data(), &data, sizeof(data));
  std::memcpy(bytes_.data() + sizeof(data), &size, sizeof(size));
}

std::string_view SecretHash::other_text() const {
  const char* data = nullptr;
  std::size_t size = 0;
  std::memcpy(&data, bytes_.data(), sizeof(data));
  std::memcpy(&size, bytes_.data() + sizeof(data), sizeof(size));
  return size == 0 ? std::string_view() : std::string_view(data, size);
}

std::string SecretHash::text() const {
  if (!digest_form_) return std::string(other_text());
  return std::string(kScheme) +
         jose::hex(std::string_view(reinterpret_cast<const char*>(bytes_.data()), bytes_.size()));
}

bool operator==(const SecretHash& hash, std::string_view text) {
  if (!hash.digest_form_) return hash.other_text() == text;
  return SecretHash::is_digest_form(text) && hash.text() == text;
}

std::ostream& operator<<(std::ostream& out, const SecretHash& hash) {
  return out << hash.text();
}

}  // namespace permiso::auth
