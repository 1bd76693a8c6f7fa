// The gateway's own books of an account, for a FIX counterparty that lacks RequestForPositions
// or CollateralInquiry (docs/brokers.md, "The gateway's ledger"). Positions follow the deals
// (an In deal opens or adds, an Out deal reduces or closes); the balance is the deals' sum; the
// floating figures (profit, equity, margin) come from the open positions marked to the quotes,
// with MetaTrader 5's margin formulas. Plain values and one small thread-safe book: no I/O.
#pragma once

#include "trading/model.hpp"

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

namespace permiso::trading::fix {

/// The position an In deal opens, or the netting position it adds to (weighted open price).
/// Stops, magic and comment are the deal's; an order's answer sets the order's stops after.
Position opened_position(const std::optional<Position>& before, const Deal& deal);
/// The position an Out deal leaves: smaller, or closed at the deal with `realised`, every close's
/// profit, as MT5's history shows a closed position.
Position reduced_position(Position p, const Deal& deal, double realised);

/// The open positions after `deals` (oldest first, none applied to `open` yet). A close of a
/// position `open` does not hold (opened before the deals the ledger read) is skipped.
std::vector<Position> replay_deals(const std::vector<Position>& open, const std::vector<Deal>& deals);

/// What a deal does to the balance: its profit, commission and swap (a balance deal's profit is
/// the deposit or withdrawal).
double balance_change(const Deal& deal);

/// One open position's margin in its margin currency, by the symbol's SYMBOL_CALC_MODE (margin
/// rate 1). nullopt for the modes whose margin the broker sets per contract (futures and
/// exchange instruments): the symbol list over FIX does not carry it.
std::optional<double> position_margin(const SymbolInfo& symbol, const Position& position, int leverage);

/// The account's floating figures from its open positions: profit (their marked profits),
/// equity, margin, free margin and margin level, rounded to cents as MT5 shows them.
AccountInfo with_floating(AccountInfo account, double profit, double margin);

/// The balance the ledger keeps for each account: the last one known (a CollateralReport, the
/// stored row) plus every deal since, each counted once however often it is seen (an order's
/// answer, the broker's report, a listing, another replica's trade found in a listing).
/// Thread-safe.
class BalanceBook {
 public:
  /// How many of an account's newest deal tickets are remembered: deals arrive out of ticket
  /// order only within a listing's window, far below this; an older ticket counts as seen.
  static constexpr std::size_t kRemembered = 10'000;

  /// The account's balance as of `deals` (already reflected in it, as are older ones): the stored
  /// row and its deals after a restart, or a fresh account with none. Replaces what the book held.
  void seed(Login login, double balance, const std::vector<Deal>& deals);
  [[nodiscard]] bool has(Login login) const;
  /// Counts the deals not counted before; the balance after them. nullopt for an account never seeded.
  std::optional<double> count(Login login, const std::vector<Deal>& deals);
  [[nodiscard]] std::optional<double> balance(Login login) const;
  /// The newest time of the deals counted: where the next look for deals may start (less an overlap).
  [[nodiscard]] std::optional<TimeMs> newest_time(Login login) const;

 private:
  struct Account {
    double balance = 0;
    std::set<Ticket> seen;  // the newest kRemembered
    Ticket floor = 0;       // every ticket at or below it counts as seen
    TimeMs newest_time = 0;
  };
  static void remember(Account& account, const Deal& deal);

  mutable std::mutex mu_;
  std::map<Login, Account> accounts_;
};

}  // namespace permiso::trading::fix
