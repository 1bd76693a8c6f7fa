// The FIX codec and the MT5 ↔ FIX 4.4 mapping (docs/fix.md): every message survives the trip
// through FIX text and back, and broken text is refused rather than half read.
#include "trading/fix/mapping.hpp"
#include "trading/fix/message.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace permiso::trading::fix {
namespace {

constexpr TimeMs kNow = 1'796'565'909'123;  // 2026-12-06T14:05:09.123Z

/// A message as the session engine delivers it: through its FIX text.
Message wire(const Message& m) {
  auto parsed = Message::parse(m.text());
  EXPECT_TRUE(parsed.has_value());
  return parsed.value_or(Message());
}

TEST(FixMessage, ParsesFramedTextAndKeepsOrder) {
  auto m = Message::parse(
      "8=FIX.4.4\x01"
      "9=12\x01"
      "35=D\x01"
      "11=a\x01"
      "11=b\x01"
      "10=000\x01");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type(), "D");
  EXPECT_EQ(m->get(11), "a");
  ASSERT_EQ(m->fields().size(), 6U);
  EXPECT_EQ(m->fields()[4].value, "b");
}

TEST(FixMessage, RefusesBrokenFraming) {
  EXPECT_FALSE(Message::parse("35=D"));          // no SOH after the last field
  EXPECT_FALSE(Message::parse("35D\x01"));       // no '='
  EXPECT_FALSE(Message::parse("x=D\x01"));       // tag not a number
  EXPECT_FALSE(Message::parse("0=D\x01"));       // tag not positive
  EXPECT_FALSE(Message::parse("-5=D\x01"));      // tag not positive
  EXPECT_FALSE(Message::parse("35=\x01"));       // empty value
  EXPECT_FALSE(Message::parse("35=D\x01\x01"));  // empty field
  EXPECT_TRUE(Message::parse(""));               // nothing is an empty message
}

TEST(FixMessage, DecimalsAreShortestFixedText) {
  Message m;
  m.add_decimal(1, 1.10000)
      .add_decimal(2, 0.00001, 10)
      .add_decimal(3, 100)
      .add_decimal(4, -0.0)
      .add_decimal(5, 1.23456789);
  EXPECT_EQ(m.get(1), "1.1");
  EXPECT_EQ(m.get(2), "0.00001");
  EXPECT_EQ(m.get(3), "100");
  EXPECT_EQ(m.get(4), "0");
  EXPECT_EQ(m.get(5), "1.23456789");
}

TEST(FixMessage, ReaderRefusesMalformedNumbers) {
  auto m = *Message::parse(
      "1=1e5\x01"
      "2=nan\x01"
      "3=12x\x01"
      "4=-3\x01"
      "5=YES\x01"
      "6=1.5\x01");
  FieldReader in(m);
  (void)in.decimal(6);
  EXPECT_TRUE(in.ok());
  (void)in.decimal(1);
  EXPECT_FALSE(in.ok());
  FieldReader nan(m);
  (void)nan.decimal(2);
  EXPECT_FALSE(nan.ok());
  FieldReader garbage(m);
  (void)garbage.integer(3);
  EXPECT_FALSE(garbage.ok());
  FieldReader negative(m);
  (void)negative.unsigned_integer(4);
  EXPECT_FALSE(negative.ok());
  FieldReader flag(m);
  (void)flag.boolean(5);
  EXPECT_FALSE(flag.ok());
  FieldReader missing(m);
  EXPECT_EQ(missing.decimal_or(99, 7.5), 7.5);
  EXPECT_TRUE(missing.ok());
  (void)missing.text(99);
  EXPECT_FALSE(missing.ok());
}

TEST(FixMessage, GroupsSplitAtTheDelimiterAndCheckTheCount) {
  Message m("y");
  m.add(320, "r1").add_group(146, {Message().add(55, "EURUSD").add(15, "USD"), Message().add(55, "GBPUSD")});
  m.add(893, "Y");
  auto entries = wire(m).group(146, {55, 15});
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 2U);
  EXPECT_EQ((*entries)[0].get(15), "USD");
  EXPECT_FALSE((*entries)[1].has(15));
  EXPECT_FALSE((*entries)[1].has(893));  // the group ended where its members did

  auto lying = *Message::parse(
      "35=y\x01"
      "146=3\x01"
      "55=EURUSD\x01");
  EXPECT_FALSE(lying.group(146, {55}));
  auto no_delimiter = *Message::parse(
      "35=y\x01"
      "146=1\x01"
      "15=USD\x01"
      "55=EURUSD\x01");
  EXPECT_FALSE(no_delimiter.group(146, {55, 15}));
  EXPECT_TRUE(Message("y").group(146, {55})->empty());  // no count: no entries
}

TEST(FixTimes, TimestampsRoundTripToTheMillisecond) {
  EXPECT_EQ(utc_timestamp(kNow), "20261206-14:05:09.123");
  EXPECT_EQ(parse_utc_timestamp("20261206-14:05:09.123"), kNow);
  EXPECT_EQ(parse_utc_timestamp("20261206-14:05:09"), kNow - 123);
  EXPECT_EQ(utc_date(kNow), "20261206");
  EXPECT_EQ(utc_time(kNow), "14:05:09.123");
  EXPECT_EQ(utc_timestamp(0), "19700101-00:00:00.000");
  EXPECT_FALSE(parse_utc_timestamp("20261306-14:05:09"));  // month 13
  EXPECT_FALSE(parse_utc_timestamp("20260230-14:05:09"));  // 30 February
  EXPECT_FALSE(parse_utc_timestamp("20261206-24:05:09"));
  EXPECT_FALSE(parse_utc_timestamp("2026-206-14:05:09"));
  EXPECT_FALSE(parse_utc_timestamp("20261206-14:05:09.12"));
  EXPECT_FALSE(parse_utc_timestamp("20261206-14:05:09.-12"));
}

TradeRequest market_close() {
  TradeRequest r;
  r.action = TradeAction::Deal;
  r.symbol = "EURUSD";
  r.volume = 0.25;
  r.type = OrderType::Sell;
  r.type_filling = Filling::Ioc;
  r.position = 42;
  r.sl = 1.05;
  r.tp = 1.2;
  r.magic = 7;
  r.deviation = 20;
  r.comment = "close it";
  r.price = 1.10123;
  return r;
}

TEST(FixMapping, NewOrderSingleRoundTrips) {
  OrderRequest out{"c-1", "", 5001, market_close(), kNow};
  const auto m = wire(to_fix(out));
  EXPECT_EQ(m.type(), "D");
  EXPECT_EQ(m.get(77), "C");
  EXPECT_EQ(m.get(59), "3");
  auto in = order_request_from_fix(m);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->cl_ord_id, "c-1");
  EXPECT_EQ(in->login, 5001U);
  EXPECT_EQ(in->time_msc, kNow);
  const auto& q = in->request;
  EXPECT_EQ(q.action, TradeAction::Deal);
  EXPECT_EQ(q.type, OrderType::Sell);
  EXPECT_EQ(q.type_filling, Filling::Ioc);
  EXPECT_EQ(q.position, 42U);
  EXPECT_DOUBLE_EQ(q.volume, 0.25);
  EXPECT_DOUBLE_EQ(q.price, 1.10123);
  EXPECT_DOUBLE_EQ(q.sl, 1.05);
  EXPECT_DOUBLE_EQ(q.tp, 1.2);
  EXPECT_EQ(q.magic, 7U);
  EXPECT_EQ(q.deviation, 20U);
  EXPECT_EQ(q.comment, "close it");
}

TEST(FixMapping, PendingStopOrderTravelsAsStopPx) {
  TradeRequest r;
  r.action = TradeAction::Pending;
  r.symbol = "XAUUSD";
  r.volume = 1;
  r.type = OrderType::BuyStop;
  r.price = 2400.5;
  r.type_filling = Filling::Return;
  const auto m = wire(to_fix(OrderRequest{"c-2", "", 9, r, kNow}));
  EXPECT_EQ(m.get(40), "3");
  EXPECT_EQ(m.get(99), "2400.5");
  EXPECT_FALSE(m.has(44));
  auto in = order_request_from_fix(m);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->request.action, TradeAction::Pending);
  EXPECT_EQ(in->request.type, OrderType::BuyStop);
  EXPECT_DOUBLE_EQ(in->request.price, 2400.5);
  EXPECT_EQ(in->request.position, 0U);
}

TEST(FixMapping, ModifyRemoveAndStopsRoundTrip) {
  TradeRequest modify;
  modify.action = TradeAction::Modify;
  modify.order = 77;
  modify.symbol = "EURUSD";
  modify.type = OrderType::SellLimit;
  modify.volume = 0.1;
  modify.price = 1.2;
  modify.sl = 1.25;
  auto g = order_request_from_fix(wire(to_fix(OrderRequest{"c-3", "c-2", 9, modify, kNow})));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->request.action, TradeAction::Modify);
  EXPECT_EQ(g->request.order, 77U);
  EXPECT_EQ(g->orig_cl_ord_id, "c-2");
  EXPECT_EQ(g->request.type, OrderType::SellLimit);
  EXPECT_DOUBLE_EQ(g->request.price, 1.2);
  EXPECT_DOUBLE_EQ(g->request.sl, 1.25);

  TradeRequest remove = modify;
  remove.action = TradeAction::Remove;
  auto f = order_request_from_fix(wire(to_fix(OrderRequest{"c-4", "77", 9, remove, kNow})));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->request.action, TradeAction::Remove);
  EXPECT_EQ(f->request.order, 77U);

  TradeRequest stops;
  stops.action = TradeAction::SlTp;
  stops.symbol = "EURUSD";
  stops.position = 42;
  stops.tp = 1.3;
  TagMap vendor{7001};  // a broker that numbers PositionID differently
  const auto u3 = wire(to_fix(OrderRequest{"c-5", "", 9, stops, kNow}, vendor));
  EXPECT_EQ(u3.get(7001), "42");
  EXPECT_FALSE(u3.has(20001));
  auto s = order_request_from_fix(u3, vendor);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->request.action, TradeAction::SlTp);
  EXPECT_EQ(s->request.position, 42U);
  EXPECT_DOUBLE_EQ(s->request.tp, 1.3);
  EXPECT_FALSE(order_request_from_fix(u3));  // read with the default tags: no PositionID
}

TEST(FixMapping, OrderRequestMissingAFieldIsRefused) {
  auto m = *Message::parse(
      "35=D\x01"
      "11=c\x01"
      "1=9\x01"
      "55=EURUSD\x01"
      "54=1\x01"
      "40=1\x01");  // no 38
  EXPECT_FALSE(order_request_from_fix(m));
  auto bad_side = *Message::parse(
      "35=D\x01"
      "11=c\x01"
      "1=9\x01"
      "55=EURUSD\x01"
      "54=5\x01"
      "38=1\x01"
      "40=1\x01");
  EXPECT_FALSE(order_request_from_fix(bad_side));
  EXPECT_FALSE(order_request_from_fix(Message("Z")));
}

Execution fill() {
  Execution e;
  e.cl_ord_id = "c-1";
  e.exec_type = 'F';
  e.closing = true;
  e.result = {Retcode::Done, 900, 800, 42, 0.25, 1.1, 1.0999, 1.1001, "Request executed"};
  e.order = {800,
             5001,
             "EURUSD",
             OrderType::Sell,
             OrderState::Filled,
             Filling::Ioc,
             0.25,
             0,
             1.1,
             1.1,
             0,
             0,
             7,
             "close it",
             42,
             kNow - 5,
             kNow};
  e.deal =
      Deal{900,  5001, 800, 42,         "EURUSD", DealType::Sell, DealEntry::Out, DealReason::Client, 0.25, 1.1, 12.5,
           -0.5, -0.1, 7,   "close it", kNow};
  return e;
}

TEST(FixMapping, FillRoundTripsWithItsDealAndOrder) {
  const auto m = wire(to_fix(fill()));
  EXPECT_EQ(m.get(39), "2");
  EXPECT_EQ(m.get(17), "900");
  auto e = execution_from_fix(m);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exec_type, 'F');
  EXPECT_EQ(e->result.retcode, Retcode::Done);
  EXPECT_EQ(e->result.deal, 900U);
  EXPECT_EQ(e->result.order, 800U);
  EXPECT_EQ(e->result.position, 42U);
  EXPECT_DOUBLE_EQ(e->result.volume, 0.25);
  EXPECT_DOUBLE_EQ(e->result.price, 1.1);
  EXPECT_DOUBLE_EQ(e->result.bid, 1.0999);
  EXPECT_EQ(e->result.comment, "Request executed");
  EXPECT_EQ(e->order.state, OrderState::Filled);
  EXPECT_EQ(e->order.comment, "close it");
  EXPECT_EQ(e->order.time_setup_msc, kNow - 5);
  ASSERT_TRUE(e->deal);
  EXPECT_EQ(e->deal->entry, DealEntry::Out);
  EXPECT_EQ(e->deal->type, DealType::Sell);
  EXPECT_DOUBLE_EQ(e->deal->profit, 12.5);
  EXPECT_DOUBLE_EQ(e->deal->commission, -0.5);
  EXPECT_EQ(e->deal->time_msc, kNow);
}

/// An IOC buy of 1 lot filled 0.3 and its rest cancelled: the fill as the counterparty reports it.
Execution partial_fill() {
  Execution e;
  e.cl_ord_id = "c-2";
  e.exec_type = 'F';
  e.result = {Retcode::DonePartial, 901, 801, 801, 0.3, 1.1, 1.0999, 1.1001, "Request executed partially"};
  e.order.ticket = 801;
  e.order.login = 5001;
  e.order.symbol = "EURUSD";
  e.order.type = OrderType::Buy;
  e.order.state = OrderState::Canceled;
  e.order.type_filling = Filling::Ioc;
  e.order.volume_initial = 1.0;
  e.order.volume_current = 0.7;
  e.order.position_id = 801;
  e.order.time_setup_msc = e.order.time_done_msc = kNow;
  e.deal = Deal{};
  e.deal->ticket = 901;
  e.deal->login = 5001;
  e.deal->order = 801;
  e.deal->position_id = 801;
  e.deal->symbol = "EURUSD";
  e.deal->volume = 0.3;
  e.deal->price = 1.1;
  e.deal->time_msc = kNow;
  return e;
}

TEST(FixMapping, APartialFillIsOrdStatusPartiallyFilledWithItsQuantities) {
  const auto m = wire(to_fix(partial_fill()));
  EXPECT_EQ(m.get(150), "F");
  EXPECT_EQ(m.get(39), "1");     // partially filled
  EXPECT_EQ(m.get(38), "1");     // OrderQty
  EXPECT_EQ(m.get(14), "0.3");   // CumQty
  EXPECT_EQ(m.get(151), "0.7");  // LeavesQty: open at the time of the fill
  EXPECT_EQ(m.get(32), "0.3");   // LastQty
  EXPECT_EQ(m.get(20010), "10010");
  auto e = execution_from_fix(m);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->result.retcode, Retcode::DonePartial);
  EXPECT_DOUBLE_EQ(e->result.volume, 0.3);  // the filled volume, not the requested one
  EXPECT_DOUBLE_EQ(e->order.volume_initial, 1.0);
  EXPECT_DOUBLE_EQ(e->order.volume_current, 0.7);
  ASSERT_TRUE(e->deal);
  EXPECT_DOUBLE_EQ(e->deal->volume, 0.3);

  // A counterparty that sends no Mt5Retcode: OrdStatus 1 on a trade is DONE_PARTIAL.
  Message plain(msg::kExecutionReport);
  for (const auto& f : m.fields()) {
    if (f.tag != 20010 && f.tag != 35) plain.add(f.tag, f.value);
  }
  auto p = execution_from_fix(plain);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->result.retcode, Retcode::DonePartial);
}

TEST(FixMapping, TheCancelledRestOfAnIocOrderHasNoLeavesQtyAndKeepsItsCumQty) {
  Execution rest = partial_fill();
  rest.exec_type = '4';
  rest.deal.reset();
  const auto m = wire(to_fix(rest));
  EXPECT_EQ(m.get(39), "4");
  EXPECT_EQ(m.get(151), "0");  // FIX: nothing is open on a canceled order
  EXPECT_EQ(m.get(14), "0.3");
  EXPECT_EQ(m.get(32), "0");
  auto e = execution_from_fix(m);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->order.state, OrderState::Canceled);
  EXPECT_DOUBLE_EQ(e->order.volume_initial, 1.0);
  EXPECT_DOUBLE_EQ(e->order.volume_current, 0.7);  // MT5: what was never filled
  EXPECT_FALSE(e->deal);

  // A pending order removed before any fill still reads back whole.
  Execution removed = rest;
  removed.order.type = OrderType::BuyLimit;
  removed.order.volume_current = 1.0;
  auto r = execution_from_fix(wire(to_fix(removed)));
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->order.volume_current, 1.0);
}

TEST(FixMapping, RefusalCarriesTheMt5RetcodeOrFallsBackToOrdRejReason) {
  Execution refused;
  refused.cl_ord_id = "c-9";
  refused.exec_type = '8';
  refused.result.retcode = Retcode::NoMoney;
  refused.result.comment = "Not enough money";
  refused.order.login = 1;
  refused.order.symbol = "EURUSD";
  refused.order.volume_initial = 50;
  const auto m = wire(to_fix(refused));
  EXPECT_EQ(m.get(103), "3");
  auto e = execution_from_fix(m);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->result.retcode, Retcode::NoMoney);
  EXPECT_FALSE(e->deal);

  // A counterparty that does not send Mt5Retcode: OrdRejReason says what it can.
  auto plain = *Message::parse(
      "35=8\x01"
      "37=NONE\x01"
      "11=c\x01"
      "17=x\x01"
      "150=8\x01"
      "39=8\x01"
      "1=1\x01"
      "55=EURUSD\x01"
      "54=1\x01"
      "38=1\x01"
      "40=1\x01"
      "103=3\x01");
  auto p = execution_from_fix(plain);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->result.retcode, Retcode::NoMoney);
}

TEST(FixMapping, MassStatusWithNoOrderIsOneEmptyReport) {
  Execution none;
  none.exec_type = 'I';
  none.mass_status_id = "m-1";
  none.total_reports = 0;
  none.last_report = true;
  auto e = execution_from_fix(wire(to_fix(none)));
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->no_order());
  EXPECT_EQ(e->mass_status_id, "m-1");
  EXPECT_TRUE(e->last_report);
}

TEST(FixMapping, PositionReportRoundTrips) {
  PositionReport r;
  r.id = "p-1";
  r.total = 2;
  r.last = false;
  r.now_msc = kNow;
  r.position = {42,
                5001,
                "EURUSD",
                PositionType::Sell,
                0.3,
                1.1,
                1.09,
                1.2,
                1.0,
                30,
                -1,
                -0.6,
                7,
                "hedge",
                DealReason::Expert,
                kNow - 1000,
                kNow - 10,
                false,
                std::nullopt,
                std::nullopt,
                std::nullopt};
  auto p = position_report_from_fix(wire(to_fix(r)));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, "p-1");
  EXPECT_EQ(p->total, 2U);
  EXPECT_FALSE(p->last);
  const auto& q = p->position;
  EXPECT_EQ(q.ticket, 42U);
  EXPECT_EQ(q.type, PositionType::Sell);
  EXPECT_DOUBLE_EQ(q.volume, 0.3);
  EXPECT_DOUBLE_EQ(q.price_open, 1.1);
  EXPECT_DOUBLE_EQ(q.price_current, 1.09);
  EXPECT_DOUBLE_EQ(q.sl, 1.2);
  EXPECT_DOUBLE_EQ(q.profit, 30);
  EXPECT_DOUBLE_EQ(q.commission, -0.6);
  EXPECT_EQ(q.comment, "hedge");
  EXPECT_EQ(q.reason, DealReason::Expert);
  EXPECT_EQ(q.time_msc, kNow - 1000);
  EXPECT_EQ(q.time_update_msc, kNow - 10);
}

TEST(FixMapping, TradeCaptureRoundTripsIncludingBalanceDeals) {
  TradeCapture t;
  t.id = "t-1";
  t.total = 1;
  t.deal = Deal{5, 5001,  0, 0, "", DealType::Balance, DealEntry::In, DealReason::Client, 0,
                0, 10000, 0, 0, 0,  "deposit",         kNow};
  const auto m = wire(to_fix(t));
  EXPECT_EQ(m.get(55), "[N/A]");
  auto d = trade_capture_from_fix(m);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->deal.type, DealType::Balance);
  EXPECT_EQ(d->deal.symbol, "");
  EXPECT_DOUBLE_EQ(d->deal.profit, 10000);
  EXPECT_EQ(d->deal.time_msc, kNow);
  EXPECT_EQ(d->deal.comment, "deposit");
}

TEST(FixMapping, CollateralReportRoundTripsAndSaysUnknown) {
  AccountInfo a;
  a.login = 5001;
  a.name = "Ada";
  a.server = "Permiso-Demo";
  a.currency = "EUR";
  a.leverage = 30;
  a.balance = 10000.5;
  a.equity = 10010.25;
  a.margin = 250;
  a.margin_free = 9760.25;
  a.margin_level = 4004.1;
  a.profit = 9.75;
  a.demo = false;
  auto r = collateral_report_from_fix(wire(to_fix(CollateralReport{"b-1", 5001, a, ""})));
  ASSERT_TRUE(r && r->account);
  EXPECT_EQ(r->account->name, "Ada");
  EXPECT_EQ(r->account->currency, "EUR");
  EXPECT_EQ(r->account->leverage, 30);
  EXPECT_DOUBLE_EQ(r->account->balance, 10000.5);
  EXPECT_DOUBLE_EQ(r->account->equity, 10010.25);
  EXPECT_DOUBLE_EQ(r->account->margin, 250);
  EXPECT_DOUBLE_EQ(r->account->margin_level, 4004.1);
  EXPECT_FALSE(r->account->demo);
  auto unknown = collateral_report_from_fix(wire(to_fix(CollateralReport{"b-2", 9, std::nullopt, "no such account"})));
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(unknown->account);
  EXPECT_EQ(unknown->text, "no such account");
}

TEST(FixMapping, SecurityListRoundTrips) {
  SymbolInfo eurusd;
  eurusd.name = "EURUSD";
  eurusd.description = "Euro vs US Dollar";
  eurusd.currency_base = "EUR";
  eurusd.currency_profit = "USD";
  eurusd.currency_margin = "EUR";
  SymbolInfo gold = eurusd;
  gold.name = "XAUUSD";
  gold.description = "";
  gold.digits = 2;
  gold.point = 0.01;
  gold.contract_size = 100;
  gold.margin_mode = MarginMode::CfdLeverage;
  gold.trade_allowed = false;
  auto l = security_list_from_fix(wire(to_fix(SecurityList{"s-1", {eurusd, gold}})));
  ASSERT_TRUE(l);
  ASSERT_EQ(l->symbols.size(), 2U);
  EXPECT_EQ(l->symbols[0].description, "Euro vs US Dollar");
  EXPECT_DOUBLE_EQ(l->symbols[0].point, 0.00001);
  EXPECT_EQ(l->symbols[1].digits, 2);
  EXPECT_DOUBLE_EQ(l->symbols[1].contract_size, 100);
  EXPECT_EQ(l->symbols[1].margin_mode, MarginMode::CfdLeverage);
  EXPECT_FALSE(l->symbols[1].trade_allowed);
}

TEST(FixMapping, QuotesRoundTripAndNeedBothSides) {
  auto q = quote_snapshot_from_fix(wire(to_fix(QuoteSnapshot{"q", "EURUSD", {kNow, 1.10001, 1.10011, 0}})));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->symbol, "EURUSD");
  EXPECT_EQ(q->tick.time_msc, kNow);
  EXPECT_DOUBLE_EQ(q->tick.bid, 1.10001);
  EXPECT_DOUBLE_EQ(q->tick.ask, 1.10011);
  auto bid_only = *Message::parse(
      "35=W\x01"
      "55=EURUSD\x01"
      "268=1\x01"
      "269=0\x01"
      "270=1.1\x01"
      "272=20261206\x01"
      "273=14:05:09.123\x01");
  EXPECT_FALSE(quote_snapshot_from_fix(bid_only));

  auto v = quote_subscription_from_fix(wire(to_fix(QuoteSubscription{"q", {"EURUSD", "XAUUSD"}})));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->symbols, (std::vector<std::string>{"EURUSD", "XAUUSD"}));
}

TEST(FixMapping, QueriesAcksAndAccountsRoundTrip) {
  auto ad = account_query_from_fix(wire(to_fix(AccountQuery{msg::kTradeCaptureRequest, "t-1", 5001, 10, 20, kNow})));
  ASSERT_TRUE(ad);
  EXPECT_EQ(ad->type, msg::kTradeCaptureRequest);
  EXPECT_EQ(ad->from_msc, 10);
  EXPECT_EQ(ad->to_msc, 20);
  for (auto type : {msg::kOrderMassStatusRequest, msg::kRequestForPositions, msg::kCollateralInquiry}) {
    auto q = account_query_from_fix(wire(to_fix(AccountQuery{type, "id", 5001, 0, 0, kNow})));
    ASSERT_TRUE(q) << type;
    EXPECT_EQ(q->login, 5001U);
    EXPECT_EQ(q->id, "id");
  }
  auto x = account_query_from_fix(wire(to_fix(AccountQuery{msg::kSecurityListRequest, "s", 0, 0, 0, 0})));
  ASSERT_TRUE(x);
  EXPECT_EQ(x->type, msg::kSecurityListRequest);

  auto ao = reports_ack_from_fix(wire(to_fix(ReportsAck{msg::kPositionsAck, "p", 5001, 0})));
  ASSERT_TRUE(ao);
  EXPECT_EQ(ao->total, 0U);
  auto aq = reports_ack_from_fix(wire(to_fix(ReportsAck{msg::kTradeCaptureAck, "t", 5001, 3})));
  ASSERT_TRUE(aq);
  EXPECT_EQ(aq->total, 3U);

  auto u1 = account_open_request_from_fix(wire(to_fix(AccountOpenRequest{"a", "Ada", "USD", 500, 1000})));
  ASSERT_TRUE(u1);
  EXPECT_EQ(u1->leverage, 500);
  EXPECT_DOUBLE_EQ(u1->deposit, 1000);
  auto u2 = account_open_report_from_fix(wire(to_fix(AccountOpenReport{"a", 5002, Retcode::Done, ""})));
  ASSERT_TRUE(u2);
  EXPECT_EQ(u2->login, 5002U);

  auto h = order_status_request_from_fix(wire(to_fix(OrderStatusRequest{"c-1", 5001, "EURUSD", OrderType::Sell})));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->cl_ord_id, "c-1");
  EXPECT_EQ(h->type, OrderType::Sell);
}

TEST(FixMapping, CancelRejectAndPositionModifyReportRoundTrip) {
  RequestRefusal nine{msg::kOrderCancelReject, "c-2", "c-1", 77, 0, 0, '2', Retcode::InvalidPrice, "Invalid price"};
  auto r = request_refusal_from_fix(wire(to_fix(nine)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->order, 77U);
  EXPECT_EQ(r->response_to, '2');
  EXPECT_EQ(r->retcode, Retcode::InvalidPrice);
  RequestRefusal u4{msg::kPositionModifyReport, "c-3", "", 0, 5001, 42, '1', Retcode::Done, ""};
  auto ok = request_refusal_from_fix(wire(to_fix(u4)));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->position, 42U);
  EXPECT_EQ(ok->retcode, Retcode::Done);
}

// ---- a broker's own numbering of our custom fields (MT5_FIX_TAGS) ----

/// Every custom field moved up by 10000 (PositionID 30001, ..., TradeAllowed 30058): a broker
/// that numbers none of them as our dictionary does.
TagMap shifted_tags() {
  TagMap tags;
  for (const auto& field : fixtags::custom_fields()) tags.*field.number = field.default_number() + 10'000;
  return tags;
}

/// Round-trips `sample` under `broker`'s numbering and under the defaults: each decodes to the
/// same values (compared through their default encoding), and the renumbered text carries no
/// default custom tag. Returns the tags of the renumbered text.
template <class T, class Decode>
std::vector<int> round_trip_renumbered(const T& sample, const TagMap& broker, Decode decode) {
  const auto renumbered = wire(to_fix(sample, broker));
  std::vector<int> tags;
  for (const auto& field : renumbered.fields()) {
    EXPECT_FALSE(field.tag >= 20'000 && field.tag < 20'100)
        << "default custom tag " << field.tag << " in " << renumbered.text();
    tags.push_back(field.tag);
  }
  auto ours = decode(renumbered, broker);
  auto expected = decode(wire(to_fix(sample, TagMap{})), TagMap{});
  EXPECT_TRUE(ours && expected) << renumbered.text();
  if (ours && expected) {
    EXPECT_EQ(to_fix(*ours, TagMap{}).text(), to_fix(*expected, TagMap{}).text());
  }
  return tags;
}

AccountInfo full_account() {
  AccountInfo a;
  a.login = 5001;
  a.name = "Ada";
  a.server = "Permiso-Demo";
  a.currency = "EUR";
  a.leverage = 30;
  a.balance = 10000.5;
  a.credit = 5;
  a.equity = 10010.25;
  a.margin = 250;
  a.margin_free = 9760.25;
  a.margin_level = 4004.1;
  a.margin_so_call = 80;
  a.margin_so_so = 40;
  a.profit = 9.75;
  return a;
}

TEST(FixMapping, EveryCustomFieldTravelsUnderABrokersOwnNumbering) {
  const TagMap broker = shifted_tags();
  std::set<int> seen;
  const auto note = [&seen](const std::vector<int>& tags) { seen.insert(tags.begin(), tags.end()); };

  note(round_trip_renumbered(OrderRequest{"c-1", "", 5001, market_close(), kNow}, broker, order_request_from_fix));
  TradeRequest stops;
  stops.action = TradeAction::SlTp;
  stops.symbol = "EURUSD";
  stops.position = 42;
  stops.sl = 1.0;
  note(round_trip_renumbered(OrderRequest{"c-2", "", 5001, stops, kNow}, broker, order_request_from_fix));
  note(round_trip_renumbered(fill(), broker, execution_from_fix));
  note(round_trip_renumbered(RequestRefusal{msg::kPositionModifyReport, "c-2", "", 0, 5001, 42, '1', Retcode::Done, ""},
                             broker, request_refusal_from_fix));
  PositionReport position{"p-1", 1, true, {}, kNow};
  position.position = {42,
                       5001,
                       "EURUSD",
                       PositionType::Sell,
                       0.3,
                       1.1,
                       1.09,
                       1.2,
                       1.0,
                       30,
                       -1,
                       -0.6,
                       7,
                       "hedge",
                       DealReason::Expert,
                       kNow - 1000,
                       kNow - 10,
                       false,
                       std::nullopt,
                       std::nullopt,
                       std::nullopt};
  note(round_trip_renumbered(position, broker, position_report_from_fix));
  TradeCapture deal{"t-1", 1, true, fill().deal.value()};
  note(round_trip_renumbered(deal, broker, trade_capture_from_fix));
  note(round_trip_renumbered(AccountQuery{msg::kTradeCaptureRequest, "t-1", 5001, 10, 20, kNow}, broker,
                             account_query_from_fix));
  note(round_trip_renumbered(AccountOpenRequest{"a", "Ada", "USD", 500, 1000}, broker, account_open_request_from_fix));
  note(round_trip_renumbered(AccountOpenReport{"a", 5002, Retcode::Done, ""}, broker, account_open_report_from_fix));
  note(round_trip_renumbered(CollateralReport{"b-1", 5001, full_account(), ""}, broker, collateral_report_from_fix));
  SymbolInfo eurusd;
  eurusd.name = "EURUSD";
  eurusd.currency_base = "EUR";
  eurusd.currency_profit = "USD";
  eurusd.currency_margin = "EUR";
  eurusd.stops_level = 10;
  note(round_trip_renumbered(SecurityList{"s-1", {eurusd}}, broker, security_list_from_fix));

  // Every custom field was carried, each under the broker's number only.
  for (const auto& field : fixtags::custom_fields()) {
    EXPECT_TRUE(seen.count(broker.*field.number)) << field.name << " never travelled";
  }
}

TEST(FixMapping, AReportUnderTheWrongNumberingIsNotReadAsAnother) {
  const TagMap broker = shifted_tags();
  // The counterparty numbers as the broker does; a connector on the defaults finds no
  // PositionID in a position report and refuses it, rather than reading a position 0.
  PositionReport position{"p-1", 1, true, {}, kNow};
  position.position.ticket = 42;
  position.position.login = 5001;
  position.position.symbol = "EURUSD";
  position.position.volume = 0.3;
  position.position.price_open = 1.1;
  position.position.price_current = 1.09;
  const auto renumbered = wire(to_fix(position, broker));
  EXPECT_TRUE(position_report_from_fix(renumbered, broker));
  EXPECT_FALSE(position_report_from_fix(renumbered, TagMap{}));
  // A security list without the broker's Digits (a required field) is refused whole.
  SymbolInfo eurusd;
  eurusd.name = "EURUSD";
  eurusd.currency_base = "EUR";
  eurusd.currency_profit = "USD";
  eurusd.currency_margin = "EUR";
  EXPECT_FALSE(security_list_from_fix(wire(to_fix(SecurityList{"s-1", {eurusd}}, broker)), TagMap{}));
}

TEST(FixMapping, DictionaryNumbersNameEveryCustomFieldAsTheMapNumbersIt) {
  const auto numbers = dictionary_numbers(shifted_tags());
  ASSERT_EQ(numbers.size(), fixtags::custom_fields().size());
  EXPECT_EQ(numbers.front(), (std::pair<std::string, int>{"PositionID", 30001}));
  EXPECT_EQ(numbers.back(), (std::pair<std::string, int>{"TradeAllowed", 30058}));
}

}  // namespace
}  // namespace permiso::trading::fix
