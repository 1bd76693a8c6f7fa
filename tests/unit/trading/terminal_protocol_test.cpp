// The PermisoBridge protocol's messages (docs/brokers.md): every object survives a round trip
// through JSON text; every decoder refuses a missing field, a wrong type and an enumeration
// value MT5 does not have; replies, commands and events parse and refuse garbage.
#include "trading/terminal/protocol.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>

namespace permiso::trading::terminal {
namespace {

namespace json = boost::json;

// ---- samples: every field away from its default, so a dropped field shows ----

AccountInfo sample_account() {
  AccountInfo a;
  a.login = 5'000'001;
  a.name = "Ada";
  a.server = "Permiso-Demo";
  a.currency = "EUR";
  a.leverage = 500;
  a.balance = 10'000.5;
  a.credit = 1.25;
  a.profit = -12.75;
  a.equity = 9'989;
  a.margin = 200.5;
  a.margin_free = 9'788.5;
  a.margin_level = 4'982.04;
  a.margin_so_call = 80;
  a.margin_so_so = 40;
  a.demo = false;
  return a;
}

SymbolInfo sample_symbol() {
  SymbolInfo s;
  s.name = "XAUUSD";
  s.description = "Gold vs US Dollar";
  s.currency_base = "XAU";
  s.currency_profit = "USD";
  s.currency_margin = "XAU";
  s.digits = 2;
  s.point = 0.01;
  s.contract_size = 100;
  s.volume_min = 0.1;
  s.volume_max = 50;
  s.volume_step = 0.1;
  s.stops_level = 15;
  s.margin_mode = MarginMode::CfdLeverage;
  s.trade_allowed = false;
  return s;
}

Tick sample_tick() {
  return {1'700'000'000'123, 1.08512, 1.08527, 1.0852};
}

TradeResult sample_result() {
  TradeResult r;
  r.retcode = Retcode::Done;
  r.deal = 11;
  r.order = 10;
  r.position = 10;
  r.volume = 0.3;
  r.price = 1.08527;
  r.bid = 1.08512;
  r.ask = 1.08527;
  r.comment = "Request executed";
  return r;
}

Position sample_position(bool closed) {
  Position p;
  p.ticket = 10;
  p.login = 5'000'001;
  p.symbol = "EURUSD";
  p.type = PositionType::Sell;
  p.volume = 0.3;
  p.price_open = 1.08512;
  p.price_current = 1.08401;
  p.sl = 1.09;
  p.tp = 1.07;
  p.profit = 33.3;
  p.swap = -0.5;
  p.commission = -2.1;
  p.magic = 77;
  p.comment = "hedge";
  p.reason = DealReason::Expert;
  p.time_msc = 1'700'000'000'000;
  p.time_update_msc = 1'700'000'050'000;
  p.closed = closed;
  if (closed) {
    p.close_time_msc = 1'700'000'060'000;
    p.close_price = 1.09;
    p.close_reason = DealReason::Sl;
  }
  return p;
}

Order sample_order() {
  Order o;
  o.ticket = 12;
  o.login = 5'000'001;
  o.symbol = "GBPUSD";
  o.type = OrderType::SellStop;
  o.state = OrderState::Placed;
  o.type_filling = Filling::Return;
  o.volume_initial = 1.5;
  o.volume_current = 1.5;
  o.price_open = 1.25;
  o.price_current = 1.2612;
  o.sl = 1.27;
  o.tp = 1.2;
  o.magic = 9;
  o.comment = "breakout";
  o.position_id = 0;
  o.time_setup_msc = 1'700'000'000'500;
  o.time_done_msc = 0;
  return o;
}

Deal sample_deal() {
  Deal d;
  d.ticket = 13;
  d.login = 5'000'001;
  d.order = 14;
  d.position_id = 10;
  d.symbol = "EURUSD";
  d.type = DealType::Buy;
  d.entry = DealEntry::Out;
  d.reason = DealReason::Sl;
  d.volume = 0.3;
  d.price = 1.09;
  d.profit = -146.4;
  d.commission = -2.1;
  d.swap = -0.5;
  d.magic = 77;
  d.comment = "[sl 1.09000]";
  d.time_msc = 1'700'000'060'000;
  return d;
}

Changes sample_changes() {
  Changes c;
  c.positions = {sample_position(true), sample_position(false)};
  c.orders = {sample_order()};
  c.deals = {sample_deal()};
  c.accounts = {sample_account()};
  c.sequence = 42;
  return c;
}

TerminalInfo sample_terminal() {
  TerminalInfo t;
  t.login = 5'000'001;
  t.server = "Broker-Live";
  t.company = "A Broker Ltd";
  t.name = "MetaTrader 5";
  t.build = 4410;
  t.connected = true;
  t.trade_allowed = true;
  t.multi_account = false;
  t.server_utc_offset_s = 7200;
  return t;
}

TradeRequest sample_request() {
  TradeRequest r;
  r.action = TradeAction::Pending;
  r.magic = 5;
  r.order = 0;
  r.symbol = "EURUSD";
  r.volume = 0.2;
  r.price = 1.07;
  r.sl = 1.06;
  r.tp = 1.1;
  r.deviation = 20;
  r.type = OrderType::BuyLimit;
  r.type_filling = Filling::Ioc;
  r.comment = "dip";
  r.position = 0;
  return r;
}

json::object request_object(const TradeRequest& r) {
  json::object o;
  add_request_fields(o, r);
  return o;
}

/// Through JSON text and back, as on the wire.
json::value through_text(const json::object& o) {
  return json::parse(json::serialize(o));
}

/// A value of another JSON kind than `v`.
json::value of_another_kind(const json::value& v) {
  return v.is_string() ? json::value(1) : json::value("x");
}

/// The decoder takes `encoded` whole, and refuses it without any one field (but `optional`
/// ones) or with any one field of another JSON kind.
template <class Decode>
void expect_every_field_checked(const json::object& encoded, Decode decode,
                                const std::set<std::string>& optional = {}) {
  ASSERT_TRUE(decode(json::value(encoded)).has_value());
  for (const auto& [key, value] : encoded) {
    const std::string name(key);
    if (optional.count(name) != 0) continue;
    json::object missing = encoded;
    missing.erase(key);
    EXPECT_FALSE(decode(json::value(missing)).has_value()) << "without " << name;
    json::object wrong = encoded;
    wrong[key] = of_another_kind(value);
    EXPECT_FALSE(decode(json::value(wrong)).has_value()) << name << " of another kind";
  }
}

/// The decoder refuses `field` set to `value`.
template <class Decode>
void expect_refused_with(const json::object& encoded, Decode decode, std::string_view field, json::value value) {
  json::object bad = encoded;
  bad[field] = std::move(value);
  EXPECT_FALSE(decode(json::value(bad)).has_value()) << field << " = " << json::serialize(bad[field]);
}

// ---- round trips ----

TEST(TerminalProtocol, AccountRoundTrips) {
  const auto a = sample_account();
  auto back = account_from_json(through_text(to_json(a)));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(a));
  EXPECT_EQ(back->login, 5'000'001U);
  EXPECT_FALSE(back->demo);
}

TEST(TerminalProtocol, SymbolRoundTrips) {
  const auto s = sample_symbol();
  auto back = symbol_from_json(through_text(to_json(s)));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(s));
  EXPECT_EQ(back->margin_mode, MarginMode::CfdLeverage);
  EXPECT_EQ(to_json(s).at("calc_mode"), json::value(4));
}

TEST(TerminalProtocol, TickRoundTrips) {
  auto back = tick_from_json(through_text(to_json(sample_tick())));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->time_msc, 1'700'000'000'123);
  EXPECT_DOUBLE_EQ(back->bid, 1.08512);
  EXPECT_DOUBLE_EQ(back->ask, 1.08527);
  EXPECT_DOUBLE_EQ(back->last, 1.0852);
}

TEST(TerminalProtocol, TradeResultRoundTrips) {
  const auto r = sample_result();
  auto back = trade_result_from_json(through_text(to_json(r)));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(r));
  EXPECT_EQ(back->retcode, Retcode::Done);
  EXPECT_EQ(to_json(r).at("retcode"), json::value(10009));
}

TEST(TerminalProtocol, OpenPositionRoundTripsWithoutCloseFields) {
  const auto p = sample_position(false);
  const auto encoded = to_json(p);
  EXPECT_FALSE(encoded.contains("close_time_msc"));
  EXPECT_FALSE(encoded.contains("close_price"));
  EXPECT_FALSE(encoded.contains("close_reason"));
  auto back = position_from_json(through_text(encoded));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), encoded);
  EXPECT_FALSE(back->closed);
  EXPECT_FALSE(back->close_time_msc);
}

TEST(TerminalProtocol, ClosedPositionRoundTripsWithCloseFields) {
  const auto p = sample_position(true);
  auto back = position_from_json(through_text(to_json(p)));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(p));
  ASSERT_TRUE(back->close_reason);
  EXPECT_EQ(*back->close_reason, DealReason::Sl);
  EXPECT_EQ(back->close_time_msc, 1'700'000'060'000);
  EXPECT_EQ(back->close_price, 1.09);
}

TEST(TerminalProtocol, PositionCloseFieldsMayBeNull) {
  auto encoded = to_json(sample_position(false));
  encoded["close_time_msc"] = nullptr;
  encoded["close_price"] = nullptr;
  encoded["close_reason"] = nullptr;
  auto back = position_from_json(json::value(encoded));
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->close_time_msc || back->close_price || back->close_reason);
}

TEST(TerminalProtocol, OrderRoundTrips) {
  const auto o = sample_order();
  auto back = order_from_json(through_text(to_json(o)));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(o));
  EXPECT_EQ(back->type, OrderType::SellStop);
  EXPECT_EQ(back->type_filling, Filling::Return);
}

TEST(TerminalProtocol, DealRoundTrips) {
  const auto d = sample_deal();
  auto back = deal_from_json(through_text(to_json(d)));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(d));
  EXPECT_EQ(back->entry, DealEntry::Out);
}

TEST(TerminalProtocol, ChangesRoundTripWithSequence) {
  const auto c = sample_changes();
  auto back = changes_from_json(through_text(to_json(c)));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(c));
  EXPECT_EQ(back->sequence, 42U);
  EXPECT_EQ(back->positions.size(), 2U);
  EXPECT_TRUE(back->positions[0].closed);
}

TEST(TerminalProtocol, EmptyChangesRoundTrip) {
  auto back = changes_from_json(through_text(to_json(Changes{})));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->empty());
  EXPECT_EQ(back->sequence, 0U);
}

TEST(TerminalProtocol, TerminalInfoRoundTrips) {
  const auto t = sample_terminal();
  auto back = terminal_from_json(through_text(to_json(t)));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(t));
  EXPECT_EQ(to_json(t).at("accounts"), json::value("single"));
  auto multi = t;
  multi.multi_account = true;
  EXPECT_EQ(to_json(multi).at("accounts"), json::value("multi"));
  EXPECT_TRUE(terminal_from_json(json::value(to_json(multi)))->multi_account);
  auto older_ea = to_json(t);
  older_ea.erase("server_utc_offset_s");
  EXPECT_FALSE(terminal_from_json(json::value(older_ea))->server_utc_offset_s);
}

TEST(TerminalProtocol, TradeRequestRoundTripsFlatInACommand) {
  auto cmd = command(7, "order_send", "t");
  add_request_fields(cmd, sample_request());
  auto back = request_from_json(through_text(cmd).as_object());
  ASSERT_TRUE(back);
  EXPECT_EQ(request_object(*back), request_object(sample_request()));
  EXPECT_EQ(back->action, TradeAction::Pending);
  EXPECT_EQ(back->type, OrderType::BuyLimit);
}

// ---- decoders refuse what is not an object of the table ----

TEST(TerminalProtocol, EveryAccountFieldIsChecked) {
  expect_every_field_checked(to_json(sample_account()), account_from_json);
}

TEST(TerminalProtocol, EverySymbolFieldIsChecked) {
  expect_every_field_checked(to_json(sample_symbol()), symbol_from_json);
  expect_refused_with(to_json(sample_symbol()), symbol_from_json, "calc_mode", json::value(6));
}

TEST(TerminalProtocol, BarRoundTripsAndEveryFieldIsChecked) {
  const Bar bar{1'700'000'040'000, 1.0851, 1.0862, 1.0849, 1.0855, 42};
  auto back = bar_from_json(through_text(to_json(bar)));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, bar);
  expect_every_field_checked(to_json(bar), bar_from_json);
  json::object reply{{"rates", json::array{to_json(bar), to_json(bar)}}};
  EXPECT_EQ(bar_rows(reply, "rates")->size(), 2U);
  reply["rates"].as_array().emplace_back(json::object{{"time_msc", 1}});
  EXPECT_FALSE(bar_rows(reply, "rates"));  // a malformed bar fails the whole answer
}

TEST(TerminalProtocol, EveryTickFieldIsChecked) {
  expect_every_field_checked(to_json(sample_tick()), tick_from_json);
}

TEST(TerminalProtocol, EveryTradeResultFieldIsChecked) {
  const auto encoded = to_json(sample_result());
  expect_every_field_checked(encoded, trade_result_from_json);
  expect_refused_with(encoded, trade_result_from_json, "retcode", json::value(10037));  // not an MT5 retcode
  expect_refused_with(encoded, trade_result_from_json, "retcode", json::value(0));
}

TEST(TerminalProtocol, RetcodesMt5HasButTheModelDoesNotNameAreKept) {
  auto encoded = to_json(sample_result());
  encoded["retcode"] = 10027;  // TRADE_RETCODE_CLIENT_DISABLES_AT
  auto back = trade_result_from_json(json::value(encoded));
  ASSERT_TRUE(back);
  EXPECT_EQ(static_cast<int>(back->retcode), 10027);
  EXPECT_EQ(refusal_of(back->retcode), Refusal::Rejected);
}

TEST(TerminalProtocol, EveryPositionFieldIsChecked) {
  const std::set<std::string> close_fields = {"close_time_msc", "close_price", "close_reason"};
  const auto encoded = to_json(sample_position(true));
  expect_every_field_checked(encoded, position_from_json, close_fields);
  for (const auto& field : close_fields) expect_refused_with(encoded, position_from_json, field, json::value("x"));
  expect_refused_with(encoded, position_from_json, "type", json::value(2));
  expect_refused_with(encoded, position_from_json, "reason", json::value(7));
  expect_refused_with(encoded, position_from_json, "close_reason", json::value(-1));
}

TEST(TerminalProtocol, EveryOrderFieldIsChecked) {
  const auto encoded = to_json(sample_order());
  expect_every_field_checked(encoded, order_from_json);
  expect_refused_with(encoded, order_from_json, "type", json::value(6));
  expect_refused_with(encoded, order_from_json, "state", json::value(7));
  expect_refused_with(encoded, order_from_json, "type_filling", json::value(3));
}

TEST(TerminalProtocol, EveryDealFieldIsChecked) {
  const auto encoded = to_json(sample_deal());
  expect_every_field_checked(encoded, deal_from_json);
  expect_refused_with(encoded, deal_from_json, "type", json::value(3));
  expect_refused_with(encoded, deal_from_json, "entry", json::value(2));
  expect_refused_with(encoded, deal_from_json, "reason", json::value(99));
}

TEST(TerminalProtocol, EveryChangesFieldIsChecked) {
  const auto encoded = to_json(sample_changes());
  expect_every_field_checked(encoded, changes_from_json);
  // One bad row spoils the whole step: a half-applied step would be a state the sender never had.
  auto bad_row = encoded;
  bad_row["deals"].as_array()[0].as_object().erase("ticket");
  EXPECT_FALSE(changes_from_json(json::value(bad_row)));
  expect_refused_with(encoded, changes_from_json, "sequence", json::value(-1));
}

TEST(TerminalProtocol, RowsOfKindsTheModelLeavesOutAreSkippedNotFatal) {
  // A real terminal's history holds commission deals (type 7), netting reversals (entry 2)
  // and stop-limit orders (type 6): not trades, so skipped; the trades beside them are kept.
  auto encoded = to_json(sample_changes());
  auto commission = encoded["deals"].as_array()[0];
  commission.as_object()["type"] = 7;
  auto reversal = encoded["deals"].as_array()[0];
  reversal.as_object()["entry"] = 2;
  encoded["deals"].as_array().push_back(commission);
  encoded["deals"].as_array().push_back(reversal);
  auto stop_limit = encoded["orders"].as_array()[0];
  stop_limit.as_object()["type"] = 6;
  encoded["orders"].as_array().push_back(stop_limit);
  const auto decoded = changes_from_json(json::value(encoded));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->deals.size(), sample_changes().deals.size());
  EXPECT_EQ(decoded->orders.size(), sample_changes().orders.size());
  // A malformed row of the same kinds still spoils the whole step.
  auto malformed = encoded;
  malformed["deals"].as_array()[0].as_object()["type"] = "seven";
  EXPECT_FALSE(changes_from_json(json::value(malformed)));
  json::object reply{{"deals", json::array{commission, to_json(sample_deal())}}};
  const auto deals = deal_rows(reply, "deals");
  ASSERT_TRUE(deals);
  EXPECT_EQ(deals->size(), 1U);
  EXPECT_FALSE(deal_rows(reply, "orders"));
}

TEST(TerminalProtocol, SymbolsOfEveryMt5MarginModeAreRead) {
  for (const int mode : {0, 1, 2, 3, 4, 5, 32, 33, 34, 37, 38, 39, 64}) {
    auto encoded = to_json(SymbolInfo{});
    encoded["calc_mode"] = mode;
    const auto s = symbol_from_json(json::value(encoded));
    ASSERT_TRUE(s) << mode;
    EXPECT_EQ(static_cast<int>(s->margin_mode), mode);
  }
  auto unknown = to_json(SymbolInfo{});
  unknown["calc_mode"] = 6;
  EXPECT_FALSE(symbol_from_json(json::value(unknown)));
}

TEST(TerminalProtocol, EveryTerminalInfoFieldIsChecked) {
  const auto encoded = to_json(sample_terminal());
  expect_every_field_checked(encoded, terminal_from_json, {"server_utc_offset_s"});  // older EAs lack it
  expect_refused_with(encoded, terminal_from_json, "accounts", json::value("many"));
  expect_refused_with(encoded, terminal_from_json, "server_utc_offset_s", json::value("+02:00"));
}

TEST(TerminalProtocol, EveryTradeRequestFieldIsChecked) {
  auto decode = [](const json::value& v) { return request_from_json(v.as_object()); };
  const auto encoded = request_object(sample_request());
  expect_every_field_checked(encoded, decode);
  expect_refused_with(encoded, decode, "action", json::value(2));
  expect_refused_with(encoded, decode, "type", json::value(8));
  expect_refused_with(encoded, decode, "type_filling", json::value(-1));
}

TEST(TerminalProtocol, DecodersRefuseWhatIsNotAnObject) {
  EXPECT_FALSE(account_from_json(json::value(json::array{})));
  EXPECT_FALSE(tick_from_json(json::value("tick")));
  EXPECT_FALSE(changes_from_json(json::value(nullptr)));
}

TEST(TerminalProtocol, TicketsAndLoginsAreNonNegativeIntegers) {
  const auto deal = to_json(sample_deal());
  expect_refused_with(deal, deal_from_json, "ticket", json::value(-13));
  expect_refused_with(deal, deal_from_json, "login", json::value(-1));
  expect_refused_with(deal, deal_from_json, "ticket", json::value(13.0));  // an integral double is no integer
  expect_refused_with(deal, deal_from_json, "time_msc", json::value(1.7e12));
  expect_refused_with(deal, deal_from_json, "magic", json::value(true));
  auto big = deal;
  big["ticket"] = std::uint64_t{18'000'000'000'000'000'000ULL};  // beyond int64: still a ticket
  ASSERT_TRUE(deal_from_json(json::value(big)));
  EXPECT_EQ(deal_from_json(json::value(big))->ticket, 18'000'000'000'000'000'000ULL);
}

TEST(TerminalProtocol, IntFieldsRefuseValuesBeyondInt) {
  expect_refused_with(to_json(sample_account()), account_from_json, "leverage", json::value(std::int64_t{1} << 40));
}

TEST(TerminalProtocol, DoubleFieldsTakeAnyJsonNumber) {
  auto encoded = to_json(sample_tick());
  encoded["bid"] = 1;
  encoded["ask"] = std::uint64_t{2};
  auto back = tick_from_json(json::value(encoded));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->bid, 1.0);
  EXPECT_EQ(back->ask, 2.0);
  expect_refused_with(encoded, tick_from_json, "bid", json::value(true));
}

// Found by fuzz_bridge_protocol (fuzz/corpus/bridge_protocol/regression-infinite-double): 1e400
// was read as infinity, and the object sent on held `Infinity`, which is not JSON.
TEST(TerminalProtocol, DoubleFieldsRefuseNumbersBeyondDoublesRange) {
  for (const char* number : {"1e400", "-1e400"}) {
    expect_refused_with(to_json(sample_tick()), tick_from_json, "bid", json::parse(number));
    expect_refused_with(to_json(sample_position(true)), position_from_json, "close_price", json::parse(number));
    expect_refused_with(
        request_object(sample_request()), [](const json::value& v) { return request_from_json(v.as_object()); },
        "volume", json::parse(number));
  }
  auto tiny = to_json(sample_tick());
  tiny["bid"] = json::parse("1e-400");  // underflows to 0: a number, kept
  ASSERT_TRUE(tick_from_json(json::value(tiny)));
  EXPECT_EQ(json::serialize(to_json(*tick_from_json(through_text(tiny)))), json::serialize(tiny));
}

TEST(TerminalProtocol, UnknownFieldsAreIgnored) {
  auto encoded = to_json(sample_account());
  encoded["margin_initial"] = 12.5;
  encoded["future"] = json::object{{"nested", true}};
  auto back = account_from_json(json::value(encoded));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(sample_account()));
}

// ---- messages ----

TEST(TerminalProtocol, ErrorCodesHaveTheirWireNames) {
  for (auto code : {ErrorCode::BadRequest, ErrorCode::Unauthorized, ErrorCode::UnknownCommand, ErrorCode::NotFound,
                    ErrorCode::Unavailable}) {
    EXPECT_EQ(error_code_from_string(to_string(code)), code);
  }
  EXPECT_EQ(to_string(ErrorCode::UnknownCommand), "unknown_command");
  EXPECT_FALSE(error_code_from_string("teapot"));
}

TEST(TerminalProtocol, OkReplyParses) {
  auto reply_object = ok_reply(42);
  reply_object["tick"] = to_json(sample_tick());
  auto reply = parse_reply(json::serialize(reply_object));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->id, 42U);
  EXPECT_TRUE(reply->ok);
  EXPECT_FALSE(reply->error);
  ASSERT_TRUE(tick_from_json(reply->body.at("tick")));
}

TEST(TerminalProtocol, ErrorReplyParses) {
  auto reply = parse_reply(json::serialize(error_reply(9, ErrorCode::NotFound, "no such symbol")));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->id, 9U);
  EXPECT_FALSE(reply->ok);
  EXPECT_EQ(reply->error, ErrorCode::NotFound);
  EXPECT_EQ(reply->message, "no such symbol");
}

TEST(TerminalProtocol, ErrorReplyWithAnUnknownCodeStillParses) {
  auto reply = parse_reply(R"({"v":1,"id":3,"ok":false,"error":"overheated","message":"hot"})");
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->ok);
  EXPECT_FALSE(reply->error);
  EXPECT_EQ(reply->message, "hot");
}

TEST(TerminalProtocol, GarbageRepliesAreRefused) {
  for (const char* text : {"", "not json", "[1,2]", "42", R"({"id":1,"ok":true})", R"({"v":2,"id":1,"ok":true})",
                           R"({"v":1,"ok":true})", R"({"v":1,"id":-1,"ok":true})", R"({"v":1,"id":"1","ok":true})",
                           R"({"v":1,"id":1})", R"({"v":1,"id":1,"ok":1})", R"({"v":1,"id":1,"ok":true)"}) {
    EXPECT_FALSE(parse_reply(text)) << text;
  }
}

TEST(TerminalProtocol, CommandParsesWithItsArguments) {
  auto cmd = command(5, "positions", "s3cret");
  cmd["login"] = 5'000'001;
  cmd["symbol"] = "";
  auto parsed = parse_command(json::serialize(cmd));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->id, 5U);
  EXPECT_EQ(parsed->cmd, "positions");
  EXPECT_EQ(parsed->token, "s3cret");
  EXPECT_EQ(parsed->body.at("login"), json::value(5'000'001));
}

TEST(TerminalProtocol, CommandWithoutTokenParsesWithAnEmptyToken) {
  auto parsed = parse_command(R"({"v":1,"id":1,"cmd":"hello"})");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->token, "");
}

TEST(TerminalProtocol, GarbageCommandsAreRefused) {
  for (const char* text : {"", "{", "null", R"(["hello"])", R"({"id":1,"cmd":"hello"})",
                           R"({"v":"1","id":1,"cmd":"hello"})", R"({"v":1,"cmd":"hello"})",
                           R"({"v":1,"id":1.5,"cmd":"hello"})", R"({"v":1,"id":1})", R"({"v":1,"id":1,"cmd":7})"}) {
    EXPECT_FALSE(parse_command(text)) << text;
  }
}

TEST(TerminalProtocol, EventFramesCarryTheirTopic) {
  const std::string frame = event_frame(EventTopic::Tick, {{"symbol", "EURUSD"}, {"tick", to_json(sample_tick())}});
  EXPECT_EQ(frame.rfind("tick {", 0), 0U);
  auto event = parse_event(frame);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->topic, EventTopic::Tick);
  EXPECT_EQ(event->body.at("symbol"), json::value("EURUSD"));

  auto trade = parse_event(event_frame(EventTopic::Trade, {{"changes", to_json(sample_changes())}}));
  ASSERT_TRUE(trade);
  EXPECT_EQ(trade->topic, EventTopic::Trade);
  auto changes = changes_from_json(trade->body.at("changes"));
  ASSERT_TRUE(changes);
  EXPECT_EQ(changes->sequence, 42U);

  auto heartbeat = parse_event(R"(heartbeat {"time_msc":1,"connected":true})");
  ASSERT_TRUE(heartbeat);
  EXPECT_EQ(heartbeat->topic, EventTopic::Heartbeat);
  EXPECT_EQ(to_string(EventTopic::Heartbeat), "heartbeat");
}

TEST(TerminalProtocol, GarbageEventsAreRefused) {
  for (const char* frame : {"", "tick", "tick ", "tick {", "tick [1]", "quote {}", "Tick {}", "tick{}", " tick {}"}) {
    EXPECT_FALSE(parse_event(frame)) << frame;
  }
}

}  // namespace
}  // namespace permiso::trading::terminal
