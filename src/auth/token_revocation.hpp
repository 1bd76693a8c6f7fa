// Revoking and introspecting tokens (RFC 7009, RFC 7662) and the revocation feed resource
// servers follow. A caller may revoke what it owns, or anything with admin:system; anything
// else is silently ignored, so revocation is no oracle for other callers' tokens.
#pragma once

#include "auth/audit_log.hpp"
#include "auth/errors.hpp"
#include "auth/principal.hpp"
#include "storage/storage.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::auth {

class SessionService;
class TokenService;

/// What introspection found: an access token's identity, a live refresh token, or neither.
struct Introspection {
  std::optional<Principal> access;
  std::optional<storage::RefreshToken> refresh;
};

class TokenRevocation {
 public:
  TokenRevocation(storage::Storage& storage, const TokenService& tokens, const SessionService& sessions,
                  AuditLog& audit, const Clock& clock);

  /// Revokes an access token (by jti) or a refresh token (its whole family). Unknown tokens
  /// are no failure (RFC 7009 §2.2). Worker pool only.
  [[nodiscard]] std::optional<Failure> revoke(const Principal& caller, std::string_view token,
                                              const Origin& origin) const;
  /// Worker pool only (refresh tokens are looked up in storage).
  [[nodiscard]] Introspection introspect(std::string_view token) const;
  /// The revocations after the feed cursor `since`, at most `limit`.
  [[nodiscard]] AuthResult<std::vector<storage::Revocation>> since(std::int64_t since, int limit) const;

 private:
  [[nodiscard]] std::optional<Failure> revoke_refresh(const Principal& caller, std::string_view token,
                                                      const Origin& origin) const;

  storage::Storage& storage_;
  const TokenService& tokens_;
  const SessionService& sessions_;
  AuditLog& audit_;
  const Clock& clock_;
};

}  // namespace permiso::auth
