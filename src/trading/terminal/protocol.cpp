// See protocol.hpp. Encoders write every field of docs/brokers.md's "Objects" table; decoders
// read every one of them through FieldReader and refuse the object if any is missing or wrong.
#include "trading/terminal/protocol.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>

namespace permiso::trading::terminal {

namespace json = boost::json;

namespace {

/// The enumerations travel as MT5's integers; the model's values already are MT5's.
template <class E>
int wire(E e) {
  return static_cast<int>(e);
}

// ---- the values each enumeration may take on the wire ----
bool is_known(OrderType v) {
  return wire(v) >= 0 && wire(v) <= wire(OrderType::SellStop);
}
bool is_known(Filling v) {
  return wire(v) >= 0 && wire(v) <= wire(Filling::Return);
}
bool is_known(PositionType v) {
  return v == PositionType::Buy || v == PositionType::Sell;
}
bool is_known(OrderState v) {
  return wire(v) >= 0 && wire(v) <= wire(OrderState::Expired);
}
bool is_known(DealType v) {
  return wire(v) >= 0 && wire(v) <= wire(DealType::Balance);
}
bool is_known(DealEntry v) {
  return v == DealEntry::In || v == DealEntry::Out;
}
bool is_known(DealReason v) {
  return wire(v) >= 0 && wire(v) <= wire(DealReason::StopOut);
}
bool is_known(MarginMode v) {
  return is_margin_mode(wire(v));
}
bool is_known(TradeAction v) {
  static constexpr std::array kValues = {TradeAction::Deal,   TradeAction::Pending, TradeAction::SlTp,
                                         TradeAction::Modify, TradeAction::Remove,  TradeAction::CloseBy};
  return std::find(kValues.begin(), kValues.end(), v) != kValues.end();
}
/// Every TRADE_RETCODE_* MT5 has, not only those the model names: a real terminal answers
/// e.g. 10027 (autotrading disabled in the client), and refusing the whole reply for it would
/// hide the broker's answer. refusal_of() reads an unnamed one as Rejected.
bool is_known(Retcode v) {
  const int r = wire(v);
  return r == 10004 || (r >= 10006 && r <= 10036) || (r >= 10038 && r <= 10046);
}

std::string_view accounts_mode(bool multi) {
  return multi ? "multi" : "single";
}

template <class T>
std::optional<T> if_ok(const FieldReader& in, T value) {
  return in.ok() ? std::optional<T>(std::move(value)) : std::nullopt;
}

/// Whether `row[key]` is an integer that is not one of `E`'s values: an MT5 value the model
/// does not have (a commission deal, a stop-limit order), as opposed to a malformed row.
template <class E>
bool unmodelled(const json::value& row, std::string_view key) {
  const json::object* o = row.if_object();
  const json::value* v = o == nullptr ? nullptr : o->if_contains(key);
  if (v == nullptr || !v->is_int64()) return false;
  const std::int64_t n = v->get_int64();
  return n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max() ||
         !is_known(static_cast<E>(static_cast<int>(n)));
}

/// Rows of kinds the model leaves out: they are not trades (credit, commission, fee deals;
/// netting reversals; stop-limit and close-by orders and requests in flight), and are skipped.
bool skipped_row(const Deal* /*kind*/, const json::value& row) {
  return unmodelled<DealType>(row, "type") || unmodelled<DealEntry>(row, "entry");
}
bool skipped_row(const Order* /*kind*/, const json::value& row) {
  return unmodelled<OrderType>(row, "type") || unmodelled<OrderState>(row, "state") ||
         unmodelled<Filling>(row, "type_filling");
}
template <class T>
bool skipped_row(const T* /*kind*/, const json::value& /*row*/) {
  return false;
}

/// Reads an array of rows with `decode`. A row of a kind the model leaves out is skipped;
/// any other bad row makes the whole array bad (a half-read step is a state the sender never had).
template <class T, class Decode>
void read_rows(FieldReader& in, std::string_view key, std::vector<T>& out, Decode decode) {
  const json::array* rows = in.array(key);
  if (rows == nullptr) return;
  out.reserve(rows->size());
  for (const auto& row : *rows) {
    auto decoded = decode(row);
    if (decoded) {
      out.push_back(std::move(*decoded));
    } else if (!skipped_row(static_cast<const T*>(nullptr), row)) {
      return in.fail();
    }
  }
}

/// Parses text that must be one JSON object; nullopt otherwise (never throws).
std::optional<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

/// `v` is the protocol's version, as an integer.
bool speaks_our_version(const json::object& o) {
  const json::value* v = o.if_contains("v");
  return v != nullptr && v->is_int64() && v->get_int64() == kProtocolVersion;
}

}  // namespace

// ---- FieldReader ----

bool FieldReader::present(std::string_view key) const {
  if (object_ == nullptr) return false;
  const json::value* v = object_->if_contains(key);
  return v != nullptr && !v->is_null();
}

const json::value* FieldReader::find(std::string_view key) {
  const json::value* v = object_ == nullptr ? nullptr : object_->if_contains(key);
  if (v == nullptr) ok_ = false;
  return v;
}

void FieldReader::read(std::string_view key, std::string& out) {
  const json::value* v = find(key);
  if (v == nullptr) return;
  if (!v->is_string()) return fail();
  out.assign(v->get_string().begin(), v->get_string().end());
}

void FieldReader::read(std::string_view key, bool& out) {
  const json::value* v = find(key);
  if (v == nullptr) return;
  if (!v->is_bool()) return fail();
  out = v->get_bool();
}

void FieldReader::read(std::string_view key, double& out) {
  const json::value* v = find(key);
  if (v == nullptr) return;
  if (v->is_double()) {
    // A number beyond double's range (1e400) parses as infinity, which JSON cannot carry back
    // (Boost.JSON writes `Infinity`, which no parser takes): out of range, refused.
    if (!std::isfinite(v->get_double())) return fail();
    out = v->get_double();
  } else if (v->is_int64()) {
    out = static_cast<double>(v->get_int64());
  } else if (v->is_uint64()) {
    out = static_cast<double>(v->get_uint64());
  } else {
    fail();
  }
}

void FieldReader::read(std::string_view key, std::int64_t& out) {
  const json::value* v = find(key);
  if (v == nullptr) return;
  if (v->is_int64()) {
    out = v->get_int64();
  } else if (v->is_uint64() &&
             v->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    out = static_cast<std::int64_t>(v->get_uint64());
  } else {
    fail();
  }
}

void FieldReader::read(std::string_view key, std::uint64_t& out) {
  const json::value* v = find(key);
  if (v == nullptr) return;
  if (v->is_uint64()) {
    out = v->get_uint64();
  } else if (v->is_int64() && v->get_int64() >= 0) {
    out = static_cast<std::uint64_t>(v->get_int64());
  } else {
    fail();
  }
}

void FieldReader::read(std::string_view key, int& out) {
  std::int64_t wide = 0;
  read(key, wide);
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) return fail();
  out = static_cast<int>(wide);
}

template <class E>
requires std::is_enum_v<E>
void FieldReader::read(std::string_view key, E& out) {
  int raw = 0;
  read(key, raw);
  const auto value = static_cast<E>(raw);
  if (!is_known(value)) return fail();
  out = value;
}

template void FieldReader::read(std::string_view, Retcode&);
template void FieldReader::read(std::string_view, TradeAction&);
template void FieldReader::read(std::string_view, OrderType&);
template void FieldReader::read(std::string_view, Filling&);
template void FieldReader::read(std::string_view, PositionType&);
template void FieldReader::read(std::string_view, OrderState&);
template void FieldReader::read(std::string_view, DealType&);
template void FieldReader::read(std::string_view, DealEntry&);
template void FieldReader::read(std::string_view, DealReason&);
template void FieldReader::read(std::string_view, MarginMode&);

const json::array* FieldReader::array(std::string_view key) {
  const json::value* v = find(key);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    fail();
    return nullptr;
  }
  return &v->get_array();
}

// ---- error codes and topics ----

namespace {
constexpr std::array<std::pair<ErrorCode, std::string_view>, 5> kErrorCodes = {{
    {ErrorCode::BadRequest, "bad_request"},
    {ErrorCode::Unauthorized, "unauthorized"},
    {ErrorCode::UnknownCommand, "unknown_command"},
    {ErrorCode::NotFound, "not_found"},
    {ErrorCode::Unavailable, "unavailable"},
}};
constexpr std::array<std::pair<EventTopic, std::string_view>, 3> kTopics = {{
    {EventTopic::Tick, "tick"},
    {EventTopic::Trade, "trade"},
    {EventTopic::Heartbeat, "heartbeat"},
}};

template <class E, std::size_t N>
std::string_view name_in(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [value, name] : table) {
    if (value == e) return name;
  }
  return "unknown";
}

template <class E, std::size_t N>
std::optional<E> value_in(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view s) {
  for (const auto& [value, name] : table) {
    if (name == s) return value;
  }
  return std::nullopt;
}
}  // namespace

std::string_view to_string(ErrorCode e) {
  return name_in(kErrorCodes, e);
}
std::optional<ErrorCode> error_code_from_string(std::string_view s) {
  return value_in(kErrorCodes, s);
}
std::string_view to_string(EventTopic t) {
  return name_in(kTopics, t);
}

// ---- encoders ----

json::object to_json(const AccountInfo& a) {
  return {{"login", a.login},
          {"name", a.name},
          {"server", a.server},
          {"currency", a.currency},
          {"leverage", a.leverage},
          {"balance", a.balance},
          {"credit", a.credit},
          {"profit", a.profit},
          {"equity", a.equity},
          {"margin", a.margin},
          {"margin_free", a.margin_free},
          {"margin_level", a.margin_level},
          {"margin_so_call", a.margin_so_call},
          {"margin_so_so", a.margin_so_so},
          {"demo", a.demo}};
}

json::object to_json(const SymbolInfo& s) {
  return {{"name", s.name},
          {"description", s.description},
          {"currency_base", s.currency_base},
          {"currency_profit", s.currency_profit},
          {"currency_margin", s.currency_margin},
          {"digits", s.digits},
          {"point", s.point},
          {"contract_size", s.contract_size},
          {"volume_min", s.volume_min},
          {"volume_max", s.volume_max},
          {"volume_step", s.volume_step},
          {"stops_level", s.stops_level},
          {"calc_mode", wire(s.margin_mode)},
          {"trade_allowed", s.trade_allowed}};
}

json::object to_json(const Tick& t) {
  return {{"time_msc", t.time_msc}, {"bid", t.bid}, {"ask", t.ask}, {"last", t.last}};
}

json::object to_json(const Bar& b) {
  return {{"time_msc", b.time_msc}, {"open", b.open},   {"high", b.high},
          {"low", b.low},           {"close", b.close}, {"tick_volume", b.tick_volume}};
}

json::object to_json(const TradeResult& r) {
  return {{"retcode", wire(r.retcode)}, {"deal", r.deal},   {"order", r.order}, {"position", r.position},
          {"volume", r.volume},         {"price", r.price}, {"bid", r.bid},     {"ask", r.ask},
          {"comment", r.comment}};
}

json::object to_json(const Position& p) {
  json::object o = {{"ticket", p.ticket},
                    {"login", p.login},
                    {"symbol", p.symbol},
                    {"type", wire(p.type)},
                    {"volume", p.volume},
                    {"price_open", p.price_open},
                    {"price_current", p.price_current},
                    {"sl", p.sl},
                    {"tp", p.tp},
                    {"profit", p.profit},
                    {"swap", p.swap},
                    {"commission", p.commission},
                    {"magic", p.magic},
                    {"comment", p.comment},
                    {"reason", wire(p.reason)},
                    {"time_msc", p.time_msc},
                    {"time_update_msc", p.time_update_msc},
                    {"closed", p.closed}};
  // Only once closed (docs/brokers.md); an open position has none of them.
  if (p.close_time_msc) o["close_time_msc"] = *p.close_time_msc;
  if (p.close_price) o["close_price"] = *p.close_price;
  if (p.close_reason) o["close_reason"] = wire(*p.close_reason);
  return o;
}

json::object to_json(const Order& o) {
  return {{"ticket", o.ticket},
          {"login", o.login},
          {"symbol", o.symbol},
          {"type", wire(o.type)},
          {"state", wire(o.state)},
          {"type_filling", wire(o.type_filling)},
          {"volume_initial", o.volume_initial},
          {"volume_current", o.volume_current},
          {"price_open", o.price_open},
          {"price_current", o.price_current},
          {"sl", o.sl},
          {"tp", o.tp},
          {"magic", o.magic},
          {"comment", o.comment},
          {"position_id", o.position_id},
          {"time_setup_msc", o.time_setup_msc},
          {"time_done_msc", o.time_done_msc}};
}

json::object to_json(const Deal& d) {
  return {{"ticket", d.ticket}, {"login", d.login},     {"order", d.order},       {"position_id", d.position_id},
          {"symbol", d.symbol}, {"type", wire(d.type)}, {"entry", wire(d.entry)}, {"reason", wire(d.reason)},
          {"volume", d.volume}, {"price", d.price},     {"profit", d.profit},     {"commission", d.commission},
          {"swap", d.swap},     {"magic", d.magic},     {"comment", d.comment},   {"time_msc", d.time_msc}};
}

json::object to_json(const Changes& c) {
  return {{"positions", to_json_array(c.positions)},
          {"orders", to_json_array(c.orders)},
          {"deals", to_json_array(c.deals)},
          {"accounts", to_json_array(c.accounts)},
          {"sequence", c.sequence}};
}

json::object to_json(const TerminalInfo& t) {
  json::object out{{"login", t.login},
                   {"server", t.server},
                   {"company", t.company},
                   {"name", t.name},
                   {"build", t.build},
                   {"connected", t.connected},
                   {"trade_allowed", t.trade_allowed},
                   {"accounts", accounts_mode(t.multi_account)}};
  if (t.server_utc_offset_s) out["server_utc_offset_s"] = *t.server_utc_offset_s;
  return out;
}

void add_request_fields(json::object& command, const TradeRequest& r) {
  command["action"] = wire(r.action);
  command["magic"] = r.magic;
  command["order"] = r.order;
  command["symbol"] = r.symbol;
  command["volume"] = r.volume;
  command["price"] = r.price;
  command["sl"] = r.sl;
  command["tp"] = r.tp;
  command["deviation"] = r.deviation;
  command["type"] = wire(r.type);
  command["type_filling"] = wire(r.type_filling);
  command["comment"] = r.comment;
  command["position"] = r.position;
}

// ---- decoders ----

std::optional<AccountInfo> account_from_json(const json::value& v) {
  FieldReader in(v);
  AccountInfo a;
  in.read("login", a.login);
  in.read("name", a.name);
  in.read("server", a.server);
  in.read("currency", a.currency);
  in.read("leverage", a.leverage);
  in.read("balance", a.balance);
  in.read("credit", a.credit);
  in.read("profit", a.profit);
  in.read("equity", a.equity);
  in.read("margin", a.margin);
  in.read("margin_free", a.margin_free);
  in.read("margin_level", a.margin_level);
  in.read("margin_so_call", a.margin_so_call);
  in.read("margin_so_so", a.margin_so_so);
  in.read("demo", a.demo);
  return if_ok(in, std::move(a));
}

std::optional<SymbolInfo> symbol_from_json(const json::value& v) {
  FieldReader in(v);
  SymbolInfo s;
  in.read("name", s.name);
  in.read("description", s.description);
  in.read("currency_base", s.currency_base);
  in.read("currency_profit", s.currency_profit);
  in.read("currency_margin", s.currency_margin);
  in.read("digits", s.digits);
  in.read("point", s.point);
  in.read("contract_size", s.contract_size);
  in.read("volume_min", s.volume_min);
  in.read("volume_max", s.volume_max);
  in.read("volume_step", s.volume_step);
  in.read("stops_level", s.stops_level);
  in.read("calc_mode", s.margin_mode);
  in.read("trade_allowed", s.trade_allowed);
  return if_ok(in, std::move(s));
}

std::optional<Tick> tick_from_json(const json::value& v) {
  FieldReader in(v);
  Tick t;
  in.read("time_msc", t.time_msc);
  in.read("bid", t.bid);
  in.read("ask", t.ask);
  in.read("last", t.last);
  return if_ok(in, t);
}

std::optional<Bar> bar_from_json(const json::value& v) {
  FieldReader in(v);
  Bar b;
  in.read("time_msc", b.time_msc);
  in.read("open", b.open);
  in.read("high", b.high);
  in.read("low", b.low);
  in.read("close", b.close);
  in.read("tick_volume", b.tick_volume);
  return if_ok(in, b);
}

std::optional<TradeResult> trade_result_from_json(const json::value& v) {
  FieldReader in(v);
  TradeResult r;
  in.read("retcode", r.retcode);
  in.read("deal", r.deal);
  in.read("order", r.order);
  in.read("position", r.position);
  in.read("volume", r.volume);
  in.read("price", r.price);
  in.read("bid", r.bid);
  in.read("ask", r.ask);
  in.read("comment", r.comment);
  return if_ok(in, std::move(r));
}

std::optional<Position> position_from_json(const json::value& v) {
  FieldReader in(v);
  Position p;
  in.read("ticket", p.ticket);
  in.read("login", p.login);
  in.read("symbol", p.symbol);
  in.read("type", p.type);
  in.read("volume", p.volume);
  in.read("price_open", p.price_open);
  in.read("price_current", p.price_current);
  in.read("sl", p.sl);
  in.read("tp", p.tp);
  in.read("profit", p.profit);
  in.read("swap", p.swap);
  in.read("commission", p.commission);
  in.read("magic", p.magic);
  in.read("comment", p.comment);
  in.read("reason", p.reason);
  in.read("time_msc", p.time_msc);
  in.read("time_update_msc", p.time_update_msc);
  in.read("closed", p.closed);
  in.read("close_time_msc", p.close_time_msc);
  in.read("close_price", p.close_price);
  in.read("close_reason", p.close_reason);
  return if_ok(in, std::move(p));
}

std::optional<Order> order_from_json(const json::value& v) {
  FieldReader in(v);
  Order o;
  in.read("ticket", o.ticket);
  in.read("login", o.login);
  in.read("symbol", o.symbol);
  in.read("type", o.type);
  in.read("state", o.state);
  in.read("type_filling", o.type_filling);
  in.read("volume_initial", o.volume_initial);
  in.read("volume_current", o.volume_current);
  in.read("price_open", o.price_open);
  in.read("price_current", o.price_current);
  in.read("sl", o.sl);
  in.read("tp", o.tp);
  in.read("magic", o.magic);
  in.read("comment", o.comment);
  in.read("position_id", o.position_id);
  in.read("time_setup_msc", o.time_setup_msc);
  in.read("time_done_msc", o.time_done_msc);
  return if_ok(in, std::move(o));
}

std::optional<Deal> deal_from_json(const json::value& v) {
  FieldReader in(v);
  Deal d;
  in.read("ticket", d.ticket);
  in.read("login", d.login);
  in.read("order", d.order);
  in.read("position_id", d.position_id);
  in.read("symbol", d.symbol);
  in.read("type", d.type);
  in.read("entry", d.entry);
  in.read("reason", d.reason);
  in.read("volume", d.volume);
  in.read("price", d.price);
  in.read("profit", d.profit);
  in.read("commission", d.commission);
  in.read("swap", d.swap);
  in.read("magic", d.magic);
  in.read("comment", d.comment);
  in.read("time_msc", d.time_msc);
  return if_ok(in, std::move(d));
}

namespace {

template <class T, class Decode>
std::optional<std::vector<T>> rows(const json::object& reply, std::string_view key, Decode decode) {
  FieldReader in(reply);
  std::vector<T> out;
  read_rows(in, key, out, decode);
  return if_ok(in, std::move(out));
}

}  // namespace

std::optional<std::vector<SymbolInfo>> symbol_rows(const json::object& reply, std::string_view key) {
  return rows<SymbolInfo>(reply, key, symbol_from_json);
}
std::optional<std::vector<Position>> position_rows(const json::object& reply, std::string_view key) {
  return rows<Position>(reply, key, position_from_json);
}
std::optional<std::vector<Order>> order_rows(const json::object& reply, std::string_view key) {
  return rows<Order>(reply, key, order_from_json);
}
std::optional<std::vector<Deal>> deal_rows(const json::object& reply, std::string_view key) {
  return rows<Deal>(reply, key, deal_from_json);
}
std::optional<std::vector<Bar>> bar_rows(const json::object& reply, std::string_view key) {
  return rows<Bar>(reply, key, bar_from_json);
}

std::optional<Changes> changes_from_json(const json::value& v) {
  FieldReader in(v);
  Changes c;
  read_rows(in, "positions", c.positions, position_from_json);
  read_rows(in, "orders", c.orders, order_from_json);
  read_rows(in, "deals", c.deals, deal_from_json);
  read_rows(in, "accounts", c.accounts, account_from_json);
  in.read("sequence", c.sequence);
  return if_ok(in, std::move(c));
}

std::optional<TerminalInfo> terminal_from_json(const json::value& v) {
  FieldReader in(v);
  TerminalInfo t;
  std::string accounts;
  in.read("login", t.login);
  in.read("server", t.server);
  in.read("company", t.company);
  in.read("name", t.name);
  in.read("build", t.build);
  in.read("connected", t.connected);
  in.read("trade_allowed", t.trade_allowed);
  in.read("accounts", accounts);
  in.read("server_utc_offset_s", t.server_utc_offset_s);
  if (accounts != accounts_mode(true) && accounts != accounts_mode(false)) in.fail();
  t.multi_account = accounts == accounts_mode(true);
  return if_ok(in, std::move(t));
}

std::optional<TradeRequest> request_from_json(const json::object& command) {
  FieldReader in(command);
  TradeRequest r;
  in.read("action", r.action);
  in.read("magic", r.magic);
  in.read("order", r.order);
  in.read("symbol", r.symbol);
  in.read("volume", r.volume);
  in.read("price", r.price);
  in.read("sl", r.sl);
  in.read("tp", r.tp);
  in.read("deviation", r.deviation);
  in.read("type", r.type);
  in.read("type_filling", r.type_filling);
  in.read("comment", r.comment);
  in.read("position", r.position);
  return if_ok(in, std::move(r));
}

// ---- messages ----

json::object command(std::uint64_t id, std::string_view cmd, std::string_view token) {
  return {{"v", kProtocolVersion}, {"id", id}, {"cmd", cmd}, {"token", token}};
}

json::object ok_reply(std::uint64_t id) {
  return {{"v", kProtocolVersion}, {"id", id}, {"ok", true}};
}

json::object error_reply(std::uint64_t id, ErrorCode code, std::string_view message) {
  return {{"v", kProtocolVersion}, {"id", id}, {"ok", false}, {"error", to_string(code)}, {"message", message}};
}

std::optional<Reply> parse_reply(std::string_view text) {
  auto body = parse_object(text);
  if (!body || !speaks_our_version(*body)) return std::nullopt;
  FieldReader in(*body);
  Reply reply;
  in.read("id", reply.id);
  in.read("ok", reply.ok);
  if (!in.ok()) return std::nullopt;
  if (!reply.ok) {
    // An error code or message that is missing or unknown still leaves a readable refusal.
    const json::value* error = body->if_contains("error");
    if (error != nullptr && error->is_string()) reply.error = error_code_from_string(error->get_string());
    const json::value* message = body->if_contains("message");
    if (message != nullptr && message->is_string()) reply.message = message->get_string();
  }
  reply.body = std::move(*body);
  return reply;
}

std::optional<Command> parse_command(std::string_view text) {
  auto body = parse_object(text);
  if (!body || !speaks_our_version(*body)) return std::nullopt;
  FieldReader in(*body);
  Command command;
  in.read("id", command.id);
  in.read("cmd", command.cmd);
  if (!in.ok()) return std::nullopt;
  // A missing or malformed token is a wrong token (unauthorized), not a malformed command.
  const json::value* token = body->if_contains("token");
  if (token != nullptr && token->is_string()) command.token = token->get_string();
  command.body = std::move(*body);
  return command;
}

std::string event_frame(EventTopic topic, const json::object& body) {
  std::string frame(to_string(topic));
  frame += ' ';
  frame += json::serialize(body);
  return frame;
}

std::optional<Event> parse_event(std::string_view frame) {
  const auto space = frame.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto topic = value_in(kTopics, frame.substr(0, space));
  if (!topic) return std::nullopt;
  auto body = parse_object(frame.substr(space + 1));
  if (!body) return std::nullopt;
  return Event{*topic, std::move(*body)};
}

}  // namespace permiso::trading::terminal
