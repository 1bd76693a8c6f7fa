// The simulated MT5 broker, mt5-api's default backend: real-world instrument specs, a seeded
// quote stream (geometric Brownian motion per instrument, crosses derived from their legs,
// spreads varying around typical values), market and pending orders, SL/TP, margin with
// cross-currency conversion, stop-out, demo accounts and deal history. Deterministic: the
// same seed and the same sequence of calls give the same quotes, fills and tickets.
//
// Arithmetic (documented because tests and users reproduce it by hand):
//  - Margin of a position, fixed at open in the margin currency: Forex mode
//    volume × contract_size / leverage; CFD leverage mode volume × contract_size × open_price
//    / leverage. Hedged positions are not netted. Converted at the current quotes.
//  - Floating profit: buy (bid − open) × volume × contract_size, sell (open − ask) × …, in
//    the profit currency, converted; a position's row and realised profits are rounded to
//    cents, the account's floating profit is rounded once over the sum.
//  - Conversion X→Y: × bid of XY if it is listed, ÷ ask of YX if that is, otherwise via USD
//    (X→USD→Y, each leg by the same rule).
//  - Equity = balance + credit + profit; margin_free = equity − margin; margin_level =
//    equity / margin × 100 (0 without margin). An order needs margin_free ≥ its margin.
//  - Stop-out: after every quote step, while margin_level < margin_so_so the most losing
//    position is closed at market (DealReason::StopOut).
//  - SL/TP: a buy's SL triggers when bid ≤ sl, TP when bid ≥ tp; a sell's on ask ≥ sl,
//    ask ≤ tp; closed at that quote (gaps slip, as on a real server).
//  - Pending: buy limit fills when ask ≤ price, sell limit when bid ≥ price, buy stop when
//    ask ≥ price, sell stop when bid ≤ price, at that quote; refused margin rejects the order.
//  - Tickets: an order and the position it opens share a ticket (POSITION_IDENTIFIER), deals
//    take their own; one sequence for all.
//  - Liquidity (SimOptions::max_fill_lots): an order fills at most that many lots of its symbol
//    at one quote (unlimited by default). A market order, or a pending order when it triggers,
//    that wants more: FOK is refused whole (Retcode::Reject); IOC fills what there is and the
//    rest is cancelled (Retcode::DonePartial, the order Canceled with volume_current = the
//    rest); RETURN fills what there is and the rest keeps working (OrderState::Partial, listed
//    by orders_get), filling up to the limit again at each later quote step, each fill a deal
//    into the same position (its price_open the volume-weighted average), until it is filled,
//    removed, or the position is closed (the rest is cancelled then).
//
// Threading: quotes are an immutable snapshot swapped per step (readers copy a shared_ptr);
// each account has its own shared_mutex, so readers of one account never wait for another
// and queries are per login only. Quote steps are serialised among themselves (step mutex),
// never against order_send, and listeners are called after every account lock is released,
// in order. Listeners must not call advance_to/step/set_quote/restore.
#pragma once

#include "common/clock.hpp"
#include "trading/bars.hpp"
#include "trading/broker.hpp"
#include "trading/model.hpp"
#include "trading/sim/account_book.hpp"
#include "trading/sim/instruments.hpp"
#include "trading/sim/market.hpp"
#include "trading/sim/quote_model.hpp"
#include "trading/sim/random.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace permiso::trading::sim {

struct SimOptions {
  std::uint64_t seed = 1;
  TimeMs start_time_msc = 0;  // the simulation's clock at construction; 0: the wall clock's
  /// The wall clock: the start time when start_time_msc is 0, and the pace of the quote
  /// thread (start()). Null: the system clock.
  std::shared_ptr<const Clock> clock;
  std::string server = "Permiso-Demo";
  Login first_login = 5'000'001;             // demo logins count up from here
  double margin_so_call = 100;               // %
  double margin_so_so = 50;                  // %
  double slippage_points = 1.0;              // σ of market-order slippage in points (0: fill at the quote)
  double volatility_scale = 1.0;             // multiplies every instrument's σ (livelier demos)
  std::size_t max_open_positions = 100'000;  // per account, then LimitPositions
  std::size_t max_pending_orders = 1'000;    // per account, then LimitOrders
  /// Closed positions, historical orders and deals kept in memory per account (the newest);
  /// the trade store holds them all. Enough to cover what is not yet committed.
  std::size_t history_per_account = 256;
  /// Liquidity: the most lots one order fills at one quote, by symbol; the key "*" applies to
  /// every symbol not named. Empty (the default): unlimited, every order fills in full. See the
  /// arithmetic above for what a larger order does under each filling mode.
  std::map<std::string, double, std::less<>> max_fill_lots;
  std::vector<InstrumentSpec> instruments = default_instruments();
};

class SimulatedBroker final : public Broker {
 public:
  explicit SimulatedBroker(SimOptions options = {});
  ~SimulatedBroker() override;  // stops the quote thread
  SimulatedBroker(const SimulatedBroker&) = delete;
  SimulatedBroker& operator=(const SimulatedBroker&) = delete;

  // ---- Broker ----
  [[nodiscard]] std::string_view name() const override { return "simulator"; }
  [[nodiscard]] bool connected() const override { return true; }
  /// Currency: USD, EUR, GBP, JPY, CHF, AUD or CAD; leverage 1..3000; deposit finite, 0..1e12.
  /// The new login is changes.accounts[0].login; a deposit > 0 books a Balance deal.
  SendOutcome open_account(std::string_view name, std::string_view currency, int leverage, double deposit) override;
  /// Replaces every account, position, order and deal (keeping the recent history only); the
  /// ticket sequence continues after max(next_ticket − 1, largest ticket seen). Rows of
  /// unknown symbols are dropped. An open position's realised profit is summed from the Out
  /// deals of its ticket in `state`, so those must be there however old they are.
  void restore(const BrokerState& state) override;
  [[nodiscard]] std::optional<AccountInfo> account_info(Login login) const override;
  [[nodiscard]] std::vector<SymbolInfo> symbols_get() const override;
  [[nodiscard]] std::optional<SymbolInfo> symbol_info(std::string_view symbol) const override;
  [[nodiscard]] std::optional<Tick> symbol_info_tick(std::string_view symbol) const override;
  SendOutcome order_send(Login login, const TradeRequest& request) override;
  [[nodiscard]] std::vector<Position> positions_get(Login login, std::string_view symbol = {}) const override;
  [[nodiscard]] std::optional<Position> position_get(Login login, Ticket ticket) const override;
  [[nodiscard]] std::vector<Position> positions_page(Login login, std::string_view symbol, std::optional<Ticket> below,
                                                     std::size_t limit) const override;
  [[nodiscard]] std::size_t positions_total(Login login) const override;
  [[nodiscard]] std::vector<Order> orders_get(Login login, std::string_view symbol = {}) const override;
  /// Of the recent history only (SimOptions::history_per_account).
  [[nodiscard]] std::vector<Deal> history_deals_get(Login login, TimeMs from_msc, TimeMs to_msc) const override;
  void set_change_listener(ChangeListener listener) override;
  void set_tick_listener(TickListener listener) override;

  // ---- beyond MT5: the recent history (SimOptions::history_per_account) ----
  /// Recently closed positions of the account, oldest ticket first.
  [[nodiscard]] std::vector<Position> positions_history_get(Login login) const;
  /// Recent historical (filled, canceled, rejected) orders with from_msc <= time_done < to_msc.
  [[nodiscard]] std::vector<Order> history_orders_get(Login login, TimeMs from_msc, TimeMs to_msc) const;

  // ---- simulation control ----
  /// Moves the simulation clock to `now` (no-op unless later): every instrument ticks once,
  /// then pending orders, SL/TP and stop-out are evaluated. Calls the tick listener per symbol
  /// and the change listener per changed account, and returns the changes merged.
  Changes advance_to(TimeMs now);
  Changes step(TimeMs dt) { return advance_to(now() + dt); }
  /// Sets a quote by hand (tests, admin) at the current simulation time and evaluates
  /// triggers as a step would. nullopt: unknown symbol, or not 0 < bid <= ask (finite).
  std::optional<Changes> set_quote(std::string_view symbol, double bid, double ask);
  /// Disables/enables trading of a symbol (TradeDisabled while off). False: unknown symbol.
  bool set_trade_allowed(std::string_view symbol, bool allowed);
  /// A background thread advancing the clock in real time every `tick_interval`
  /// (from the simulation time, at the system clock's pace). Idempotent.
  void start(std::chrono::milliseconds tick_interval = std::chrono::milliseconds(250));
  void stop();  // joins the thread; idempotent
  [[nodiscard]] bool running() const;
  [[nodiscard]] TimeMs now() const { return now_.load(std::memory_order_acquire); }
  /// Every row as it is now (open rows with live prices), for persistence checks and tests.
  [[nodiscard]] BrokerState snapshot() const;
  /// Fills `bars` with synthetic history ending at the current quotes: one tick per `step_ms`
  /// over the last `span_ms`, from a path drawn backwards with the same model and seed. Call
  /// before live ticks reach `bars` (older ticks are ignored after newer ones).
  void backfill(BarBuilder& bars, TimeMs span_ms = 3LL * 86'400'000, TimeMs step_ms = 15'000) const;
  [[nodiscard]] const SimOptions& options() const { return options_; }

 private:
  using Quotes = sim::Quotes;
  using Instrument = Market::Instrument;
  using Account = sim::Account;
  using OpenPosition = sim::OpenPosition;
  using PendingOrder = sim::PendingOrder;

  [[nodiscard]] std::shared_ptr<const Quotes> quotes() const;
  [[nodiscard]] double rate(int from, int to, const Quotes& q) const { return market_.rate(from, to, q.ticks); }
  [[nodiscard]] TimeMs wall_now() const;
  [[nodiscard]] Ticket next_ticket() { return next_ticket_.fetch_add(1, std::memory_order_relaxed); }

  SendOutcome send_market_open(Account& a, int sym, const TradeRequest& r);
  /// How much of `wanted` lots of instrument `sym` one fill gets (SimOptions::max_fill_lots,
  /// down to the volume step): `wanted` itself when the liquidity is there.
  [[nodiscard]] double fillable(int sym, double wanted) const;
  /// Fills part or all of a working order at this quote (apply_triggers): true when it is done
  /// (filled, cancelled or rejected, and moved to the history), false while it keeps working.
  bool fill_working_order(Account& a, PendingOrder& po, const Quotes& q, TimeMs t, Changes& ch);
  SendOutcome send_close(Account& a, const TradeRequest& r);
  SendOutcome send_pending(Account& a, int sym, const TradeRequest& r);
  SendOutcome send_modify(Account& a, const TradeRequest& r);
  SendOutcome send_remove(Account& a, const TradeRequest& r);
  SendOutcome send_sltp(Account& a, const TradeRequest& r);
  /// Fill price of a market order at `market` with slippage drawn from the account's stream,
  /// never more than `deviation` points from the market (nor from `requested` when set).
  double fill_price(Account& a, const Instrument& in, double market, bool buy, const TradeRequest& r);

  /// Opens the position `order_ticket` with an In deal, or adds the deal to it when it is open
  /// already (a later fill of the same order).
  void open_position(Account& a, int sym, PositionType type, double volume, double price, double sl, double tp,
                     std::uint64_t magic, const std::string& comment, Ticket order_ticket, TimeMs t, const Quotes& q,
                     Changes& ch, Ticket* deal_out);
  void close_position(Account& a, std::map<Ticket, OpenPosition>::iterator it, double volume, double price,
                      DealReason reason, const std::string& comment, TimeMs t, const Quotes& q, Changes& ch,
                      Ticket* deal_out, Ticket* order_out);
  [[nodiscard]] bool triggers_pending(const Account& a, const Quotes& q) const;
  void apply_triggers(Account& a, const Quotes& q, TimeMs t, Changes& ch);
  /// Publishes `next`, evaluates triggers on every account and delivers. Holds step_mutex_.
  Changes publish_and_process(std::unique_lock<std::mutex>& step_lock, std::shared_ptr<Quotes> next,
                              const std::vector<int>& ticked);
  [[nodiscard]] Account* find_account(Login login) const;  // accounts_mutex_ held
  std::unique_ptr<Account> make_account(const AccountInfo& info) const;
  void finish(Account& a, const Quotes& q, Changes& ch);  // account row + sequence

  SimOptions options_;
  const Market market_;
  const std::vector<Instrument>& instruments_ = market_.instruments();
  const AccountBook book_{market_};
  std::unique_ptr<std::atomic<bool>[]> trade_allowed_;
  std::vector<double> max_fill_;  // by instrument index: SimOptions::max_fill_lots, or infinity

  mutable std::shared_mutex quotes_mutex_;  // guards the pointer only
  std::shared_ptr<const Quotes> quotes_;

  mutable std::mutex step_mutex_;  // serialises steps, models and listener delivery
  QuoteModel model_;
  ChangeListener change_listener_;
  TickListener tick_listener_;

  mutable std::shared_mutex accounts_mutex_;  // the map; exclusive only to add accounts or restore
  std::map<Login, std::unique_ptr<Account>> accounts_;
  Login next_login_ = 0;

  std::atomic<TimeMs> now_{0};
  std::atomic<Ticket> next_ticket_{1};
  std::atomic<std::uint64_t> sequence_{0};

  mutable std::mutex thread_mutex_;
  std::condition_variable thread_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace permiso::trading::sim
