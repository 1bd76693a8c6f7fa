// The terminal connector against the bridge server over the simulated broker: the same
// protocol the PermisoBridge EA speaks, on loopback, with a hung and a refusing terminal.
#include "trading/terminal/terminal_broker.hpp"
#include "trading/mirror.hpp"
#include "trading/sim/simulated_broker.hpp"
#include "trading/terminal/bridge_server.hpp"

#include "connector_test_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace permiso::trading::terminal {
namespace {

using namespace std::chrono_literals;
using testing::Delivered;
using testing::eventually;
using testing::gbpusd;
using testing::market;
using testing::thin_gbpusd_market;

BridgeServerOptions single_account() {
  BridgeServerOptions o;
  o.multi_account = false;
  return o;
}

class TerminalBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override { start_server({}); }

  void start_server(BridgeServerOptions options) {
    options.command_endpoint = "tcp://127.0.0.1:*";
    options.event_endpoint = "tcp://127.0.0.1:*";
    options.heartbeat = 100ms;
    if (options.token.empty()) options.token = "bridge-token";
    server_ = std::make_unique<BridgeServer>(sim_, options);
    server_->start();
  }

  TerminalOptions connector_options() {
    TerminalOptions o;
    o.command_url = server_->command_endpoint();
    o.event_url = server_->event_endpoint();
    o.token = "bridge-token";
    o.timeout = 300ms;
    o.refresh_interval = 50ms;
    return o;
  }

  std::unique_ptr<TerminalBroker> connect(TerminalOptions options) {
    auto broker = std::make_unique<TerminalBroker>(std::move(options));
    broker->set_change_listener([this](const Changes& c) { delivered_.record(c); });
    broker->start();
    return broker;
  }

  Login open_account(TerminalBroker& broker) {
    auto opened = broker.open_account("trader", "USD", 100, 10'000);
    EXPECT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
    EXPECT_FALSE(opened.changes.accounts.empty());
    return opened.changes.accounts.empty() ? 0 : opened.changes.accounts.front().login;
  }

  sim::SimulatedBroker sim_{thin_gbpusd_market()};  // GBPUSD fills 0.3 lots at a time
  std::unique_ptr<BridgeServer> server_;
  Delivered delivered_;
};

TEST_F(TerminalBrokerTest, ConnectsAndMirrorsTheTerminalsSymbolsAndQuotes) {
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  EXPECT_TRUE(broker->connected());
  EXPECT_EQ(broker->name(), "terminal");
  EXPECT_EQ(broker->symbols_get().size(), sim_.symbols_get().size());
  auto tick = broker->symbol_info_tick("EURUSD");
  ASSERT_TRUE(tick);
  EXPECT_EQ(tick->bid, sim_.symbol_info_tick("EURUSD")->bid);
  // A live quote reaches the tick listener and the mirror.
  std::atomic<int> ticks{0};
  broker->set_tick_listener([&](std::string_view, const Tick&) { ++ticks; });
  ASSERT_TRUE(eventually([&] {
    sim_.step(1000);
    return ticks.load() > 0;
  }));
  EXPECT_TRUE(eventually([&] { return broker->symbol_info_tick("EURUSD")->time_msc == sim_.now(); }));
}

TEST_F(TerminalBrokerTest, TradesThroughTheBridgeAndAnswersReadsFromItsMirror) {
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  const Login login = open_account(*broker);
  auto opened = broker->order_send(login, market(OrderType::Buy, 0.1));
  ASSERT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  ASSERT_NE(opened.result.position, 0U);
  EXPECT_FALSE(opened.changes.positions.empty());
  EXPECT_FALSE(opened.changes.deals.empty());
  EXPECT_GT(opened.changes.sequence, 0U);
  auto open = broker->positions_get(login);
  ASSERT_EQ(open.size(), 1U);
  EXPECT_EQ(open.front().ticket, opened.result.position);
  EXPECT_EQ(broker->account_info(login)->login, login);

  auto closed = broker->order_send(login, market(OrderType::Sell, 0.1, opened.result.position));
  ASSERT_EQ(closed.result.retcode, Retcode::Done) << closed.result.comment;
  EXPECT_TRUE(broker->positions_get(login).empty());
  EXPECT_EQ(broker->history_deals_get(login, 0, sim_.now() + 1).size(),
            sim_.history_deals_get(login, 0, sim_.now() + 1).size());
}

TEST_F(TerminalBrokerTest, ATerminalOnGmtPlus2IsReadInUtcAndItsOffsetIsKnown) {
  BridgeServerOptions gmt_plus_2;
  gmt_plus_2.server_utc_offset = 2h;  // the simulator's clock is the trade server's
  start_server(gmt_plus_2);
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  EXPECT_EQ(broker->server_utc_offset_s(), 7200);
  const TimeMs utc_now = sim_.now() - 7'200'000;
  EXPECT_EQ(broker->symbol_info_tick("EURUSD")->time_msc, utc_now);
  const Login login = open_account(*broker);
  auto opened = broker->order_send(login, market(OrderType::Buy, 0.1));
  ASSERT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  ASSERT_FALSE(opened.changes.deals.empty());
  EXPECT_EQ(opened.changes.deals.front().time_msc, utc_now);
  ASSERT_EQ(broker->positions_get(login).size(), 1U);
  EXPECT_EQ(broker->positions_get(login).front().time_msc, utc_now);
}

/// `n` M1 bars of history ending at the minute the simulation starts in (the trade server's clock).
std::vector<Bar> m1_history(const sim::SimulatedBroker& sim, int n) {
  const TimeMs newest = sim.now() - sim.now() % 60'000;
  std::vector<Bar> out;
  for (int i = n - 1; i >= 0; --i) out.push_back(Bar{newest - i * 60'000, 1.1, 1.2, 1.0, 1.1, 5});
  return out;
}

TEST_F(TerminalBrokerTest, BackfillLoadsTheNewestBarsOfTheTerminalsHistory) {
  const auto history = m1_history(sim_, 3);
  server_->history().load_history("EURUSD", Timeframe::M1, history);
  auto options = connector_options();
  options.backfill_bars = 2;  // the bound: the newest two of three
  auto broker = connect(options);
  ASSERT_TRUE(broker->wait_until_connected(5s));
  BarBuilder bars;
  EXPECT_EQ(broker->backfill(bars), 2U);  // the simulator has not ticked: no other history
  EXPECT_EQ(bars.rates("EURUSD", Timeframe::M1, 10), (std::vector<Bar>{history[1], history[2]}));
}

TEST_F(TerminalBrokerTest, AtGmtPlus2OnlyHistoryAlignedToUtcIsBackfilled) {
  BridgeServerOptions gmt_plus_2;
  gmt_plus_2.server_utc_offset = 2h;
  start_server(gmt_plus_2);
  server_->history().load_history("EURUSD", Timeframe::M1, m1_history(sim_, 2));
  const TimeMs server_midnight = sim_.now() - sim_.now() % 86'400'000;  // 22:00 UTC
  server_->history().load_history("EURUSD", Timeframe::D1, {Bar{server_midnight, 1.1, 1.2, 1.0, 1.1, 9}});
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  BarBuilder bars;
  EXPECT_EQ(broker->backfill(bars), 2U);
  auto m1 = bars.rates("EURUSD", Timeframe::M1, 10);
  ASSERT_EQ(m1.size(), 2U);
  EXPECT_EQ(m1.back().time_msc, m1_history(sim_, 1).front().time_msc - 7'200'000);  // in UTC
  EXPECT_TRUE(bars.rates("EURUSD", Timeframe::D1, 10).empty()) << "a day from 22:00 UTC is not drawn";
}

TEST_F(TerminalBrokerTest, ARefusalKeepsTheTerminalsReturnCode) {
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  const Login login = open_account(*broker);
  auto refused = broker->order_send(login, market(OrderType::Buy, 1000));  // beyond volume_max
  EXPECT_FALSE(is_success(refused.result.retcode));
  EXPECT_EQ(refused.result.retcode, sim_.order_send(login, market(OrderType::Buy, 1000)).result.retcode);
}

TEST_F(TerminalBrokerTest, APartialFillCarriesDonePartialAndTheVolumesThrough) {
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  const Login login = open_account(*broker);
  auto partial = broker->order_send(login, gbpusd(OrderType::Buy, 1.0, Filling::Ioc));
  ASSERT_EQ(partial.result.retcode, Retcode::DonePartial) << partial.result.comment;
  EXPECT_DOUBLE_EQ(partial.result.volume, 0.3);
  const Order* order = nullptr;
  for (const auto& o : partial.changes.orders) {
    if (o.ticket == partial.result.order) order = &o;
  }
  ASSERT_NE(order, nullptr);
  EXPECT_EQ(order->state, OrderState::Canceled);
  EXPECT_EQ(order->type_filling, Filling::Ioc);
  EXPECT_DOUBLE_EQ(order->volume_initial, 1.0);
  EXPECT_DOUBLE_EQ(order->volume_current, 0.7);
  ASSERT_EQ(broker->positions_get(login).size(), 1U);
  EXPECT_DOUBLE_EQ(broker->positions_get(login).front().volume, 0.3);
  // FOK keeps the terminal's refusal.
  EXPECT_EQ(broker->order_send(login, gbpusd(OrderType::Buy, 1.0, Filling::Fok)).result.retcode, Retcode::Reject);
}

TEST_F(TerminalBrokerTest, AStopLossHitOnTheTerminalReachesTheGateway) {
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  const Login login = open_account(*broker);
  auto req = market(OrderType::Buy, 0.1);
  const double bid = sim_.symbol_info_tick("EURUSD")->bid;
  req.sl = bid - 0.0050;
  auto opened = broker->order_send(login, req);
  ASSERT_EQ(opened.result.retcode, Retcode::Done) << opened.result.comment;
  ASSERT_TRUE(sim_.set_quote("EURUSD", bid - 0.0100, bid - 0.0099));
  ASSERT_TRUE(eventually([&] {
    auto p = delivered_.position(opened.result.position);
    return p && p->closed;
  }));
  EXPECT_EQ(delivered_.position(opened.result.position)->close_reason, DealReason::Sl);
  EXPECT_TRUE(eventually([&] { return broker->positions_get(login).empty(); }));
}

TEST_F(TerminalBrokerTest, TheReReadFindsAClosureNoEventAnnounced) {
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  const Login login = open_account(*broker);
  auto opened = broker->order_send(login, market(OrderType::Buy, 0.1));
  ASSERT_EQ(opened.result.retcode, Retcode::Done);
  // Closed on the terminal by someone else: order_send on the broker itself publishes nothing.
  auto closed = sim_.order_send(login, market(OrderType::Sell, 0.1, opened.result.position));
  ASSERT_EQ(closed.result.retcode, Retcode::Done);
  ASSERT_TRUE(eventually([&] {
    auto p = delivered_.position(opened.result.position);
    return p && p->closed;
  }));
  const auto p = *delivered_.position(opened.result.position);
  EXPECT_EQ(p.close_price, closed.result.price);  // from the Out deal the re-read found
  EXPECT_EQ(p.close_reason, DealReason::Client);
}

TEST_F(TerminalBrokerTest, AHungTerminalIsDisconnectedThenFoundAgain) {
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  const Login login = open_account(*broker);
  server_->set_paused(true);
  // An order the terminal never answers has an unknown outcome, or is refused unsent once the
  // connector already knows the terminal is gone: never a success, never a hang.
  const auto started = std::chrono::steady_clock::now();
  auto lost = broker->order_send(login, market(OrderType::Buy, 0.1));
  EXPECT_TRUE(lost.result.retcode == Retcode::Timeout || lost.result.retcode == Retcode::Connection)
      << static_cast<int>(lost.result.retcode);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  ASSERT_TRUE(eventually([&] { return !broker->connected(); }));
  auto refused = broker->order_send(login, market(OrderType::Buy, 0.1));
  EXPECT_EQ(refused.result.retcode, Retcode::Connection);

  server_->set_paused(false);
  ASSERT_TRUE(eventually([&] { return broker->connected(); }));
  auto again = broker->order_send(login, market(OrderType::Buy, 0.1));
  EXPECT_EQ(again.result.retcode, Retcode::Done) << again.result.comment;
}

TEST_F(TerminalBrokerTest, AnOrderLostInFlightIsSettledByTheReRead) {
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  const Login login = open_account(*broker);
  // The terminal executes the order but its answer never comes back: a position the gateway
  // was told nothing about. The re-read after reconnecting delivers it.
  auto executed = sim_.order_send(login, market(OrderType::Buy, 0.2));
  ASSERT_EQ(executed.result.retcode, Retcode::Done);
  ASSERT_TRUE(eventually([&] {
    auto p = delivered_.position(executed.result.position);
    return p && !p->closed && p->volume == 0.2;
  }));
  EXPECT_EQ(broker->positions_get(login).size(), 1U);
}

TEST_F(TerminalBrokerTest, AWrongTokenNeverConnects) {
  auto options = connector_options();
  options.token = "not-the-token";
  auto broker = connect(options);
  EXPECT_FALSE(broker->wait_until_connected(500ms));
  EXPECT_FALSE(broker->connected());
  EXPECT_EQ(broker->open_account("x", "USD", 100, 1000).result.retcode, Retcode::Connection);
}

TEST_F(TerminalBrokerTest, AnotherAccountThanMt5LoginIsRefused) {
  server_.reset();
  start_server(single_account());
  auto options = connector_options();
  options.expected_login = 999;
  auto broker = connect(options);
  EXPECT_FALSE(broker->wait_until_connected(500ms));
}

TEST_F(TerminalBrokerTest, ASingleAccountTerminalBelongsToOnePrincipal) {
  server_.reset();
  start_server(single_account());
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  const Login login = open_account(*broker);
  auto second = broker->open_account("someone else", "USD", 100, 10'000);
  EXPECT_EQ(second.result.retcode, Retcode::Reject);
  EXPECT_TRUE(second.changes.empty());
  EXPECT_EQ(broker->order_send(login, market(OrderType::Buy, 0.1)).result.retcode, Retcode::Done);
  EXPECT_EQ(broker->order_send(login + 1, market(OrderType::Buy, 0.1)).result.retcode, Retcode::Reject);
}

TEST_F(TerminalBrokerTest, ARestartedGatewayBindsNoSecondPrincipalToTheTerminal) {
  server_.reset();
  start_server(single_account());
  auto broker = connect(connector_options());
  ASSERT_TRUE(broker->wait_until_connected(5s));
  const Login login = open_account(*broker);
  // Restarted: storage says the account is bound already.
  auto restarted = std::make_unique<TerminalBroker>(connector_options());
  BrokerState state;
  state.accounts.push_back(*broker->account_info(login));
  restarted->restore(state);
  restarted->start();
  ASSERT_TRUE(restarted->wait_until_connected(5s));
  EXPECT_EQ(restarted->open_account("late", "USD", 100, 1).result.retcode, Retcode::Reject);
}

// The mirror: a re-read that was read before an order's answer arrived must not undo it.

Position open_position(Ticket ticket) {
  Position p;
  p.ticket = ticket;
  p.login = 42;
  p.symbol = "EURUSD";
  p.volume = 0.1;
  p.time_msc = 1'000;
  return p;
}

AccountSnapshot snapshot_of(const Mirror& mirror) {
  AccountSnapshot snap;
  snap.generation = mirror.generation();
  snap.account.login = 42;
  snap.now_msc = 5'000;
  return snap;
}

TEST(TerminalMirror, APositionOpenedAfterTheReReadWasReadIsNotClosedByIt) {
  Mirror mirror(100);
  AccountSnapshot snap = snapshot_of(mirror);  // the terminal listed no positions…
  Changes opened;
  opened.positions.push_back(open_position(7));  // …then an order's answer opened one
  mirror.apply(opened);
  const Changes out = mirror.reconcile(snap);
  EXPECT_TRUE(out.positions.empty());
  ASSERT_EQ(mirror.positions(42, "").size(), 1U);
  // The next re-read, read after it, sees it closed for real.
  const Changes later = mirror.reconcile(snapshot_of(mirror));
  ASSERT_EQ(later.positions.size(), 1U);
  EXPECT_TRUE(later.positions.front().closed);
  EXPECT_TRUE(mirror.positions(42, "").empty());
}

TEST(TerminalMirror, APositionClosedAfterTheReReadWasReadStaysClosed) {
  Mirror mirror(100);
  Changes opened;
  opened.positions.push_back(open_position(7));
  mirror.apply(opened);
  AccountSnapshot snap = snapshot_of(mirror);
  snap.open_positions.push_back(open_position(7));  // read while still open…
  Changes closed;
  closed.positions.push_back(open_position(7));
  closed.positions.back().closed = true;
  mirror.apply(closed);  // …closed by an order's answer before the re-read landed
  EXPECT_TRUE(mirror.reconcile(snap).positions.empty());
  EXPECT_TRUE(mirror.positions(42, "").empty());
}

TEST(TerminalMirror, APositionIsFoundOpenAndAfterItClosed) {
  Mirror mirror(2);
  Changes opened;
  opened.positions.push_back(open_position(7));
  mirror.apply(opened);
  ASSERT_TRUE(mirror.position(42, 7));
  EXPECT_FALSE(mirror.position(42, 7)->closed);
  mirror.reconcile(snapshot_of(mirror));  // gone from the listing: closed by the re-read
  ASSERT_TRUE(mirror.position(42, 7));
  EXPECT_TRUE(mirror.position(42, 7)->closed);
  EXPECT_FALSE(mirror.position(42, 8));
  for (Ticket t : {8, 9}) {  // two more closes: only the newest two are kept
    Changes closed;
    closed.positions.push_back(open_position(t));
    closed.positions.back().closed = true;
    mirror.apply(closed);
  }
  EXPECT_FALSE(mirror.position(42, 7));
  EXPECT_TRUE(mirror.position(42, 9));
}

TEST(TerminalMirror, OpenPositionsArePagedNewestFirstAndCounted) {
  Mirror mirror(100);
  Changes opened;
  for (Ticket t = 1; t <= 6; ++t) {
    opened.positions.push_back(open_position(t));
    if (t % 2 == 0) opened.positions.back().symbol = "USDJPY";
  }
  mirror.apply(opened);
  Changes closed;
  closed.positions.push_back(open_position(5));
  closed.positions.back().closed = true;
  mirror.apply(closed);
  auto tickets = [](const std::vector<Position>& rows) {
    std::vector<Ticket> out;
    for (const auto& p : rows) out.push_back(p.ticket);
    return out;
  };
  EXPECT_EQ(tickets(mirror.positions_page(42, "", std::nullopt, 3)), (std::vector<Ticket>{6, 4, 3}));
  EXPECT_EQ(tickets(mirror.positions_page(42, "", 4, 10)), (std::vector<Ticket>{3, 2, 1}));
  EXPECT_EQ(tickets(mirror.positions_page(42, "EURUSD", std::nullopt, 10)), (std::vector<Ticket>{3, 1}));
  EXPECT_TRUE(mirror.positions_page(42, "", 1, 10).empty());
  EXPECT_TRUE(mirror.positions_page(43, "", std::nullopt, 10).empty());
  EXPECT_EQ(mirror.positions_total(42), 5U);
  EXPECT_EQ(mirror.positions_total(43), 0U);
  EXPECT_TRUE(mirror.open_position(42, 6));
  EXPECT_FALSE(mirror.open_position(42, 5));  // closed: position() still has it, open_position() not
  EXPECT_TRUE(mirror.position(42, 5));
}

TEST(TerminalMirror, EveryChangesLeavingTheMirrorIsNumberedInOrder) {
  Mirror mirror(100);
  Changes a;
  a.positions.push_back(open_position(1));
  a.sequence = 900;  // the terminal's own number: not kept
  const auto first = mirror.apply(a);
  const auto second = mirror.apply(a);
  EXPECT_LT(first.sequence, second.sequence);
  EXPECT_LT(first.sequence, 900U);
}

}  // namespace
}  // namespace permiso::trading::terminal
