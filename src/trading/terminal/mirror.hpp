// What the terminal connector knows of the terminal's state: accounts, open positions,
// pending orders, recent deals, symbols and the latest ticks. The gateway reads from here, so
// a read never waits on the terminal; replies, events and periodic re-reads keep it right.
// Every Changes that leaves the mirror is numbered by the mirror: the terminal's own step
// numbers restart with the EA, and the store drops a row older than one it already wrote.
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

namespace permiso::trading::terminal {

/// One account as the terminal reported it in a full re-read.
struct AccountSnapshot {
  AccountInfo account;
  std::vector<Position> open_positions;
  std::vector<Order> pending_orders;
  std::vector<Deal> deals;  // every deal since before the oldest row that may have closed
  TimeMs now_msc = 0;       // when it was read (stands in for a close time the deals do not give)
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
  /// The rows as last persisted (Broker::restore): the start of the next reconcile.
  void seed(const BrokerState& state);

  [[nodiscard]] std::vector<Login> logins() const;
  /// Of the account's open positions and pending orders the mirror holds, the oldest opening
  /// time of those no longer in `open`/`pending` (nullopt: none went): how far back a re-read
  /// must look for the deals that closed or filled them.
  [[nodiscard]] std::optional<TimeMs> oldest_gone(Login login, const std::vector<Position>& open,
                                                  const std::vector<Order>& pending) const;
  [[nodiscard]] std::optional<AccountInfo> account(Login login) const;
  [[nodiscard]] std::vector<Position> positions(Login login, std::string_view symbol) const;
  [[nodiscard]] std::vector<Order> orders(Login login, std::string_view symbol) const;
  /// from_msc <= time < to_msc, oldest first (of the recent deals kept).
  [[nodiscard]] std::vector<Deal> deals(Login login, TimeMs from_msc, TimeMs to_msc) const;

 private:
  struct Book {
    std::optional<AccountInfo> account;
    std::map<Ticket, Position> positions;  // open
    std::map<Ticket, Order> orders;        // pending
    std::map<Ticket, Deal> deals;          // the newest deal_capacity_ by ticket
  };
  void apply_locked(const Changes& changes);
  void keep_deal(Book& book, const Deal& deal);
  Changes closed_rows(const Book& book, const AccountSnapshot& snapshot) const;

  const std::size_t deal_capacity_;
  mutable std::shared_mutex mu_;
  std::map<Login, Book> books_;
  std::vector<SymbolInfo> symbols_;
  std::map<std::string, Tick, std::less<>> ticks_;
  std::uint64_t sequence_ = 0;
};

}  // namespace permiso::trading::terminal
