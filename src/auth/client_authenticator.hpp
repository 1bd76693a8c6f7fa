// Service clients proving who they are (client_secret_basic or _post): the secret against
// the in-memory client cache, the previous secret during a rotation's grace, the client's
// allowed addresses. The token endpoint's hot path: no storage call for a known client.
#pragma once

#include "auth/audit_log.hpp"
#include "auth/client_cache.hpp"
#include "auth/errors.hpp"
#include "auth/principal.hpp"

#include <memory>
#include <string>

namespace permiso::auth {

class ClientSecrets;

/// What a client presented; the handler reads it from the Basic header or the form.
struct ClientCredentials {
  std::string id;
  std::string secret;
};

class ClientAuthenticator {
 public:
  ClientAuthenticator(ClientCache& clients, const ClientSecrets& secrets, storage::Storage& storage, AuditLog& audit,
                      const Clock& clock);

  /// InvalidClient (unknown, wrong secret, address not allowed) or ClientDisabled; the
  /// failures are audited.
  [[nodiscard]] AuthResult<ClientCache::Entry> authenticate(const ClientCredentials& credentials,
                                                            const Origin& origin) const;
  /// Whether answering needs a storage lookup first (an id the cache has not seen).
  [[nodiscard]] bool needs_load(const std::string& client_id) const;
  /// Loads a client another replica created, once; remembers ids storage does not have.
  /// Worker pool only: it may query storage.
  void load_if_unknown(const std::string& client_id) const;

  /// The identity an authenticated client acts as (revocation, introspection).
  static Principal principal_of(const CachedClient& client);

 private:
  [[nodiscard]] bool secret_matches(const CachedClient* client, const std::string& secret) const;

  ClientCache& clients_;
  const ClientSecrets& secrets_;
  storage::Storage& storage_;
  AuditLog& audit_;
  const Clock& clock_;
};

}  // namespace permiso::auth
