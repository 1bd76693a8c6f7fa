// User accounts: self-service registration, profile and password, and their administration
// (admin:users): creation, updates, roles, deletion. Disabling or deleting a user, or a
// changed password, ends sessions at once; a caller grants only the admin scopes it holds.
#pragma once

#include "auth/audit_log.hpp"
#include "auth/errors.hpp"
#include "auth/principal.hpp"
#include "storage/storage.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace permiso::auth {

class PasswordHasher;
class SessionService;

/// A user with their roles and the scopes those roles carry.
struct UserView {
  storage::User user;
  std::vector<storage::Role> roles;
  std::vector<std::string> scopes;
};

/// Profile changes, already validated; absent fields stay, an inner nullopt clears one.
struct ProfilePatch {
  std::optional<std::optional<std::string>> first_name;
  std::optional<std::optional<std::string>> last_name;
  std::optional<std::optional<std::string>> display_name;
  std::optional<std::optional<std::string>> bio;
  std::optional<std::string> email;  // normalized

  void apply_to(storage::User& user) const;
};

/// The account flags only an administrator sets.
struct AccountFlags {
  std::optional<bool> is_active;
  std::optional<bool> is_verified;
  std::optional<bool> is_superuser;

  void apply_to(storage::User& user) const;
};

/// An administrator's changes to an account, already validated.
struct AccountPatch {
  ProfilePatch profile;
  AccountFlags flags;
  std::optional<std::string> username;  // normalized
  std::optional<std::string> password;  // in clear; hashed here
  bool unlock = false;                  // clear a lockout and the failed-login count
};

/// A new account, already validated.
struct NewUser {
  std::string username;  // normalized
  std::string password;  // in clear; hashed here
  ProfilePatch profile;
  AccountFlags flags;  // administrators only
};

class UserService {
 public:
  UserService(storage::Storage& storage, const PasswordHasher& passwords, const SessionService& sessions,
              AuditLog& audit, const Clock& clock);

  [[nodiscard]] AuthResult<UserView> get(std::int64_t id) const;
  [[nodiscard]] AuthResult<storage::Page<UserView>> list(const storage::UserQuery& query) const;
  [[nodiscard]] AuthResult<storage::UserStats> stats() const;

  /// Self-service: the account gets the default role.
  [[nodiscard]] AuthResult<UserView> register_user(const NewUser& user, const Origin& origin) const;
  /// `self` is a user's token: their own profile.
  [[nodiscard]] AuthResult<UserView> update_profile(const Principal& self, const ProfilePatch& patch,
                                                    const Origin& origin) const;
  /// `self` is a user's token: their own password. Every other session of theirs ends.
  [[nodiscard]] std::optional<Failure> change_password(const Principal& self, const std::string& current,
                                                       const std::string& next, const Origin& origin) const;

  /// `role_refs`: role names or ids; nullopt gives the default role.
  [[nodiscard]] AuthResult<UserView> create(const NewUser& user,
                                            const std::optional<std::vector<std::string>>& role_refs,
                                            const Principal& caller, const Origin& origin) const;
  [[nodiscard]] AuthResult<UserView> update(std::int64_t id, const AccountPatch& patch, const Principal& caller,
                                            const Origin& origin) const;
  [[nodiscard]] std::optional<Failure> remove(std::int64_t id, const Principal& caller, const Origin& origin) const;
  /// A user's live sessions (admin); NotFound for an unknown user.
  [[nodiscard]] AuthResult<std::vector<storage::Session>> sessions(std::int64_t id) const;
  /// Ends every session and refresh token of the user (admin), audited.
  [[nodiscard]] std::optional<Failure> end_sessions(std::int64_t id, const Principal& caller,
                                                    const Origin& origin) const;
  [[nodiscard]] AuthResult<UserView> set_roles(std::int64_t id, const std::vector<std::string>& role_refs,
                                               const Principal& caller, const Origin& origin) const;

 private:
  [[nodiscard]] AuthResult<UserView> view(storage::User user) const;
  [[nodiscard]] AuthResult<storage::User> insert(const NewUser& user, const std::vector<std::int64_t>& role_ids) const;
  [[nodiscard]] std::vector<std::int64_t> default_roles() const;
  [[nodiscard]] AuthResult<std::vector<std::int64_t>> resolve_roles(const Principal& caller,
                                                                    const std::vector<std::string>& refs) const;

  storage::Storage& storage_;
  const PasswordHasher& passwords_;
  const SessionService& sessions_;
  AuditLog& audit_;
  const Clock& clock_;
};

}  // namespace permiso::auth
