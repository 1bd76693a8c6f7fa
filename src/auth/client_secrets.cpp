// See client_secrets.hpp.
#include "auth/client_secrets.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace permiso::auth {
namespace {
constexpr std::string_view kScheme = "hmac-sha256$";

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

}  // namespace permiso::auth
