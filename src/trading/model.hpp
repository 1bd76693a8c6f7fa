// The trading vocabulary, modelled one to one on the MetaTrader 5 terminal API
// (MqlTradeRequest, MqlTradeResult, TRADE_RETCODE_*, positions, orders, deals) so a real
// connector maps onto it without translation. Plain values: no I/O, no locks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::trading {

using Ticket = std::uint64_t;  // MT5 tickets: positions, orders and deals share one sequence
using Login = std::uint64_t;   // an MT5 account number
using TimeMs = std::int64_t;   // Unix milliseconds

/// TRADE_RETCODE_* (the values MT5 uses, so broker_retcode means the same everywhere).
enum class Retcode : int {
  Requote = 10004,
  Reject = 10006,
  Cancel = 10007,
  Placed = 10008,  // a pending order was accepted
  Done = 10009,
  DonePartial = 10010,
  Error = 10011,
  Timeout = 10012,
  Invalid = 10013,
  InvalidVolume = 10014,
  InvalidPrice = 10015,
  InvalidStops = 10016,
  TradeDisabled = 10017,
  MarketClosed = 10018,
  NoMoney = 10019,
  PriceChanged = 10020,
  PriceOff = 10021,
  InvalidExpiration = 10022,
  OrderChanged = 10023,
  TooManyRequests = 10024,
  NoChanges = 10025,
  Locked = 10028,
  Frozen = 10029,
  InvalidFill = 10030,
  Connection = 10031,  // no connection with the trade server
  OnlyReal = 10032,
  LimitOrders = 10033,
  LimitVolume = 10034,
  InvalidOrder = 10035,
  PositionClosed = 10036,
  InvalidCloseVolume = 10038,
  CloseOrderExist = 10039,
  LimitPositions = 10040,
};
std::string_view to_string(Retcode r);  // "TRADE_RETCODE_DONE", …
/// Done, DonePartial and Placed are successes; everything else is a refusal.
constexpr bool is_success(Retcode r) {
  return r == Retcode::Done || r == Retcode::DonePartial || r == Retcode::Placed;
}

/// What a refusal means, whatever the backend: the one reading of the retcodes. The service
/// names the request field from it and the handlers' error table answers it in HTTP.
enum class Refusal {
  InsufficientMargin,  // NoMoney
  InvalidVolume,       // InvalidVolume, InvalidCloseVolume
  VolumeLimit,         // LimitVolume
  InvalidPrice,        // InvalidPrice
  PriceChanged,        // Requote, PriceChanged, PriceOff
  InvalidStops,        // InvalidStops
  InvalidFilling,      // InvalidFill
  InvalidOrder,        // Invalid, InvalidExpiration, InvalidOrder
  LimitReached,        // LimitOrders, LimitPositions
  MarketClosed,        // MarketClosed
  TradeDisabled,       // TradeDisabled
  PositionClosed,      // PositionClosed
  StateConflict,       // Locked, Frozen, OrderChanged, CloseOrderExist
  RateLimited,         // TooManyRequests
  Unreachable,         // Connection: nothing was sent
  TimedOut,            // Timeout: the outcome is not known yet
  NoChanges,           // NoChanges
  Rejected,            // everything else
};
Refusal refusal_of(Retcode r);

enum class TradeAction : int { Deal = 1, Pending = 5, SlTp = 6, Modify = 7, Remove = 8, CloseBy = 10 };
enum class OrderType : int { Buy = 0, Sell = 1, BuyLimit = 2, SellLimit = 3, BuyStop = 4, SellStop = 5 };
enum class Filling : int { Fok = 0, Ioc = 1, Return = 2 };
enum class PositionType : int { Buy = 0, Sell = 1 };
enum class OrderState : int {
  Started = 0,
  Placed = 1,
  Canceled = 2,
  Partial = 3,
  Filled = 4,
  Rejected = 5,
  Expired = 6
};
enum class DealType : int { Buy = 0, Sell = 1, Balance = 2 };
enum class DealEntry : int { In = 0, Out = 1 };
/// DEAL_REASON_* / POSITION_REASON_*: who or what caused it.
enum class DealReason : int { Client = 0, Mobile = 1, Web = 2, Expert = 3, Sl = 4, Tp = 5, StopOut = 6 };

std::string_view to_string(OrderType t);  // "buy", "sell", "buy_limit", …
std::optional<OrderType> order_type_from_string(std::string_view s);
std::string_view to_string(OrderState s);
std::string_view to_string(DealReason r);
std::string_view to_string(Filling f);
std::string_view to_string(TradeAction a);   // "deal", "pending", "sltp", "modify", "remove", "close_by"
std::string_view to_string(PositionType t);  // "buy", "sell"
std::string_view to_string(DealType t);      // "buy", "sell", "balance"
std::string_view to_string(DealEntry e);     // "in", "out"

/// How margin is computed: SYMBOL_CALC_MODE_*, every value MT5 has. The simulator uses
/// Forex and CfdLeverage; a real terminal's symbols may use any (the broker computes margin).
enum class MarginMode : int {
  Forex = 0,
  Futures = 1,
  Cfd = 2,
  CfdIndex = 3,
  CfdLeverage = 4,
  ForexNoLeverage = 5,
  ExchangeStocks = 32,
  ExchangeFutures = 33,
  ExchangeFuturesForts = 34,
  ExchangeBonds = 37,
  ExchangeStocksMoex = 38,
  ExchangeBondsMoex = 39,
  Collateral = 64,
};
std::string_view to_string(MarginMode m);  // "forex", "cfd_leverage", …
/// Whether `value` is one of MarginMode's.
bool is_margin_mode(int value);

/// SymbolInfo: the instrument's specification.
struct SymbolInfo {
  std::string name;  // "EURUSD"
  std::string description;
  std::string currency_base;    // "EUR"
  std::string currency_profit;  // "USD": P&L is in this currency, then converted
  std::string currency_margin;  // "EUR"
  int digits = 5;
  double point = 0.00001;  // 10^-digits
  double contract_size = 100000;
  double volume_min = 0.01;
  double volume_max = 100;
  double volume_step = 0.01;
  int stops_level = 0;  // minimum SL/TP distance from the price, in points
  MarginMode margin_mode = MarginMode::Forex;
  bool trade_allowed = true;
};

/// MqlTick.
struct Tick {
  TimeMs time_msc = 0;
  double bid = 0;
  double ask = 0;
  double last = 0;
};

/// MqlTradeRequest.
struct TradeRequest {
  TradeAction action = TradeAction::Deal;
  std::uint64_t magic = 0;
  Ticket order = 0;  // Modify/Remove: the pending order
  std::string symbol;
  double volume = 0;
  double price = 0;             // Deal: 0 means "at market"; Pending: the trigger price
  double sl = 0;                // 0: none
  double tp = 0;                // 0: none
  std::uint64_t deviation = 0;  // maximum slippage, in points
  OrderType type = OrderType::Buy;
  Filling type_filling = Filling::Fok;
  std::string comment;
  Ticket position = 0;  // Deal: the position to close; SlTp: the position to modify
  /// Deal/Pending: the order's id at the broker when the caller gave an Idempotency-Key (derived
  /// from it, the same on every replica and every retry), so a broker that remembers ids (FIX's
  /// ClOrdID) answers a duplicate with the first order. Empty: the connector picks a fresh id.
  std::string broker_order_id;
};

/// MqlTradeResult.
struct TradeResult {
  Retcode retcode = Retcode::Error;
  Ticket deal = 0;
  Ticket order = 0;
  Ticket position = 0;  // the position opened, modified or closed (not in MT5's struct; saves a lookup)
  double volume = 0;
  double price = 0;
  double bid = 0;
  double ask = 0;
  std::string comment;  // the broker's words, e.g. "Not enough money"
};

/// AccountInfo.
struct AccountInfo {
  Login login = 0;
  std::string name;
  std::string server;
  std::string currency = "USD";
  int leverage = 100;
  double balance = 0;
  double credit = 0;
  double profit = 0;            // floating P&L of open positions, in the account currency
  double equity = 0;            // balance + credit + profit
  double margin = 0;            // used margin
  double margin_free = 0;       // equity - margin
  double margin_level = 0;      // equity / margin * 100; 0 when no margin is used
  double margin_so_call = 100;  // margin call level, %
  double margin_so_so = 50;     // stop-out level, %
  bool demo = true;
};

/// A position: what the contract calls a trade. Kept after it is closed (status closed),
/// as MT5's history reconstructs it from its deals.
struct Position {
  Ticket ticket = 0;  // POSITION_TICKET == POSITION_IDENTIFIER
  Login login = 0;
  std::string symbol;
  PositionType type = PositionType::Buy;
  double volume = 0;
  double price_open = 0;
  double price_current = 0;
  double sl = 0;
  double tp = 0;
  double profit = 0;  // account currency; realised once closed
  double swap = 0;
  double commission = 0;
  std::uint64_t magic = 0;
  std::string comment;
  DealReason reason = DealReason::Client;
  TimeMs time_msc = 0;         // opened
  TimeMs time_update_msc = 0;  // last change
  bool closed = false;
  std::optional<TimeMs> close_time_msc;
  std::optional<double> close_price;
  std::optional<DealReason> close_reason;
};

/// A pending or historical order.
struct Order {
  Ticket ticket = 0;
  Login login = 0;
  std::string symbol;
  OrderType type = OrderType::Buy;
  OrderState state = OrderState::Started;
  Filling type_filling = Filling::Fok;
  double volume_initial = 0;
  double volume_current = 0;
  double price_open = 0;  // the requested/trigger price
  double price_current = 0;
  double sl = 0;
  double tp = 0;
  std::uint64_t magic = 0;
  std::string comment;
  Ticket position_id = 0;  // the position it opened or closed
  TimeMs time_setup_msc = 0;
  TimeMs time_done_msc = 0;  // 0 while placed
};

struct Deal {
  Ticket ticket = 0;
  Login login = 0;
  Ticket order = 0;
  Ticket position_id = 0;
  std::string symbol;  // empty for balance deals
  DealType type = DealType::Buy;
  DealEntry entry = DealEntry::In;
  DealReason reason = DealReason::Client;
  double volume = 0;
  double price = 0;
  double profit = 0;  // account currency (Out deals, balance deals)
  double commission = 0;
  double swap = 0;
  std::uint64_t magic = 0;
  std::string comment;
  TimeMs time_msc = 0;
};

/// Where a page of deals ends: the next page starts after this deal in (time, ticket) order.
struct DealCursor {
  TimeMs time_msc = 0;
  Ticket ticket = 0;
  /// Deals are listed oldest first, by time then ticket: member order is that order.
  friend auto operator<=>(const DealCursor&, const DealCursor&) = default;
};

/// Everything one broker step changed, so it can be persisted (and streamed) as one unit:
/// the rows as they are after the step (upserts), never deltas.
struct Changes {
  std::vector<Position> positions;
  std::vector<Order> orders;
  std::vector<Deal> deals;
  std::vector<AccountInfo> accounts;
  /// The broker's step number (0: not numbered): of two Changes touching the same row, the
  /// one with the larger sequence holds the newer row (listener and order_send run in parallel).
  std::uint64_t sequence = 0;
  [[nodiscard]] bool empty() const { return positions.empty() && orders.empty() && deals.empty() && accounts.empty(); }
};

}  // namespace permiso::trading
