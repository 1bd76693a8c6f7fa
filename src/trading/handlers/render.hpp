// The JSON shapes of mt5-api's resources (contract: trade, account, market data) and of the
// MT5 objects it also serves (instruments, bars, orders, deals). Prices carry the
// instrument's digits, money two decimals, times ISO 8601 UTC.
#pragma once

#include "trading/bars.hpp"
#include "trading/handlers/json_writer.hpp"
#include "trading/model.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::trading::handlers {

inline constexpr int kMoneyDigits = 2;
inline constexpr int kVolumeDigits = 8;

/// Instrument specifications by name, read once at start-up (the hot path looks digits up
/// here instead of asking the broker).
class Instruments {
 public:
  Instruments() = default;
  explicit Instruments(const std::vector<SymbolInfo>& symbols);
  [[nodiscard]] const SymbolInfo* find(std::string_view name) const;
  /// The symbol's price digits; 5 when unknown.
  [[nodiscard]] int digits(std::string_view name) const;
  [[nodiscard]] const std::vector<SymbolInfo>& all() const { return list_; }

 private:
  std::vector<SymbolInfo> list_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

/// {id, symbol, volume, type, open_price, current_price, profit, stop_loss, take_profit,
///  open_time, close_time, close_price, status, comment, …}: an MT5 position.
void write_trade(JsonWriter& w, const Position& p, int digits);
std::string render_trade(const Position& p, int digits);
/// POST /trades' answer for an order that dealt: the trade (its volume the filled one), and
/// the volume asked for with the broker's retcode, so a partial fill (TRADE_RETCODE_DONE_PARTIAL,
/// volume < requested_volume) is told from a whole one.
std::string render_filled_trade(const Position& p, const TradeResult& result, double requested_volume, int digits);
/// A JSON array of trades.
std::string render_trades(const std::vector<Position>& trades, const Instruments& instruments);

/// {balance, equity, margin, free_margin, margin_level, currency, leverage, …}.
std::string render_account(const AccountInfo& a);
/// {symbol, bid, ask, spread, last_update, …}; spread as a price difference.
void write_quote(JsonWriter& w, std::string_view symbol, const Tick& t, int digits);
std::string render_quote(std::string_view symbol, const Tick& t, int digits);
/// The instrument's specification.
void write_symbol(JsonWriter& w, const SymbolInfo& s);
std::string render_symbols(const std::vector<SymbolInfo>& symbols);
/// {symbol, timeframe, rates: [{time, timestamp, open, high, low, close, tick_volume}]}.
std::string render_rates(std::string_view symbol, Timeframe tf, const std::vector<Bar>& bars, int digits);
void write_order(JsonWriter& w, const Order& o, int digits);
std::string render_orders(const std::vector<Order>& orders, const Instruments& instruments);
void write_deal(JsonWriter& w, const Deal& d, int digits);
std::string render_deals(const std::vector<Deal>& deals, const Instruments& instruments);

/// "buy"/"sell" for positions; "TRADE_RETCODE_NO_MONEY" → "no_money" for metric labels.
std::string retcode_reason(Retcode r);

}  // namespace permiso::trading::handlers
