// The administrators' views of the server: the audit trail, the signing keys (and rotating
// them), and the dashboard's aggregate counts.
#pragma once

#include "auth/audit_log.hpp"
#include "auth/context.hpp"
#include "auth/errors.hpp"
#include "auth/principal.hpp"
#include "jose/key_store.hpp"
#include "storage/storage.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace permiso::auth {

class TokenService;

struct KeyListing {
  std::vector<jose::KeyInfo> keys;
  std::string signing_kid;
};

/// The dashboard's counts; the login counts cover the last 24 hours (0 when unreadable).
struct DashboardStats {
  storage::UserStats users;
  std::int64_t service_clients = 0;
  std::int64_t logins_24h = 0;
  std::int64_t failed_logins_24h = 0;
  std::size_t signing_keys = 0;
  std::size_t revocations_cached = 0;
  std::uint64_t audit_dropped = 0;
};

class AdminService {
 public:
  AdminService(const AuthSettings& settings, storage::Storage& storage, jose::KeyStore& keys, TokenService& tokens,
               const RevocationList& revocations, AuditLog& audit, const Clock& clock);

  /// Events recorded just before the call are included.
  [[nodiscard]] AuthResult<storage::Page<storage::AuditEvent>> audit_trail(const storage::AuditQuery& query) const;
  [[nodiscard]] KeyListing keys() const;
  /// A new signing key (published first, signing after the publish delay); Conflict when the
  /// keys come from configuration.
  [[nodiscard]] AuthResult<jose::KeyInfo> rotate_keys(const Principal& caller, const Origin& origin) const;
  [[nodiscard]] AuthResult<DashboardStats> dashboard() const;

 private:
  [[nodiscard]] std::int64_t audit_count(std::string_view action, std::string_view outcome, std::int64_t since) const;

  const AuthSettings& settings_;
  storage::Storage& storage_;
  jose::KeyStore& keys_;
  TokenService& tokens_;
  const RevocationList& revocations_;
  AuditLog& audit_;
  const Clock& clock_;
};

}  // namespace permiso::auth
