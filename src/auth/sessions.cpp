// See sessions.hpp.
#include "auth/sessions.hpp"

#include "auth/revocation_list.hpp"
#include "jose/crypto.hpp"

namespace permiso::auth {

SessionService::SessionService(const AuthSettings& settings, storage::Storage& storage, RevocationList& revocations,
                               AuditLog& audit, const Clock& clock, ChangeNotifier notify)
    : settings_(settings),
      storage_(storage),
      revocations_(revocations),
      audit_(audit),
      clock_(clock),
      notify_(std::move(notify)) {}

AuthResult<storage::Session> SessionService::open(std::int64_t user_id, std::string_view client_id,
                                                  const Origin& origin) const {
  const auto now = clock_.now_seconds();
  storage::Session session;
  session.id = jose::random_token(16);
  session.user_id = user_id;
  session.client_id = std::string(client_id);
  session.created_at = session.last_seen_at = now;
  session.expires_at = now + settings_.session_ttl_s;
  session.ip = std::string(origin.ip);
  session.user_agent = std::string(origin.user_agent.substr(0, 256));
  if (auto s = storage_.create_session(session); !s) return storage_failure(s.error());
  return session;
}

AuthResult<std::vector<storage::Session>> SessionService::live(std::int64_t user_id) const {
  auto sessions = storage_.list_live_sessions(user_id, clock_.now_seconds());
  if (!sessions) return storage_failure(sessions.error());
  std::erase_if(*sessions, [this](const storage::Session& s) {
    return revocations_.contains(RevocationList::Kind::Session, s.id);
  });
  return std::move(*sessions);
}

std::optional<Failure> SessionService::logout(const Principal& caller, const Origin& origin) const {
  if (caller.session_id.empty()) {
    return Failure(AuthError::InvalidRequest, "This token does not belong to a login session.");
  }
  if (auto f = end({caller.session_id}, "logout")) return f;
  audit_.record(audit_event(origin, "auth.logout", "success", caller.username, "user", caller.session_id));
  return std::nullopt;
}

std::optional<Failure> SessionService::end_own(const Principal& caller, const std::string& id,
                                               const Origin& origin) const {
  auto session = storage_.get_session(id);
  if (!session && session.error().code == storage::StorageError::Unavailable) return storage_failure(session.error());
  if (!session || session->user_id != caller.user_id || session->revoked_at) {
    return Failure(AuthError::NotFound, "No such session.");
  }
  if (auto f = end({id}, "session_deleted")) return f;
  audit_.record(audit_event(origin, "session.delete", "success", caller.username, "user", id));
  return std::nullopt;
}

AuthResult<std::size_t> SessionService::end_all_but_current(const Principal& caller, const Origin& origin) const {
  auto ended = end_others(*caller.user_id, caller.session_id, "sessions_deleted");
  if (!ended) return ended.error();
  audit_.record(audit_event(origin, "session.delete_all", "success", caller.username, "user", std::to_string(*ended)));
  return *ended;
}

AuthResult<std::size_t> SessionService::end_others(std::int64_t user_id, std::string_view keep,
                                                   std::string_view reason) const {
  auto sessions = storage_.list_live_sessions(user_id, clock_.now_seconds());
  if (!sessions) return storage_failure(sessions.error());
  std::vector<std::string> ids;
  for (const auto& s : *sessions) {
    if (s.id != keep) ids.push_back(s.id);
  }
  if (auto f = end(ids, reason)) return *f;
  return ids.size();
}

std::optional<Failure> SessionService::end_all(std::int64_t user_id, std::string_view reason) const {
  // No session has an empty id, so keeping "" keeps none.
  if (auto ended = end_others(user_id, {}, reason); !ended) return ended.error();
  auto refresh = storage_.revoke_user_refresh_tokens(user_id, clock_.now_seconds());
  if (!refresh) return storage_failure(refresh.error());
  return std::nullopt;
}

std::optional<Failure> SessionService::end(const std::vector<std::string>& ids, std::string_view reason) const {
  const auto now = clock_.now_seconds();
  // As long as the longest access token of a session could still live.
  const auto until = now + settings_.access_token_ttl_s + settings_.leeway_s;
  for (const auto& id : ids) {
    if (auto f = end_one(id, until, now, reason)) return f;
  }
  if (!ids.empty()) publish(notify_, "revocation");
  return std::nullopt;
}

std::optional<Failure> SessionService::end_one(const std::string& id, std::int64_t until, std::int64_t now,
                                               std::string_view reason) const {
  auto r = storage_.revoke_session(id, now);
  if (!r && r.error().code != storage::StorageError::NotFound) return storage_failure(r.error());
  auto t = storage_.revoke_session_refresh_tokens(id, now);
  if (!t) return storage_failure(t.error());
  const auto key = RevocationList::storage_key(RevocationList::Kind::Session, id);
  if (auto added = storage_.add_revocation(key, until, now, reason); !added) return storage_failure(added.error());
  revocations_.add(RevocationList::Kind::Session, id, until);
  return std::nullopt;
}

std::optional<Failure> SessionService::revoke_token(const std::string& jti, std::int64_t expires_at,
                                                    std::string_view reason) const {
  const auto now = clock_.now_seconds();
  const auto key = RevocationList::storage_key(RevocationList::Kind::Token, jti);
  if (auto added = storage_.add_revocation(key, expires_at, now, reason); !added) return storage_failure(added.error());
  revocations_.add(RevocationList::Kind::Token, jti, expires_at);
  publish(notify_, "revocation");
  return std::nullopt;
}

}  // namespace permiso::auth
