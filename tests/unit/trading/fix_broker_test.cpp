// The FIX connector against mt5-sim's FIX counterparty over the simulated broker, on loopback:
// a real QuickFIX initiator and acceptor, our dictionary, every message of docs/fix.md.
#include "trading/fix/fix_broker.hpp"
#include "trading/fix/fix_server.hpp"
#include "trading/sim/simulated_broker.hpp"

#include "connector_test_support.hpp"
#include "free_port.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <unistd.h>

namespace permiso::trading::fix {
namespace {

using namespace std::chrono_literals;
using testing::Delivered;
using testing::eventually;
using testing::gbpusd;
using testing::market;
using testing::thin_gbpusd_market;

constexpr const char* kPassword = "fix-test-password";

template <class Row>
const Row* find_ticket(const std::vector<Row>& rows, Ticket ticket) {
  for (const auto& r : rows) {
    if (r.ticket == ticket) return &r;
  }
  return nullptr;
}

class FixBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("permiso-fix-broker-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter_));
    std::filesystem::create_directories(dir_);
    port_ = permiso::test::free_port();
    FixServerOptions o;
    o.port = port_;
    o.comp_id = "MT5SIM";
    o.client_comp_ids = {"PERMISO"};
    o.username = "permiso";
    o.password = kPassword;
    o.store_dir = (dir_ / "server").string();
    o.multi_account = true;
    o.quote_comp_id = quote_comp_id_;
    o.tags = server_tags_;
    o.unsupported = server_unsupported_;
    server_ = std::make_unique<FixServer>(sim_, o);
    server_->start();
  }

  void TearDown() override {
    server_->stop();
    std::filesystem::remove_all(dir_);
  }

  FixOptions connector_options() {
    FixOptions o;
    o.port = port_;
    o.username = "permiso";
    o.password = kPassword;
    o.store_dir = (dir_ / "client").string();
    o.heartbeat_seconds = 1;
    o.reconnect_seconds = 1;
    o.timeout = 10s;  // a liveness bound: a loaded CI machine once took over 2 s for a loopback order
    o.refresh_interval = 100ms;
    // No scheduled listing during a test unless it asks for one: what reaches the mirror comes
    // from answers, reports and the per-round collateral read.
    o.full_read_interval = 1h;
    return o;
  }

  std::unique_ptr<FixBroker> connect(FixOptions options) {
    auto broker = std::make_unique<FixBroker>(std::move(options));
    broker->set_change_listener([this](const Changes& c) { delivered_.record(c); });
    broker->start();
    return broker;
  }

  /// Logged on, and the first quotes in (the subscription follows the logon): an order then is
  /// marked to the market as the broker marks it.
  /// Whether the connector holds the simulator's latest EURUSD quote: quotes reach it over FIX,
  /// after the simulator has moved.
  bool holds_latest_quote(const FixBroker& broker) const {
    const auto tick = broker.symbol_info_tick("EURUSD");
    return tick && tick->time_msc == sim_.now();
  }

  std::unique_ptr<FixBroker> connected() {
    auto broker = connect(connector_options());
    EXPECT_TRUE(broker->wait_until_connected(10s));
    EXPECT_TRUE(eventually([&] { return broker->symbol_info_tick("EURUSD").has_value(); }));
    return broker;
  }

  Login open_account(FixBroker& broker) {
    auto opened = broker.open_account("trader", "USD", 100, 10'000);
    EXPECT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
    EXPECT_FALSE(opened.changes.accounts.empty());
    return opened.changes.accounts.empty() ? 0 : opened.changes.accounts.front().login;
  }

  static inline int counter_ = 0;
  std::string quote_comp_id_;                              // the acceptor's market-data session, when set before SetUp
  TagMap server_tags_;                                     // how the counterparty numbers our custom fields
  std::set<std::string, std::less<>> server_unsupported_;  // requests it refuses as unsupported
  std::filesystem::path dir_;
  int port_ = 0;
  sim::SimulatedBroker sim_{thin_gbpusd_market()};  // GBPUSD fills 0.3 lots at a time
  std::unique_ptr<FixServer> server_;
  Delivered delivered_;
};

TEST_F(FixBrokerTest, LogsOnReadsTheInstrumentsAndStreamsQuotes) {
  auto broker = connected();
  EXPECT_TRUE(broker->connected());
  EXPECT_EQ(broker->name(), "fix");
  ASSERT_EQ(broker->symbols_get().size(), sim_.symbols_get().size());
  const auto eurusd = broker->symbol_info("EURUSD");
  ASSERT_TRUE(eurusd);
  EXPECT_EQ(eurusd->digits, sim_.symbol_info("EURUSD")->digits);
  EXPECT_DOUBLE_EQ(eurusd->contract_size, sim_.symbol_info("EURUSD")->contract_size);
  ASSERT_TRUE(eventually([&] { return broker->symbol_info_tick("EURUSD").has_value(); }));
  std::atomic<int> ticks{0};
  broker->set_tick_listener([&](std::string_view, const Tick&) { ++ticks; });
  ASSERT_TRUE(eventually([&] {
    sim_.step(1000);
    return ticks.load() > 0;
  }));
  EXPECT_TRUE(eventually([&] { return holds_latest_quote(*broker); }));
}

/// A broker that splits quotes from trading (MT5_FIX_QUOTE_TARGET_COMP_ID): two sessions.
class FixSplitSessionsTest : public FixBrokerTest {
 protected:
  FixSplitSessionsTest() { quote_comp_id_ = "MT5SIM-MD"; }
};

TEST_F(FixSplitSessionsTest, QuotesComeOnTheMarketDataSessionAndOrdersOnTheTradingOne) {
  auto options = connector_options();
  options.quote_target_comp_id = "MT5SIM-MD";
  options.reconnect_seconds = 60;  // a dropped trading session stays down for the test
  auto broker = connect(options);
  ASSERT_TRUE(broker->wait_until_connected(10s));
  ASSERT_TRUE(eventually([&] { return broker->symbol_info_tick("EURUSD").has_value(); }));
  EXPECT_TRUE(server_->counterparty().logged_on().contains("FIX.4.4:MT5SIM-MD->PERMISO"));

  const Login login = open_account(*broker);
  const auto opened = broker->order_send(login, testing::market(OrderType::Buy, 0.1));
  EXPECT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  EXPECT_EQ(broker->positions_total(login), 1U);

  // Only the market-data session left: quotes keep coming.
  broker->drop_connection();
  ASSERT_TRUE(eventually([&] { return !broker->connected(); }));
  std::atomic<int> ticks{0};
  broker->set_tick_listener([&](std::string_view, const Tick&) { ++ticks; });
  ASSERT_TRUE(eventually([&] {
    sim_.step(1000);
    return ticks.load() > 0;
  })) << "ticks arrive on the market-data session while the trading session is down";
  EXPECT_FALSE(broker->connected());
}

TEST_F(FixBrokerTest, AWrongPasswordNeverLogsOn) {
  auto options = connector_options();
  options.password = "not-the-password";
  auto broker = connect(options);
  EXPECT_FALSE(broker->wait_until_connected(1500ms));
  EXPECT_FALSE(broker->connected());
  const auto refused = broker->order_send(1, market(OrderType::Buy, 0.1));
  EXPECT_EQ(refused.result.retcode, Retcode::Connection);
}

TEST_F(FixBrokerTest, OpensAnAccountWithItsDepositDeal) {
  auto broker = connected();
  auto opened = broker->open_account("trader", "USD", 100, 10'000);
  ASSERT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  ASSERT_EQ(opened.changes.accounts.size(), 1U);
  const Login login = opened.changes.accounts.front().login;
  EXPECT_DOUBLE_EQ(opened.changes.accounts.front().balance, 10'000);
  ASSERT_EQ(opened.changes.deals.size(), 1U);
  EXPECT_EQ(opened.changes.deals.front().type, DealType::Balance);
  EXPECT_DOUBLE_EQ(broker->account_info(login)->balance, 10'000);
}

TEST_F(FixBrokerTest, OpensAndClosesAPositionWithEveryRowInTheChanges) {
  auto broker = connected();
  const Login login = open_account(*broker);
  auto buy = market(OrderType::Buy, 0.1);
  buy.comment = "fix test";
  auto opened = broker->order_send(login, buy);
  ASSERT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  const Ticket position = opened.result.position;
  ASSERT_NE(position, 0U);
  ASSERT_NE(find_ticket(opened.changes.positions, position), nullptr);
  EXPECT_FALSE(find_ticket(opened.changes.positions, position)->closed);
  // Marked to the market as the broker marks it: the spread is a loss from the first moment.
  EXPECT_NEAR(find_ticket(opened.changes.positions, position)->profit, sim_.positions_get(login).front().profit, 0.01);
  EXPECT_LT(find_ticket(opened.changes.positions, position)->profit, 0);
  EXPECT_NE(find_ticket(opened.changes.deals, opened.result.deal), nullptr);
  EXPECT_NE(find_ticket(opened.changes.orders, opened.result.order), nullptr);
  EXPECT_FALSE(opened.changes.accounts.empty());  // the margin it uses
  ASSERT_EQ(broker->positions_get(login).size(), 1U);
  EXPECT_EQ(broker->positions_get(login).front().comment, "fix test");
  EXPECT_EQ(sim_.positions_get(login).size(), 1U);

  sim_.step(5000);
  auto closed = broker->order_send(login, market(OrderType::Sell, 0.1, position));
  ASSERT_EQ(closed.result.retcode, Retcode::Done) << closed.result.comment;
  const auto* row = find_ticket(closed.changes.positions, position);
  ASSERT_NE(row, nullptr);
  EXPECT_TRUE(row->closed);
  const auto* out = find_ticket(closed.changes.deals, closed.result.deal);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->entry, DealEntry::Out);
  EXPECT_TRUE(broker->positions_get(login).empty());
  EXPECT_DOUBLE_EQ(broker->account_info(login)->balance, sim_.account_info(login)->balance);
}

TEST_F(FixBrokerTest, PlacesModifiesAndRemovesAPendingOrder) {
  auto broker = connected();
  const Login login = open_account(*broker);
  const double bid = sim_.symbol_info_tick("EURUSD")->bid;
  TradeRequest pending;
  pending.action = TradeAction::Pending;
  pending.symbol = "EURUSD";
  pending.volume = 0.2;
  pending.type = OrderType::BuyLimit;
  pending.price = bid - 0.01;
  pending.type_filling = Filling::Return;
  auto placed = broker->order_send(login, pending);
  ASSERT_EQ(placed.result.retcode, Retcode::Placed) << placed.result.comment;
  const Ticket order = placed.result.order;
  ASSERT_EQ(broker->orders_get(login).size(), 1U);

  TradeRequest modify;
  modify.action = TradeAction::Modify;
  modify.order = order;
  modify.price = bid - 0.02;
  modify.sl = bid - 0.03;
  auto modified = broker->order_send(login, modify);
  ASSERT_TRUE(is_success(modified.result.retcode)) << modified.result.comment;
  ASSERT_EQ(broker->orders_get(login).size(), 1U);
  EXPECT_NEAR(broker->orders_get(login).front().price_open, bid - 0.02, 1e-9);
  EXPECT_NEAR(sim_.orders_get(login).front().sl, bid - 0.03, 1e-9);

  TradeRequest remove;
  remove.action = TradeAction::Remove;
  remove.order = order;
  auto removed = broker->order_send(login, remove);
  ASSERT_TRUE(is_success(removed.result.retcode)) << removed.result.comment;
  EXPECT_TRUE(broker->orders_get(login).empty());
  EXPECT_TRUE(sim_.orders_get(login).empty());

  remove.order = order;  // already gone
  EXPECT_EQ(broker->order_send(login, remove).result.retcode, Retcode::InvalidOrder);
}

TEST_F(FixBrokerTest, ChangesAPositionsStops) {
  auto broker = connected();
  const Login login = open_account(*broker);
  auto opened = broker->order_send(login, market(OrderType::Buy, 0.1));
  ASSERT_EQ(opened.result.retcode, Retcode::Done);
  const double bid = sim_.symbol_info_tick("EURUSD")->bid;
  TradeRequest stops;
  stops.action = TradeAction::SlTp;
  stops.position = opened.result.position;
  stops.sl = bid - 0.01;
  stops.tp = bid + 0.01;
  auto changed = broker->order_send(login, stops);
  ASSERT_EQ(changed.result.retcode, Retcode::Done) << changed.result.comment;
  EXPECT_NEAR(sim_.positions_get(login).front().sl, bid - 0.01, 1e-9);
  EXPECT_NEAR(broker->positions_get(login).front().tp, bid + 0.01, 1e-9);
}

TEST_F(FixBrokerTest, ARefusalCarriesTheBrokersRetcode) {
  auto broker = connected();
  const Login login = open_account(*broker);
  auto refused = broker->order_send(login, market(OrderType::Buy, 0.013));  // not a multiple of the step
  EXPECT_EQ(refused.result.retcode, sim_.order_send(login, market(OrderType::Buy, 0.013)).result.retcode);
  EXPECT_FALSE(is_success(refused.result.retcode));
  EXPECT_TRUE(refused.changes.empty());
  TradeRequest close_by = market(OrderType::Buy, 0.1);
  close_by.action = TradeAction::CloseBy;
  EXPECT_EQ(broker->order_send(login, close_by).result.retcode, Retcode::Invalid);
}

/// The bound docs/brokers.md gives for what the broker does on its own: its unsolicited
/// ExecutionReport is applied when it arrives (on loopback, milliseconds; this allows for a
/// loaded CI machine), with no listing of the account.
constexpr auto kReportBound = 2s;

TEST_F(FixBrokerTest, AnOrdersPositionIsListedAtOnceAndGoneAtOnceWhenClosed) {
  auto broker = connected();
  const Login login = open_account(*broker);
  auto opened = broker->order_send(login, market(OrderType::Buy, 0.1));
  ASSERT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  ASSERT_EQ(broker->positions_get(login).size(), 1U);  // no read awaited: the answer carried it
  EXPECT_EQ(broker->positions_get(login).front().ticket, opened.result.position);
  auto closed = broker->order_send(login, market(OrderType::Sell, 0.1, opened.result.position));
  ASSERT_EQ(closed.result.retcode, Retcode::Done) << closed.result.comment;
  EXPECT_TRUE(broker->positions_get(login).empty());
}

TEST_F(FixBrokerTest, AStopLossHitReachesTheListenerFromItsReport) {
  auto broker = connected();
  const Login login = open_account(*broker);
  const auto tick = *sim_.symbol_info_tick("EURUSD");
  auto buy = market(OrderType::Buy, 0.1);
  buy.sl = tick.bid - 0.0020;
  auto opened = broker->order_send(login, buy);
  ASSERT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  const Ticket position = opened.result.position;
  // A witness: closed behind the connector's back with no report, it stays open in the mirror
  // until the account is listed, so it shows whether the stop's close came without a listing.
  auto witness = broker->order_send(login, market(OrderType::Sell, 0.1));
  ASSERT_EQ(witness.result.retcode, Retcode::Done) << witness.result.comment;
  ASSERT_EQ(sim_.order_send(login, market(OrderType::Buy, 0.1, witness.result.position)).result.retcode, Retcode::Done);
  ASSERT_TRUE(sim_.set_quote("EURUSD", tick.bid - 0.0030, tick.ask - 0.0030));  // through the stop
  ASSERT_TRUE(sim_.positions_get(login).empty());
  ASSERT_TRUE(eventually(
      [&] {
        auto p = delivered_.position(position);
        return p && p->closed;
      },
      kReportBound))
      << "the stop loss hit did not reach the gateway within the bound";
  const auto row = delivered_.position(position);
  EXPECT_EQ(row->close_reason, DealReason::Sl);
  double realised = 0;
  for (const auto& d : sim_.history_deals_get(login, 0, std::numeric_limits<TimeMs>::max())) {
    if (d.position_id == position && d.entry == DealEntry::Out) realised += d.profit;
  }
  EXPECT_LT(realised, 0);
  EXPECT_NEAR(row->profit, realised, 1e-9);
  ASSERT_EQ(broker->positions_get(login).size(), 1U) << "the account was listed";
  EXPECT_EQ(broker->positions_get(login).front().ticket, witness.result.position);
  EXPECT_TRUE(eventually([&] { return broker->account_info(login)->balance == sim_.account_info(login)->balance; },
                         kReportBound));
}

TEST_F(FixBrokerTest, APendingOrderTheBrokerTriggersOpensItsPositionFromTheReport) {
  auto broker = connected();
  const Login login = open_account(*broker);
  const auto tick = *sim_.symbol_info_tick("EURUSD");
  TradeRequest pending;
  pending.action = TradeAction::Pending;
  pending.symbol = "EURUSD";
  pending.volume = 0.1;
  pending.type = OrderType::BuyLimit;
  pending.price = tick.ask - 0.0020;
  pending.type_filling = Filling::Return;
  auto placed = broker->order_send(login, pending);
  ASSERT_EQ(placed.result.retcode, Retcode::Placed) << placed.result.comment;
  ASSERT_TRUE(sim_.set_quote("EURUSD", tick.bid - 0.0030, tick.ask - 0.0030));  // the ask falls to the limit
  ASSERT_EQ(sim_.positions_get(login).size(), 1U);
  const Ticket position = sim_.positions_get(login).front().ticket;
  ASSERT_TRUE(eventually(
      [&] {
        return broker->positions_get(login).size() == 1 && broker->orders_get(login).empty() &&
               delivered_.position(position).has_value();
      },
      kReportBound))
      << "the triggered order's position did not reach the mirror and the gateway within the bound";
  EXPECT_EQ(broker->positions_get(login).front().ticket, position);
  auto row = delivered_.position(position);
  ASSERT_TRUE(row);
  EXPECT_FALSE(row->closed);
}

TEST_F(FixBrokerTest, AnOpenPositionsFloatingProfitFollowsTheQuotesBetweenListings) {
  auto broker = connected();
  const Login login = open_account(*broker);
  auto opened = broker->order_send(login, market(OrderType::Buy, 0.1));
  ASSERT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  const auto tick = *sim_.symbol_info_tick("EURUSD");
  ASSERT_TRUE(sim_.set_quote("EURUSD", tick.bid + 0.0050, tick.ask + 0.0050));
  const auto at_broker = sim_.positions_get(login).front();
  ASSERT_GT(at_broker.profit, 0);
  const auto marked = [&](const Position& p) {
    return p.price_current == at_broker.price_current && std::abs(p.profit - at_broker.profit) < 0.011;
  };
  EXPECT_TRUE(eventually([&] {
    const auto rows = broker->positions_get(login);
    return rows.size() == 1 && marked(rows.front());
  })) << "the position was not marked to the broker's quote";
  // The gateway's own reads (GET /trades pages, one trade by id) are marked the same way.
  const auto page = broker->positions_page(login, "", std::nullopt, 10);
  ASSERT_EQ(page.size(), 1U);
  EXPECT_TRUE(marked(page.front()));
  const auto one = broker->position_get(login, opened.result.position);
  ASSERT_TRUE(one);
  EXPECT_TRUE(marked(*one));
}

TEST_F(FixBrokerTest, ThePerRoundReadIsTheCollateralOnly) {
  auto broker = connected();
  const Login login = open_account(*broker);
  auto opened = broker->order_send(login, market(OrderType::Buy, 0.1));
  ASSERT_EQ(opened.result.retcode, Retcode::Done);
  // Closed behind the connector's back, with no report (as through another replica): the
  // collateral read brings the new balance, and the positions wait for the account's listing.
  sim_.step(5000);
  auto closed_elsewhere = sim_.order_send(login, market(OrderType::Sell, 0.1, opened.result.position));
  ASSERT_EQ(closed_elsewhere.result.retcode, Retcode::Done);
  ASSERT_TRUE(eventually([&] { return broker->account_info(login)->balance == sim_.account_info(login)->balance; }));
  EXPECT_EQ(broker->positions_get(login).size(), 1U) << "a per-round read listed the positions";
  ASSERT_TRUE(broker->reconcile_now());
  EXPECT_TRUE(broker->positions_get(login).empty());
  auto p = delivered_.position(opened.result.position);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->closed);
}

TEST_F(FixBrokerTest, ATradeMadeElsewhereIsFoundWithinTheFullReadInterval) {
  auto options = connector_options();
  options.full_read_interval = 1s;
  auto broker = connect(options);
  ASSERT_TRUE(broker->wait_until_connected(10s));
  const Login login = open_account(*broker);
  auto opened = broker->order_send(login, market(OrderType::Buy, 0.1));
  ASSERT_EQ(opened.result.retcode, Retcode::Done);
  // Closed behind the connector's back: the account's listing finds it gone and explains it
  // with deals, within the interval (and a round, and the listing itself; loaded CI machines).
  auto closed_elsewhere = sim_.order_send(login, market(OrderType::Sell, 0.1, opened.result.position));
  ASSERT_EQ(closed_elsewhere.result.retcode, Retcode::Done);
  ASSERT_TRUE(eventually(
      [&] {
        auto p = delivered_.position(opened.result.position);
        return p && p->closed;
      },
      options.full_read_interval + 3s));
  EXPECT_TRUE(broker->positions_get(login).empty());
}

// ---------------------------------------------------------------- partial fills (GBPUSD: 0.3 lots a fill)

TEST_F(FixBrokerTest, AnIocOrderFilledInPartAnswersDonePartialWithTheFilledVolume) {
  auto broker = connected();
  const Login login = open_account(*broker);
  auto ioc = gbpusd(OrderType::Buy, 1.0, Filling::Ioc);
  ioc.broker_order_id = "partial-ioc-1";
  const auto out = broker->order_send(login, ioc);
  ASSERT_EQ(out.result.retcode, Retcode::DonePartial) << out.result.comment;
  EXPECT_DOUBLE_EQ(out.result.volume, 0.3);
  const Ticket position = out.result.position;
  ASSERT_NE(position, 0U);
  // Every row the gateway persists: the deal and the position carry the filled volume, the
  // order its requested volume and what was not filled.
  const auto* deal = find_ticket(out.changes.deals, out.result.deal);
  ASSERT_NE(deal, nullptr);
  EXPECT_DOUBLE_EQ(deal->volume, 0.3);
  const auto* row = find_ticket(out.changes.positions, position);
  ASSERT_NE(row, nullptr);
  EXPECT_DOUBLE_EQ(row->volume, 0.3);
  const auto* order = find_ticket(out.changes.orders, out.result.order);
  ASSERT_NE(order, nullptr);
  EXPECT_EQ(order->state, OrderState::Canceled);
  EXPECT_DOUBLE_EQ(order->volume_initial, 1.0);
  EXPECT_DOUBLE_EQ(order->volume_current, 0.7);
  // The mirror agrees with the broker, at once: one position of 0.3, nothing working.
  ASSERT_EQ(broker->positions_get(login).size(), 1U);
  EXPECT_DOUBLE_EQ(broker->positions_get(login).front().volume, 0.3);
  EXPECT_TRUE(broker->orders_get(login).empty());
  ASSERT_EQ(sim_.positions_get(login).size(), 1U);
  EXPECT_DOUBLE_EQ(sim_.positions_get(login).front().volume, 0.3);

  // A retry of the same order is answered the same, and executes nothing.
  const auto again = broker->order_send(login, ioc);
  EXPECT_EQ(again.result.retcode, Retcode::DonePartial) << again.result.comment;
  EXPECT_EQ(again.result.position, position);
  EXPECT_DOUBLE_EQ(again.result.volume, 0.3);
  EXPECT_EQ(sim_.positions_get(login).size(), 1U);
}

TEST_F(FixBrokerTest, AFokOrderTheLiquidityCannotFillIsRejected) {
  auto broker = connected();
  const Login login = open_account(*broker);
  const auto out = broker->order_send(login, gbpusd(OrderType::Buy, 1.0, Filling::Fok));
  EXPECT_EQ(out.result.retcode, Retcode::Reject);
  EXPECT_EQ(out.result.comment, "not enough liquidity to fill the order");
  EXPECT_TRUE(out.changes.empty());
  EXPECT_TRUE(broker->positions_get(login).empty());
  EXPECT_TRUE(sim_.positions_get(login).empty());
}

TEST_F(FixBrokerTest, AReturnOrdersRestFillsAtLaterQuotesIntoTheMirrorsPosition) {
  auto broker = connected();
  const Login login = open_account(*broker);
  const auto out = broker->order_send(login, gbpusd(OrderType::Buy, 0.8, Filling::Return));
  ASSERT_EQ(out.result.retcode, Retcode::DonePartial) << out.result.comment;
  EXPECT_DOUBLE_EQ(out.result.volume, 0.3);
  const Ticket position = out.result.position;
  ASSERT_EQ(broker->orders_get(login).size(), 1U);  // the rest, working
  EXPECT_EQ(broker->orders_get(login).front().state, OrderState::Partial);
  EXPECT_DOUBLE_EQ(broker->orders_get(login).front().volume_current, 0.5);
  // Two more quotes fill 0.3 then 0.2, each reported (OrdStatus 1, then 2) and applied.
  sim_.step(1000);
  ASSERT_TRUE(eventually([&] { return sim_.orders_get(login).size() == 1; }, kReportBound));
  sim_.step(1000);
  ASSERT_TRUE(sim_.orders_get(login).empty());
  // The mirror first, then the gateway: a fill's Changes are delivered once its account is read.
  ASSERT_TRUE(eventually(
      [&] {
        const auto rows = broker->positions_get(login);
        const auto delivered = delivered_.position(position);
        return rows.size() == 1 && std::abs(rows.front().volume - 0.8) < 1e-9 && broker->orders_get(login).empty() &&
               delivered && std::abs(delivered->volume - 0.8) < 1e-9;
      },
      kReportBound))
      << "the later fills did not reach the mirror and the gateway within the bound";
  EXPECT_NEAR(broker->positions_get(login).front().price_open, sim_.positions_get(login).front().price_open, 1e-9);
  const auto delivered = delivered_.position(position);
  ASSERT_TRUE(delivered);
  EXPECT_DOUBLE_EQ(delivered->volume, 0.8);
}

TEST_F(FixBrokerTest, ADroppedSessionLogsOnAgainAndTrades) {
  auto broker = connected();
  const Login login = open_account(*broker);
  broker->drop_connection();
  ASSERT_TRUE(eventually([&] { return !broker->connected(); }));
  ASSERT_TRUE(eventually([&] { return broker->connected(); }, 15s));
  auto opened = broker->order_send(login, market(OrderType::Buy, 0.1));
  EXPECT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  EXPECT_EQ(sim_.positions_get(login).size(), 1U);
}

// ---- a broker without RequestForPositions and CollateralInquiry: the gateway's own ledger ----

class FixBrokerLedgerTest : public FixBrokerTest {
 protected:
  FixBrokerLedgerTest() {
    server_unsupported_ = {std::string(msg::kRequestForPositions), std::string(msg::kCollateralInquiry)};
  }

  /// The ledger's account and positions are the broker's own: balance to the cent, the floating
  /// figures to a cent per position (each position's profit is rounded before the sum).
  ::testing::AssertionResult ledger_matches_broker(FixBroker& broker, Login login) {
    const auto ours = broker.account_info(login);
    const auto theirs = sim_.account_info(login);
    if (!ours || !theirs) return ::testing::AssertionFailure() << "no account";
    const auto positions = broker.positions_get(login);
    const auto at_broker = sim_.positions_get(login);
    const double cents = 0.011 * static_cast<double>(std::max<std::size_t>(at_broker.size(), 1));
    if (positions.size() != at_broker.size()) {
      return ::testing::AssertionFailure() << positions.size() << " positions, the broker has " << at_broker.size();
    }
    for (std::size_t i = 0; i < positions.size(); ++i) {
      if (positions[i].ticket != at_broker[i].ticket || std::abs(positions[i].volume - at_broker[i].volume) > 1e-9 ||
          std::abs(positions[i].price_open - at_broker[i].price_open) > 1e-9) {
        return ::testing::AssertionFailure() << "position " << at_broker[i].ticket << " differs";
      }
    }
    const std::pair<const char*, std::pair<double, double>> figures[] = {
        {"balance", {ours->balance, theirs->balance}},
        {"profit", {ours->profit, theirs->profit}},
        {"equity", {ours->equity, theirs->equity}},
        {"margin", {ours->margin, theirs->margin}},
        {"free margin", {ours->margin_free, theirs->margin_free}}};
    for (const auto& [name, pair] : figures) {
      const double tolerance =
          std::string_view(name) == "balance" || std::string_view(name) == "margin" ? 0.001 : cents;
      if (std::abs(pair.first - pair.second) > tolerance) {
        return ::testing::AssertionFailure() << name << " " << pair.first << ", the broker's " << pair.second;
      }
    }
    return ::testing::AssertionSuccess();
  }
};

TEST_F(FixBrokerLedgerTest, AnAccountOpenedWithoutCollateralReportsHasItsDepositAsBalance) {
  auto broker = connected();
  const Login login = open_account(*broker);
  EXPECT_TRUE(broker->keeps_own_collateral());
  EXPECT_TRUE(broker->keeps_own_positions());
  const auto account = broker->account_info(login);
  ASSERT_TRUE(account);
  EXPECT_DOUBLE_EQ(account->balance, 10'000);
  EXPECT_DOUBLE_EQ(account->equity, 10'000);
  EXPECT_EQ(account->currency, "USD");
  EXPECT_TRUE(ledger_matches_broker(*broker, login));
}

TEST_F(FixBrokerLedgerTest, TradesKeepTheLedgersPositionsMarginAndBalanceTheBrokers) {
  auto broker = connected();
  const Login login = open_account(*broker);
  auto buy = broker->order_send(login, market(OrderType::Buy, 1.0));
  ASSERT_EQ(buy.result.retcode, Retcode::Done) << buy.result.comment;
  ASSERT_FALSE(buy.changes.accounts.empty());
  EXPECT_GT(buy.changes.accounts.front().margin, 0) << "the order's answer carries the margin it uses";
  auto sell = broker->order_send(login, gbpusd(OrderType::Sell, 0.2, Filling::Fok));
  ASSERT_EQ(sell.result.retcode, Retcode::Done) << sell.result.comment;
  auto gold = broker->order_send(login, [] {
    auto r = market(OrderType::Buy, 0.1);
    r.symbol = "XAUUSD";  // CFD leverage: the margin follows the open price
    return r;
  }());
  ASSERT_EQ(gold.result.retcode, Retcode::Done) << gold.result.comment;
  sim_.step(5000);  // the quotes move: the floating figures follow them
  EXPECT_TRUE(eventually([&] { return static_cast<bool>(ledger_matches_broker(*broker, login)); }))
      << ledger_matches_broker(*broker, login);

  auto closed = broker->order_send(login, market(OrderType::Sell, 1.0, buy.result.position));
  ASSERT_EQ(closed.result.retcode, Retcode::Done) << closed.result.comment;
  EXPECT_DOUBLE_EQ(broker->account_info(login)->balance, sim_.account_info(login)->balance);
  EXPECT_TRUE(eventually([&] { return static_cast<bool>(ledger_matches_broker(*broker, login)); }))
      << ledger_matches_broker(*broker, login);
}

TEST_F(FixBrokerLedgerTest, TradesMadeElsewhereAreFoundInTheDealsAtTheNextListing) {
  auto broker = connected();
  const Login login = open_account(*broker);
  auto opened = broker->order_send(login, market(OrderType::Buy, 0.5));
  ASSERT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  // Behind the connector's back, with no report (as through another replica): one position
  // closed, another opened.
  sim_.step(5000);
  // The floating figures below are priced at the connector's quote: wait for the moved one.
  ASSERT_TRUE(eventually([&] { return holds_latest_quote(*broker); }));
  ASSERT_EQ(sim_.order_send(login, market(OrderType::Sell, 0.5, opened.result.position)).result.retcode, Retcode::Done);
  auto elsewhere = sim_.order_send(login, market(OrderType::Sell, 0.3));
  ASSERT_EQ(elsewhere.result.retcode, Retcode::Done);
  ASSERT_TRUE(broker->reconcile_now());
  EXPECT_TRUE(ledger_matches_broker(*broker, login)) << ledger_matches_broker(*broker, login);
  auto gone = delivered_.position(opened.result.position);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->closed);
  EXPECT_TRUE(delivered_.position(elsewhere.result.position));
  // Read again, nothing is counted twice.
  ASSERT_TRUE(broker->reconcile_now());
  EXPECT_TRUE(ledger_matches_broker(*broker, login)) << ledger_matches_broker(*broker, login);
}

TEST_F(FixBrokerTest, TheLedgerAskedForComputesWhatTheBrokerReports) {
  // A broker that answers everything, and a connector told to keep its own ledger anyway: the
  // two sets of figures must agree, so the ledger is the broker's arithmetic.
  auto options = connector_options();
  options.ledger_positions = true;
  options.ledger_collateral = true;
  auto broker = connect(options);
  ASSERT_TRUE(broker->wait_until_connected(10s));
  ASSERT_TRUE(eventually([&] { return broker->symbol_info_tick("EURUSD").has_value(); }));
  const Login login = open_account(*broker);
  ASSERT_EQ(broker->order_send(login, market(OrderType::Sell, 2.0)).result.retcode, Retcode::Done);
  sim_.step(5000);
  const auto broker_account = sim_.account_info(login);
  ASSERT_TRUE(eventually([&] {
    const auto ours = broker->account_info(login);
    return ours && std::abs(ours->equity - broker_account->equity) < 0.02 &&
           std::abs(ours->margin - broker_account->margin) < 0.001 && ours->margin > 0;
  })) << broker->account_info(login)->equity
      << " vs " << broker_account->equity;
}

// ---- a broker that numbers our custom fields its own way (MT5_FIX_TAGS, mt5-sim --fix-tags) ----

/// Every custom field moved into 30000+ (PositionID 30001, ..., TradeAllowed 30058).
TagMap renumbered_tags() {
  TagMap tags;
  for (const auto& field : fixtags::custom_fields()) tags.*field.number = field.default_number() + 10'000;
  return tags;
}

class FixBrokerRenumberedTest : public FixBrokerTest {
 protected:
  FixBrokerRenumberedTest() { server_tags_ = renumbered_tags(); }

  /// The connector configured as the counterparty numbers.
  FixOptions agreeing_options() {
    auto o = connector_options();
    o.tags = server_tags_;
    return o;
  }
};

TEST_F(FixBrokerRenumberedTest, TradesListsAndReadsTheAccountWhenBothNumberAlike) {
  auto broker = connect(agreeing_options());
  ASSERT_TRUE(broker->wait_until_connected(10s));
  // The security list: Digits, Point, the currencies, VolumeStep, CalcMode... under 300xx.
  ASSERT_EQ(broker->symbols_get().size(), sim_.symbols_get().size());
  const auto eurusd = broker->symbol_info("EURUSD");
  const auto expected = sim_.symbol_info("EURUSD");
  ASSERT_TRUE(eurusd && expected);
  EXPECT_EQ(eurusd->digits, expected->digits);
  EXPECT_DOUBLE_EQ(eurusd->point, expected->point);
  EXPECT_DOUBLE_EQ(eurusd->volume_step, expected->volume_step);
  EXPECT_EQ(eurusd->currency_margin, expected->currency_margin);
  EXPECT_EQ(eurusd->margin_mode, expected->margin_mode);
  ASSERT_TRUE(eventually([&] { return broker->symbol_info_tick("EURUSD").has_value(); }));

  // The account: AccountReqId, AccountName, Leverage, Deposit out; Balance, Equity... back.
  const Login login = open_account(*broker);
  ASSERT_NE(login, 0U);
  const auto account = broker->account_info(login);
  ASSERT_TRUE(account);
  EXPECT_DOUBLE_EQ(account->balance, 10'000);
  EXPECT_EQ(account->leverage, 100);
  EXPECT_EQ(account->name, "trader");

  // An order: Magic, StopLoss, Comment... out; PositionID, Mt5Retcode, Profit... back.
  const double bid = sim_.symbol_info_tick("EURUSD")->bid;
  auto buy = market(OrderType::Buy, 0.1);
  buy.magic = 77;
  buy.sl = bid - 0.01;
  buy.comment = "renumbered";
  auto opened = broker->order_send(login, buy);
  ASSERT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  const Ticket position = opened.result.position;
  ASSERT_NE(position, 0U);
  ASSERT_EQ(sim_.positions_get(login).size(), 1U);
  EXPECT_EQ(sim_.positions_get(login).front().magic, 77U);
  EXPECT_NEAR(sim_.positions_get(login).front().sl, bid - 0.01, 1e-9);
  EXPECT_EQ(sim_.positions_get(login).front().ticket, position);

  // A position's stops (U3/U4 carry PositionID).
  TradeRequest stops;
  stops.action = TradeAction::SlTp;
  stops.position = position;
  stops.sl = bid - 0.02;
  stops.tp = bid + 0.02;
  auto changed = broker->order_send(login, stops);
  ASSERT_EQ(changed.result.retcode, Retcode::Done) << changed.result.comment;
  EXPECT_NEAR(sim_.positions_get(login).front().tp, bid + 0.02, 1e-9);

  // A position opened elsewhere is found by the account's listing (AP, AF, AE).
  auto elsewhere = market(OrderType::Sell, 0.2);
  elsewhere.magic = 88;
  ASSERT_EQ(sim_.order_send(login, elsewhere).result.retcode, Retcode::Done);
  ASSERT_TRUE(broker->reconcile_now());
  const auto listed = broker->positions_get(login);
  ASSERT_EQ(listed.size(), 2U);
  for (const auto& p : sim_.positions_get(login)) {
    const auto* mine = find_ticket(listed, p.ticket);
    ASSERT_NE(mine, nullptr) << p.ticket;
    EXPECT_EQ(mine->magic, p.magic);
    EXPECT_DOUBLE_EQ(mine->price_open, p.price_open);
    EXPECT_NEAR(mine->sl, p.sl, 1e-9);
    EXPECT_EQ(mine->time_msc, p.time_msc);
  }

  // Closing: the out deal and the balance, as the broker has them.
  sim_.step(5000);
  auto closed = broker->order_send(login, market(OrderType::Sell, 0.1, position));
  ASSERT_EQ(closed.result.retcode, Retcode::Done) << closed.result.comment;
  const auto* out = find_ticket(closed.changes.deals, closed.result.deal);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->entry, DealEntry::Out);
  ASSERT_TRUE(broker->reconcile_now());
  EXPECT_EQ(broker->positions_get(login).size(), 1U);
  EXPECT_DOUBLE_EQ(broker->account_info(login)->balance, sim_.account_info(login)->balance);
}

/// The default logger's lines while it lives (the connector logs through spdlog's default).
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~CapturedLog() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  [[nodiscard]] bool has(std::string_view text) const {
    for (const auto& line : sink_->last_formatted()) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

TEST_F(FixBrokerRenumberedTest, AConnectorNumberingOtherwiseLogsOnButNeverReadsTheInstruments) {
  CapturedLog log;
  auto options = connector_options();  // the dictionary's numbers: not the broker's
  options.timeout = 2s;                // the security list's answer is awaited this long
  auto broker = connect(options);
  // The logon carries no custom field, so the session itself comes up...
  ASSERT_TRUE(eventually([&] { return log.has("PERMISO->MT5SIM logged on"); }));
  // ...but the security list's group carries Digits, Point... under numbers the connector's
  // dictionary does not place there: its QuickFIX rejects the message (a session Reject goes
  // back) with a warning that names the likely cause, the list's answer times out, and the
  // connector never counts as connected, so no order is sent under the wrong numbers.
  ASSERT_TRUE(eventually([&] {
    return log.has("PERMISO->MT5SIM: Message 2 Rejected: Tag appears more than once") &&
           log.has("does the counterparty number our custom fields as MT5_FIX_TAGS says?");
  }));
  ASSERT_TRUE(eventually([&] { return log.has("the counterparty did not list its instruments"); }));
  EXPECT_FALSE(broker->connected());
  EXPECT_TRUE(broker->symbols_get().empty());
  EXPECT_EQ(broker->order_send(1, market(OrderType::Buy, 0.1)).result.retcode, Retcode::Connection);
  EXPECT_TRUE(sim_.positions_get(1).empty());
}

}  // namespace
}  // namespace permiso::trading::fix
