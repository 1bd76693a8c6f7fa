// See render.hpp.
#include "trading/handlers/render.hpp"

#include <cctype>
#include <cmath>

namespace permiso::trading::handlers {

Instruments::Instruments(const std::vector<SymbolInfo>& symbols) : list_(symbols) {
  for (std::size_t i = 0; i < list_.size(); ++i) index_.emplace(list_[i].name, i);
}

const SymbolInfo* Instruments::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &list_[it->second];
}

int Instruments::digits(std::string_view name) const {
  const auto* s = find(name);
  return s == nullptr ? 5 : s->digits;
}

namespace {

/// MT5 uses 0 for "no stop": the API says null.
void price_or_null(JsonWriter& w, std::string_view key, double v, int digits) {
  w.key(key);
  if (v == 0 || !std::isfinite(v))
    w.null();
  else
    w.number(v, digits);
}

}  // namespace

namespace {

void write_trade_members(JsonWriter& w, const Position& p, int digits) {
  w.member("id", static_cast<std::uint64_t>(p.ticket));
  w.member("symbol", p.symbol);
  w.member("volume", p.volume, kVolumeDigits);
  w.member("type", to_string(p.type));
  w.member("open_price", p.price_open, digits);
  w.member("current_price", p.price_current, digits);
  w.member("profit", p.profit, kMoneyDigits);
  price_or_null(w, "stop_loss", p.sl, digits);
  price_or_null(w, "take_profit", p.tp, digits);
  w.member_time("open_time", p.time_msc);
  w.key("close_time");
  if (p.close_time_msc)
    w.time(*p.close_time_msc);
  else
    w.null();
  w.member("close_price", p.close_price, digits);
  w.member("status", p.closed ? "closed" : "open");
  w.member("comment", p.comment);
  w.member("swap", p.swap, kMoneyDigits);
  w.member("commission", p.commission, kMoneyDigits);
  w.member("magic", static_cast<std::uint64_t>(p.magic));
  w.key("close_reason");
  if (p.close_reason)
    w.string(to_string(*p.close_reason));
  else
    w.null();
}

}  // namespace

void write_trade(JsonWriter& w, const Position& p, int digits) {
  w.begin_object();
  write_trade_members(w, p, digits);
  w.end_object();
}

std::string render_filled_trade(const Position& p, const TradeResult& result, double requested_volume, int digits) {
  std::string out;
  out.reserve(480);
  JsonWriter w(out);
  w.begin_object();
  write_trade_members(w, p, digits);
  w.member("requested_volume", requested_volume, kVolumeDigits);
  w.member("broker_retcode", static_cast<int>(result.retcode));
  w.member("broker_retcode_name", to_string(result.retcode));
  w.end_object();
  return out;
}

std::string render_trade(const Position& p, int digits) {
  std::string out;
  out.reserve(400);
  JsonWriter w(out);
  write_trade(w, p, digits);
  return out;
}

std::string render_trades(const std::vector<Position>& trades, const Instruments& instruments) {
  std::string out;
  out.reserve(2 + trades.size() * 400);
  JsonWriter w(out);
  w.begin_array();
  for (const auto& t : trades) write_trade(w, t, instruments.digits(t.symbol));
  w.end_array();
  return out;
}

std::string render_account(const AccountInfo& a) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.member("balance", a.balance, kMoneyDigits);
  w.member("equity", a.equity, kMoneyDigits);
  w.member("margin", a.margin, kMoneyDigits);
  w.member("free_margin", a.margin_free, kMoneyDigits);
  w.member("margin_level", a.margin_level, kMoneyDigits);
  w.member("currency", a.currency);
  w.member("leverage", a.leverage);
  w.member("profit", a.profit, kMoneyDigits);
  w.member("credit", a.credit, kMoneyDigits);
  w.member("login", static_cast<std::uint64_t>(a.login));
  w.member("name", a.name);
  w.member("server", a.server);
  w.member("margin_call_level", a.margin_so_call, kMoneyDigits);
  w.member("stop_out_level", a.margin_so_so, kMoneyDigits);
  w.member("demo", a.demo);
  w.end_object();
  return out;
}

void write_quote(JsonWriter& w, std::string_view symbol, const Tick& t, int digits) {
  w.begin_object();
  w.member("symbol", symbol);
  w.member("bid", t.bid, digits);
  w.member("ask", t.ask, digits);
  w.member("spread", t.ask - t.bid, digits);
  w.member("spread_points", static_cast<std::int64_t>(std::llround((t.ask - t.bid) * std::pow(10.0, digits))));
  w.member_time("last_update", t.time_msc);
  w.end_object();
}

std::string render_quote(std::string_view symbol, const Tick& t, int digits) {
  std::string out;
  out.reserve(160);
  JsonWriter w(out);
  write_quote(w, symbol, t, digits);
  return out;
}

void write_symbol(JsonWriter& w, const SymbolInfo& s) {
  w.begin_object();
  w.member("symbol", s.name);
  w.member("description", s.description);
  w.member("currency_base", s.currency_base);
  w.member("currency_profit", s.currency_profit);
  w.member("currency_margin", s.currency_margin);
  w.member("digits", s.digits);
  w.key("point").number(s.point, s.digits);
  w.key("contract_size").number(s.contract_size);
  w.key("volume_min").number(s.volume_min, kVolumeDigits);
  w.key("volume_max").number(s.volume_max, kVolumeDigits);
  w.key("volume_step").number(s.volume_step, kVolumeDigits);
  w.member("stops_level", s.stops_level);
  w.member("margin_mode", to_string(s.margin_mode));
  w.member("trade_allowed", s.trade_allowed);
  w.end_object();
}

std::string render_symbols(const std::vector<SymbolInfo>& symbols) {
  std::string out;
  JsonWriter w(out);
  w.begin_array();
  for (const auto& s : symbols) write_symbol(w, s);
  w.end_array();
  return out;
}

std::string render_rates(std::string_view symbol, Timeframe tf, const std::vector<Bar>& bars, int digits) {
  std::string out;
  out.reserve(64 + bars.size() * 140);
  JsonWriter w(out);
  w.begin_object();
  w.member("symbol", symbol);
  w.member("timeframe", to_string(tf));
  w.key("rates").begin_array();
  for (const auto& b : bars) {
    w.begin_object();
    w.member_time("time", b.time_msc);
    w.member("timestamp", static_cast<std::int64_t>(b.time_msc / 1000));
    w.member("open", b.open, digits);
    w.member("high", b.high, digits);
    w.member("low", b.low, digits);
    w.member("close", b.close, digits);
    w.member("tick_volume", static_cast<std::uint64_t>(b.tick_volume));
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return out;
}

void write_order(JsonWriter& w, const Order& o, int digits) {
  w.begin_object();
  w.member("id", static_cast<std::uint64_t>(o.ticket));
  w.member("symbol", o.symbol);
  w.member("type", to_string(o.type));
  w.member("state", to_string(o.state));
  w.member("filling", to_string(o.type_filling));
  w.member("volume", o.volume_initial, kVolumeDigits);
  w.member("volume_current", o.volume_current, kVolumeDigits);
  w.member("price", o.price_open, digits);
  w.member("current_price", o.price_current, digits);
  price_or_null(w, "stop_loss", o.sl, digits);
  price_or_null(w, "take_profit", o.tp, digits);
  w.member("magic", static_cast<std::uint64_t>(o.magic));
  w.member("comment", o.comment);
  w.key("position_id");
  if (o.position_id != 0)
    w.unsigned_integer(o.position_id);
  else
    w.null();
  w.member_time("time_setup", o.time_setup_msc);
  w.key("time_done");
  if (o.time_done_msc != 0)
    w.time(o.time_done_msc);
  else
    w.null();
  w.end_object();
}

std::string render_orders(const std::vector<Order>& orders, const Instruments& instruments) {
  std::string out;
  JsonWriter w(out);
  w.begin_array();
  for (const auto& o : orders) write_order(w, o, instruments.digits(o.symbol));
  w.end_array();
  return out;
}

void write_deal(JsonWriter& w, const Deal& d, int digits) {
  w.begin_object();
  w.member("id", static_cast<std::uint64_t>(d.ticket));
  w.key("order_id");
  if (d.order != 0)
    w.unsigned_integer(d.order);
  else
    w.null();
  w.key("position_id");
  if (d.position_id != 0)
    w.unsigned_integer(d.position_id);
  else
    w.null();
  w.member("symbol", d.symbol);
  w.member("type", to_string(d.type));
  w.member("entry", to_string(d.entry));
  w.member("reason", to_string(d.reason));
  w.member("volume", d.volume, kVolumeDigits);
  w.member("price", d.price, digits);
  w.member("profit", d.profit, kMoneyDigits);
  w.member("commission", d.commission, kMoneyDigits);
  w.member("swap", d.swap, kMoneyDigits);
  w.member("magic", static_cast<std::uint64_t>(d.magic));
  w.member("comment", d.comment);
  w.member_time("time", d.time_msc);
  w.end_object();
}

std::string render_deals(const std::vector<Deal>& deals, const Instruments& instruments) {
  std::string out;
  JsonWriter w(out);
  w.begin_array();
  for (const auto& d : deals) write_deal(w, d, d.symbol.empty() ? kMoneyDigits : instruments.digits(d.symbol));
  w.end_array();
  return out;
}

std::string retcode_reason(Retcode r) {
  std::string_view name = to_string(r);
  constexpr std::string_view kPrefix = "TRADE_RETCODE_";
  if (name.starts_with(kPrefix)) name.remove_prefix(kPrefix.size());
  std::string out(name);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

}  // namespace permiso::trading::handlers
