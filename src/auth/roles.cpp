// See roles.hpp.
#include "auth/roles.hpp"

#include "auth/client_cache.hpp"

#include <algorithm>

namespace permiso::auth {
namespace {

/// "trade:read" → resource "trade", action "read".
void split_resource_action(storage::Scope& s) {
  const auto colon = s.name.find(':');
  s.resource = s.name.substr(0, colon);
  s.action = colon == std::string::npos ? "" : s.name.substr(colon + 1);
}

}  // namespace

bool is_decimal_id(std::string_view s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

RoleService::RoleService(storage::Storage& storage, ClientCache& clients, AuditLog& audit, ChangeNotifier notify)
    : storage_(storage), clients_(clients), audit_(audit), notify_(std::move(notify)) {}

AuthResult<std::vector<std::int64_t>> RoleService::resolve_scopes(const std::vector<std::string>& refs,
                                                                  std::string_view field) const {
  std::vector<std::int64_t> ids;
  for (const auto& ref : refs) {
    auto scope = is_decimal_id(ref) ? storage_.get_scope(std::stoll(ref)) : storage_.get_scope_by_name(ref);
    if (!scope) {
      if (scope.error().code == storage::StorageError::NotFound) {
        return validation_failure(field, "unknown scope '" + ref + "'");
      }
      return storage_failure(scope.error());
    }
    ids.push_back(scope->id);
  }
  return ids;
}

// ---- roles ----

AuthResult<RoleView> RoleService::view(storage::Role role) const {
  auto scopes = storage_.role_scopes(role.id);
  if (!scopes) return storage_failure(scopes.error());
  return RoleView{std::move(role), std::move(*scopes)};
}

AuthResult<std::vector<RoleView>> RoleService::roles() const {
  auto roles = storage_.list_roles();
  if (!roles) return storage_failure(roles.error());
  return views_of(std::move(*roles), [this](storage::Role r) { return view(std::move(r)); });
}

AuthResult<RoleView> RoleService::role(std::int64_t id) const {
  auto role = storage_.get_role(id);
  if (!role) return storage_failure(role.error());
  return view(std::move(*role));
}

AuthResult<RoleView> RoleService::create_role(storage::Role role, const std::vector<std::int64_t>& scope_ids,
                                              const Principal& caller, const Origin& origin) const {
  auto created = storage_.create_role(role);
  if (!created) return storage_failure(created.error());
  if (!scope_ids.empty()) {
    if (auto r = storage_.set_role_scopes(created->id, scope_ids); !r) return storage_failure(r.error());
  }
  audit_.record(change_event(origin, caller, "role.create", created->name));
  return view(std::move(*created));
}

AuthResult<RoleView> RoleService::update_role(std::int64_t id, const DefinitionPatch& patch, const Principal& caller,
                                              const Origin& origin) const {
  auto role = storage_.get_role(id);
  if (!role) return storage_failure(role.error());
  if (patch.name) role->name = *patch.name;
  if (patch.description) role->description = *patch.description;
  auto updated = storage_.update_role(*role);
  if (!updated) return storage_failure(updated.error());
  audit_.record(change_event(origin, caller, "role.update", updated->name));
  return view(std::move(*updated));
}

std::optional<Failure> RoleService::delete_role(std::int64_t id, const Principal& caller, const Origin& origin) const {
  if (auto r = storage_.delete_role(id); !r) return storage_failure(r.error());
  audit_.record(change_event(origin, caller, "role.delete", std::to_string(id)));
  return std::nullopt;
}

AuthResult<RoleView> RoleService::set_role_scopes(std::int64_t id, const std::vector<std::int64_t>& scope_ids,
                                                  const Principal& caller, const Origin& origin) const {
  if (auto r = storage_.set_role_scopes(id, scope_ids); !r) return storage_failure(r.error());
  auto role = storage_.get_role(id);
  if (!role) return storage_failure(role.error());
  audit_.record(change_event(origin, caller, "role.scopes", role->name));
  return view(std::move(*role));
}

// ---- scopes ----

AuthResult<std::vector<storage::Scope>> RoleService::scopes() const {
  auto scopes = storage_.list_scopes();
  if (!scopes) return storage_failure(scopes.error());
  return std::move(*scopes);
}

AuthResult<storage::Scope> RoleService::scope(std::int64_t id) const {
  auto s = storage_.get_scope(id);
  if (!s) return storage_failure(s.error());
  return std::move(*s);
}

AuthResult<storage::Scope> RoleService::create_scope(std::string name, std::string description, const Principal& caller,
                                                     const Origin& origin) const {
  storage::Scope s;
  s.name = std::move(name);
  s.description = std::move(description);
  split_resource_action(s);
  auto created = storage_.create_scope(s);
  if (!created) return storage_failure(created.error());
  audit_.record(change_event(origin, caller, "scope.create", created->name));
  return std::move(*created);
}

AuthResult<storage::Scope> RoleService::update_scope(std::int64_t id, const DefinitionPatch& patch,
                                                     const Principal& caller, const Origin& origin) const {
  auto s = storage_.get_scope(id);
  if (!s) return storage_failure(s.error());
  if (patch.name) {
    s->name = *patch.name;
    split_resource_action(*s);
  }
  if (patch.description) s->description = *patch.description;
  auto updated = storage_.update_scope(*s);
  if (!updated) return storage_failure(updated.error());
  clients_changed();
  audit_.record(change_event(origin, caller, "scope.update", updated->name));
  return std::move(*updated);
}

std::optional<Failure> RoleService::delete_scope(std::int64_t id, const Principal& caller, const Origin& origin) const {
  if (auto r = storage_.delete_scope(id); !r) return storage_failure(r.error());
  clients_changed();
  audit_.record(change_event(origin, caller, "scope.delete", std::to_string(id)));
  return std::nullopt;
}

void RoleService::clients_changed() const {
  // The rename or delete recorded an "every client" change: catching up re-reads them all.
  (void)clients_.catch_up(storage_);
  publish(notify_, "clients");
}

}  // namespace permiso::auth
