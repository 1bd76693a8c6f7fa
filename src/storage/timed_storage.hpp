// A Storage that times every call and hands the operation and its duration to a timer (the
// composition root records them as permiso_storage_seconds{op}), so latency by operation is
// measured in one place rather than at each call site. The operation names are a closed set:
// one per Storage method, so a metric labelled by them has bounded cardinality.
#pragma once

#include "storage/storage.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace permiso::storage {

/// One per Storage method (backend(), which reads no database, excepted), in declaration order.
enum class StorageOp : std::uint8_t {
  GetClient,
  ClientScopes,
  ListAllClientsWithScopes,
  ListClientsWithScopesAfter,
  ClientChangesSince,
  MaxClientChangeSeq,
  ClientChangesPurgedThrough,
  Ping,
  Migrate,
  CreateUser,
  GetUser,
  GetUserByUsername,
  GetUserByEmail,
  UpdateUser,
  DeleteUser,
  ListUsers,
  UserStats,
  CountUsers,
  RecordFailedLogin,
  RecordSuccessfulLogin,
  SetUserRoles,
  UserRoles,
  UserScopeNames,
  CreateRole,
  GetRole,
  GetRoleByName,
  UpdateRole,
  DeleteRole,
  ListRoles,
  SetRoleScopes,
  RoleScopes,
  CreateScope,
  GetScope,
  GetScopeByName,
  UpdateScope,
  DeleteScope,
  ListScopes,
  CreateClient,
  UpdateClient,
  DeleteClient,
  ListClients,
  SetClientScopes,
  PurgeClientChanges,
  RotateClientSecret,
  TouchClient,
  CreateSession,
  GetSession,
  ListLiveSessions,
  TouchSession,
  RevokeSession,
  RevokeUserSessions,
  InsertRefreshToken,
  GetRefreshTokenByHash,
  RotateRefreshToken,
  RevokeRefreshFamily,
  RevokeSessionRefreshTokens,
  RevokeUserRefreshTokens,
  InsertAuthorizationCode,
  TakeAuthorizationCode,
  PurgeExpiredAuthorizationCodes,
  AddRevocation,
  RevocationsSince,
  MaxRevocationSeq,
  PurgeExpiredRevocations,
  AppendAudit,
  QueryAudit,
  PurgeAuditBefore,
  GetSetting,
  PutSetting,
  PutSettingIfAbsent,
};
inline constexpr std::size_t kStorageOpCount = 70;
static_assert(static_cast<std::size_t>(StorageOp::PutSettingIfAbsent) + 1 == kStorageOpCount);

/// The method's name ("get_client", "append_audit", ...): the `op` label.
[[nodiscard]] std::string_view to_string(StorageOp op);

/// Called after every call returns, on the caller's thread, with the wall time it took
/// (failures included). It runs on the request path: it must be cheap and must not block.
using StorageTimer = std::function<void(StorageOp, std::chrono::nanoseconds)>;

/// `inner` behind a decorator that reports each call to `timer`.
[[nodiscard]] std::unique_ptr<Storage> timed_storage(std::unique_ptr<Storage> inner, StorageTimer timer);

}  // namespace permiso::storage
