// See token_revocation.hpp.
#include "auth/token_revocation.hpp"

#include "auth/sessions.hpp"
#include "auth/token_service.hpp"

namespace permiso::auth {
namespace {

/// The caller's own token (same subject or same client), or any with admin:system.
bool may_manage(const Principal& caller, const std::string& subject, const std::string& client_id) {
  return caller.subject == subject || (!caller.is_user() && caller.client_id == client_id) ||
         caller.has_scope("admin:system");
}

}  // namespace

TokenRevocation::TokenRevocation(storage::Storage& storage, const TokenService& tokens, const SessionService& sessions,
                                 AuditLog& audit, const Clock& clock)
    : storage_(storage), tokens_(tokens), sessions_(sessions), audit_(audit), clock_(clock) {}

std::optional<Failure> TokenRevocation::revoke(const Principal& caller, std::string_view token,
                                               const Origin& origin) const {
  auto access = tokens_.verify(token);
  if (!access) return revoke_refresh(caller, token, origin);
  if (may_manage(caller, access->subject, access->client_id)) {
    if (auto f = sessions_.revoke_token(access->jti, access->expires_at, "revoked")) return f;
    audit_.record(audit_event(origin, "token.revoke", "success", caller.actor(), caller.actor_type(), access->jti));
  }
  return std::nullopt;
}

std::optional<Failure> TokenRevocation::revoke_refresh(const Principal& caller, std::string_view token,
                                                       const Origin& origin) const {
  auto refresh = storage_.get_refresh_token_by_hash(TokenService::hash_refresh_token(token));
  if (!refresh) {
    if (refresh.error().code == storage::StorageError::Unavailable) return storage_failure(refresh.error());
    return std::nullopt;
  }
  if (!may_manage(caller, std::to_string(refresh->user_id), refresh->client_id.value_or(""))) return std::nullopt;
  auto sessions = storage_.revoke_refresh_family(refresh->family_id, clock_.now_seconds());
  if (!sessions) return storage_failure(sessions.error());
  audit_.record(audit_event(origin, "token.revoke", "success", caller.actor(), caller.actor_type(),
                            "refresh:" + refresh->family_id));
  return std::nullopt;
}

Introspection TokenRevocation::introspect(std::string_view token) const {
  Introspection out;
  if (token.empty()) return out;
  if (auto access = tokens_.verify(token)) {
    out.access = std::move(*access);
    return out;
  }
  auto r = storage_.get_refresh_token_by_hash(TokenService::hash_refresh_token(token));
  if (r && !r->revoked_at && !r->rotated_at && r->expires_at > clock_.now_seconds()) out.refresh = std::move(*r);
  return out;
}

AuthResult<std::vector<storage::Revocation>> TokenRevocation::since(std::int64_t since, int limit) const {
  auto page = storage_.revocations_since(since, limit);
  if (!page) return storage_failure(page.error());
  return std::move(*page);
}

}  // namespace permiso::auth
