// Internal: the SQLite Db (WAL; one writer connection behind a mutex, a few readers).
#pragma once

#include "storage/sql_db.hpp"

#include <memory>
#include <string>

namespace permiso::storage::detail {

/// Opens (creating it and its directory if needed) the database file at `path`.
StorageResult<std::unique_ptr<Db>> open_sqlite_db(const std::string& path, const StorageOptions& options);

}  // namespace permiso::storage::detail
