// Service clients (admin:clients): registering one (its secret exists in clear only in the
// answer), its settings and scopes, rotating its secret with a grace period, deleting it.
// Every change refreshes the token endpoint's client cache here and tells other replicas.
#pragma once

#include "auth/audit_log.hpp"
#include "auth/context.hpp"
#include "auth/errors.hpp"
#include "auth/principal.hpp"
#include "storage/storage.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace permiso::auth {

/// A client with the names of its scopes.
struct ClientView {
  storage::ServiceClient client;
  std::vector<std::string> scopes;
};

/// A client and its new secret, shown once. A public client has none (RFC 6749 §2.1).
struct ClientWithSecret {
  ClientView view;
  std::optional<std::string> secret;
};

/// Changes to a client's settings, already validated; absent fields stay.
struct ClientPatch {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::string> client_type;
  std::optional<bool> is_active;
  std::optional<bool> is_trusted;
  std::optional<std::int64_t> access_token_lifetime;
  std::optional<std::optional<std::int64_t>> rate_limit_per_minute;  // inner nullopt: unlimited
  std::optional<std::optional<std::int64_t>> rate_limit_per_hour;
  std::optional<std::string> allowed_ips;    // JSON array text
  std::optional<std::string> redirect_uris;  // JSON array text

  void apply_to(storage::ServiceClient& client) const;
};

class ClientService {
 public:
  ClientService(storage::Storage& storage, ClientCache& cache, const ClientSecrets& secrets, AuditLog& audit,
                const Clock& clock, ChangeNotifier notify);

  [[nodiscard]] AuthResult<storage::Page<ClientView>> list(std::int64_t page, std::int64_t per_page) const;
  [[nodiscard]] AuthResult<ClientView> get(const std::string& client_id) const;
  /// A confidential client gets a secret; a public one none, so it can never authenticate
  /// with one (no client_credentials, no introspection or RFC 7009 client auth).
  [[nodiscard]] AuthResult<ClientWithSecret> create(const std::string& client_id, const ClientPatch& settings,
                                                    const std::vector<std::int64_t>& scope_ids, const Principal& caller,
                                                    const Origin& origin) const;
  /// `scope_ids`: the client's new scopes, or nullopt to keep them.
  [[nodiscard]] AuthResult<ClientView> update(const std::string& client_id, const ClientPatch& patch,
                                              const std::optional<std::vector<std::int64_t>>& scope_ids,
                                              const Principal& caller, const Origin& origin) const;
  /// The client's tokens stop verifying at once (see TokenService::verify).
  [[nodiscard]] std::optional<Failure> remove(const std::string& client_id, const Principal& caller,
                                              const Origin& origin) const;
  /// A new secret; the old one is still accepted for `grace_s` seconds (0: not at all).
  /// A public client has no secret to rotate: 422 naming client_type.
  [[nodiscard]] AuthResult<ClientWithSecret> rotate_secret(const std::string& client_id, std::int64_t grace_s,
                                                           const Principal& caller, const Origin& origin) const;
  [[nodiscard]] AuthResult<ClientView> set_scopes(const std::string& client_id,
                                                  const std::vector<std::int64_t>& scope_ids, const Principal& caller,
                                                  const Origin& origin) const;

 private:
  [[nodiscard]] AuthResult<ClientView> view(storage::ServiceClient client) const;
  /// This replica's cache re-reads the client; the others are told.
  [[nodiscard]] storage::StorageStatus changed(const std::string& client_id) const;

  storage::Storage& storage_;
  ClientCache& cache_;
  const ClientSecrets& secrets_;
  AuditLog& audit_;
  const Clock& clock_;
  ChangeNotifier notify_;
};

}  // namespace permiso::auth
