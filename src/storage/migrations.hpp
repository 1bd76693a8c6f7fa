// Internal: the versioned schema migrations of each backend, applied in order by migrate().
#pragma once

#include "storage/sql_db.hpp"

#include <string_view>
#include <vector>

namespace permiso::storage::detail {

struct Migration {
  int version = 0;
  std::string_view name;
  std::vector<std::string_view> statements;  // one statement each
};

const std::vector<Migration>& migrations(Dialect dialect);

}  // namespace permiso::storage::detail
