// Login sessions: opening one at login, listing a user's, and ending them. Ending a session
// kills its refresh tokens and, through a "sid:" revocation (storage for every replica, this
// replica's list at once), the access tokens it issued.
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

class SessionService {
 public:
  SessionService(const AuthSettings& settings, storage::Storage& storage, RevocationList& revocations, AuditLog& audit,
                 const Clock& clock, ChangeNotifier notify);

  /// A new session of `user_id` through `client_id`, recording where it came from.
  [[nodiscard]] AuthResult<storage::Session> open(std::int64_t user_id, std::string_view client_id,
                                                  const Origin& origin) const;
  /// The user's live sessions, less those this replica already knows are revoked.
  [[nodiscard]] AuthResult<std::vector<storage::Session>> live(std::int64_t user_id) const;
  /// Ends the session of the caller's token (InvalidRequest when it has none).
  [[nodiscard]] std::optional<Failure> logout(const Principal& caller, const Origin& origin) const;
  /// Ends the caller's own live session `id`; NotFound for another user's (its existence is
  /// not the caller's business), an ended or an unknown one.
  [[nodiscard]] std::optional<Failure> end_own(const Principal& caller, const std::string& id,
                                               const Origin& origin) const;
  /// Ends every session of the caller but the one of its token; how many ended.
  [[nodiscard]] AuthResult<std::size_t> end_all_but_current(const Principal& caller, const Origin& origin) const;
  /// Ends every live session of the user but `keep`; how many ended.
  [[nodiscard]] AuthResult<std::size_t> end_others(std::int64_t user_id, std::string_view keep,
                                                   std::string_view reason) const;
  /// Ends every session and refresh token of the user (disabled or deleted).
  [[nodiscard]] std::optional<Failure> end_all(std::int64_t user_id, std::string_view reason) const;
  /// Ends the sessions `ids`.
  [[nodiscard]] std::optional<Failure> end(const std::vector<std::string>& ids, std::string_view reason) const;
  /// Revokes one access token until it would have expired.
  [[nodiscard]] std::optional<Failure> revoke_token(const std::string& jti, std::int64_t expires_at,
                                                    std::string_view reason) const;

 private:
  [[nodiscard]] std::optional<Failure> end_one(const std::string& id, std::int64_t until, std::int64_t now,
                                               std::string_view reason) const;

  const AuthSettings& settings_;
  storage::Storage& storage_;
  RevocationList& revocations_;
  AuditLog& audit_;
  const Clock& clock_;
  ChangeNotifier notify_;
};

}  // namespace permiso::auth
