// The one interface every backend implements: the simulated broker (default), and real
// connectors (an MT5 bridge, FIX) that map onto the MT5 terminal API one to one.
#pragma once

#include "trading/model.hpp"

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::trading {

/// The outcome of order_send: MT5's result, and every row the step changed (empty when
/// the request was refused), which the gateway persists before it acknowledges.
struct SendOutcome {
  TradeResult result;
  Changes changes;
};

/// Everything a backend must restore after a restart: the rows as last persisted.
struct BrokerState {
  std::vector<AccountInfo> accounts;
  std::vector<Position> positions;  // open and closed
  std::vector<Order> orders;        // pending and historical
  std::vector<Deal> deals;
  Ticket next_ticket = 1;  // the ticket sequence continues after the largest seen
};

/// Thread-safe. Calls never block on the network for the simulator; a real connector bounds
/// every call by its own timeout and answers Retcode::Connection/Timeout instead of hanging.
class Broker {
 public:
  virtual ~Broker() = default;

  /// A short name for /health and metrics ("simulator", "mt5-bridge", …).
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Whether the backend can trade right now (/ready).
  [[nodiscard]] virtual bool connected() const = 0;

  /// Opens a demo account (simulator) or attaches a configured login (real connector).
  /// Returns the account as created; its Changes must be persisted like any other.
  virtual SendOutcome open_account(std::string_view name, std::string_view currency, int leverage, double deposit) = 0;
  /// Restores persisted rows after a restart (before serving). Simulator only; connectors
  /// reconcile with the broker instead and may ignore it.
  virtual void restore(const BrokerState& state) = 0;
  /// Starts serving `login`, an account another process opened on the same broker (a replica
  /// of mt5-api over one counterparty): reads it now. False when the broker does not know it or
  /// did not answer. A broker whose accounts live in this process knows them all already.
  virtual bool attach_account(Login login) { return account_info(login).has_value(); }

  // ---- the MT5 terminal API ----
  [[nodiscard]] virtual std::optional<AccountInfo> account_info(Login login) const = 0;
  [[nodiscard]] virtual std::vector<SymbolInfo> symbols_get() const = 0;
  [[nodiscard]] virtual std::optional<SymbolInfo> symbol_info(std::string_view symbol) const = 0;
  [[nodiscard]] virtual std::optional<Tick> symbol_info_tick(std::string_view symbol) const = 0;
  /// TradeAction::Deal opens (or closes, with `position`) at market; Pending places an
  /// order; SlTp modifies a position's stops; Modify/Remove act on a pending order.
  virtual SendOutcome order_send(Login login, const TradeRequest& request) = 0;
  /// Open positions of the account, optionally of one symbol.
  [[nodiscard]] virtual std::vector<Position> positions_get(Login login, std::string_view symbol = {}) const = 0;
  /// One open position by ticket (MT5's positions_get(ticket=…)).
  [[nodiscard]] virtual std::optional<Position> position_get(Login login, Ticket ticket) const;
  /// A page of open positions, newest ticket first: those below `below` (all when nullopt), of
  /// `symbol` when not empty, at most `limit`. A backend holding positions in ticket order
  /// answers in O(log P + page); the default lists them all (O(P)), but never sorts them all.
  [[nodiscard]] virtual std::vector<Position> positions_page(Login login, std::string_view symbol,
                                                             std::optional<Ticket> below, std::size_t limit) const;
  /// How many positions the account has open (MT5's positions_total()).
  [[nodiscard]] virtual std::size_t positions_total(Login login) const;
  /// Pending orders of the account.
  [[nodiscard]] virtual std::vector<Order> orders_get(Login login, std::string_view symbol = {}) const = 0;
  /// Deals of the account with from_msc <= time < to_msc, oldest first.
  [[nodiscard]] virtual std::vector<Deal> history_deals_get(Login login, TimeMs from_msc, TimeMs to_msc) const = 0;

  /// Changes the backend makes on its own (SL/TP hit, pending order triggered, stop-out),
  /// delivered after they happen, from the backend's thread. Set once, before serving.
  using ChangeListener = std::function<void(const Changes&)>;
  virtual void set_change_listener(ChangeListener listener) = 0;
  /// Every new tick of every symbol (for the quote stream and bars), from the backend's thread.
  using TickListener = std::function<void(std::string_view symbol, const Tick&)>;
  virtual void set_tick_listener(TickListener listener) = 0;
};

}  // namespace permiso::trading
