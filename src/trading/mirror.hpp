// What a real connector (the terminal bridge, FIX) knows of its broker's state: accounts, open
// positions, pending orders, recent deals, symbols and the latest ticks. The gateway reads from
// here, so a read never waits on the broker; answers, events and periodic re-reads keep it
// right. Every Changes that leaves the mirror is numbered by the mirror: the broker's own step
// numbers restart with it (the EA, a FIX session), and the store drops a row older than one it
// already wrote.
#pragma once

#include "trading/broker.hpp"
#include "trading/model.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::trading {

/// One account as the broker reported it in a full re-read.
struct AccountSnapshot {
  AccountInfo account;
  std::vector<Position> open_positions;
  std::vector<Order> pending_orders;
  std::vector<Deal> deals;  // every deal since before the oldest row that may have closed
  TimeMs now_msc = 0;       // when it was read (stands in for a close time the deals do not give)
  /// Mirror::generation() before the first command of the re-read: a row applied after it
  /// (an order's reply, an event) is newer than the snapshot and wins over it.
  std::uint64_t generation = 0;
};

class Mirror {
 public:
  explicit Mirror(std::size_t recent_deals_per_account) : deal_capacity_(recent_deals_per_account) {}

  void set_symbols(std::vector<SymbolInfo> symbols);
  [[nodiscard]] std::vector<SymbolInfo> symbols() const;
  [[nodiscard]] std::optional<SymbolInfo> symbol(std::string_view name) const;
  void set_tick(std::string_view symbol, const Tick& tick);
  [[nodiscard]] std::optional<Tick> tick(std::string_view symbol) const;

  /// Rows as they are after a step (a reply or a `trade` event): applied, and returned
  /// numbered for the gateway.
  Changes apply(Changes changes);
  /// A full re-read of one account: applies it and returns every row that differs from what
  /// the mirror held (opened, modified, closed or filled while nobody was told), numbered.
  /// A floating price or profit alone is not a change: it is kept, not delivered.
  Changes reconcile(const AccountSnapshot& snapshot);
  /// A light re-read of one account: its collateral only, read when generation() was
  /// `generation`. Applied unless an order's answer or an event brought a newer account row;
  /// returned (numbered) when it differs from what the mirror held. Positions and orders are
  /// left as they are.
  Changes reconcile_account(const AccountInfo& account, std::uint64_t generation);
  /// The rows as last persisted (Broker::restore): the start of the next reconcile.
  void seed(const BrokerState& state);

  [[nodiscard]] std::vector<Login> logins() const;
  /// How many steps were applied so far (AccountSnapshot::generation).
  [[nodiscard]] std::uint64_t generation() const;
  /// The oldest opening time of the rows a re-read must explain with deals: open positions and
  /// pending orders the mirror holds that are no longer in `open`/`pending` (closed, filled or
  /// cancelled), and those in `open` the mirror never saw (opened elsewhere, or by an order whose
  /// answer was lost). nullopt: nothing to explain, no deals to read.
  [[nodiscard]] std::optional<TimeMs> oldest_unexplained(Login login, const std::vector<Position>& open,
                                                         const std::vector<Order>& pending) const;
  [[nodiscard]] std::optional<AccountInfo> account(Login login) const;
  [[nodiscard]] std::vector<Position> positions(Login login, std::string_view symbol) const;
  /// Broker::positions_page, Broker::position_get and Broker::positions_total on the mirror.
  [[nodiscard]] std::vector<Position> positions_page(Login login, std::string_view symbol, std::optional<Ticket> below,
                                                     std::size_t limit) const;
  [[nodiscard]] std::optional<Position> open_position(Login login, Ticket ticket) const;
  [[nodiscard]] std::size_t positions_total(Login login) const;
  /// One position, open or recently closed (the last recent_deals_per_account closes are kept):
  /// an order's answer carries its position's row even when another re-read saw it first.
  [[nodiscard]] std::optional<Position> position(Login login, Ticket ticket) const;
  [[nodiscard]] std::vector<Order> orders(Login login, std::string_view symbol) const;
  /// Whether the deal is among the recent deals kept.
  [[nodiscard]] bool has_deal(Login login, Ticket ticket) const;
  /// from_msc <= time < to_msc, oldest first (of the recent deals kept).
  [[nodiscard]] std::vector<Deal> deals(Login login, TimeMs from_msc, TimeMs to_msc) const;

 private:
  struct Book {
    std::optional<AccountInfo> account;
    std::map<Ticket, Position> positions;  // open
    std::map<Ticket, Order> orders;        // pending
    std::map<Ticket, Deal> deals;          // the newest deal_capacity_ by ticket
    std::map<Ticket, Position> closed;     // the newest deal_capacity_ closed, by ticket
    /// The generation each position or order (one ticket sequence) was last applied at, kept
    /// until a re-read started after it; and the account's.
    std::map<Ticket, std::uint64_t> touched;
    std::uint64_t account_touched = 0;
  };
  /// Whether the row of `ticket` was applied after the snapshot was read.
  static bool newer_than(const Book& book, Ticket ticket, std::uint64_t generation);
  void apply_locked(const Changes& changes);
  void keep_deal(Book& book, const Deal& deal);
  void keep_closed(Book& book, const Position& position);
  Changes closed_rows(const Book& book, const AccountSnapshot& snapshot) const;

  const std::size_t deal_capacity_;
  mutable std::shared_mutex mu_;
  std::map<Login, Book> books_;
  std::vector<SymbolInfo> symbols_;
  std::map<std::string, Tick, std::less<>> ticks_;
  std::uint64_t sequence_ = 0;
  std::uint64_t generation_ = 0;
};

}  // namespace permiso::trading
