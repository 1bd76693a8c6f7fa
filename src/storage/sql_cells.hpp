// Reading result cells and writing parameter markers, shared by every query written over the
// SQL layer (permiso-auth's SqlStorage and mt5-api's TradeStore), so both decode alike.
#pragma once

#include "storage/sql_db.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace permiso::storage {

/// The cell as text; "" when NULL.
std::string text(const detail::Row& row, std::size_t i);
/// The cell as a 64-bit integer; 0 when NULL or not a number.
std::int64_t integer(const detail::Row& row, std::size_t i);
/// The cell as an integer, nullopt when NULL.
std::optional<std::int64_t> opt_int(const detail::Row& row, std::size_t i);
/// The cell as a double; 0 when NULL or not a number.
double real(const detail::Row& row, std::size_t i);
/// Whether the cell is true in either dialect's spelling ("1", "t", "true"); NULL is false.
bool boolean(const detail::Row& row, std::size_t i);

/// "$n": the n-th parameter marker (the SQLite backend accepts the same spelling).
std::string placeholder(std::size_t n);
/// "($k, $k+1, …), (…)" for `rows` rows of `cols` parameters, numbered from `first`.
std::string placeholders(std::size_t rows, std::size_t cols, std::size_t first = 1);

}  // namespace permiso::storage
