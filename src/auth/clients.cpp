// See clients.hpp.
#include "auth/clients.hpp"

#include "auth/client_cache.hpp"
#include "auth/client_secrets.hpp"

#include <boost/json/serialize.hpp>

namespace permiso::auth {
namespace {

bool is_public(const storage::ServiceClient& c) {
  return c.client_type == "public";
}

/// A client that became public keeps no secret from its confidential past (as bootstrap does).
void drop_secrets(storage::ServiceClient& c) {
  c.secret_hash.clear();
  c.previous_secret_hash.reset();
  c.previous_secret_expires_at.reset();
}

}  // namespace

void ClientPatch::apply_to(storage::ServiceClient& c) const {
  if (name) c.name = *name;
  if (description) c.description = *description;
  if (client_type) c.client_type = *client_type;
  if (is_active) c.is_active = *is_active;
  if (is_trusted) c.is_trusted = *is_trusted;
  if (access_token_lifetime) c.access_token_lifetime = *access_token_lifetime;
  if (rate_limit_per_minute) c.rate_limit_per_minute = *rate_limit_per_minute;
  if (rate_limit_per_hour) c.rate_limit_per_hour = *rate_limit_per_hour;
  if (allowed_ips) c.allowed_ips = *allowed_ips;
  if (redirect_uris) c.redirect_uris = *redirect_uris;
}

ClientService::ClientService(storage::Storage& storage, ClientCache& cache, const ClientSecrets& secrets,
                             AuditLog& audit, const Clock& clock, ChangeNotifier notify)
    : storage_(storage), cache_(cache), secrets_(secrets), audit_(audit), clock_(clock), notify_(std::move(notify)) {}

AuthResult<ClientView> ClientService::view(storage::ServiceClient client) const {
  auto scopes = storage_.client_scopes(client.client_id);
  if (!scopes) return storage_failure(scopes.error());
  ClientView out{std::move(client), {}};
  for (auto& s : *scopes) out.scopes.push_back(std::move(s.name));
  return out;
}

storage::StorageStatus ClientService::changed(const std::string& client_id) const {
  auto refreshed = cache_.refresh(storage_, client_id);
  publish(notify_, "client:" + client_id);
  return refreshed;
}

AuthResult<storage::Page<ClientView>> ClientService::list(std::int64_t page, std::int64_t per_page) const {
  auto clients = storage_.list_clients(page, per_page);
  if (!clients) return storage_failure(clients.error());
  auto views = views_of(std::move(clients->items), [this](storage::ServiceClient c) { return view(std::move(c)); });
  if (!views) return views.error();
  return storage::Page<ClientView>{std::move(*views), clients->total};
}

AuthResult<ClientView> ClientService::get(const std::string& client_id) const {
  auto client = storage_.get_client(client_id);
  if (!client) return storage_failure(client.error());
  return view(std::move(*client));
}

AuthResult<ClientWithSecret> ClientService::create(const std::string& client_id, const ClientPatch& settings,
                                                   const std::vector<std::int64_t>& scope_ids, const Principal& caller,
                                                   const Origin& origin) const {
  storage::ServiceClient c;
  c.client_id = client_id;
  settings.apply_to(c);
  std::optional<std::string> secret;
  if (!is_public(c)) {
    secret = ClientSecrets::generate();
    c.secret_hash = secrets_.hash(*secret);
  }
  c.created_at = c.updated_at = clock_.now_seconds();
  auto created = storage_.create_client(c, scope_ids);
  if (!created) return storage_failure(created.error());
  if (auto r = changed(created->client_id); !r) return storage_failure(r.error());
  audit_.record(change_event(origin, caller, "client.create", created->client_id));
  auto v = view(std::move(*created));
  if (!v) return v.error();
  return ClientWithSecret{std::move(*v), std::move(secret)};
}

AuthResult<ClientView> ClientService::update(const std::string& client_id, const ClientPatch& patch,
                                             const std::optional<std::vector<std::int64_t>>& scope_ids,
                                             const Principal& caller, const Origin& origin) const {
  auto client = storage_.get_client(client_id);
  if (!client) return storage_failure(client.error());
  patch.apply_to(*client);
  if (is_public(*client)) drop_secrets(*client);
  client->updated_at = clock_.now_seconds();
  auto updated = storage_.update_client(*client, scope_ids);
  if (!updated) return storage_failure(updated.error());
  (void)changed(updated->client_id);
  audit_.record(change_event(origin, caller, "client.update", updated->client_id));
  return view(std::move(*updated));
}

std::optional<Failure> ClientService::remove(const std::string& client_id, const Principal& caller,
                                             const Origin& origin) const {
  if (auto r = storage_.delete_client(client_id); !r) return storage_failure(r.error());
  cache_.erase(client_id);
  publish(notify_, "client:" + client_id);
  audit_.record(change_event(origin, caller, "client.delete", client_id));
  return std::nullopt;
}

AuthResult<ClientWithSecret> ClientService::rotate_secret(const std::string& client_id, std::int64_t grace_s,
                                                          const Principal& caller, const Origin& origin) const {
  auto existing = storage_.get_client(client_id);
  if (!existing) return storage_failure(existing.error());
  if (is_public(*existing)) return validation_failure("client_type", "a public client has no secret to rotate");
  const auto now = clock_.now_seconds();
  std::string secret = ClientSecrets::generate();
  const auto previous_until = grace_s > 0 ? std::optional<std::int64_t>(now + grace_s) : std::nullopt;
  auto rotated = storage_.rotate_client_secret(client_id, secrets_.hash(secret), previous_until, now);
  if (!rotated) return storage_failure(rotated.error());
  (void)changed(rotated->client_id);
  auto event = change_event(origin, caller, "client.rotate_secret", rotated->client_id);
  event.details = boost::json::serialize(boost::json::object{{"grace_period_seconds", grace_s}});
  audit_.record(std::move(event));
  auto v = view(std::move(*rotated));
  if (!v) return v.error();
  return ClientWithSecret{std::move(*v), std::move(secret)};
}

AuthResult<ClientView> ClientService::set_scopes(const std::string& client_id,
                                                 const std::vector<std::int64_t>& scope_ids, const Principal& caller,
                                                 const Origin& origin) const {
  if (auto r = storage_.set_client_scopes(client_id, scope_ids); !r) return storage_failure(r.error());
  (void)changed(client_id);
  auto client = storage_.get_client(client_id);
  if (!client) return storage_failure(client.error());
  audit_.record(change_event(origin, caller, "client.scopes", client_id));
  return view(std::move(*client));
}

}  // namespace permiso::auth
