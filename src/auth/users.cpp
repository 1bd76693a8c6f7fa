// See users.hpp.
#include "auth/users.hpp"

#include "auth/password_hasher.hpp"
#include "auth/roles.hpp"
#include "auth/seed_data.hpp"
#include "auth/sessions.hpp"

namespace permiso::auth {
namespace {

Failure hashing_failed() {
  return Failure(AuthError::Internal, "Password hashing failed.");
}

}  // namespace

void ProfilePatch::apply_to(storage::User& u) const {
  for (const auto& [patch, field] : {std::pair{&first_name, &u.first_name}, std::pair{&last_name, &u.last_name},
                                     std::pair{&display_name, &u.display_name}, std::pair{&bio, &u.bio}}) {
    if (*patch) *field = **patch;
  }
  if (email) u.email = *email;
}

void AccountFlags::apply_to(storage::User& u) const {
  if (is_active) u.is_active = *is_active;
  if (is_verified) u.is_verified = *is_verified;
  if (is_superuser) u.is_superuser = *is_superuser;
}

UserService::UserService(storage::Storage& storage, const PasswordHasher& passwords, const SessionService& sessions,
                         AuditLog& audit, const Clock& clock)
    : storage_(storage), passwords_(passwords), sessions_(sessions), audit_(audit), clock_(clock) {}

// ---- reads ----

AuthResult<UserView> UserService::view(storage::User user) const {
  auto roles = storage_.user_roles(user.id);
  if (!roles) return storage_failure(roles.error());
  auto scopes = storage_.user_scope_names(user.id);
  if (!scopes) return storage_failure(scopes.error());
  return UserView{std::move(user), std::move(*roles), std::move(*scopes)};
}

AuthResult<UserView> UserService::get(std::int64_t id) const {
  auto user = storage_.get_user(id);
  if (!user) return storage_failure(user.error());
  return view(std::move(*user));
}

AuthResult<storage::Page<UserView>> UserService::list(const storage::UserQuery& query) const {
  auto page = storage_.list_users(query);
  if (!page) return storage_failure(page.error());
  auto views = views_of(std::move(page->items), [this](storage::User u) { return view(std::move(u)); });
  if (!views) return views.error();
  return storage::Page<UserView>{std::move(*views), page->total};
}

AuthResult<storage::UserStats> UserService::stats() const {
  auto s = storage_.user_stats(clock_.now_seconds());
  if (!s) return storage_failure(s.error());
  return *s;
}

// ---- self-service ----

AuthResult<storage::User> UserService::insert(const NewUser& user, const std::vector<std::int64_t>& role_ids) const {
  storage::User u;
  u.username = user.username;
  user.profile.apply_to(u);
  user.flags.apply_to(u);
  u.created_at = u.updated_at = clock_.now_seconds();
  auto hash = passwords_.hash(user.password);
  if (!hash) return hashing_failed();
  u.password_hash = std::move(*hash);
  auto created = storage_.create_user(u, role_ids);
  if (!created) return storage_failure(created.error());
  return std::move(*created);
}

std::vector<std::int64_t> UserService::default_roles() const {
  if (auto role = storage_.get_role_by_name(kDefaultUserRole)) return {role->id};
  return {};
}

AuthResult<UserView> UserService::register_user(const NewUser& user, const Origin& origin) const {
  auto created = insert(user, default_roles());
  if (!created) return created.error();
  audit_.record(
      audit_event(origin, "user.register", "success", created->username, "user", std::to_string(created->id)));
  return view(std::move(*created));
}

AuthResult<UserView> UserService::update_profile(const Principal& self, const ProfilePatch& patch,
                                                 const Origin& origin) const {
  auto user = storage_.get_user(*self.user_id);
  if (!user) return storage_failure(user.error());
  patch.apply_to(*user);
  user->updated_at = clock_.now_seconds();
  auto updated = storage_.update_user(*user);
  if (!updated) return storage_failure(updated.error());
  audit_.record(audit_event(origin, "user.update", "success", self.username, "user", std::to_string(user->id)));
  return view(std::move(*updated));
}

std::optional<Failure> UserService::change_password(const Principal& self, const std::string& current,
                                                    const std::string& next, const Origin& origin) const {
  const auto id = std::to_string(*self.user_id);
  auto user = storage_.get_user(*self.user_id);
  if (!user) return storage_failure(user.error());
  if (!passwords_.verify(user->password_hash, current)) {
    audit_.record(audit_event(origin, "user.password", "failure", self.username, "user", id));
    // 422 naming the field, not 401: the caller's token is fine, and a 401 would make a client
    // drop or refresh it (contract: 401 is for a missing or bad token).
    return validation_failure("current_password", "is not the account's current password");
  }
  auto hash = passwords_.hash(next);
  if (!hash) return hashing_failed();
  user->password_hash = std::move(*hash);
  user->updated_at = clock_.now_seconds();
  if (auto r = storage_.update_user(*user); !r) return storage_failure(r.error());
  // Every other session ends: a changed password must lock out whoever knew the old one.
  if (auto ended = sessions_.end_others(*self.user_id, self.session_id, "password_changed"); !ended) {
    return ended.error();
  }
  audit_.record(audit_event(origin, "user.password", "success", self.username, "user", id));
  return std::nullopt;
}

// ---- administration ----

/// Role references (names or ids) → ids. A caller may grant only the admin:* scopes it holds
/// itself: otherwise admin:users alone could hand out the admin role and with it admin:system.
AuthResult<std::vector<std::int64_t>> UserService::resolve_roles(const Principal& caller,
                                                                 const std::vector<std::string>& refs) const {
  std::vector<std::int64_t> ids;
  for (const auto& ref : refs) {
    auto role = is_decimal_id(ref) ? storage_.get_role(std::stoll(ref)) : storage_.get_role_by_name(ref);
    if (!role) {
      if (role.error().code == storage::StorageError::NotFound) {
        return validation_failure("role_ids", "unknown role '" + ref + "'");
      }
      return storage_failure(role.error());
    }
    auto scopes = storage_.role_scopes(role->id);
    if (!scopes) return storage_failure(scopes.error());
    std::vector<std::string> admin_scopes;
    for (const auto& s : *scopes) {
      if (s.name.starts_with("admin:")) admin_scopes.push_back(s.name);
    }
    if (auto f = require_scopes(caller, admin_scopes)) return *f;
    ids.push_back(role->id);
  }
  return ids;
}

AuthResult<UserView> UserService::create(const NewUser& user, const std::optional<std::vector<std::string>>& role_refs,
                                         const Principal& caller, const Origin& origin) const {
  auto role_ids =
      role_refs ? resolve_roles(caller, *role_refs) : AuthResult<std::vector<std::int64_t>>(default_roles());
  if (!role_ids) return role_ids.error();
  auto created = insert(user, *role_ids);
  if (!created) return created.error();
  audit_.record(change_event(origin, caller, "user.create", std::to_string(created->id)));
  return view(std::move(*created));
}

AuthResult<UserView> UserService::update(std::int64_t id, const AccountPatch& patch, const Principal& caller,
                                         const Origin& origin) const {
  auto user = storage_.get_user(id);
  if (!user) return storage_failure(user.error());
  const bool was_active = user->is_active;
  patch.profile.apply_to(*user);
  if (patch.username) user->username = *patch.username;
  patch.flags.apply_to(*user);
  if (patch.password) {
    auto hash = passwords_.hash(*patch.password);
    if (!hash) return hashing_failed();
    user->password_hash = std::move(*hash);
  }
  if (patch.unlock) {
    user->locked_until.reset();
    user->failed_login_count = 0;
  }
  user->updated_at = clock_.now_seconds();
  auto updated = storage_.update_user(*user);
  if (!updated) return storage_failure(updated.error());
  if (was_active && !updated->is_active) {
    if (auto f = sessions_.end_all(updated->id, "user_disabled")) return *f;
  }
  audit_.record(change_event(origin, caller, "user.update", std::to_string(id)));
  return view(std::move(*updated));
}

std::optional<Failure> UserService::remove(std::int64_t id, const Principal& caller, const Origin& origin) const {
  if (caller.user_id && *caller.user_id == id) {
    return Failure(AuthError::Conflict, "You cannot delete your own account.");
  }
  if (auto user = storage_.get_user(id); !user) return storage_failure(user.error());
  if (auto f = sessions_.end_all(id, "user_deleted")) return f;
  if (auto r = storage_.delete_user(id); !r) return storage_failure(r.error());
  audit_.record(change_event(origin, caller, "user.delete", std::to_string(id)));
  return std::nullopt;
}

AuthResult<std::vector<storage::Session>> UserService::sessions(std::int64_t id) const {
  if (auto user = storage_.get_user(id); !user) return storage_failure(user.error());
  return sessions_.live(id);
}

std::optional<Failure> UserService::end_sessions(std::int64_t id, const Principal& caller, const Origin& origin) const {
  if (auto user = storage_.get_user(id); !user) return storage_failure(user.error());
  if (auto f = sessions_.end_all(id, "ended_by_admin")) return f;
  audit_.record(change_event(origin, caller, "session.end_all", std::to_string(id)));
  return std::nullopt;
}

AuthResult<UserView> UserService::set_roles(std::int64_t id, const std::vector<std::string>& role_refs,
                                            const Principal& caller, const Origin& origin) const {
  auto ids = resolve_roles(caller, role_refs);
  if (!ids) return ids.error();
  if (auto r = storage_.set_user_roles(id, *ids); !r) return storage_failure(r.error());
  auto user = storage_.get_user(id);
  if (!user) return storage_failure(user.error());
  audit_.record(change_event(origin, caller, "user.roles", std::to_string(id)));
  return view(std::move(*user));
}

}  // namespace permiso::auth
