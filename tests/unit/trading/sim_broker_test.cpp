// The simulated broker against hand-computed cases: margin (forex, CFD, cross-currency),
// floating and realised P&L with conversions, SL/TP and pending triggers at the right quote,
// stop-out order, insufficient margin, every validation retcode, determinism under a seed,
// restore() round trips, account isolation, listeners and bar backfill.
#include "trading/sim/simulated_broker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

namespace permiso::trading::sim {
namespace {

constexpr TimeMs kStart = 1'700'000'000'000;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

SimOptions exact_options(std::uint64_t seed = 7) {
  SimOptions o;
  o.seed = seed;
  o.start_time_msc = kStart;
  o.slippage_points = 0;  // fills at the quote, so arithmetic is exact
  return o;
}

TradeRequest market(std::string symbol, OrderType type, double volume) {
  TradeRequest r;
  r.action = TradeAction::Deal;
  r.symbol = std::move(symbol);
  r.type = type;
  r.volume = volume;
  r.deviation = 20;
  return r;
}

TradeRequest close_req(Ticket position, double volume = 0) {
  TradeRequest r;
  r.action = TradeAction::Deal;
  r.position = position;
  r.volume = volume;
  r.deviation = 20;
  return r;
}

TradeRequest pending(std::string symbol, OrderType type, double volume, double price) {
  TradeRequest r;
  r.action = TradeAction::Pending;
  r.symbol = std::move(symbol);
  r.type = type;
  r.volume = volume;
  r.price = price;
  return r;
}

class SimBroker : public ::testing::Test {
 protected:
  Login open(std::string_view currency = "USD", double deposit = 10'000, int leverage = 100) {
    auto out = broker.open_account("test", currency, leverage, deposit);
    EXPECT_EQ(out.result.retcode, Retcode::Done) << out.result.comment;
    EXPECT_EQ(out.changes.accounts.size(), 1u);
    return out.changes.accounts.empty() ? 0 : out.changes.accounts[0].login;
  }
  void quote(std::string_view symbol, double bid, double ask) {
    ASSERT_TRUE(broker.set_quote(symbol, bid, ask).has_value());
  }
  Ticket buy(Login login, std::string symbol, double volume, double sl = 0, double tp = 0) {
    auto r = market(std::move(symbol), OrderType::Buy, volume);
    r.sl = sl;
    r.tp = tp;
    auto out = broker.order_send(login, r);
    EXPECT_EQ(out.result.retcode, Retcode::Done) << out.result.comment;
    return out.result.position;
  }
  Ticket sell(Login login, std::string symbol, double volume, double sl = 0, double tp = 0) {
    auto r = market(std::move(symbol), OrderType::Sell, volume);
    r.sl = sl;
    r.tp = tp;
    auto out = broker.order_send(login, r);
    EXPECT_EQ(out.result.retcode, Retcode::Done) << out.result.comment;
    return out.result.position;
  }
  std::optional<Position> position(Login login, Ticket t) {
    for (const auto& p : broker.positions_get(login)) {
      if (p.ticket == t) return p;
    }
    return std::nullopt;
  }

  SimulatedBroker broker{exact_options()};
};

// ------------------------------------------------------------------ instruments

TEST_F(SimBroker, InstrumentsHaveRealWorldSpecs) {
  const auto syms = broker.symbols_get();
  EXPECT_EQ(syms.size(), 14u);
  auto eurusd = broker.symbol_info("EURUSD");
  ASSERT_TRUE(eurusd);
  EXPECT_EQ(eurusd->digits, 5);
  EXPECT_DOUBLE_EQ(eurusd->point, 0.00001);
  EXPECT_EQ(eurusd->contract_size, 100000);
  EXPECT_EQ(eurusd->currency_margin, "EUR");
  EXPECT_EQ(eurusd->margin_mode, MarginMode::Forex);
  auto gold = broker.symbol_info("XAUUSD");
  ASSERT_TRUE(gold);
  EXPECT_EQ(gold->contract_size, 100);
  EXPECT_EQ(gold->digits, 2);
  EXPECT_EQ(gold->margin_mode, MarginMode::CfdLeverage);
  auto us500 = broker.symbol_info("US500");
  ASSERT_TRUE(us500);
  EXPECT_EQ(us500->contract_size, 1);
  EXPECT_EQ(us500->volume_step, 0.1);
  EXPECT_FALSE(broker.symbol_info("NOPE"));
  for (const auto& s : syms) {
    auto t = broker.symbol_info_tick(s.name);
    ASSERT_TRUE(t) << s.name;
    EXPECT_GT(t->bid, 0) << s.name;
    EXPECT_GT(t->ask, t->bid) << s.name;
    EXPECT_EQ(t->time_msc, kStart);
  }
  // crosses are derived from their legs: EURGBP ≈ EURUSD / GBPUSD
  const auto eu = *broker.symbol_info_tick("EURUSD");
  const auto gu = *broker.symbol_info_tick("GBPUSD");
  const auto eg = *broker.symbol_info_tick("EURGBP");
  EXPECT_NEAR((eg.bid + eg.ask) / 2, ((eu.bid + eu.ask) / 2) / ((gu.bid + gu.ask) / 2), 0.0002);
}

// ------------------------------------------------------------------ margin

TEST_F(SimBroker, ForexMarginInBaseCurrencyConvertedToUsd) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  buy(l, "EURUSD", 1.0);
  // 1 lot × 100,000 / 100 = 1,000 EUR × 1.10000 (EURUSD bid) = 1,100.00 USD
  EXPECT_DOUBLE_EQ(broker.account_info(l)->margin, 1100.00);
  quote("USDJPY", 150.000, 150.010);
  buy(l, "USDJPY", 0.5);
  // + 0.5 × 100,000 / 100 = 500 USD
  EXPECT_DOUBLE_EQ(broker.account_info(l)->margin, 1600.00);
  // margin in EUR floats with the conversion rate
  quote("EURUSD", 1.20000, 1.20010);
  EXPECT_DOUBLE_EQ(broker.account_info(l)->margin, 1700.00);
}

TEST_F(SimBroker, CfdMarginUsesContractTimesPrice) {
  const Login l = open();
  quote("XAUUSD", 2000.00, 2000.50);
  buy(l, "XAUUSD", 1.0);
  // 1 × 100 oz × 2000.50 / 100 = 2,000.50 USD
  EXPECT_DOUBLE_EQ(broker.account_info(l)->margin, 2000.50);
  quote("US500", 5000.00, 5000.50);
  sell(l, "US500", 2.0);
  // 2 × 1 × 5000.00 / 100 = 100.00 USD
  EXPECT_DOUBLE_EQ(broker.account_info(l)->margin, 2100.50);
}

TEST_F(SimBroker, CrossCurrencyMargin) {
  quote("EURUSD", 1.10000, 1.10010);
  quote("EURGBP", 0.85000, 0.85010);
  quote("EURJPY", 160.000, 160.020);
  quote("USDCHF", 0.90000, 0.90020);
  quote("XAUUSD", 2000.00, 2000.50);
  // GBP account, EURUSD: 1,000 EUR → GBP × EURGBP bid 0.85000 = 850.00 GBP
  const Login gbp = open("GBP");
  buy(gbp, "EURUSD", 1.0);
  EXPECT_DOUBLE_EQ(broker.account_info(gbp)->margin, 850.00);
  // JPY account, EURUSD: 1,000 EUR × EURJPY bid 160.000 = 160,000 JPY
  const Login jpy = open("JPY", 10'000'000);
  buy(jpy, "EURUSD", 1.0);
  EXPECT_DOUBLE_EQ(broker.account_info(jpy)->margin, 160'000.00);
  // EUR account, XAUUSD: 2,000.50 USD ÷ EURUSD ask 1.10010 = 1,818.47 EUR
  const Login eur = open("EUR");
  buy(eur, "XAUUSD", 1.0);
  EXPECT_DOUBLE_EQ(broker.account_info(eur)->margin, std::round(2000.50 / 1.10010 * 100) / 100);
  EXPECT_DOUBLE_EQ(broker.account_info(eur)->margin, 1818.47);
  // CHF account, EURGBP (margin EUR): EUR → USD × 1.10000, USD → CHF × 0.90000 = 990.00 CHF
  const Login chf = open("CHF");
  buy(chf, "EURGBP", 1.0);
  EXPECT_DOUBLE_EQ(broker.account_info(chf)->margin, 990.00);
}

TEST_F(SimBroker, InsufficientMarginIsNoMoney) {
  const Login l = open("USD", 1000);
  quote("EURUSD", 1.10000, 1.10010);
  // 1 lot needs 1,100 USD of 1,000 free
  auto out = broker.order_send(l, market("EURUSD", OrderType::Buy, 1.0));
  EXPECT_EQ(out.result.retcode, Retcode::NoMoney);
  EXPECT_EQ(out.result.comment, "Not enough money");
  EXPECT_TRUE(out.changes.empty());
  EXPECT_TRUE(broker.positions_get(l).empty());
  // 0.9 lot needs 990: accepted; then 0.01 more (11) is not
  buy(l, "EURUSD", 0.9);
  EXPECT_EQ(broker.order_send(l, market("EURUSD", OrderType::Buy, 0.01)).result.retcode, Retcode::NoMoney);
  auto info = *broker.account_info(l);
  EXPECT_DOUBLE_EQ(info.margin, 990.00);
  EXPECT_DOUBLE_EQ(info.profit, -9.00);  // opened at ask: 0.9 × 100,000 × −0.00010
  EXPECT_DOUBLE_EQ(info.equity, 991.00);
  EXPECT_DOUBLE_EQ(info.margin_free, 1.00);
  EXPECT_DOUBLE_EQ(info.margin_level, std::round(991.0 / 990.0 * 100 * 100) / 100);
}

// ------------------------------------------------------------------ P&L and conversions

TEST_F(SimBroker, EurusdBuyAndSellProfit) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  const Ticket b = buy(l, "EURUSD", 1.0);
  const Ticket s = sell(l, "EURUSD", 0.5);
  EXPECT_DOUBLE_EQ(position(l, b)->price_open, 1.10010);  // buy at ask
  EXPECT_DOUBLE_EQ(position(l, s)->price_open, 1.10000);  // sell at bid
  quote("EURUSD", 1.10110, 1.10120);
  // buy: (1.10110 − 1.10010) × 1 × 100,000 = 100.00; sell: (1.10000 − 1.10120) × 50,000 = −60.00
  EXPECT_DOUBLE_EQ(position(l, b)->profit, 100.00);
  EXPECT_DOUBLE_EQ(position(l, b)->price_current, 1.10110);
  EXPECT_DOUBLE_EQ(position(l, s)->profit, -60.00);
  EXPECT_DOUBLE_EQ(position(l, s)->price_current, 1.10120);
  auto info = *broker.account_info(l);
  EXPECT_DOUBLE_EQ(info.profit, 40.00);
  EXPECT_DOUBLE_EQ(info.equity, 10'040.00);
  // closing realises into the balance with an Out deal
  auto out = broker.order_send(l, close_req(b));
  ASSERT_EQ(out.result.retcode, Retcode::Done);
  EXPECT_DOUBLE_EQ(out.result.price, 1.10110);
  EXPECT_EQ(out.result.position, b);
  ASSERT_EQ(out.changes.deals.size(), 1u);
  EXPECT_EQ(out.changes.deals[0].entry, DealEntry::Out);
  EXPECT_EQ(out.changes.deals[0].type, DealType::Sell);
  EXPECT_DOUBLE_EQ(out.changes.deals[0].profit, 100.00);
  ASSERT_EQ(out.changes.positions.size(), 1u);
  EXPECT_TRUE(out.changes.positions[0].closed);
  EXPECT_EQ(out.changes.positions[0].close_price, 1.10110);
  EXPECT_EQ(out.changes.positions[0].close_reason, DealReason::Client);
  EXPECT_DOUBLE_EQ(out.changes.accounts.at(0).balance, 10'100.00);
  EXPECT_DOUBLE_EQ(broker.account_info(l)->balance, 10'100.00);
  EXPECT_EQ(broker.positions_get(l).size(), 1u);
}

TEST_F(SimBroker, UsdjpyProfitConvertedToUsd) {
  const Login l = open();
  quote("USDJPY", 150.000, 150.010);
  const Ticket b = buy(l, "USDJPY", 1.0);
  quote("USDJPY", 151.010, 151.020);
  // (151.010 − 150.010) × 100,000 = 100,000 JPY ÷ USDJPY ask 151.020 = 662.16 USD
  EXPECT_DOUBLE_EQ(position(l, b)->profit, 662.16);
  auto out = broker.order_send(l, close_req(b));
  EXPECT_DOUBLE_EQ(out.changes.deals.at(0).profit, 662.16);
  EXPECT_DOUBLE_EQ(broker.account_info(l)->balance, 10'662.16);
}

TEST_F(SimBroker, EurgbpProfitViaGbpusd) {
  const Login l = open();
  quote("GBPUSD", 1.25000, 1.25010);
  quote("EURGBP", 0.85000, 0.85010);
  const Ticket b = buy(l, "EURGBP", 1.0);
  quote("EURGBP", 0.85110, 0.85120);
  // (0.85110 − 0.85010) × 100,000 = 100 GBP × GBPUSD bid 1.25000 = 125.00 USD
  EXPECT_DOUBLE_EQ(position(l, b)->profit, 125.00);
  quote("GBPUSD", 1.30000, 1.30010);
  EXPECT_DOUBLE_EQ(position(l, b)->profit, 130.00);
}

TEST_F(SimBroker, XauusdProfitAndEurAccountConversion) {
  const Login usd = open();
  const Login eur = open("EUR");
  quote("EURUSD", 1.25000, 1.25010);
  quote("XAUUSD", 2000.00, 2000.50);
  const Ticket a = buy(usd, "XAUUSD", 1.0);
  const Ticket b = buy(eur, "XAUUSD", 1.0);
  quote("XAUUSD", 2010.50, 2011.00);
  // (2010.50 − 2000.50) × 1 × 100 = 1,000.00 USD
  EXPECT_DOUBLE_EQ(position(usd, a)->profit, 1000.00);
  // in a EUR account: 1,000 USD ÷ EURUSD ask 1.25010 = 799.94 EUR
  EXPECT_DOUBLE_EQ(position(eur, b)->profit, 799.94);
  EXPECT_DOUBLE_EQ(broker.account_info(eur)->equity, 10'799.94);
}

TEST_F(SimBroker, PartialCloseKeepsTheRestOpen) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  const Ticket b = buy(l, "EURUSD", 1.0);
  quote("EURUSD", 1.10110, 1.10120);
  auto out = broker.order_send(l, close_req(b, 0.4));
  ASSERT_EQ(out.result.retcode, Retcode::Done);
  EXPECT_DOUBLE_EQ(out.changes.deals.at(0).profit, 40.00);
  auto rest = position(l, b);
  ASSERT_TRUE(rest);
  EXPECT_DOUBLE_EQ(rest->volume, 0.6);
  EXPECT_DOUBLE_EQ(rest->profit, 60.00);
  EXPECT_DOUBLE_EQ(broker.account_info(l)->margin, 660.66);  // 600 EUR × 1.10110
  out = broker.order_send(l, close_req(b));
  ASSERT_EQ(out.result.retcode, Retcode::Done);
  EXPECT_DOUBLE_EQ(out.changes.positions.at(0).profit, 100.00);  // the whole position's profit
  EXPECT_DOUBLE_EQ(broker.account_info(l)->balance, 10'100.00);
  EXPECT_DOUBLE_EQ(broker.account_info(l)->margin, 0.0);
}

// ------------------------------------------------------------------ SL / TP

TEST_F(SimBroker, BuyStopLossTriggersOnBid) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  const Ticket b = buy(l, "EURUSD", 1.0, 1.09900, 1.10200);
  auto ch = broker.set_quote("EURUSD", 1.09901, 1.09950);  // ask below the SL does not matter
  ASSERT_TRUE(ch);
  EXPECT_TRUE(ch->empty());
  EXPECT_TRUE(position(l, b));
  ch = broker.set_quote("EURUSD", 1.09900, 1.09910);
  ASSERT_TRUE(ch);
  ASSERT_EQ(ch->positions.size(), 1u);
  const Position& p = ch->positions[0];
  EXPECT_TRUE(p.closed);
  EXPECT_EQ(p.close_reason, DealReason::Sl);
  EXPECT_EQ(p.close_price, 1.09900);
  ASSERT_EQ(ch->deals.size(), 1u);
  EXPECT_EQ(ch->deals[0].reason, DealReason::Sl);
  EXPECT_DOUBLE_EQ(ch->deals[0].profit, -110.00);  // (1.09900 − 1.10010) × 100,000
  EXPECT_EQ(ch->deals[0].comment, "[sl 1.09900]");
  EXPECT_DOUBLE_EQ(ch->accounts.at(0).balance, 9'890.00);
  EXPECT_FALSE(position(l, b));
}

TEST_F(SimBroker, BuyTakeProfitTriggersOnBid) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  buy(l, "EURUSD", 1.0, 1.09900, 1.10200);
  EXPECT_TRUE(broker.set_quote("EURUSD", 1.10190, 1.10200)->empty());  // ask at TP: not yet
  auto ch = broker.set_quote("EURUSD", 1.10200, 1.10210);
  ASSERT_EQ(ch->deals.size(), 1u);
  EXPECT_EQ(ch->deals[0].reason, DealReason::Tp);
  EXPECT_DOUBLE_EQ(ch->deals[0].price, 1.10200);
  EXPECT_DOUBLE_EQ(ch->deals[0].profit, 190.00);
}

TEST_F(SimBroker, SellStopsTriggerOnAskAndGapsFillAtTheQuote) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  const Ticket tp_pos = sell(l, "EURUSD", 1.0, 0, 1.09800);
  const Ticket sl_pos = sell(l, "EURUSD", 1.0, 1.10300, 0);
  EXPECT_TRUE(broker.set_quote("EURUSD", 1.09800, 1.09810)->empty());  // bid at TP: not yet
  auto ch = broker.set_quote("EURUSD", 1.09790, 1.09800);
  ASSERT_EQ(ch->positions.size(), 1u);
  EXPECT_EQ(ch->positions[0].ticket, tp_pos);
  EXPECT_EQ(ch->positions[0].close_reason, DealReason::Tp);
  EXPECT_DOUBLE_EQ(ch->deals.at(0).profit, 200.00);  // (1.10000 − 1.09800) × 100,000
  // a gap through the SL closes at the quote, not at the SL
  ch = broker.set_quote("EURUSD", 1.10390, 1.10400);
  ASSERT_EQ(ch->positions.size(), 1u);
  EXPECT_EQ(ch->positions[0].ticket, sl_pos);
  EXPECT_EQ(ch->positions[0].close_reason, DealReason::Sl);
  EXPECT_EQ(ch->positions[0].close_price, 1.10400);
  EXPECT_DOUBLE_EQ(ch->deals.at(0).profit, -400.00);
}

TEST_F(SimBroker, SlTpModifiesStops) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  const Ticket b = buy(l, "EURUSD", 1.0);
  TradeRequest r;
  r.action = TradeAction::SlTp;
  r.position = b;
  r.sl = 1.09500;
  r.tp = 1.11000;
  auto out = broker.order_send(l, r);
  ASSERT_EQ(out.result.retcode, Retcode::Done);
  EXPECT_DOUBLE_EQ(out.changes.positions.at(0).sl, 1.09500);
  EXPECT_DOUBLE_EQ(position(l, b)->tp, 1.11000);
  EXPECT_EQ(broker.order_send(l, r).result.retcode, Retcode::NoChanges);
  r.sl = 1.10100;  // above the bid for a buy
  EXPECT_EQ(broker.order_send(l, r).result.retcode, Retcode::InvalidStops);
  auto ch = broker.set_quote("EURUSD", 1.11000, 1.11010);
  EXPECT_EQ(ch->deals.at(0).reason, DealReason::Tp);
}

// ------------------------------------------------------------------ pending orders

TEST_F(SimBroker, PendingLimitAndStopOrdersTriggerAtTheQuote) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  auto place = [&](OrderType t, double price) {
    auto out = broker.order_send(l, pending("EURUSD", t, 0.1, price));
    EXPECT_EQ(out.result.retcode, Retcode::Placed) << out.result.comment;
    EXPECT_EQ(out.changes.orders.at(0).state, OrderState::Placed);
    return out.result.order;
  };
  const Ticket buy_limit = place(OrderType::BuyLimit, 1.09500);
  const Ticket sell_stop = place(OrderType::SellStop, 1.09400);
  const Ticket buy_stop = place(OrderType::BuyStop, 1.10500);
  const Ticket sell_limit = place(OrderType::SellLimit, 1.10600);
  EXPECT_EQ(broker.orders_get(l).size(), 4u);

  EXPECT_TRUE(broker.set_quote("EURUSD", 1.09500, 1.09510)->empty());  // ask above the limit
  auto ch = broker.set_quote("EURUSD", 1.09490, 1.09500);
  ASSERT_EQ(ch->orders.size(), 1u);
  EXPECT_EQ(ch->orders[0].ticket, buy_limit);
  EXPECT_EQ(ch->orders[0].state, OrderState::Filled);
  EXPECT_EQ(ch->orders[0].position_id, buy_limit);
  ASSERT_EQ(ch->positions.size(), 1u);
  EXPECT_EQ(ch->positions[0].ticket, buy_limit);  // the position takes the order's ticket
  EXPECT_DOUBLE_EQ(ch->positions[0].price_open, 1.09500);
  EXPECT_EQ(ch->positions[0].type, PositionType::Buy);

  ch = broker.set_quote("EURUSD", 1.09390, 1.09400);  // bid through the sell stop
  ASSERT_EQ(ch->orders.size(), 1u);
  EXPECT_EQ(ch->orders[0].ticket, sell_stop);
  EXPECT_DOUBLE_EQ(ch->positions.at(0).price_open, 1.09390);
  EXPECT_EQ(ch->positions.at(0).type, PositionType::Sell);

  ch = broker.set_quote("EURUSD", 1.10495, 1.10505);  // ask through the buy stop
  EXPECT_EQ(ch->orders.at(0).ticket, buy_stop);
  EXPECT_DOUBLE_EQ(ch->positions.at(0).price_open, 1.10505);

  EXPECT_TRUE(broker.set_quote("EURUSD", 1.10590, 1.10600)->empty());
  ch = broker.set_quote("EURUSD", 1.10600, 1.10610);  // bid at the sell limit
  EXPECT_EQ(ch->orders.at(0).ticket, sell_limit);
  EXPECT_DOUBLE_EQ(ch->positions.at(0).price_open, 1.10600);

  EXPECT_TRUE(broker.orders_get(l).empty());
  EXPECT_EQ(broker.positions_get(l).size(), 4u);
}

TEST_F(SimBroker, PendingValidationModifyAndRemove) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  // on the wrong side of the market, or within the stops level (10 points)
  EXPECT_EQ(broker.order_send(l, pending("EURUSD", OrderType::BuyLimit, 0.1, 1.10100)).result.retcode,
            Retcode::InvalidPrice);
  EXPECT_EQ(broker.order_send(l, pending("EURUSD", OrderType::BuyStop, 0.1, 1.10015)).result.retcode,
            Retcode::InvalidPrice);
  EXPECT_EQ(broker.order_send(l, pending("EURUSD", OrderType::SellLimit, 0.1, 0)).result.retcode,
            Retcode::InvalidPrice);
  auto bad_sl = pending("EURUSD", OrderType::BuyLimit, 0.1, 1.09500);
  bad_sl.sl = 1.09600;  // above a buy's price
  EXPECT_EQ(broker.order_send(l, bad_sl).result.retcode, Retcode::InvalidStops);
  auto as_market = pending("EURUSD", OrderType::Buy, 0.1, 1.09500);
  EXPECT_EQ(broker.order_send(l, as_market).result.retcode, Retcode::Invalid);

  auto placed = broker.order_send(l, pending("EURUSD", OrderType::BuyLimit, 0.1, 1.09500));
  ASSERT_EQ(placed.result.retcode, Retcode::Placed);
  TradeRequest mod;
  mod.action = TradeAction::Modify;
  mod.order = placed.result.order;
  mod.price = 1.09000;
  mod.sl = 1.08500;
  auto out = broker.order_send(l, mod);
  ASSERT_EQ(out.result.retcode, Retcode::Done);
  EXPECT_DOUBLE_EQ(broker.orders_get(l).at(0).price_open, 1.09000);
  EXPECT_DOUBLE_EQ(broker.orders_get(l).at(0).sl, 1.08500);
  EXPECT_EQ(broker.order_send(l, mod).result.retcode, Retcode::NoChanges);

  TradeRequest rm;
  rm.action = TradeAction::Remove;
  rm.order = placed.result.order;
  out = broker.order_send(l, rm);
  ASSERT_EQ(out.result.retcode, Retcode::Done);
  EXPECT_EQ(out.changes.orders.at(0).state, OrderState::Canceled);
  EXPECT_TRUE(broker.orders_get(l).empty());
  EXPECT_EQ(broker.order_send(l, rm).result.retcode, Retcode::InvalidOrder);
  rm.order = 999'999;
  EXPECT_EQ(broker.order_send(l, rm).result.retcode, Retcode::Invalid);
}

TEST_F(SimBroker, PendingWithoutMarginIsRejectedWhenTriggered) {
  const Login l = open("USD", 100);
  quote("EURUSD", 1.10000, 1.10010);
  auto placed = broker.order_send(l, pending("EURUSD", OrderType::BuyLimit, 1.0, 1.09500));
  ASSERT_EQ(placed.result.retcode, Retcode::Placed);
  auto ch = broker.set_quote("EURUSD", 1.09490, 1.09500);
  ASSERT_EQ(ch->orders.size(), 1u);
  EXPECT_EQ(ch->orders[0].state, OrderState::Rejected);
  EXPECT_TRUE(ch->positions.empty());
  EXPECT_TRUE(broker.positions_get(l).empty());
}

// ------------------------------------------------------------------ stop-out

TEST_F(SimBroker, StopOutClosesTheMostLosingPositionFirst) {
  const Login l = open("USD", 1000);
  quote("EURUSD", 1.00000, 1.00010);
  quote("GBPUSD", 1.25000, 1.25010);
  const Ticket eu = buy(l, "EURUSD", 0.4);  // margin 400 EUR
  const Ticket gu = buy(l, "GBPUSD", 0.2);  // margin 200 GBP
  EXPECT_DOUBLE_EQ(broker.account_info(l)->margin, 650.00);
  // GBPUSD −200: equity 796, margin 648.02: 122.8 %, no stop-out
  EXPECT_TRUE(broker.set_quote("GBPUSD", 1.24010, 1.24020)->empty());
  // EURUSD −600: equity 200, margin 394.04 + 248.02 = 642.06: 31.15 % < 50 %
  auto ch = broker.set_quote("EURUSD", 0.98510, 0.98520);
  ASSERT_TRUE(ch);
  ASSERT_EQ(ch->positions.size(), 1u);  // after closing EURUSD: 200 / 248.02 = 80.6 %, enough
  EXPECT_EQ(ch->positions[0].ticket, eu);
  EXPECT_EQ(ch->positions[0].close_reason, DealReason::StopOut);
  EXPECT_EQ(ch->deals.at(0).reason, DealReason::StopOut);
  EXPECT_DOUBLE_EQ(ch->deals.at(0).profit, -600.00);
  EXPECT_EQ(ch->deals.at(0).comment, "[so 31.15%]");
  const auto info = ch->accounts.at(0);
  EXPECT_DOUBLE_EQ(info.balance, 400.00);
  EXPECT_DOUBLE_EQ(info.equity, 200.00);
  EXPECT_DOUBLE_EQ(info.margin, 248.02);
  EXPECT_TRUE(position(l, gu));
  // the next loss takes the last one too
  ch = broker.set_quote("GBPUSD", 1.23510, 1.23520);  // equity 100, margin 247.02: 40.5 %
  ASSERT_EQ(ch->positions.size(), 1u);
  EXPECT_EQ(ch->positions[0].ticket, gu);
  EXPECT_DOUBLE_EQ(broker.account_info(l)->balance, 100.00);
  EXPECT_DOUBLE_EQ(broker.account_info(l)->margin_level, 0.0);
}

// ------------------------------------------------------------------ validation

TEST_F(SimBroker, EveryValidationRetcode) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  auto code = [&](const TradeRequest& r) { return broker.order_send(l, r).result.retcode; };

  auto unknown = market("EURUSX", OrderType::Buy, 0.1);
  auto out = broker.order_send(l, unknown);
  EXPECT_EQ(out.result.retcode, Retcode::Invalid);
  EXPECT_EQ(out.result.comment, "unknown symbol");
  EXPECT_EQ(broker.order_send(l + 1000, market("EURUSD", OrderType::Buy, 0.1)).result.retcode, Retcode::Invalid);

  for (double v : {0.0, -0.1, 0.001, 0.015, 100.01, 1e9}) {
    EXPECT_EQ(code(market("EURUSD", OrderType::Buy, v)), Retcode::InvalidVolume) << v;
  }
  EXPECT_EQ(code(market("US500", OrderType::Buy, 0.05)), Retcode::InvalidVolume);  // US500 min 0.1
  EXPECT_EQ(code(market("US500", OrderType::Buy, 0.15)), Retcode::InvalidVolume);  // off the 0.1 step

  auto nan_volume = market("EURUSD", OrderType::Buy, kNaN);
  EXPECT_EQ(code(nan_volume), Retcode::Invalid);
  auto inf_price = market("EURUSD", OrderType::Buy, 0.1);
  inf_price.price = std::numeric_limits<double>::infinity();
  EXPECT_EQ(code(inf_price), Retcode::Invalid);
  auto nan_sl = market("EURUSD", OrderType::Buy, 0.1);
  nan_sl.sl = kNaN;
  EXPECT_EQ(code(nan_sl), Retcode::Invalid);

  auto stops = [&](OrderType t, double sl, double tp) {
    auto r = market("EURUSD", t, 0.1);
    r.sl = sl;
    r.tp = tp;
    return code(r);
  };
  EXPECT_EQ(stops(OrderType::Buy, 1.10050, 0), Retcode::InvalidStops);   // SL above the bid
  EXPECT_EQ(stops(OrderType::Buy, 0, 1.09900), Retcode::InvalidStops);   // TP below the bid
  EXPECT_EQ(stops(OrderType::Buy, 1.09995, 0), Retcode::InvalidStops);   // 5 points < stops level 10
  EXPECT_EQ(stops(OrderType::Sell, 1.10000, 0), Retcode::InvalidStops);  // SL below the ask
  EXPECT_EQ(stops(OrderType::Sell, 0, 1.10020), Retcode::InvalidStops);  // TP above the ask
  EXPECT_EQ(stops(OrderType::Buy, -1, 0), Retcode::InvalidStops);
  EXPECT_EQ(stops(OrderType::Buy, 1.09990, 1.10010), Retcode::Done);  // exactly 10 points
  EXPECT_EQ(stops(OrderType::Sell, 1.10020, 1.10000), Retcode::Done);

  auto bad_fill = market("EURUSD", OrderType::Buy, 0.1);
  bad_fill.type_filling = static_cast<Filling>(7);
  EXPECT_EQ(code(bad_fill), Retcode::InvalidFill);
  for (auto f : {Filling::Fok, Filling::Ioc, Filling::Return}) {
    auto r = market("EURUSD", OrderType::Sell, 0.1);
    r.type_filling = f;
    EXPECT_EQ(code(r), Retcode::Done);
  }
  EXPECT_EQ(code(market("EURUSD", OrderType::BuyLimit, 0.1)), Retcode::Invalid);  // not a market type

  // the requested price and deviation
  auto far = market("EURUSD", OrderType::Buy, 0.1);
  far.price = 1.10040;
  far.deviation = 20;  // 30 points away
  out = broker.order_send(l, far);
  EXPECT_EQ(out.result.retcode, Retcode::Requote);
  EXPECT_DOUBLE_EQ(out.result.ask, 1.10010);
  far.deviation = 30;
  EXPECT_EQ(code(far), Retcode::Done);

  // closing
  const Ticket t = buy(l, "EURUSD", 0.1);
  EXPECT_EQ(code(close_req(t, 0.2)), Retcode::InvalidCloseVolume);
  EXPECT_EQ(code(close_req(t, 0.015)), Retcode::InvalidVolume);
  auto wrong_symbol = close_req(t);
  wrong_symbol.symbol = "GBPUSD";
  EXPECT_EQ(code(wrong_symbol), Retcode::Invalid);
  EXPECT_EQ(code(close_req(t)), Retcode::Done);
  out = broker.order_send(l, close_req(t));
  EXPECT_EQ(out.result.retcode, Retcode::PositionClosed);
  EXPECT_TRUE(out.changes.empty());
  EXPECT_EQ(code(close_req(123'456'789)), Retcode::Invalid);
  TradeRequest sltp;
  sltp.action = TradeAction::SlTp;
  sltp.position = t;
  EXPECT_EQ(code(sltp), Retcode::PositionClosed);
  TradeRequest close_by;
  close_by.action = TradeAction::CloseBy;
  EXPECT_EQ(code(close_by), Retcode::Invalid);

  // trading disabled
  ASSERT_TRUE(broker.set_trade_allowed("EURUSD", false));
  EXPECT_EQ(code(market("EURUSD", OrderType::Buy, 0.1)), Retcode::TradeDisabled);
  EXPECT_FALSE(broker.symbol_info("EURUSD")->trade_allowed);
  ASSERT_TRUE(broker.set_trade_allowed("EURUSD", true));
  EXPECT_EQ(code(market("EURUSD", OrderType::Buy, 0.1)), Retcode::Done);
  EXPECT_FALSE(broker.set_trade_allowed("NOPE", false));
}

// ------------------------------------------------------------------ position queries

std::vector<Ticket> tickets_of(const std::vector<Position>& rows) {
  std::vector<Ticket> out;
  for (const auto& p : rows) out.push_back(p.ticket);
  return out;
}

TEST_F(SimBroker, PositionPagesAreNewestFirstAndAgreeWithTheGenericListing) {
  const Login l = open("USD", 1'000'000);
  std::vector<Ticket> eurusd;
  for (int i = 0; i < 7; ++i) {
    eurusd.push_back(buy(l, "EURUSD", 0.01));
    (void)sell(l, "USDJPY", 0.01);
  }
  ASSERT_EQ(broker.order_send(l, close_req(eurusd[3])).result.retcode, Retcode::Done);
  const Broker& generic = broker;  // the base class's answer, from positions_get
  for (const std::string_view symbol : {"", "EURUSD", "USDJPY", "XAUUSD"}) {
    for (const std::optional<Ticket> below : {std::optional<Ticket>{}, std::optional<Ticket>{eurusd[5]},
                                              std::optional<Ticket>{eurusd[0]}, std::optional<Ticket>{1}}) {
      for (const std::size_t limit : std::vector<std::size_t>{0, 1, 3, 100}) {
        const auto fast = broker.positions_page(l, symbol, below, limit);
        EXPECT_EQ(tickets_of(fast), tickets_of(generic.Broker::positions_page(l, symbol, below, limit)))
            << symbol << " below " << below.value_or(0) << " limit " << limit;
      }
    }
  }
  EXPECT_EQ(tickets_of(broker.positions_page(l, "EURUSD", eurusd[5], 3)),
            (std::vector<Ticket>{eurusd[4], eurusd[2], eurusd[1]}));  // eurusd[3] is closed
  EXPECT_EQ(broker.positions_total(l), 13U);
  EXPECT_EQ(generic.Broker::positions_total(l), 13U);
  EXPECT_EQ(broker.positions_total(l + 1000), 0U);
}

TEST_F(SimBroker, OnePositionIsFoundByTicketWithItsLiveProfit) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  const Ticket b = buy(l, "EURUSD", 1.0);
  quote("EURUSD", 1.10110, 1.10120);
  const auto p = broker.position_get(l, b);
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(p->profit, 100.00);
  EXPECT_DOUBLE_EQ(p->price_current, 1.10110);
  const Broker& generic = broker;
  ASSERT_TRUE(generic.Broker::position_get(l, b));
  EXPECT_DOUBLE_EQ(generic.Broker::position_get(l, b)->profit, 100.00);
  ASSERT_EQ(broker.order_send(l, close_req(b)).result.retcode, Retcode::Done);
  EXPECT_FALSE(broker.position_get(l, b));  // open positions only
  EXPECT_FALSE(generic.Broker::position_get(l, b));
  EXPECT_FALSE(broker.position_get(l + 1000, b));
}

TEST_F(SimBroker, LimitsOnPositionsAndOrders) {
  SimOptions o = exact_options();
  o.max_open_positions = 2;
  o.max_pending_orders = 1;
  SimulatedBroker small(o);
  const Login l = small.open_account("x", "USD", 100, 100'000).changes.accounts.at(0).login;
  EXPECT_EQ(small.order_send(l, market("EURUSD", OrderType::Buy, 0.1)).result.retcode, Retcode::Done);
  EXPECT_EQ(small.order_send(l, market("EURUSD", OrderType::Buy, 0.1)).result.retcode, Retcode::Done);
  EXPECT_EQ(small.order_send(l, market("EURUSD", OrderType::Buy, 0.1)).result.retcode, Retcode::LimitPositions);
  const double bid = small.symbol_info_tick("EURUSD")->bid;
  EXPECT_EQ(small.order_send(l, pending("EURUSD", OrderType::SellStop, 0.1, bid - 0.01)).result.retcode,
            Retcode::Placed);
  EXPECT_EQ(small.order_send(l, pending("EURUSD", OrderType::SellStop, 0.1, bid - 0.02)).result.retcode,
            Retcode::LimitOrders);
}

// ------------------------------------------------------------------ accounts

TEST_F(SimBroker, OpenAccountBooksTheDeposit) {
  auto out = broker.open_account("Alice", "EUR", 500, 2500.5);
  ASSERT_EQ(out.result.retcode, Retcode::Done);
  const AccountInfo& a = out.changes.accounts.at(0);
  EXPECT_EQ(a.login, 5'000'001u);
  EXPECT_EQ(a.name, "Alice");
  EXPECT_EQ(a.currency, "EUR");
  EXPECT_EQ(a.leverage, 500);
  EXPECT_EQ(a.server, "Permiso-Demo");
  EXPECT_DOUBLE_EQ(a.balance, 2500.5);
  EXPECT_DOUBLE_EQ(a.equity, 2500.5);
  EXPECT_TRUE(a.demo);
  ASSERT_EQ(out.changes.deals.size(), 1u);
  EXPECT_EQ(out.changes.deals[0].type, DealType::Balance);
  EXPECT_DOUBLE_EQ(out.changes.deals[0].profit, 2500.5);
  EXPECT_EQ(out.result.deal, out.changes.deals[0].ticket);
  auto deals = broker.history_deals_get(a.login, 0, kStart + 1);
  ASSERT_EQ(deals.size(), 1u);
  EXPECT_EQ(deals[0].type, DealType::Balance);
  EXPECT_EQ(broker.open_account("Bob", "USD", 100, 0).changes.accounts.at(0).login, 5'000'002u);

  EXPECT_EQ(broker.open_account("x", "XAU", 100, 1).result.retcode, Retcode::Invalid);
  EXPECT_EQ(broker.open_account("x", "ZZZ", 100, 1).result.retcode, Retcode::Invalid);
  EXPECT_EQ(broker.open_account("x", "USD", 0, 1).result.retcode, Retcode::Invalid);
  EXPECT_EQ(broker.open_account("x", "USD", 100, -1).result.retcode, Retcode::Invalid);
  EXPECT_EQ(broker.open_account("x", "USD", 100, kNaN).result.retcode, Retcode::Invalid);
  EXPECT_FALSE(broker.account_info(999));
}

TEST_F(SimBroker, AccountsAreIsolated) {
  const Login a = open();
  const Login b = open();
  quote("EURUSD", 1.10000, 1.10010);
  const Ticket ta = buy(a, "EURUSD", 0.1);
  const Ticket tb = sell(b, "EURUSD", 0.2);
  ASSERT_EQ(broker.positions_get(a).size(), 1u);
  EXPECT_EQ(broker.positions_get(a)[0].ticket, ta);
  EXPECT_EQ(broker.positions_get(b)[0].ticket, tb);
  EXPECT_TRUE(broker.positions_get(a, "GBPUSD").empty());
  EXPECT_EQ(broker.positions_get(a, "EURUSD").size(), 1u);
  // another account's ticket is "not found", not "closed": nothing leaks
  auto out = broker.order_send(a, close_req(tb));
  EXPECT_EQ(out.result.retcode, Retcode::Invalid);
  EXPECT_EQ(out.result.comment, "position not found");
  TradeRequest sltp;
  sltp.action = TradeAction::SlTp;
  sltp.position = tb;
  sltp.sl = 1.2;
  EXPECT_EQ(broker.order_send(a, sltp).result.retcode, Retcode::Invalid);
  EXPECT_TRUE(position(b, tb));
  for (const auto& d : broker.history_deals_get(a, 0, kStart + 1)) EXPECT_EQ(d.login, a);
  EXPECT_EQ(broker.history_deals_get(a, 0, kStart + 1).size(), 2u);  // deposit + In
  EXPECT_DOUBLE_EQ(broker.account_info(a)->margin, 110.00);
  EXPECT_DOUBLE_EQ(broker.account_info(b)->margin, 220.00);
  auto pa = broker.order_send(a, pending("EURUSD", OrderType::BuyLimit, 0.1, 1.09));
  EXPECT_TRUE(broker.orders_get(b).empty());
  TradeRequest rm;
  rm.action = TradeAction::Remove;
  rm.order = pa.result.order;
  EXPECT_EQ(broker.order_send(b, rm).result.retcode, Retcode::Invalid);
}

TEST_F(SimBroker, TicketsComeFromOneSequence) {
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  auto o1 = broker.order_send(l, market("EURUSD", OrderType::Buy, 0.1));
  auto o2 = broker.order_send(l, market("EURUSD", OrderType::Buy, 0.1));
  // deposit deal 1; order/position 2, deal 3; order/position 4, deal 5
  EXPECT_EQ(o1.result.order, 2u);
  EXPECT_EQ(o1.result.position, 2u);
  EXPECT_EQ(o1.result.deal, 3u);
  EXPECT_EQ(o2.result.order, 4u);
  EXPECT_EQ(o2.result.deal, 5u);
  EXPECT_GT(o2.changes.sequence, o1.changes.sequence);
}

// ------------------------------------------------------------------ the quote model

TEST(SimQuotes, SameSeedSameQuotesOtherSeedOthers) {
  SimulatedBroker a(exact_options(42)), b(exact_options(42)), c(exact_options(43));
  bool differs = false;
  for (int i = 1; i <= 200; ++i) {
    a.step(250);
    b.step(250);
    c.step(250);
    for (const auto& s : a.symbols_get()) {
      const Tick ta = *a.symbol_info_tick(s.name), tb = *b.symbol_info_tick(s.name);
      ASSERT_EQ(ta.bid, tb.bid) << s.name << " step " << i;
      ASSERT_EQ(ta.ask, tb.ask) << s.name << " step " << i;
      ASSERT_EQ(ta.time_msc, kStart + 250 * i);
      ASSERT_GT(ta.ask, ta.bid);
      if (ta.bid != c.symbol_info_tick(s.name)->bid) differs = true;
    }
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(a.now(), kStart + 50'000);
  EXPECT_TRUE(a.advance_to(kStart).empty());  // time never runs backwards
  EXPECT_EQ(a.now(), kStart + 50'000);
}

TEST(SimQuotes, SpreadsStayNearTypical) {
  SimulatedBroker a(exact_options());
  for (int i = 0; i < 500; ++i) {
    a.step(1000);
    const auto t = *a.symbol_info_tick("EURUSD");
    const double pts = std::round((t.ask - t.bid) / 0.00001);
    ASSERT_GE(pts, 4);  // typical 8, within [½, 3×]
    ASSERT_LE(pts, 24);
  }
  // a day at 7 % a year moves EURUSD by well under 5 %
  a.step(86'400'000);
  EXPECT_NEAR(a.symbol_info_tick("EURUSD")->bid, 1.085, 0.05);
}

TEST(SimQuotes, SlippageIsSeededAndWithinDeviation) {
  auto run = [](std::vector<double>& fills) {
    SimOptions o = exact_options(11);
    o.slippage_points = 3;
    SimulatedBroker b(o);
    const Login l = b.open_account("x", "USD", 500, 1'000'000).changes.accounts.at(0).login;
    ASSERT_TRUE(b.set_quote("EURUSD", 1.10000, 1.10010));
    bool slipped = false;
    for (int i = 0; i < 300; ++i) {
      auto r = market("EURUSD", i % 2 ? OrderType::Sell : OrderType::Buy, 0.01);
      r.deviation = 2;
      auto out = b.order_send(l, r);
      ASSERT_EQ(out.result.retcode, Retcode::Done);
      const double market_price = i % 2 ? 1.10000 : 1.10010;
      ASSERT_LE(std::abs(out.result.price - market_price), 2 * 0.00001 + 1e-12);
      if (out.result.price != market_price) slipped = true;
      fills.push_back(out.result.price);
    }
    EXPECT_TRUE(slipped);
  };
  std::vector<double> a, b;
  run(a);
  run(b);
  EXPECT_EQ(a, b);
}

// ------------------------------------------------------------------ listeners

TEST_F(SimBroker, ListenersGetTicksAndTriggeredChangesInOrder) {
  std::vector<std::string> ticks;
  std::vector<Changes> changes;
  broker.set_tick_listener([&](std::string_view s, const Tick& t) {
    ticks.emplace_back(s);
    EXPECT_EQ(t.time_msc, broker.now());
  });
  broker.set_change_listener([&](const Changes& c) { changes.push_back(c); });
  const Login l = open();
  quote("EURUSD", 1.10000, 1.10010);
  ticks.clear();
  buy(l, "EURUSD", 0.1, 0, 1.10100);
  buy(l, "EURUSD", 0.1, 0, 1.10200);
  EXPECT_TRUE(changes.empty());  // order_send answers directly, the listener is for the broker's own
  broker.step(1000);
  EXPECT_EQ(ticks.size(), 14u);
  quote("EURUSD", 1.10100, 1.10110);
  quote("EURUSD", 1.10200, 1.10210);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_LT(changes[0].sequence, changes[1].sequence);
  EXPECT_EQ(changes[0].deals.at(0).reason, DealReason::Tp);
  EXPECT_EQ(changes[0].accounts.at(0).login, l);
}

// ------------------------------------------------------------------ restore

void expect_same_rows(const BrokerState& x, const BrokerState& y) {
  ASSERT_EQ(x.accounts.size(), y.accounts.size());
  for (std::size_t i = 0; i < x.accounts.size(); ++i) {
    const auto &a = x.accounts[i], &b = y.accounts[i];
    EXPECT_EQ(a.login, b.login);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.server, b.server);
    EXPECT_EQ(a.currency, b.currency);
    EXPECT_EQ(a.leverage, b.leverage);
    EXPECT_EQ(a.balance, b.balance);
    EXPECT_EQ(a.credit, b.credit);
    EXPECT_EQ(a.margin_so_so, b.margin_so_so);
  }
  ASSERT_EQ(x.positions.size(), y.positions.size());
  for (std::size_t i = 0; i < x.positions.size(); ++i) {
    Position a = x.positions[i], b = y.positions[i];
    if (!a.closed) a.price_current = b.price_current = a.profit = b.profit = 0;  // live values
    EXPECT_EQ(a.ticket, b.ticket);
    EXPECT_EQ(a.login, b.login);
    EXPECT_EQ(a.symbol, b.symbol);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.volume, b.volume);
    EXPECT_EQ(a.price_open, b.price_open);
    EXPECT_EQ(a.price_current, b.price_current);
    EXPECT_EQ(a.sl, b.sl);
    EXPECT_EQ(a.tp, b.tp);
    EXPECT_EQ(a.profit, b.profit);
    EXPECT_EQ(a.magic, b.magic);
    EXPECT_EQ(a.comment, b.comment);
    EXPECT_EQ(a.time_msc, b.time_msc);
    EXPECT_EQ(a.time_update_msc, b.time_update_msc);
    EXPECT_EQ(a.closed, b.closed);
    EXPECT_EQ(a.close_time_msc, b.close_time_msc);
    EXPECT_EQ(a.close_price, b.close_price);
    EXPECT_EQ(a.close_reason, b.close_reason);
  }
  ASSERT_EQ(x.orders.size(), y.orders.size());
  for (std::size_t i = 0; i < x.orders.size(); ++i) {
    const auto &a = x.orders[i], &b = y.orders[i];
    EXPECT_EQ(a.ticket, b.ticket);
    EXPECT_EQ(a.login, b.login);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.state, b.state);
    EXPECT_EQ(a.volume_initial, b.volume_initial);
    EXPECT_EQ(a.volume_current, b.volume_current);
    EXPECT_EQ(a.price_open, b.price_open);
    EXPECT_EQ(a.sl, b.sl);
    EXPECT_EQ(a.tp, b.tp);
    EXPECT_EQ(a.position_id, b.position_id);
    EXPECT_EQ(a.time_setup_msc, b.time_setup_msc);
    EXPECT_EQ(a.time_done_msc, b.time_done_msc);
  }
  ASSERT_EQ(x.deals.size(), y.deals.size());
  for (std::size_t i = 0; i < x.deals.size(); ++i) {
    const auto &a = x.deals[i], &b = y.deals[i];
    EXPECT_EQ(a.ticket, b.ticket);
    EXPECT_EQ(a.login, b.login);
    EXPECT_EQ(a.order, b.order);
    EXPECT_EQ(a.position_id, b.position_id);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.entry, b.entry);
    EXPECT_EQ(a.reason, b.reason);
    EXPECT_EQ(a.volume, b.volume);
    EXPECT_EQ(a.price, b.price);
    EXPECT_EQ(a.profit, b.profit);
    EXPECT_EQ(a.time_msc, b.time_msc);
  }
  EXPECT_EQ(x.next_ticket, y.next_ticket);
}

/// Upserts every row of every Changes, as the gateway's store does.
struct Persisted {
  std::map<Login, AccountInfo> accounts;
  std::map<Ticket, Position> positions;
  std::map<Ticket, Order> orders;
  std::map<Ticket, Deal> deals;
  void add(const Changes& c) {
    for (const auto& a : c.accounts) accounts[a.login] = a;
    for (const auto& p : c.positions) positions[p.ticket] = p;
    for (const auto& o : c.orders) orders[o.ticket] = o;
    for (const auto& d : c.deals) deals[d.ticket] = d;
  }
  BrokerState state() const {
    BrokerState s;
    Ticket max = 0;
    for (const auto& [k, v] : accounts) s.accounts.push_back(v);
    for (const auto& [k, v] : positions) s.positions.push_back(v), max = std::max(max, k);
    for (const auto& [k, v] : orders) s.orders.push_back(v), max = std::max(max, k);
    for (const auto& [k, v] : deals) s.deals.push_back(v), max = std::max(max, k);
    s.next_ticket = max + 1;
    return s;
  }
};

TEST_F(SimBroker, RestoreFromPersistedChangesEqualsTheOriginal) {
  Persisted store;
  broker.set_change_listener([&](const Changes& c) { store.add(c); });
  auto send = [&](Login l, const TradeRequest& r) {
    auto out = broker.order_send(l, r);
    store.add(out.changes);
    return out;
  };
  store.add(broker.open_account("a", "USD", 100, 10'000).changes);
  store.add(broker.open_account("b", "EUR", 200, 5'000).changes);
  const Login a = store.accounts.begin()->first, b = std::next(store.accounts.begin())->first;
  quote("EURUSD", 1.10000, 1.10010);
  quote("XAUUSD", 2000.00, 2000.50);
  broker.step(1000);
  auto r = market("EURUSD", OrderType::Buy, 0.3);
  r.sl = 1.0;
  r.comment = "with sl";
  r.magic = 77;
  const Ticket p1 = send(a, r).result.position;
  const Ticket p2 = send(a, market("XAUUSD", OrderType::Sell, 0.05)).result.position;
  send(b, market("EURUSD", OrderType::Sell, 0.2));
  const double bid = broker.symbol_info_tick("EURUSD")->bid;
  send(b, pending("EURUSD", OrderType::BuyLimit, 0.1, bid - 0.002));
  const Ticket po = send(b, pending("EURUSD", OrderType::SellLimit, 0.1, bid + 0.003)).result.order;
  broker.step(60'000);
  send(a, close_req(p2));
  send(a, close_req(p1, 0.1));  // partial
  TradeRequest rm;
  rm.action = TradeAction::Remove;
  rm.order = po;
  send(b, rm);
  broker.step(1000);
  // a pending fill through the quote stream, delivered by the listener
  const Tick now = *broker.symbol_info_tick("EURUSD");
  quote("EURUSD", bid - 0.0025, bid - 0.0024);
  EXPECT_EQ(broker.positions_get(b).size(), 2u);
  (void)now;

  const BrokerState original = broker.snapshot();
  SimulatedBroker restored(exact_options());
  restored.restore(store.state());
  expect_same_rows(original, restored.snapshot());

  // and from a snapshot directly
  SimulatedBroker again(exact_options());
  again.restore(original);
  expect_same_rows(original, again.snapshot());

  // the restored broker carries on: tickets continue, balances and margin are the same
  ASSERT_TRUE(restored.set_quote("EURUSD", bid - 0.0025, bid - 0.0024));
  ASSERT_TRUE(restored.set_quote("XAUUSD", 2000.00, 2000.50));
  EXPECT_DOUBLE_EQ(restored.account_info(a)->margin, broker.account_info(a)->margin);
  EXPECT_DOUBLE_EQ(restored.account_info(b)->equity, broker.account_info(b)->equity);
  auto next = restored.order_send(a, market("EURUSD", OrderType::Buy, 0.1));
  ASSERT_EQ(next.result.retcode, Retcode::Done);
  EXPECT_EQ(next.result.order, original.next_ticket);
  // the rest of the partially closed position closes with the whole position's profit
  auto rest = restored.order_send(a, close_req(p1));
  auto rest_orig = broker.order_send(a, close_req(p1));
  ASSERT_EQ(rest.result.retcode, Retcode::Done);
  EXPECT_DOUBLE_EQ(rest.changes.positions.at(0).profit, rest_orig.changes.positions.at(0).profit);
  EXPECT_EQ(restored.order_send(a, close_req(p2)).result.retcode, Retcode::PositionClosed);
  EXPECT_EQ(restored.open_account("c", "USD", 100, 0).changes.accounts.at(0).login, b + 1);
}

TEST(SimHistory, MemoryKeepsTheRecentHistoryAndRestoreStillKnowsOldPartialCloses) {
  SimOptions options = exact_options();
  options.history_per_account = 2;
  SimulatedBroker broker(options);
  Persisted store;
  auto send = [&](Login l, const TradeRequest& r) {
    auto out = broker.order_send(l, r);
    EXPECT_TRUE(out.result.retcode == Retcode::Done || out.result.retcode == Retcode::Placed) << out.result.comment;
    store.add(out.changes);
    return out;
  };
  store.add(broker.open_account("a", "USD", 100, 10'000).changes);
  const Login a = store.accounts.begin()->first;
  ASSERT_TRUE(broker.set_quote("EURUSD", 1.10000, 1.10010));
  const Ticket kept = send(a, market("EURUSD", OrderType::Buy, 0.3)).result.position;
  ASSERT_TRUE(broker.set_quote("EURUSD", 1.10100, 1.10110));
  send(a, close_req(kept, 0.1));  // its Out deal soon leaves memory
  for (int i = 0; i < 5; ++i) {
    send(a, close_req(send(a, market("EURUSD", OrderType::Sell, 0.01)).result.position));
  }
  EXPECT_EQ(broker.positions_history_get(a).size(), 2u);
  EXPECT_EQ(broker.history_orders_get(a, 0, kStart * 2).size(), 2u);
  const auto recent = broker.history_deals_get(a, 0, kStart * 2);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent.back().ticket, store.deals.rbegin()->first);  // the newest are the ones kept
  EXPECT_EQ(store.deals.size(), 1u + 2u + 10u);                  // the store has them all

  SimulatedBroker restored(options);
  restored.restore(store.state());
  EXPECT_EQ(restored.positions_history_get(a).size(), 2u);
  EXPECT_EQ(restored.history_deals_get(a, 0, kStart * 2).size(), 2u);
  ASSERT_TRUE(restored.set_quote("EURUSD", 1.10200, 1.10210));
  ASSERT_TRUE(broker.set_quote("EURUSD", 1.10200, 1.10210));
  auto rest = restored.order_send(a, close_req(kept));
  auto rest_orig = broker.order_send(a, close_req(kept));
  ASSERT_EQ(rest.result.retcode, Retcode::Done);
  EXPECT_DOUBLE_EQ(rest.changes.positions.at(0).profit, rest_orig.changes.positions.at(0).profit);
  // bought 0.3 at 1.10010: 0.1 closed at 1.10100 (9.00) and 0.2 at 1.10200 (38.00)
  EXPECT_DOUBLE_EQ(rest.changes.positions.at(0).profit, 47.0);
}

// ------------------------------------------------------------------ liquidity: partial fills

/// A broker whose EURUSD fills at most 0.3 lots per order and quote, every other symbol 1 lot.
SimOptions thin_market() {
  SimOptions o = exact_options();
  o.max_fill_lots = {{"EURUSD", 0.3}, {"*", 1.0}};
  return o;
}

TradeRequest filled_as(TradeRequest r, Filling filling) {
  r.type_filling = filling;
  return r;
}

TEST(SimLiquidity, UnlimitedByDefault) {
  SimulatedBroker broker(exact_options());
  const Login l = broker.open_account("a", "USD", 100, 1'000'000).changes.accounts.at(0).login;
  for (auto filling : {Filling::Fok, Filling::Ioc, Filling::Return}) {
    auto out = broker.order_send(l, filled_as(market("EURUSD", OrderType::Buy, 50), filling));
    EXPECT_EQ(out.result.retcode, Retcode::Done) << out.result.comment;
    EXPECT_DOUBLE_EQ(out.result.volume, 50);
  }
}

TEST(SimLiquidity, IocFillsWhatThereIsAndCancelsTheRest) {
  SimulatedBroker broker(thin_market());
  const Login l = broker.open_account("a", "USD", 100, 100'000).changes.accounts.at(0).login;
  ASSERT_TRUE(broker.set_quote("EURUSD", 1.10000, 1.10010));
  auto out = broker.order_send(l, filled_as(market("EURUSD", OrderType::Buy, 1.0), Filling::Ioc));
  ASSERT_EQ(out.result.retcode, Retcode::DonePartial) << out.result.comment;
  EXPECT_TRUE(is_success(out.result.retcode));
  EXPECT_DOUBLE_EQ(out.result.volume, 0.3);
  EXPECT_DOUBLE_EQ(out.result.price, 1.10010);
  ASSERT_EQ(out.changes.deals.size(), 1u);
  EXPECT_DOUBLE_EQ(out.changes.deals[0].volume, 0.3);
  EXPECT_EQ(out.changes.deals[0].ticket, out.result.deal);
  ASSERT_EQ(out.changes.positions.size(), 1u);
  EXPECT_DOUBLE_EQ(out.changes.positions[0].volume, 0.3);
  ASSERT_EQ(out.changes.orders.size(), 1u);
  const Order& o = out.changes.orders[0];
  EXPECT_EQ(o.state, OrderState::Canceled);
  EXPECT_EQ(o.type_filling, Filling::Ioc);
  EXPECT_DOUBLE_EQ(o.volume_initial, 1.0);
  EXPECT_DOUBLE_EQ(o.volume_current, 0.7);  // MT5: what was not filled
  EXPECT_NE(o.time_done_msc, 0);
  EXPECT_TRUE(broker.orders_get(l).empty());  // nothing keeps working
  ASSERT_EQ(broker.positions_get(l).size(), 1u);
  EXPECT_DOUBLE_EQ(broker.positions_get(l)[0].volume, 0.3);
  // The margin is the filled volume's: 0.3 lots × 100,000 / 100 at EUR→USD 1.10000.
  EXPECT_NEAR(broker.account_info(l)->margin, 330.0, 1e-6);
  // Within the liquidity, IOC fills whole.
  auto whole = broker.order_send(l, filled_as(market("EURUSD", OrderType::Sell, 0.3), Filling::Ioc));
  EXPECT_EQ(whole.result.retcode, Retcode::Done);
  EXPECT_EQ(whole.changes.orders.at(0).state, OrderState::Filled);
}

TEST(SimLiquidity, FokThatCannotFillWholeIsRejectedAndChangesNothing) {
  SimulatedBroker broker(thin_market());
  const Login l = broker.open_account("a", "USD", 100, 100'000).changes.accounts.at(0).login;
  const auto before = broker.snapshot();
  auto out = broker.order_send(l, filled_as(market("EURUSD", OrderType::Buy, 0.31), Filling::Fok));
  EXPECT_EQ(out.result.retcode, Retcode::Reject);
  EXPECT_EQ(out.result.comment, "not enough liquidity to fill the order");
  EXPECT_EQ(refusal_of(out.result.retcode), Refusal::Rejected);
  EXPECT_TRUE(out.changes.empty());
  EXPECT_TRUE(broker.positions_get(l).empty());
  EXPECT_EQ(broker.snapshot().next_ticket, before.next_ticket);  // no ticket spent
  // The "*" limit: GBPUSD fills 1 lot, not more.
  EXPECT_EQ(broker.order_send(l, market("GBPUSD", OrderType::Buy, 1.0)).result.retcode, Retcode::Done);
  EXPECT_EQ(broker.order_send(l, market("GBPUSD", OrderType::Buy, 1.01)).result.retcode, Retcode::Reject);
}

TEST(SimLiquidity, ReturnKeepsTheRestWorkingAndFillsItAtLaterQuotes) {
  SimulatedBroker broker(thin_market());
  const Login l = broker.open_account("a", "USD", 100, 100'000).changes.accounts.at(0).login;
  ASSERT_TRUE(broker.set_quote("EURUSD", 1.10000, 1.10010));
  auto out = broker.order_send(l, filled_as(market("EURUSD", OrderType::Buy, 0.8), Filling::Return));
  ASSERT_EQ(out.result.retcode, Retcode::DonePartial) << out.result.comment;
  EXPECT_DOUBLE_EQ(out.result.volume, 0.3);
  const Ticket ticket = out.result.order;
  EXPECT_EQ(out.result.position, ticket);
  EXPECT_EQ(out.changes.orders.at(0).state, OrderState::Partial);
  EXPECT_DOUBLE_EQ(out.changes.orders.at(0).volume_current, 0.5);
  auto working = broker.orders_get(l);
  ASSERT_EQ(working.size(), 1u);
  EXPECT_EQ(working[0].ticket, ticket);
  EXPECT_EQ(working[0].state, OrderState::Partial);

  // The next quote fills 0.3 more into the same position, at the average price.
  auto ch = broker.set_quote("EURUSD", 1.10100, 1.10110);
  ASSERT_TRUE(ch);
  ASSERT_EQ(ch->deals.size(), 1u);
  EXPECT_DOUBLE_EQ(ch->deals[0].volume, 0.3);
  EXPECT_DOUBLE_EQ(ch->deals[0].price, 1.10110);
  EXPECT_EQ(ch->deals[0].order, ticket);
  EXPECT_EQ(ch->deals[0].position_id, ticket);
  ASSERT_EQ(ch->orders.size(), 1u);
  EXPECT_EQ(ch->orders[0].state, OrderState::Partial);
  EXPECT_DOUBLE_EQ(ch->orders[0].volume_current, 0.2);
  ASSERT_EQ(ch->positions.size(), 1u);
  EXPECT_EQ(ch->positions[0].ticket, ticket);
  EXPECT_DOUBLE_EQ(ch->positions[0].volume, 0.6);
  EXPECT_NEAR(ch->positions[0].price_open, 1.10060, 1e-9);

  // The last 0.2 fills the order.
  ch = broker.set_quote("EURUSD", 1.10200, 1.10210);
  ASSERT_EQ(ch->deals.size(), 1u);
  EXPECT_DOUBLE_EQ(ch->deals[0].volume, 0.2);
  EXPECT_EQ(ch->orders.at(0).state, OrderState::Filled);
  EXPECT_DOUBLE_EQ(ch->orders.at(0).volume_current, 0);
  EXPECT_DOUBLE_EQ(ch->positions.at(0).volume, 0.8);
  EXPECT_TRUE(broker.orders_get(l).empty());
  EXPECT_EQ(broker.history_deals_get(l, 0, kStart * 2).size(), 1u + 3u);  // the deposit and three fills

  // Closed whole at one quote: closing takes no liquidity limit (positions always close).
  EXPECT_EQ(broker.order_send(l, close_req(ticket)).result.retcode, Retcode::Done);
}

TEST(SimLiquidity, ReturnRestIsCancelledWhenRemovedOrItsPositionCloses) {
  SimulatedBroker broker(thin_market());
  const Login l = broker.open_account("a", "USD", 100, 100'000).changes.accounts.at(0).login;
  ASSERT_TRUE(broker.set_quote("EURUSD", 1.10000, 1.10010));
  const Ticket a = broker.order_send(l, filled_as(market("EURUSD", OrderType::Buy, 1.0), Filling::Return)).result.order;
  TradeRequest remove;
  remove.action = TradeAction::Remove;
  remove.order = a;
  auto removed = broker.order_send(l, remove);
  EXPECT_EQ(removed.result.retcode, Retcode::Done);
  EXPECT_EQ(removed.changes.orders.at(0).state, OrderState::Canceled);
  EXPECT_DOUBLE_EQ(removed.changes.orders.at(0).volume_current, 0.7);

  const Ticket b =
      broker.order_send(l, filled_as(market("EURUSD", OrderType::Sell, 1.0), Filling::Return)).result.order;
  EXPECT_EQ(broker.order_send(l, close_req(b)).result.retcode, Retcode::Done);
  auto ch = broker.set_quote("EURUSD", 1.10100, 1.10110);
  ASSERT_EQ(ch->orders.size(), 1u);
  EXPECT_EQ(ch->orders[0].ticket, b);
  EXPECT_EQ(ch->orders[0].state, OrderState::Canceled);
  EXPECT_TRUE(ch->deals.empty());
  EXPECT_TRUE(broker.orders_get(l).empty());
  ASSERT_EQ(broker.positions_get(l).size(), 1u);  // a's 0.3 only
  EXPECT_EQ(broker.positions_get(l)[0].ticket, a);
}

TEST(SimLiquidity, TriggeredPendingOrdersFillByTheirFillingMode) {
  SimulatedBroker broker(thin_market());
  const Login l = broker.open_account("a", "USD", 100, 100'000).changes.accounts.at(0).login;
  ASSERT_TRUE(broker.set_quote("EURUSD", 1.10000, 1.10010));
  auto place = [&](Filling filling) {
    auto out = broker.order_send(l, filled_as(pending("EURUSD", OrderType::BuyLimit, 0.5, 1.09500), filling));
    EXPECT_EQ(out.result.retcode, Retcode::Placed) << out.result.comment;
    return out.result.order;
  };
  const Ticket fok = place(Filling::Fok);
  const Ticket ioc = place(Filling::Ioc);
  const Ticket ret = place(Filling::Return);
  auto ch = broker.set_quote("EURUSD", 1.09490, 1.09500);
  std::map<Ticket, Order> orders;
  for (const auto& o : ch->orders) orders[o.ticket] = o;
  EXPECT_EQ(orders.at(fok).state, OrderState::Rejected);
  EXPECT_EQ(orders.at(fok).comment, "not enough liquidity to fill the order");
  EXPECT_EQ(orders.at(ioc).state, OrderState::Canceled);
  EXPECT_DOUBLE_EQ(orders.at(ioc).volume_current, 0.2);
  EXPECT_EQ(orders.at(ret).state, OrderState::Partial);
  EXPECT_DOUBLE_EQ(orders.at(ret).volume_current, 0.2);
  EXPECT_EQ(ch->deals.size(), 2u);  // 0.3 each for IOC and RETURN
  ASSERT_EQ(broker.orders_get(l).size(), 1u);

  // The rest of a limit order keeps its limit: nothing fills above it.
  EXPECT_TRUE(broker.set_quote("EURUSD", 1.10000, 1.10010)->empty());
  ch = broker.set_quote("EURUSD", 1.09480, 1.09490);
  ASSERT_EQ(ch->deals.size(), 1u);
  EXPECT_DOUBLE_EQ(ch->deals[0].volume, 0.2);
  EXPECT_EQ(ch->orders.at(0).state, OrderState::Filled);
  EXPECT_DOUBLE_EQ(broker.position_get(l, ret)->volume, 0.5);
}

TEST(SimLiquidity, RestoredWorkingRestKeepsFilling) {
  SimulatedBroker broker(thin_market());
  Persisted store;
  auto keep = [&](SendOutcome out) {
    store.add(out.changes);
    return out;
  };
  keep(broker.open_account("a", "USD", 100, 100'000));
  const Login l = store.accounts.begin()->first;
  ASSERT_TRUE(broker.set_quote("EURUSD", 1.10000, 1.10010));
  const Ticket t =
      keep(broker.order_send(l, filled_as(market("EURUSD", OrderType::Buy, 0.5), Filling::Return))).result.order;

  SimulatedBroker restored(thin_market());
  restored.restore(store.state());
  ASSERT_EQ(restored.orders_get(l).size(), 1u);
  auto ch = restored.set_quote("EURUSD", 1.10100, 1.10110);
  ASSERT_EQ(ch->deals.size(), 1u);
  EXPECT_DOUBLE_EQ(ch->deals[0].volume, 0.2);
  EXPECT_EQ(ch->orders.at(0).state, OrderState::Filled);
  EXPECT_DOUBLE_EQ(restored.position_get(l, t)->volume, 0.5);
}

// ------------------------------------------------------------------ bars and the thread

TEST(SimBars, BackfillEndsAtTheCurrentQuote) {
  SimulatedBroker b(exact_options());
  BarBuilder bars;
  b.backfill(bars, 2 * 3'600'000, 15'000);
  auto m1 = bars.rates("EURUSD", Timeframe::M1, 1000);
  EXPECT_GE(m1.size(), 120u);
  EXPECT_LE(m1.size(), 121u);
  EXPECT_EQ(m1.back().close, b.symbol_info_tick("EURUSD")->bid);
  for (const auto& bar : m1) {
    EXPECT_LE(bar.low, std::min(bar.open, bar.close));
    EXPECT_GE(bar.high, std::max(bar.open, bar.close));
  }
  EXPECT_EQ(bars.symbols().size(), 14u);
  BarBuilder again;
  b.backfill(again, 2 * 3'600'000, 15'000);
  EXPECT_EQ(again.rates("BTCUSD", Timeframe::M5, 100), bars.rates("BTCUSD", Timeframe::M5, 100));
}

TEST(SimThread, QuoteThreadWithConcurrentTraders) {
  SimOptions o;
  o.seed = 3;
  o.volatility_scale = 50;
  SimulatedBroker b(o);
  std::atomic<int> ticks{0};
  b.set_tick_listener([&](std::string_view, const Tick&) { ticks.fetch_add(1); });
  b.set_change_listener([](const Changes&) {});
  std::vector<Login> logins;
  for (int i = 0; i < 2; ++i) logins.push_back(b.open_account("t", "USD", 100, 100'000).changes.accounts.at(0).login);
  b.start(std::chrono::milliseconds(1));
  EXPECT_TRUE(b.running());
  std::vector<std::thread> traders;
  for (Login l : logins) {
    traders.emplace_back([&b, l] {
      for (int i = 0; i < 300; ++i) {
        auto out = b.order_send(l, market("EURUSD", OrderType::Buy, 0.01));
        if (out.result.retcode == Retcode::Done && i % 2 == 0) b.order_send(l, close_req(out.result.position));
        ASSERT_TRUE(b.account_info(l));
        for (const auto& p : b.positions_get(l)) ASSERT_EQ(p.login, l);
      }
    });
  }
  for (auto& t : traders) t.join();
  while (ticks.load() == 0) std::this_thread::yield();  // the thread does tick
  b.stop();
  EXPECT_FALSE(b.running());
  for (Login l : logins) EXPECT_EQ(b.positions_get(l).size(), 150u);
}

TEST(SimThread, SequencedChangesPersistToTheBrokersState) {
  // Traders and the quote thread (SL/TP hits) change the same accounts at once; upserting
  // every Changes by its sequence must leave exactly the broker's rows.
  SimOptions o;
  o.seed = 5;
  o.volatility_scale = 2000;                                        // stops are hit within milliseconds
  o.history_per_account = std::numeric_limits<std::size_t>::max();  // memory whole, to compare
  SimulatedBroker b(o);
  std::mutex mu;
  std::map<Ticket, std::pair<std::uint64_t, Position>> positions;
  std::map<Ticket, std::pair<std::uint64_t, Order>> orders;
  std::map<Ticket, Deal> deals;
  std::map<Login, std::pair<std::uint64_t, AccountInfo>> accounts;
  std::atomic<int> triggered{0};
  auto persist = [&](const Changes& c) {
    std::lock_guard lock(mu);
    for (const auto& p : c.positions) {
      auto& slot = positions[p.ticket];
      if (c.sequence >= slot.first) slot = {c.sequence, p};
    }
    for (const auto& x : c.orders) {
      auto& slot = orders[x.ticket];
      if (c.sequence >= slot.first) slot = {c.sequence, x};
    }
    for (const auto& d : c.deals) deals[d.ticket] = d;
    for (const auto& a : c.accounts) {
      auto& slot = accounts[a.login];
      if (c.sequence >= slot.first) slot = {c.sequence, a};
    }
  };
  b.set_change_listener([&](const Changes& c) {
    triggered.fetch_add(1);
    persist(c);
  });
  std::vector<Login> logins;
  for (int i = 0; i < 2; ++i) {
    auto out = b.open_account("t", "USD", 100, 1'000'000);
    persist(out.changes);
    logins.push_back(out.changes.accounts.at(0).login);
  }
  b.start(std::chrono::milliseconds(1));
  std::vector<std::thread> traders;
  for (Login l : logins) {
    traders.emplace_back([&, l] {
      for (int i = 0; i < 400; ++i) {
        const Tick t = *b.symbol_info_tick("EURUSD");
        auto r = market("EURUSD", i % 2 ? OrderType::Sell : OrderType::Buy, 0.1);
        const double ref = i % 2 ? t.ask : t.bid;
        r.sl = i % 2 ? ref + 0.002 : ref - 0.002;
        r.tp = i % 2 ? ref - 0.002 : ref + 0.002;
        auto out = b.order_send(l, r);
        persist(out.changes);
        if (out.result.retcode == Retcode::Done && i % 3 == 0)
          persist(b.order_send(l, close_req(out.result.position)).changes);
      }
    });
  }
  for (auto& t : traders) t.join();
  while (triggered.load() == 0) std::this_thread::yield();
  b.stop();
  const BrokerState snap = b.snapshot();
  BrokerState persisted;
  for (const auto& [k, v] : accounts) persisted.accounts.push_back(v.second);
  for (const auto& [k, v] : positions) persisted.positions.push_back(v.second);
  for (const auto& [k, v] : orders) persisted.orders.push_back(v.second);
  for (const auto& [k, v] : deals) persisted.deals.push_back(v);
  persisted.next_ticket = snap.next_ticket;
  expect_same_rows(snap, persisted);
}

}  // namespace
}  // namespace permiso::trading::sim
