// Roles and scopes, the system's permission model (admin:system): their definitions, which
// scopes each role carries, and turning references ("trade:read" or an id) into scope ids.
// A renamed or deleted scope reloads the client cache, here and on other replicas (storage
// records it in the client change feed as a change to every client).
#pragma once

#include "auth/audit_log.hpp"
#include "auth/context.hpp"
#include "auth/errors.hpp"
#include "auth/principal.hpp"
#include "storage/storage.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::auth {

/// A role with its scopes.
struct RoleView {
  storage::Role role;
  std::vector<storage::Scope> scopes;
};

/// Changes to a role's or a scope's name and description; absent fields stay.
struct DefinitionPatch {
  std::optional<std::string> name;
  std::optional<std::string> description;
};

/// A decimal id of at most 18 digits (path ids, and ids among name-or-id references).
bool is_decimal_id(std::string_view s);

class RoleService {
 public:
  RoleService(storage::Storage& storage, ClientCache& clients, AuditLog& audit, ChangeNotifier notify);

  /// Scope references (names or decimal ids) → ids; an unknown one is 422 naming `field`.
  [[nodiscard]] AuthResult<std::vector<std::int64_t>> resolve_scopes(const std::vector<std::string>& refs,
                                                                     std::string_view field) const;

  [[nodiscard]] AuthResult<std::vector<RoleView>> roles() const;
  [[nodiscard]] AuthResult<RoleView> role(std::int64_t id) const;
  [[nodiscard]] AuthResult<RoleView> create_role(storage::Role role, const std::vector<std::int64_t>& scope_ids,
                                                 const Principal& caller, const Origin& origin) const;
  [[nodiscard]] AuthResult<RoleView> update_role(std::int64_t id, const DefinitionPatch& patch, const Principal& caller,
                                                 const Origin& origin) const;
  [[nodiscard]] std::optional<Failure> delete_role(std::int64_t id, const Principal& caller,
                                                   const Origin& origin) const;
  [[nodiscard]] AuthResult<RoleView> set_role_scopes(std::int64_t id, const std::vector<std::int64_t>& scope_ids,
                                                     const Principal& caller, const Origin& origin) const;

  [[nodiscard]] AuthResult<std::vector<storage::Scope>> scopes() const;
  [[nodiscard]] AuthResult<storage::Scope> scope(std::int64_t id) const;
  [[nodiscard]] AuthResult<storage::Scope> create_scope(std::string name, std::string description,
                                                        const Principal& caller, const Origin& origin) const;
  [[nodiscard]] AuthResult<storage::Scope> update_scope(std::int64_t id, const DefinitionPatch& patch,
                                                        const Principal& caller, const Origin& origin) const;
  [[nodiscard]] std::optional<Failure> delete_scope(std::int64_t id, const Principal& caller,
                                                    const Origin& origin) const;

 private:
  [[nodiscard]] AuthResult<RoleView> view(storage::Role role) const;
  /// Client scope names may have changed: this replica catches up with the client change feed
  /// (a rename or delete is a full reload there), the others are told to do the same.
  void clients_changed() const;

  storage::Storage& storage_;
  ClientCache& clients_;
  AuditLog& audit_;
  ChangeNotifier notify_;
};

}  // namespace permiso::auth
