// Internal: the versioned schema migrations of each backend, applied in order by migrate().
#pragma once

#include "storage/sql.hpp"

#include <vector>

namespace permiso::storage::detail {

using storage::Migration;

/// permiso-auth's schema, tracked in `schema_migrations` (advisory lock kAuthMigrationLock).
const std::vector<Migration>& migrations(Dialect dialect);
inline constexpr std::string_view kAuthMigrationTable = "schema_migrations";
inline constexpr std::int64_t kAuthMigrationLock = 7051001;

/// Applies permiso-auth's pending migrations to `db`: the one path of open_storage at start
/// and of `permiso-auth migrate`.
StorageResult<MigrationPlan> apply_auth_migrations(Db& db);

}  // namespace permiso::storage::detail
