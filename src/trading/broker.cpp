// The defaults of Broker's derived queries, answered from positions_get: right for every
// backend, and what a backend that keeps its positions in ticket order overrides.
#include "trading/broker.hpp"

#include <algorithm>

namespace permiso::trading {

std::optional<Position> Broker::position_get(Login login, Ticket ticket) const {
  for (auto& p : positions_get(login)) {
    if (p.ticket == ticket) return std::move(p);
  }
  return std::nullopt;
}

std::vector<Position> Broker::positions_page(Login login, std::string_view symbol, std::optional<Ticket> below,
                                             std::size_t limit) const {
  auto rows = positions_get(login, symbol);
  if (below) std::erase_if(rows, [&](const Position& p) { return p.ticket >= *below; });
  const auto newer = [](const Position& a, const Position& b) { return a.ticket > b.ticket; };
  if (rows.size() > limit) {
    // Selects the page in O(P), then sorts only the page.
    std::nth_element(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(limit), rows.end(), newer);
    rows.resize(limit);
  }
  std::sort(rows.begin(), rows.end(), newer);
  return rows;
}

std::size_t Broker::positions_total(Login login) const {
  return positions_get(login).size();
}

}  // namespace permiso::trading
