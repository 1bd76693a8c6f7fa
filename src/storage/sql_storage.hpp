// Internal: Storage implemented once over the Db layer; the backends differ only in Db.
#pragma once

#include "storage/sql_db.hpp"

#include <memory>

namespace permiso::storage::detail {

/// Builds the Storage for a ready Db ("sqlite" or "postgresql" as its backend name).
std::unique_ptr<Storage> make_sql_storage(std::unique_ptr<Db> db);

}  // namespace permiso::storage::detail
