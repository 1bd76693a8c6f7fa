// mt5-api request reading and answer rendering: every bad POST /trades input is a 422 naming
// its field (non-finite numbers and wrong types included), the idempotency fingerprint is
// canonical, the Link header carries the next cursor, and the contract's JSON shapes.
#include "trading/handlers/errors.hpp"
#include "trading/handlers/json_writer.hpp"
#include "trading/handlers/render.hpp"
#include "trading/handlers/requests.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <string>

namespace permiso::trading::handlers {
namespace {

http::Request post(std::string body, std::string idempotency_key = {}) {
  http::Request r;
  r.method = "POST";
  r.path = "/api/v1/trades";
  r.body = std::move(body);
  r.request_id = "rid-1";
  r.headers.emplace_back("content-type", "application/json");
  if (!idempotency_key.empty()) r.headers.emplace_back("idempotency-key", std::move(idempotency_key));
  return r;
}

std::string field_of(const std::string& body) {
  auto parsed = parse_open_trade(post(body));
  EXPECT_FALSE(parsed) << body;
  return parsed ? std::string("<accepted>") : parsed.error().field;
}

TEST(OpenTradeBody, AMinimalOrderIsAMarketBuy) {
  auto t = parse_open_trade(post(R"({"symbol":"eurusd","volume":0.1,"trade_type":"buy"})"));
  ASSERT_TRUE(t) << t.error().field << ": " << t.error().message;
  EXPECT_EQ(t->symbol, "EURUSD");
  EXPECT_DOUBLE_EQ(t->volume, 0.1);
  EXPECT_EQ(t->type, OrderType::Buy);
  EXPECT_FALSE(t->price);
  EXPECT_EQ(t->sl, 0);
  EXPECT_EQ(t->tp, 0);
  EXPECT_TRUE(t->idempotency_key.empty());
  EXPECT_EQ(t->fingerprint.size(), 64U);
}

TEST(OpenTradeBody, EveryOptionalFieldIsRead) {
  auto t = parse_open_trade(post(
      R"({"symbol":"XAUUSD","volume":2,"trade_type":"SELL_LIMIT","price":2400.5,"stop_loss":2450,"take_profit":null,)"
      R"("comment":"hedge","client_order_id":"abc-1","deviation":5,"magic":77})"));
  ASSERT_TRUE(t) << t.error().field;
  EXPECT_EQ(t->type, OrderType::SellLimit);
  EXPECT_DOUBLE_EQ(*t->price, 2400.5);
  EXPECT_DOUBLE_EQ(t->sl, 2450);
  EXPECT_EQ(t->tp, 0);
  EXPECT_EQ(t->comment, "hedge");
  EXPECT_EQ(t->idempotency_key, "abc-1");
  EXPECT_EQ(t->deviation, 5U);
  EXPECT_EQ(t->magic, 77U);
}

TEST(OpenTradeBody, EachBadInputNamesItsField) {
  EXPECT_EQ(field_of(R"({"volume":0.1,"trade_type":"buy"})"), "symbol");
  EXPECT_EQ(field_of(R"({"symbol":5,"volume":0.1,"trade_type":"buy"})"), "symbol");
  EXPECT_EQ(field_of(R"({"symbol":"EUR USD","volume":0.1,"trade_type":"buy"})"), "symbol");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","trade_type":"buy"})"), "volume");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":"0.1","trade_type":"buy"})"), "volume");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0,"trade_type":"buy"})"), "volume");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":-1,"trade_type":"buy"})"), "volume");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":100.01,"trade_type":"buy"})"), "volume");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":1e400,"trade_type":"buy"})"), "volume");  // parses as +inf
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":true,"trade_type":"buy"})"), "volume");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1})"), "trade_type");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"hold"})"), "trade_type");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":["buy"]})"), "trade_type");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","price":-1e999})"), "price");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","price":0})"), "price");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy_limit"})"), "price");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","stop_loss":-0.5})"), "stop_loss");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","stop_loss":"1.0"})"), "stop_loss");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","take_profit":1e400})"), "take_profit");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","comment":7})"), "comment");
  EXPECT_EQ(
      field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","comment":")" + std::string(65, 'x') + R"("})"),
      "comment");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","comment":"a\nb"})"), "comment");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","client_order_id":""})"), "client_order_id");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","deviation":-3})"), "deviation");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","stoploss":1.0})"), "stoploss");
  EXPECT_EQ(field_of(R"([1,2])"), "body");
  EXPECT_EQ(field_of(R"({"symbol":)"), "body");
  EXPECT_EQ(field_of(R"({"symbol":"EURUSD","volume":NaN,"trade_type":"buy"})"), "body");  // not JSON
}

TEST(OpenTradeBody, FillingIsOneOfMt5sPoliciesAndAbsentByDefault) {
  const std::string base = R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy")";
  auto none = parse_open_trade(post(base + "}"));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->filling);  // the service picks FOK (market) or RETURN (pending)
  for (const auto& [text, filling] :
       {std::pair{"fok", Filling::Fok}, std::pair{"ioc", Filling::Ioc}, std::pair{"return", Filling::Return}}) {
    auto t = parse_open_trade(post(base + R"(,"filling":")" + text + R"("})"));
    ASSERT_TRUE(t) << text;
    EXPECT_EQ(t->filling, filling);
    EXPECT_NE(t->fingerprint, none->fingerprint) << "the same key with another filling is another order";
  }
  EXPECT_EQ(field_of(base + R"(,"filling":"gtc"})"), "filling");
  EXPECT_EQ(field_of(base + R"(,"filling":1})"), "filling");
}

TEST(OpenTradeBody, AnotherContentTypeIs415) {
  auto r = post(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy"})");
  r.headers = {{"content-type", "application/x-www-form-urlencoded"}};
  auto t = parse_open_trade(r);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().status, 415);
}

TEST(OpenTradeBody, IdempotencyKeyFromTheHeaderOrTheBodyButNotTwoDifferentOnes) {
  const std::string body = R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy"})";
  auto t = parse_open_trade(post(body, "key-1"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->idempotency_key, "key-1");
  const std::string with_id = R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","client_order_id":"key-1"})";
  t = parse_open_trade(post(with_id, "key-1"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->idempotency_key, "key-1");
  t = parse_open_trade(post(with_id, "key-2"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().field, "client_order_id");
  t = parse_open_trade(post(body, std::string(129, 'k')));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().field, "Idempotency-Key");
}

TEST(OpenTradeBody, FingerprintIgnoresLayoutButNotContent) {
  auto a = parse_open_trade(post(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","stop_loss":1.05})"));
  auto b = parse_open_trade(post(R"({ "stop_loss" : 1.050, "trade_type":"BUY", "volume":1e-1, "symbol":"eurusd" })"));
  auto c = parse_open_trade(post(R"({"symbol":"EURUSD","volume":0.2,"trade_type":"buy","stop_loss":1.05})"));
  auto d = parse_open_trade(
      post(R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","stop_loss":1.05,"client_order_id":"x"})"));
  ASSERT_TRUE(a && b && c && d);
  EXPECT_EQ(a->fingerprint, b->fingerprint);
  EXPECT_NE(a->fingerprint, c->fingerprint);
  EXPECT_EQ(a->fingerprint, d->fingerprint);  // the key itself is not part of the request
}

TEST(ModifyTradeBody, NullRemovesAbsentKeepsAndNothingIsAnError) {
  http::Request r = post(R"({"stop_loss":null,"take_profit":1.2})");
  auto m = parse_modify_trade(r);
  ASSERT_TRUE(m);
  EXPECT_EQ(*m->sl, 0);
  EXPECT_DOUBLE_EQ(*m->tp, 1.2);
  r.body = R"({"take_profit":1.2})";
  m = parse_modify_trade(r);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->sl);
  r.body = "{}";
  EXPECT_EQ(parse_modify_trade(r).error().field, "body");
  r.body = R"({"stop_loss":1e400})";
  EXPECT_EQ(parse_modify_trade(r).error().field, "stop_loss");
  r.body = R"({"volume":1})";
  EXPECT_EQ(parse_modify_trade(r).error().field, "volume");
}

TEST(TradeListQuery, DefaultsBoundsAndTheNextLink) {
  http::Request r;
  auto q = parse_trade_list_query(r);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->status, TradeListQuery::Status::Open);
  EXPECT_EQ(q->limit, 100U);
  EXPECT_FALSE(q->cursor);
  r.query = {{"status", "all"}, {"symbol", "gbpusd"}, {"limit", "2"}, {"cursor", "41"}};
  q = parse_trade_list_query(r);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->status, TradeListQuery::Status::All);
  EXPECT_EQ(q->symbol, "GBPUSD");
  EXPECT_EQ(q->limit, 2U);
  EXPECT_EQ(*q->cursor, 41U);
  EXPECT_EQ(next_link("/api/v1/trades", *q, 17),
            "</api/v1/trades?status=all&symbol=GBPUSD&limit=2&cursor=17>; rel=\"next\"");
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"status", "pending"},
                                                        {"limit", "0"},
                                                        {"limit", "1001"},
                                                        {"limit", "ten"},
                                                        {"cursor", "-1"},
                                                        {"cursor", "99999999999999999999999"},
                                                        {"symbol", "A/B"}}) {
    r.query = {{name, value}};
    auto bad = parse_trade_list_query(r);
    ASSERT_FALSE(bad) << name << "=" << value;
    EXPECT_EQ(bad.error().field, name);
  }
}

TEST(Tickets, OnlyPositiveDecimals) {
  EXPECT_EQ(*parse_ticket("42"), 42U);
  for (const char* bad : {"", "0", "-4", "4x", "abc", "123456789012345678901"}) EXPECT_FALSE(parse_ticket(bad)) << bad;
}

TEST(RatesQuery, TimeframeCountAndStart) {
  http::Request r;
  auto q = parse_rates_query(r);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->timeframe, Timeframe::M1);
  EXPECT_EQ(q->count, 100U);
  r.query = {{"timeframe", "h1"}, {"count", "5000"}, {"start", "3"}};
  q = parse_rates_query(r);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->timeframe, Timeframe::H1);
  EXPECT_EQ(q->count, 5000U);
  EXPECT_EQ(q->start, 3U);
  r.query = {{"timeframe", "M2"}};
  EXPECT_EQ(parse_rates_query(r).error().field, "timeframe");
  r.query = {{"count", "5001"}};
  EXPECT_EQ(parse_rates_query(r).error().field, "count");
}

TEST(Times, Iso8601BothWays) {
  EXPECT_EQ(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_ms(1'764'602'578'123), "2025-12-01T15:22:58.123Z");
  EXPECT_EQ(iso8601_ms(951'782'400'000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(*parse_time("2025-12-01T15:22:58.123Z"), 1'764'602'578'123);
  EXPECT_EQ(*parse_time("2025-12-01T16:22:58+01:00"), 1'764'602'578'000);
  EXPECT_EQ(*parse_time("2025-12-01"), 1'764'547'200'000);
  EXPECT_EQ(*parse_time("1764602578"), 1'764'602'578'000);
  for (const char* bad :
       {"", "yesterday", "2025-13-01", "2025-12-01T15:22:58", "2025-12-01T25:00:00Z", "2025-12-01Tx"}) {
    EXPECT_FALSE(parse_time(bad)) << bad;
  }
  http::Request r;
  r.query = {{"from", "2025-12-02T00:00:00Z"}, {"to", "2025-12-01T00:00:00Z"}};
  EXPECT_EQ(parse_deals_query(r, 0).error().field, "from");
  r.query = {{"to", "soon"}};
  EXPECT_EQ(parse_deals_query(r, 0).error().field, "to");
}

TEST(DealsQuery, LimitAndCursorRoundTripThroughTheNextLink) {
  constexpr TimeMs kNow = 1'764'602'578'000;
  http::Request r;
  auto q = parse_deals_query(r, kNow);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->limit, kDefaultDealLimit);
  EXPECT_FALSE(q->after);
  // Default window: the last 30 days (from now), its end padded a day for the broker's clock.
  EXPECT_EQ(q->from_msc, kNow - 30LL * 86'400'000);
  EXPECT_EQ(q->to_msc, kNow + 86'400'000);
  r.query = {{"to", "2025-12-31T00:00:00Z"}};  // with `to` only: the 30 days before it
  q = parse_deals_query(r, kNow);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->to_msc - q->from_msc, 30LL * 86'400'000);
  r.query = {{"from", "2025-12-01T00:00:00.250Z"}, {"limit", "10000"}, {"cursor", "1764547200250_42"}};
  q = parse_deals_query(r, kNow);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->limit, 10'000U);
  ASSERT_TRUE(q->after);
  EXPECT_EQ(*q->after, (DealCursor{1'764'547'200'250, 42}));

  // The link carries the same window and limit, and the cursor of the last deal.
  const std::string link = next_deals_link(*q, DealCursor{1'764'547'300'000, 77});
  ASSERT_TRUE(link.starts_with("</api/v1/history/deals?")) << link;
  ASSERT_TRUE(link.ends_with(">; rel=\"next\"")) << link;
  http::Request next;  // its query: no character in it needs percent-decoding
  std::string_view rest = std::string_view(link).substr(link.find('?') + 1);
  rest = rest.substr(0, rest.find('>'));
  while (!rest.empty()) {
    const auto pair = rest.substr(0, rest.find('&'));
    const auto eq = pair.find('=');
    next.query.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
    rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
  }
  auto again = parse_deals_query(next, kNow);
  ASSERT_TRUE(again) << link;
  EXPECT_EQ(again->from_msc, q->from_msc);
  EXPECT_EQ(again->to_msc, q->to_msc);
  EXPECT_EQ(again->limit, q->limit);
  EXPECT_EQ(*again->after, (DealCursor{1'764'547'300'000, 77}));

  for (const char* bad : {"0", "10001", "-1", "x"}) {
    r.query = {{"limit", bad}};
    EXPECT_EQ(parse_deals_query(r, kNow).error().field, "limit") << bad;
  }
  for (const char* bad : {"", "42", "_42", "1764547200250_", "1764547200250_0", "1_2_3", "a_1"}) {
    r.query = {{"cursor", bad}};
    EXPECT_EQ(parse_deals_query(r, kNow).error().field, "cursor") << bad;
  }
}

TEST(JsonWriter, PricesInPlainDecimalsAndNonFiniteAsNull) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.member("a", 1.08512, 5).member("b", 10000.0, 2).member("c", 0.1, 8).member("d", -12.345678, 2);
  w.member("e", -0.0001, 2).key("f").number(std::numeric_limits<double>::quiet_NaN(), 2);
  w.key("g").number(0.30000000000000004).member("h", "q\"\\\x01");
  w.end_object();
  EXPECT_EQ(out,
            R"({"a":1.08512,"b":10000,"c":0.1,"d":-12.35,"e":0,"f":null,"g":0.30000000000000004,"h":"q\"\\\u0001"})");
  EXPECT_NO_THROW((void)boost::json::parse(out));
}

Position sample_position() {
  Position p;
  p.ticket = 7;
  p.login = 5000001;
  p.symbol = "EURUSD";
  p.type = PositionType::Sell;
  p.volume = 0.25;
  p.price_open = 1.0851;
  p.price_current = 1.08495;
  p.profit = 3.75;
  p.sl = 1.09;
  p.comment = "c";
  p.time_msc = 1'764'602'578'123;
  return p;
}

TEST(Render, TradeHasTheContractsFields) {
  auto p = sample_position();
  const auto v = boost::json::parse(render_trade(p, 5)).as_object();
  for (const char* key : {"id", "symbol", "volume", "type", "open_price", "current_price", "profit", "stop_loss",
                          "take_profit", "open_time", "close_time", "close_price", "status", "comment"}) {
    EXPECT_TRUE(v.contains(key)) << key;
  }
  EXPECT_EQ(v.at("id").to_number<std::uint64_t>(), 7U);
  EXPECT_EQ(v.at("type").as_string(), "sell");
  EXPECT_EQ(v.at("status").as_string(), "open");
  EXPECT_DOUBLE_EQ(v.at("open_price").to_number<double>(), 1.0851);
  EXPECT_DOUBLE_EQ(v.at("stop_loss").to_number<double>(), 1.09);
  EXPECT_TRUE(v.at("take_profit").is_null());
  EXPECT_TRUE(v.at("close_time").is_null());
  EXPECT_EQ(v.at("open_time").as_string(), "2025-12-01T15:22:58.123Z");
  p.closed = true;
  p.close_time_msc = p.time_msc + 1000;
  p.close_price = 1.08;
  p.close_reason = DealReason::Sl;
  const auto closed = boost::json::parse(render_trade(p, 5)).as_object();
  EXPECT_EQ(closed.at("status").as_string(), "closed");
  EXPECT_EQ(closed.at("close_time").as_string(), "2025-12-01T15:22:59.123Z");
  EXPECT_DOUBLE_EQ(closed.at("close_price").to_number<double>(), 1.08);
  EXPECT_EQ(boost::json::parse(render_trades({}, Instruments{})).as_array().size(), 0U);
}

TEST(Render, AFilledOrderSaysTheVolumeAskedForAndTheRetcode) {
  auto p = sample_position();
  p.volume = 0.3;
  TradeResult partial;
  partial.retcode = Retcode::DonePartial;
  partial.volume = 0.3;
  const auto v = boost::json::parse(render_filled_trade(p, partial, 1.0, 5)).as_object();
  for (const char* key : {"id", "symbol", "volume", "type", "open_price", "status"})
    EXPECT_TRUE(v.contains(key)) << key;
  EXPECT_DOUBLE_EQ(v.at("volume").to_number<double>(), 0.3);  // filled
  EXPECT_DOUBLE_EQ(v.at("requested_volume").to_number<double>(), 1.0);
  EXPECT_EQ(v.at("broker_retcode").to_number<int>(), 10010);
  EXPECT_EQ(v.at("broker_retcode_name").as_string(), "TRADE_RETCODE_DONE_PARTIAL");
}

TEST(Render, AccountAndQuoteShapes) {
  AccountInfo a;
  a.balance = 10000;
  a.equity = 10003.75;
  a.margin = 270.2;
  a.margin_free = 9733.55;
  a.margin_level = 3702.35;
  a.leverage = 100;
  const auto acc = boost::json::parse(render_account(a)).as_object();
  for (const char* key : {"balance", "equity", "margin", "free_margin", "margin_level", "currency", "leverage"}) {
    EXPECT_TRUE(acc.contains(key)) << key;
  }
  EXPECT_EQ(acc.at("currency").as_string(), "USD");
  EXPECT_EQ(acc.at("leverage").as_int64(), 100);
  Tick t{1'764'602'578'123, 1.08512, 1.08527, 0};
  const auto q = boost::json::parse(render_quote("EURUSD", t, 5)).as_object();
  EXPECT_EQ(q.at("symbol").as_string(), "EURUSD");
  EXPECT_DOUBLE_EQ(q.at("spread").to_number<double>(), 0.00015);
  EXPECT_EQ(q.at("spread_points").as_int64(), 15);
  EXPECT_EQ(q.at("last_update").as_string(), "2025-12-01T15:22:58.123Z");
}

TEST(Errors, BrokerRefusalsCarryTheRetcode) {
  http::Request req;
  req.request_id = "rid";
  auto res =
      failure_response(req, ServiceFailure{ServiceError::BrokerRefused, "", "Not enough money", Retcode::NoMoney});
  EXPECT_EQ(res.status, 422);
  auto body = boost::json::parse(res.body).as_object();
  EXPECT_EQ(body.at("error").as_string(), "insufficient_margin");
  EXPECT_EQ(body.at("broker_retcode").as_int64(), 10019);
  EXPECT_EQ(body.at("request_id").as_string(), "rid");
  EXPECT_EQ(failure_response(req, {ServiceError::BrokerRefused, "", "", Retcode::MarketClosed}).status, 409);
  EXPECT_EQ(failure_response(req, {ServiceError::BrokerRefused, "stop_loss", "", Retcode::InvalidStops}).status, 422);
  EXPECT_EQ(failure_response(req, {ServiceError::BrokerUnavailable, "", "", std::nullopt}).status, 503);
  EXPECT_EQ(failure_response(req, {ServiceError::StorageUnavailable, "", "", std::nullopt}).status, 503);
  EXPECT_EQ(failure_response(req, {ServiceError::Conflict, "status", "already closed", std::nullopt}).status, 409);
  auto pending = failure_response(req, {ServiceError::OutcomePending, "", "", Retcode::Timeout});
  EXPECT_EQ(pending.status, 202);
  EXPECT_EQ(boost::json::parse(pending.body).at("status").as_string(), "pending");
  auto reused = failure_response(req, {ServiceError::IdempotencyKeyReused, "", "", std::nullopt});
  EXPECT_EQ(reused.status, 422);
  EXPECT_EQ(boost::json::parse(reused.body).at("error").as_string(), "idempotency_key_reused");
  auto invalid = invalid_response(req, Invalid{422, "validation_error", "volume", "must be greater than 0"});
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(boost::json::parse(invalid.body).at("field").as_string(), "volume");
  EXPECT_EQ(rejection_reason({ServiceError::BrokerRefused, "", "", Retcode::NoMoney}), "no_money");
}

}  // namespace
}  // namespace permiso::trading::handlers
