// Internal: the PostgreSQL Db (libpq connection pool with a bounded wait).
#pragma once

#include "storage/sql_db.hpp"

#include <memory>
#include <string>

namespace permiso::storage::detail {

/// Connects once to check the server is reachable (Unavailable otherwise).
StorageResult<std::unique_ptr<Db>> open_pg_db(const std::string& url, const StorageOptions& options);

}  // namespace permiso::storage::detail
