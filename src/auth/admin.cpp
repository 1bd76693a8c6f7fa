// See admin.hpp.
#include "auth/admin.hpp"

#include "auth/revocation_list.hpp"
#include "auth/token_service.hpp"

#include <algorithm>

namespace permiso::auth {

AdminService::AdminService(const AuthSettings& settings, storage::Storage& storage, jose::KeyStore& keys,
                           TokenService& tokens, const RevocationList& revocations, AuditLog& audit, const Clock& clock)
    : settings_(settings),
      storage_(storage),
      keys_(keys),
      tokens_(tokens),
      revocations_(revocations),
      audit_(audit),
      clock_(clock) {}

AuthResult<storage::Page<storage::AuditEvent>> AdminService::audit_trail(const storage::AuditQuery& query) const {
  audit_.flush(2000);
  auto page = storage_.query_audit(query);
  if (!page) return storage_failure(page.error());
  return std::move(*page);
}

KeyListing AdminService::keys() const {
  return KeyListing{keys_.list(), keys_.current().kid()};
}

AuthResult<jose::KeyInfo> AdminService::rotate_keys(const Principal& caller, const Origin& origin) const {
  if (!keys_.rotatable()) {
    return Failure(AuthError::Conflict,
                   "Signing keys come from configuration (JWT_PRIVATE_KEY_FILE or JWT_SECRET_KEY): "
                   "rotate them there, listing the previous key until its tokens expire.");
  }
  // Retired keys stay published while any token they signed may live: the longest lifetime
  // a token can have is a client's 24 h maximum.
  const auto max_lifetime =
      std::max<std::int64_t>({settings_.access_token_ttl_s, settings_.service_token_ttl_s, 86400}) + settings_.leeway_s;
  auto info = keys_.rotate(clock_.now_seconds(), settings_.key_publish_delay_s, max_lifetime);
  if (!info) return Failure(AuthError::Internal, "Key rotation failed: " + std::string(jose::to_string(info.error())));
  tokens_.refresh_keys();
  audit_.record(change_event(origin, caller, "key.rotate", info->kid));
  return std::move(*info);
}

std::int64_t AdminService::audit_count(std::string_view action, std::string_view outcome, std::int64_t since) const {
  storage::AuditQuery q;
  q.action = std::string(action);
  q.outcome = std::string(outcome);
  q.since = since;
  q.per_page = 1;
  auto page = storage_.query_audit(q);
  return page ? page->total : 0;
}

AuthResult<DashboardStats> AdminService::dashboard() const {
  const auto now = clock_.now_seconds();
  auto users = storage_.user_stats(now);
  if (!users) return storage_failure(users.error());
  auto clients = storage_.list_clients(1, 1);
  if (!clients) return storage_failure(clients.error());
  audit_.flush(2000);
  DashboardStats out;
  out.users = *users;
  out.service_clients = clients->total;
  out.logins_24h = audit_count("auth.login", "success", now - 86400);
  out.failed_logins_24h = audit_count("auth.login", "failure", now - 86400);
  out.signing_keys = keys_.list().size();
  out.revocations_cached = revocations_.size();
  out.audit_dropped = audit_.dropped();
  return out;
}

}  // namespace permiso::auth
