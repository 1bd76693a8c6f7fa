// Argon2id via libargon2; see password_hasher.hpp.
#include "auth/password_hasher.hpp"

#include <argon2.h>
#include <openssl/rand.h>

#include <array>
#include <string>

namespace permiso::auth {
namespace {
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
}  // namespace

std::string_view to_string(PasswordStatus s) {
  switch (s) {
    case PasswordStatus::Mismatch:
      return "password mismatch";
    case PasswordStatus::MalformedHash:
      return "malformed password hash";
    case PasswordStatus::HashingFailed:
      return "password hashing failed";
  }
  return "unknown";
}

Result<std::string, PasswordStatus> PasswordHasher::hash(std::string_view password) const {
  std::array<unsigned char, kSaltBytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return PasswordStatus::HashingFailed;
  }
  const std::size_t encoded_len =
      argon2_encodedlen(params_.iterations, params_.memory_kib, params_.parallelism, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(encoded_len, '\0');
  const int rc =
      argon2id_hash_encoded(params_.iterations, params_.memory_kib, params_.parallelism, password.data(),
                            password.size(), salt.data(), salt.size(), kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return PasswordStatus::HashingFailed;
  }
  encoded.resize(encoded.find('\0'));
  return encoded;
}

Result<void, PasswordStatus> PasswordHasher::verify(std::string_view encoded, std::string_view password) const {
  // libargon2 needs a NUL-terminated string.
  const std::string encoded_z(encoded);
  if (!encoded_z.starts_with("$argon2id$")) {
    return PasswordStatus::MalformedHash;
  }
  const int rc = argon2id_verify(encoded_z.c_str(), password.data(), password.size());
  if (rc == ARGON2_OK) {
    return {};
  }
  if (rc == ARGON2_VERIFY_MISMATCH) {
    return PasswordStatus::Mismatch;
  }
  return PasswordStatus::MalformedHash;
}

bool PasswordHasher::needs_rehash(std::string_view encoded) const {
  const std::string expected = "$argon2id$v=19$m=" + std::to_string(params_.memory_kib) +
                               ",t=" + std::to_string(params_.iterations) +
                               ",p=" + std::to_string(params_.parallelism) + "$";
  return !encoded.starts_with(expected);
}

const std::string& PasswordHasher::dummy_hash() const {
  std::call_once(dummy_once_, [this] {
    std::array<unsigned char, 24> random{};
    RAND_bytes(random.data(), static_cast<int>(random.size()));
    const std::string pw(reinterpret_cast<const char*>(random.data()), random.size());
    auto h = hash(pw);
    dummy_ = h ? *h : std::string();
  });
  return dummy_;
}

}  // namespace permiso::auth
