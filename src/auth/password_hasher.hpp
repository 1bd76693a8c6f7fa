// Argon2id password hashing (OWASP parameters) in the PHC string format, with rehash
// detection so raising the parameters upgrades stored hashes at the next login.
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace permiso::auth {

struct Argon2Params {
  std::uint32_t memory_kib = 19456;  // OWASP 2023: m=19 MiB, t=2, p=1
  std::uint32_t iterations = 2;
  std::uint32_t parallelism = 1;
};

enum class PasswordStatus { Mismatch, MalformedHash, HashingFailed };
std::string_view to_string(PasswordStatus s);
PERMISO_RESULT_ERROR(PasswordStatus)

/// CPU- and memory-hard by design: call only from the blocking worker pool, never on
/// an I/O thread.
class PasswordHasher {
 public:
  explicit PasswordHasher(Argon2Params params) : params_(params) {}

  [[nodiscard]] Result<std::string, PasswordStatus> hash(std::string_view password) const;
  /// Success means the password matches. Comparison is constant-time inside libargon2.
  [[nodiscard]] Result<void, PasswordStatus> verify(std::string_view encoded, std::string_view password) const;
  /// True when `encoded` was made with other parameters (or another algorithm).
  [[nodiscard]] bool needs_rehash(std::string_view encoded) const;
  /// A hash of a random password, verified against when a username is unknown so that
  /// response time does not reveal which usernames exist.
  [[nodiscard]] const std::string& dummy_hash() const;

  [[nodiscard]] const Argon2Params& params() const { return params_; }

 private:
  Argon2Params params_;
  mutable std::once_flag dummy_once_;
  mutable std::string dummy_;
};

}  // namespace permiso::auth
