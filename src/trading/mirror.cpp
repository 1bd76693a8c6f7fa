// See mirror.hpp.
#include "trading/mirror.hpp"

#include "trading/ticket_page.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_set>

namespace permiso::trading {
namespace {

bool is_pending(OrderState s) {
  return s == OrderState::Started || s == OrderState::Placed || s == OrderState::Partial;
}

// What the gateway must persist when it differs. Floating values (current price, profit,
// equity) move with every quote and are not worth a write per re-read.
bool same_account(const AccountInfo& a, const AccountInfo& b) {
  return a.balance == b.balance && a.credit == b.credit && a.margin == b.margin && a.leverage == b.leverage &&
         a.currency == b.currency && a.name == b.name;
}
bool same_position(const Position& a, const Position& b) {
  return a.volume == b.volume && a.sl == b.sl && a.tp == b.tp && a.price_open == b.price_open && a.type == b.type &&
         a.swap == b.swap && a.commission == b.commission && a.comment == b.comment;
}
bool same_order(const Order& a, const Order& b) {
  return a.state == b.state && a.volume_current == b.volume_current && a.price_open == b.price_open && a.sl == b.sl &&
         a.tp == b.tp && a.type == b.type;
}

/// A position that is no longer open, closed by its Out deals (realised profit summed over
/// them, closed at the last one). Without its deals the close is only known to have happened:
/// it is dated by the re-read and priced at the last price seen.
Position closed_position(Position p, const std::map<Ticket, Deal>& deals, TimeMs now_msc) {
  p.closed = true;
  const Deal* last = nullptr;
  double realised = 0;
  for (const auto& [ticket, d] : deals) {
    if (d.position_id != p.ticket || d.entry != DealEntry::Out) continue;
    realised += d.profit;
    if (!last || d.time_msc >= last->time_msc) last = &d;
  }
  if (last) {
    p.profit = realised;
    p.close_time_msc = last->time_msc;
    p.close_price = last->price;
    p.close_reason = last->reason;
  } else {
    p.close_time_msc = now_msc;
    p.close_price = p.price_current;
  }
  p.time_update_msc = *p.close_time_msc;
  return p;
}

/// A pending order that is no longer pending: filled if a deal came from it, else canceled.
Order finished_order(Order o, const std::map<Ticket, Deal>& deals, TimeMs now_msc) {
  const auto fill = std::find_if(deals.begin(), deals.end(), [&](const auto& d) { return d.second.order == o.ticket; });
  o.state = fill != deals.end() ? OrderState::Filled : OrderState::Canceled;
  o.time_done_msc = fill != deals.end() ? fill->second.time_msc : now_msc;
  if (fill != deals.end()) o.volume_current = 0;
  return o;
}

/// The tickets of a listing, for lookups in time proportional to the listing (an account may
/// hold thousands of open positions, re-read every second).
template <class Row>
std::unordered_set<Ticket> tickets_of(const std::vector<Row>& rows) {
  std::unordered_set<Ticket> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.insert(r.ticket);
  return out;
}

template <class Row>
std::vector<Row> of_symbol(const std::map<Ticket, Row>& rows, std::string_view symbol) {
  std::vector<Row> out;
  for (const auto& [ticket, row] : rows) {
    if (symbol.empty() || row.symbol == symbol) out.push_back(row);
  }
  return out;
}

}  // namespace

void Mirror::set_symbols(std::vector<SymbolInfo> symbols) {
  std::unique_lock lock(mu_);
  symbols_ = std::move(symbols);
}

std::vector<SymbolInfo> Mirror::symbols() const {
  std::shared_lock lock(mu_);
  return symbols_;
}

std::optional<SymbolInfo> Mirror::symbol(std::string_view name) const {
  std::shared_lock lock(mu_);
  for (const auto& s : symbols_) {
    if (s.name == name) return s;
  }
  return std::nullopt;
}

void Mirror::set_tick(std::string_view symbol, const Tick& tick) {
  std::unique_lock lock(mu_);
  auto it = ticks_.find(symbol);
  if (it == ticks_.end()) {
    ticks_.emplace(std::string(symbol), tick);
  } else if (tick.time_msc >= it->second.time_msc) {
    it->second = tick;
  }
}

std::optional<Tick> Mirror::tick(std::string_view symbol) const {
  std::shared_lock lock(mu_);
  auto it = ticks_.find(symbol);
  if (it == ticks_.end()) return std::nullopt;
  return it->second;
}

void Mirror::keep_deal(Book& book, const Deal& deal) {
  book.deals.insert_or_assign(deal.ticket, deal);
  while (book.deals.size() > deal_capacity_) book.deals.erase(book.deals.begin());
}

void Mirror::keep_closed(Book& book, const Position& position) {
  book.closed.insert_or_assign(position.ticket, position);
  while (book.closed.size() > deal_capacity_) book.closed.erase(book.closed.begin());
}

void Mirror::apply_locked(const Changes& changes) {
  const std::uint64_t generation = ++generation_;
  for (const auto& a : changes.accounts) {
    auto& book = books_[a.login];
    book.account = a;
    book.account_touched = generation;
  }
  for (const auto& p : changes.positions) {
    auto& book = books_[p.login];
    book.touched[p.ticket] = generation;
    if (p.closed) {
      book.positions.erase(p.ticket);
      keep_closed(book, p);
    } else {
      book.positions.insert_or_assign(p.ticket, p);
    }
  }
  for (const auto& o : changes.orders) {
    auto& book = books_[o.login];
    book.touched[o.ticket] = generation;
    if (is_pending(o.state)) {
      book.orders.insert_or_assign(o.ticket, o);
    } else {
      book.orders.erase(o.ticket);
    }
  }
  for (const auto& d : changes.deals) keep_deal(books_[d.login], d);
}

bool Mirror::newer_than(const Book& book, Ticket ticket, std::uint64_t generation) {
  auto it = book.touched.find(ticket);
  return it != book.touched.end() && it->second > generation;
}

std::uint64_t Mirror::generation() const {
  std::shared_lock lock(mu_);
  return generation_;
}

Changes Mirror::apply(Changes changes) {
  std::unique_lock lock(mu_);
  apply_locked(changes);
  changes.sequence = ++sequence_;
  return changes;
}

Changes Mirror::closed_rows(const Book& book, const AccountSnapshot& snapshot) const {
  const auto open = tickets_of(snapshot.open_positions);
  const auto pending = tickets_of(snapshot.pending_orders);
  // The deals that explain a row are merged only when a row went: most re-reads find none.
  std::optional<std::map<Ticket, Deal>> deals;
  const auto known_deals = [&]() -> const std::map<Ticket, Deal>& {
    if (!deals) {
      deals = book.deals;
      for (const auto& d : snapshot.deals) deals->insert_or_assign(d.ticket, d);
    }
    return *deals;
  };
  Changes out;
  for (const auto& [ticket, p] : book.positions) {
    if (!open.contains(ticket) && !newer_than(book, ticket, snapshot.generation)) {
      out.positions.push_back(closed_position(p, known_deals(), snapshot.now_msc));
    }
  }
  for (const auto& [ticket, o] : book.orders) {
    if (!pending.contains(ticket) && !newer_than(book, ticket, snapshot.generation)) {
      out.orders.push_back(finished_order(o, known_deals(), snapshot.now_msc));
    }
  }
  return out;
}

Changes Mirror::reconcile(const AccountSnapshot& snapshot) {
  std::unique_lock lock(mu_);
  Book& book = books_[snapshot.account.login];
  const auto newer = [&](Ticket t) { return newer_than(book, t, snapshot.generation); };
  Changes out = closed_rows(book, snapshot);
  const bool account_newer = book.account_touched > snapshot.generation;
  if (!account_newer && (!book.account || !same_account(*book.account, snapshot.account))) {
    out.accounts.push_back(snapshot.account);
  }
  for (const auto& p : snapshot.open_positions) {
    auto it = book.positions.find(p.ticket);
    if (!newer(p.ticket) && (it == book.positions.end() || !same_position(it->second, p))) out.positions.push_back(p);
  }
  for (const auto& o : snapshot.pending_orders) {
    auto it = book.orders.find(o.ticket);
    if (!newer(o.ticket) && (it == book.orders.end() || !same_order(it->second, o))) out.orders.push_back(o);
  }
  for (const auto& d : snapshot.deals) {
    if (!book.deals.contains(d.ticket)) out.deals.push_back(d);
  }
  // The re-read is the truth, floating values included, except for rows an order's answer
  // or an event brought after it was read: those are newer.
  if (!account_newer) book.account = snapshot.account;
  std::map<Ticket, Position> positions;
  for (const auto& p : snapshot.open_positions) {
    if (!newer(p.ticket)) positions.emplace(p.ticket, p);
  }
  for (const auto& [ticket, p] : book.positions) {
    if (newer(ticket)) positions.insert_or_assign(ticket, p);
  }
  book.positions = std::move(positions);
  std::map<Ticket, Order> orders;
  for (const auto& o : snapshot.pending_orders) {
    if (!newer(o.ticket)) orders.emplace(o.ticket, o);
  }
  for (const auto& [ticket, o] : book.orders) {
    if (newer(ticket)) orders.insert_or_assign(ticket, o);
  }
  book.orders = std::move(orders);
  for (const auto& d : snapshot.deals) keep_deal(book, d);
  for (const auto& p : out.positions) {
    if (p.closed) keep_closed(book, p);
  }
  std::erase_if(book.touched, [&](const auto& entry) { return entry.second <= snapshot.generation; });
  if (!out.empty()) out.sequence = ++sequence_;
  return out;
}

Changes Mirror::reconcile_account(const AccountInfo& account, std::uint64_t generation) {
  std::unique_lock lock(mu_);
  Book& book = books_[account.login];
  Changes out;
  if (book.account_touched > generation) return out;  // an answer after the read is newer
  if (!book.account || !same_account(*book.account, account)) out.accounts.push_back(account);
  book.account = account;  // floating values included
  if (!out.empty()) out.sequence = ++sequence_;
  return out;
}

void Mirror::seed(const BrokerState& state) {
  std::unique_lock lock(mu_);
  books_.clear();
  for (const auto& a : state.accounts) books_[a.login].account = a;
  for (const auto& p : state.positions) {
    if (!p.closed) books_[p.login].positions.insert_or_assign(p.ticket, p);
  }
  for (const auto& o : state.orders) {
    if (is_pending(o.state)) books_[o.login].orders.insert_or_assign(o.ticket, o);
  }
  for (const auto& d : state.deals) keep_deal(books_[d.login], d);
}

std::vector<Login> Mirror::logins() const {
  std::shared_lock lock(mu_);
  std::vector<Login> out;
  for (const auto& [login, book] : books_) {
    if (book.account) out.push_back(login);
  }
  return out;
}

std::optional<TimeMs> Mirror::oldest_unexplained(Login login, const std::vector<Position>& open,
                                                 const std::vector<Order>& pending) const {
  std::shared_lock lock(mu_);
  auto it = books_.find(login);
  if (it == books_.end()) return std::nullopt;
  const Book& book = it->second;
  const auto open_now = tickets_of(open);
  const auto pending_now = tickets_of(pending);
  std::optional<TimeMs> oldest;
  auto consider = [&](TimeMs t) { oldest = oldest ? std::min(*oldest, t) : t; };
  for (const auto& [ticket, p] : book.positions) {
    if (!open_now.contains(ticket)) consider(p.time_msc);
  }
  for (const auto& [ticket, o] : book.orders) {
    if (!pending_now.contains(ticket)) consider(o.time_setup_msc);
  }
  for (const auto& p : open) {
    if (!book.positions.contains(p.ticket)) consider(p.time_msc);
  }
  return oldest;
}

std::optional<AccountInfo> Mirror::account(Login login) const {
  std::shared_lock lock(mu_);
  auto it = books_.find(login);
  if (it == books_.end()) return std::nullopt;
  return it->second.account;
}

std::vector<Position> Mirror::positions(Login login, std::string_view symbol) const {
  std::shared_lock lock(mu_);
  auto it = books_.find(login);
  return it == books_.end() ? std::vector<Position>{} : of_symbol(it->second.positions, symbol);
}

std::vector<Position> Mirror::positions_page(Login login, std::string_view symbol, std::optional<Ticket> below,
                                             std::size_t limit) const {
  std::shared_lock lock(mu_);
  auto it = books_.find(login);
  if (it == books_.end()) return {};
  return newest_first(
      it->second.positions, below, limit, [&](const Position& p) { return symbol.empty() || p.symbol == symbol; },
      [](const Position& p) { return p; });
}

std::optional<Position> Mirror::open_position(Login login, Ticket ticket) const {
  std::shared_lock lock(mu_);
  auto it = books_.find(login);
  if (it == books_.end()) return std::nullopt;
  auto open = it->second.positions.find(ticket);
  if (open == it->second.positions.end()) return std::nullopt;
  return open->second;
}

std::size_t Mirror::positions_total(Login login) const {
  std::shared_lock lock(mu_);
  auto it = books_.find(login);
  return it == books_.end() ? 0 : it->second.positions.size();
}

std::optional<Position> Mirror::position(Login login, Ticket ticket) const {
  std::shared_lock lock(mu_);
  auto it = books_.find(login);
  if (it == books_.end()) return std::nullopt;
  if (auto open = it->second.positions.find(ticket); open != it->second.positions.end()) return open->second;
  if (auto closed = it->second.closed.find(ticket); closed != it->second.closed.end()) return closed->second;
  return std::nullopt;
}

std::vector<Order> Mirror::orders(Login login, std::string_view symbol) const {
  std::shared_lock lock(mu_);
  auto it = books_.find(login);
  return it == books_.end() ? std::vector<Order>{} : of_symbol(it->second.orders, symbol);
}

bool Mirror::has_deal(Login login, Ticket ticket) const {
  std::shared_lock lock(mu_);
  auto it = books_.find(login);
  return it != books_.end() && it->second.deals.contains(ticket);
}

std::vector<Deal> Mirror::deals(Login login, TimeMs from_msc, TimeMs to_msc) const {
  std::shared_lock lock(mu_);
  std::vector<Deal> out;
  auto it = books_.find(login);
  if (it == books_.end()) return out;
  for (const auto& [ticket, d] : it->second.deals) {
    if (d.time_msc >= from_msc && d.time_msc < to_msc) out.push_back(d);
  }
  std::sort(out.begin(), out.end(), [](const Deal& a, const Deal& b) {
    return DealCursor{a.time_msc, a.ticket} < DealCursor{b.time_msc, b.ticket};
  });
  return out;
}

}  // namespace permiso::trading
