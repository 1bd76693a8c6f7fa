// See client_authenticator.hpp.
#include "auth/client_authenticator.hpp"

#include "auth/client_secrets.hpp"

namespace permiso::auth {

ClientAuthenticator::ClientAuthenticator(ClientCache& clients, const ClientSecrets& secrets, storage::Storage& storage,
                                         AuditLog& audit, const Clock& clock)
    : clients_(clients), secrets_(secrets), storage_(storage), audit_(audit), clock_(clock) {}

bool ClientAuthenticator::secret_matches(const CachedClient* client, const std::string& secret) const {
  if (client == nullptr) {
    (void)secrets_.accepts(secret, SecretHash());  // same work whether or not the id exists
    return false;
  }
  return client->accepts_secret(secrets_, secret, clock_.now_seconds());
}

AuthResult<ClientCache::Entry> ClientAuthenticator::authenticate(const ClientCredentials& credentials,
                                                                 const Origin& origin) const {
  const auto& id = credentials.id;
  if (id.empty()) return Failure(AuthError::InvalidClient, "Client authentication is required.");
  auto client = clients_.find(id);
  if (!secret_matches(client.get(), credentials.secret)) {
    audit_.record(audit_event(origin, "client.auth", "failure", id, "client", id));
    return Failure(AuthError::InvalidClient, "Client authentication failed.");
  }
  if (!client->client.is_active) {
    return Failure(AuthError::ClientDisabled, "This client is disabled.");
  }
  if (!client->allows_ip(origin.ip)) {
    audit_.record(audit_event(origin, "client.auth", "denied", id, "client", id));
    return Failure(AuthError::InvalidClient, "This client may not be used from this address.");
  }
  return client;
}

bool ClientAuthenticator::needs_load(const std::string& client_id) const {
  // Not the lookup (authenticate() counts that one in the cache's hit ratio), only whether
  // storage must be read first.
  return !client_id.empty() && !clients_.contains(client_id) &&
         !clients_.recently_missing(client_id, clock_.now_seconds());
}

void ClientAuthenticator::load_if_unknown(const std::string& client_id) const {
  if (!needs_load(client_id)) return;
  if (auto found = clients_.load_missing(storage_, client_id); found && !*found) {
    clients_.mark_missing(client_id, clock_.now_seconds());
  }
}

Principal ClientAuthenticator::principal_of(const CachedClient& client) {
  Principal caller;
  caller.subject = std::string(client.client.client_id);
  caller.client_id = std::string(client.client.client_id);
  caller.type = "service";
  caller.scopes = client.scopes();
  caller.is_trusted = client.client.is_trusted;
  return caller;
}

}  // namespace permiso::auth
