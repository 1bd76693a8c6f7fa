// First-start seeding: the default scopes and roles (contract), and the bootstrap admin when
// no user exists yet. Idempotent, so every start runs it and replicas racing on an empty
// database converge on one admin.
#pragma once

#include "auth/password_hasher.hpp"
#include "common/clock.hpp"
#include "storage/storage.hpp"

#include <optional>
#include <string>

namespace permiso::auth {

struct BootstrapOutcome {
  bool admin_created = false;
  std::string admin_username;
  /// Set only when the password was generated: the caller prints it once, then forgets it.
  std::optional<std::string> generated_password;
};

storage::StorageResult<BootstrapOutcome> bootstrap(storage::Storage& storage,
                                                   const PasswordHasher& passwords,
                                                   const Clock& clock,
                                                   const std::string& admin_username,
                                                   const std::optional<std::string>& admin_password);

/// A random password that satisfies the password policy (~128 bits of entropy).
std::string generate_password();

}  // namespace permiso::auth
