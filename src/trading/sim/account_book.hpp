// An account's book (its positions, pending orders, closed history and deals, and the
// per-instrument exposure sums) and its valuation at a set of quotes: floating profit,
// margin, equity, and each position's and order's live row. The arithmetic is documented in
// simulated_broker.hpp; the broker holds each account's lock around these calls.
#pragma once

#include "trading/model.hpp"
#include "trading/sim/market.hpp"
#include "trading/sim/quote_model.hpp"
#include "trading/sim/random.hpp"

#include <cmath>
#include <cstddef>
#include <deque>
#include <map>
#include <shared_mutex>
#include <vector>

namespace permiso::trading::sim {

inline double round_cents(double x) {
  return std::round(x * 100.0) / 100.0;
}

struct Exposure {  // per account and instrument: the sums floating P&L and margin need
  std::size_t count = 0;
  double buy_volume = 0, buy_value = 0;  // Σ v, Σ v × open
  double sell_volume = 0, sell_value = 0;
  double margin = 0;  // in the margin currency
};
struct OpenPosition {
  Position row;
  int sym = 0;
  double margin = 0;    // margin currency
  double realised = 0;  // profit of partial closes so far
};
struct PendingOrder {
  Order row;
  int sym = 0;
};
struct Account {
  mutable std::shared_mutex mutex;
  AccountInfo info;  // persistent fields; the rest is computed per read
  int ccy = 0;
  Rng rng;  // slippage draws
  std::map<Ticket, OpenPosition> open;
  std::map<Ticket, PendingOrder> pending;
  // The recent history only (SimOptions::history_per_account of each): what the trade store
  // may not have committed yet, and the tickets a refusal names ("already closed"). Older
  // history is the store's to serve; keeping it all here grew without bound.
  std::map<Ticket, Position> closed;
  std::deque<Order> orders_history;  // in time_done order
  std::deque<Deal> deals;            // in time order
  std::vector<Exposure> exposure;    // by instrument index
  std::size_t with_stops = 0;        // open positions with an SL or TP
};
/// An account's floating profit and margin, in its currency.
struct Totals {
  double profit = 0;  // unrounded, account currency
  double margin = 0;
};

class AccountBook {
 public:
  /// `market` must outlive the book.
  explicit AccountBook(const Market& market) : market_(market) {}

  [[nodiscard]] Totals totals(const Account& a, const Quotes& q) const;
  /// The account's row with profit, equity, margin, free margin and margin level at `q`.
  [[nodiscard]] AccountInfo account_row(const Account& a, const Quotes& q) const;
  /// Unrounded, in the account currency.
  [[nodiscard]] double position_profit(const OpenPosition& p, const Quotes& q, int account_ccy) const;
  [[nodiscard]] Position live_row(const OpenPosition& p, const Quotes& q, int account_ccy) const;
  [[nodiscard]] Order live_order(const PendingOrder& o, const Quotes& q) const;
  /// Adds (sign +1) or removes (−1) a position from the account's exposure sums.
  static void add_exposure(Account& a, const OpenPosition& p, double sign);
  /// Forgets all but the newest `keep` closed positions, historical orders and deals.
  static void keep_recent_history(Account& a, std::size_t keep);

 private:
  [[nodiscard]] double rate(int from, int to, const Quotes& q) const { return market_.rate(from, to, q.ticks); }

  const Market& market_;
};

}  // namespace permiso::trading::sim
