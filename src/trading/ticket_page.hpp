// Pages of rows kept in ticket order (a backend's open positions), newest first, read in
// O(log n + page) instead of copying and sorting every row.
#pragma once

#include "trading/model.hpp"

#include <cstddef>
#include <iterator>
#include <map>
#include <optional>
#include <vector>

namespace permiso::trading {

/// Up to `limit` rows with a ticket below `below` (every row when nullopt), newest ticket
/// first, of those `keep(row)` accepts, each turned into its answer by `make(row)`.
template <class Row, class Keep, class Make>
auto newest_first(const std::map<Ticket, Row>& rows, std::optional<Ticket> below, std::size_t limit, Keep keep,
                  Make make) {
  std::vector<decltype(make(rows.begin()->second))> out;
  auto it = below ? rows.lower_bound(*below) : rows.end();
  while (it != rows.begin() && out.size() < limit) {
    --it;
    if (keep(it->second)) out.push_back(make(it->second));
  }
  return out;
}

}  // namespace permiso::trading
