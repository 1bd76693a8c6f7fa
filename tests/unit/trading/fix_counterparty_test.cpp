// The FIX counterparty (mt5-sim's matching engine over FIX) without sockets: requests go in as
// FIX text, answers come out through the Send function and are read back with the mapping.
#include "trading/fix/counterparty.hpp"
#include "trading/fix/mapping.hpp"
#include "trading/sim/simulated_broker.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

namespace permiso::trading::fix {
namespace {

constexpr const char* kSession = "FIX.4.4:MT5SIM->PERMISO";

sim::SimOptions quiet_market() {
  sim::SimOptions o;
  o.seed = 7;
  o.slippage_points = 0;
  o.start_time_msc = 1'700'000'000'000;
  return o;
}

class CounterpartyTest : public ::testing::Test {
 protected:
  CounterpartyTest() {
    CounterpartyOptions o;
    o.username = "permiso";
    o.password = "secret";
    o.remembered_answers = 3;
    counterparty_ = std::make_unique<Counterparty>(sim_, o, [this](const std::string& session, const Message& m) {
      std::lock_guard lock(mu_);
      sent_.emplace_back(session, m);
      return true;
    });
    counterparty_->on_logon(kSession);
  }

  /// Sends `request` and returns every answer it got.
  std::vector<Message> ask(const Message& request) {
    {
      std::lock_guard lock(mu_);
      sent_.clear();
    }
    counterparty_->on_message(kSession, request.text());
    std::lock_guard lock(mu_);
    std::vector<Message> answers;
    for (const auto& [session, m] : sent_) answers.push_back(m);
    return answers;
  }

  Login open_account() {
    auto answers = ask(to_fix(AccountOpenRequest{"a-1", "trader", "USD", 100, 10'000}));
    EXPECT_EQ(answers.size(), 1U);
    auto report = answers.empty() ? std::nullopt : account_open_report_from_fix(answers.front());
    EXPECT_TRUE(report && report->login != 0);
    return report ? report->login : 0;
  }

  OrderRequest buy(Login login, std::string cl_ord_id, double volume = 0.1) {
    OrderRequest r;
    r.cl_ord_id = std::move(cl_ord_id);
    r.login = login;
    r.request.symbol = "EURUSD";
    r.request.volume = volume;
    r.request.type = OrderType::Buy;
    r.request.deviation = 1000;
    r.time_msc = sim_.now();
    return r;
  }

  sim::SimulatedBroker sim_{quiet_market()};
  std::unique_ptr<Counterparty> counterparty_;
  std::mutex mu_;
  std::vector<std::pair<std::string, Message>> sent_;
};

TEST_F(CounterpartyTest, AcceptsOnlyTheRightUsernameAndPassword) {
  std::string reason;
  EXPECT_TRUE(counterparty_->accept_logon(kSession, "permiso", "secret", reason));
  EXPECT_FALSE(counterparty_->accept_logon(kSession, "permiso", "secreT", reason));
  EXPECT_EQ(reason, "unknown username or wrong password");
  EXPECT_FALSE(counterparty_->accept_logon(kSession, "root", "secret", reason));
  EXPECT_FALSE(counterparty_->accept_logon(kSession, "permiso", "", reason));
}

TEST_F(CounterpartyTest, AMarketOrderFillsWithItsDealAndPosition) {
  const Login login = open_account();
  auto answers = ask(to_fix(buy(login, "c-1")));
  ASSERT_EQ(answers.size(), 1U);
  auto e = execution_from_fix(answers.front());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exec_type, 'F');
  EXPECT_EQ(e->cl_ord_id, "c-1");
  EXPECT_EQ(e->result.retcode, Retcode::Done);
  ASSERT_TRUE(e->deal);
  EXPECT_EQ(e->deal->entry, DealEntry::In);
  EXPECT_NE(e->result.position, 0U);
  EXPECT_EQ(sim_.positions_get(login).size(), 1U);
}

TEST_F(CounterpartyTest, TheSameClOrdIdIsAnsweredAgainAndExecutedOnce) {
  const Login login = open_account();
  const auto first = ask(to_fix(buy(login, "c-1")));
  const auto again = ask(to_fix(buy(login, "c-1")));
  ASSERT_EQ(first.size(), 1U);
  ASSERT_EQ(again.size(), 1U);
  EXPECT_EQ(first.front().text(), again.front().text());
  EXPECT_EQ(sim_.positions_get(login).size(), 1U);
}

TEST_F(CounterpartyTest, RemembersABoundedNumberOfAnswers) {
  const Login login = open_account();
  for (const char* id : {"c-1", "c-2", "c-3", "c-4"}) ask(to_fix(buy(login, id)));
  EXPECT_EQ(sim_.positions_get(login).size(), 4U);
  ask(to_fix(buy(login, "c-4")));  // still remembered
  EXPECT_EQ(sim_.positions_get(login).size(), 4U);
  ask(to_fix(buy(login, "c-1")));  // forgotten (3 kept): a new order
  EXPECT_EQ(sim_.positions_get(login).size(), 5U);
}

TEST_F(CounterpartyTest, ARefusedOrderIsRejectedWithTheBrokersRetcode) {
  const Login login = open_account();
  auto answers = ask(to_fix(buy(login, "c-1", 1000)));  // far beyond the margin
  ASSERT_EQ(answers.size(), 1U);
  auto e = execution_from_fix(answers.front());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exec_type, '8');
  EXPECT_EQ(e->result.retcode, sim_.order_send(login, buy(login, "x", 1000).request).result.retcode);
  EXPECT_TRUE(sim_.positions_get(login).empty());
}

TEST_F(CounterpartyTest, OrderStatusAnswersKnownAndUnknownClOrdIds) {
  const Login login = open_account();
  ask(to_fix(buy(login, "c-1")));
  auto known = ask(to_fix(OrderStatusRequest{"c-1", login, "EURUSD", OrderType::Buy}));
  ASSERT_EQ(known.size(), 1U);
  auto k = execution_from_fix(known.front());
  ASSERT_TRUE(k);
  EXPECT_EQ(k->exec_type, 'I');
  EXPECT_EQ(k->order.state, OrderState::Filled);
  auto unknown = ask(to_fix(OrderStatusRequest{"never-sent", login, "EURUSD", OrderType::Buy}));
  ASSERT_EQ(unknown.size(), 1U);
  EXPECT_EQ(unknown.front().get(39), "8");
  EXPECT_EQ(unknown.front().get(103), "5");
}

TEST_F(CounterpartyTest, ModifyOfAnUnknownOrderIsACancelReject) {
  const Login login = open_account();
  OrderRequest modify;
  modify.cl_ord_id = "c-2";
  modify.orig_cl_ord_id = "c-1";
  modify.login = login;
  modify.request.action = TradeAction::Modify;
  modify.request.order = 999'999;
  modify.request.symbol = "EURUSD";
  modify.request.type = OrderType::BuyLimit;
  modify.request.volume = 0.1;
  modify.request.price = 1.0;
  auto answers = ask(to_fix(modify));
  ASSERT_EQ(answers.size(), 1U);
  auto refusal = request_refusal_from_fix(answers.front());
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->type, msg::kOrderCancelReject);
  EXPECT_EQ(refusal->response_to, '2');
  EXPECT_FALSE(is_success(refusal->retcode));
}

TEST_F(CounterpartyTest, ReadsPositionsOrdersCollateralAndDeals) {
  const Login login = open_account();
  auto none = ask(to_fix(AccountQuery{msg::kRequestForPositions, "p-1", login, 0, 0, sim_.now()}));
  ASSERT_EQ(none.size(), 1U);
  EXPECT_EQ(reports_ack_from_fix(none.front())->total, 0U);
  ask(to_fix(buy(login, "c-1")));
  ask(to_fix(buy(login, "c-2")));
  auto two = ask(to_fix(AccountQuery{msg::kRequestForPositions, "p-2", login, 0, 0, sim_.now()}));
  ASSERT_EQ(two.size(), 3U);  // AO, then one AP per position, the last marked
  EXPECT_EQ(reports_ack_from_fix(two[0])->total, 2U);
  EXPECT_FALSE(position_report_from_fix(two[1])->last);
  EXPECT_TRUE(position_report_from_fix(two[2])->last);

  auto orders = ask(to_fix(AccountQuery{msg::kOrderMassStatusRequest, "m-1", login, 0, 0, 0}));
  ASSERT_EQ(orders.size(), 1U);
  EXPECT_TRUE(execution_from_fix(orders.front())->no_order());

  auto collateral = ask(to_fix(AccountQuery{msg::kCollateralInquiry, "b-1", login, 0, 0, 0}));
  ASSERT_EQ(collateral.size(), 1U);
  auto account = collateral_report_from_fix(collateral.front());
  ASSERT_TRUE(account && account->account);
  EXPECT_DOUBLE_EQ(account->account->balance, sim_.account_info(login)->balance);
  auto unknown = ask(to_fix(AccountQuery{msg::kCollateralInquiry, "b-2", 424242, 0, 0, 0}));
  EXPECT_FALSE(collateral_report_from_fix(unknown.front())->account);

  auto deals = ask(to_fix(AccountQuery{msg::kTradeCaptureRequest, "t-1", login, 0, sim_.now() + 1, 0}));
  ASSERT_EQ(deals.size(), 4U);  // AQ, the deposit, two buys: oldest first
  EXPECT_EQ(reports_ack_from_fix(deals[0])->total, 3U);
  EXPECT_EQ(trade_capture_from_fix(deals[1])->deal.type, DealType::Balance);
  EXPECT_LT(trade_capture_from_fix(deals[2])->deal.ticket, trade_capture_from_fix(deals[3])->deal.ticket);
}

TEST_F(CounterpartyTest, StreamsQuotesToSubscribersAndRefusesUnknownSymbols) {
  auto snapshots = ask(to_fix(QuoteSubscription{"q-1", {"EURUSD"}}));
  ASSERT_EQ(snapshots.size(), 1U);
  EXPECT_EQ(quote_snapshot_from_fix(snapshots.front())->symbol, "EURUSD");
  {
    std::lock_guard lock(mu_);
    sent_.clear();
  }
  counterparty_->on_tick("EURUSD", Tick{42, 1.1, 1.2, 0});
  counterparty_->on_tick("XAUUSD", Tick{42, 2400, 2401, 0});  // not subscribed
  {
    std::lock_guard lock(mu_);
    ASSERT_EQ(sent_.size(), 1U);
    EXPECT_EQ(quote_snapshot_from_fix(sent_.front().second)->tick.time_msc, 42);
  }
  auto refused = ask(to_fix(QuoteSubscription{"q-2", {"NOSUCH"}}));
  ASSERT_EQ(refused.size(), 1U);
  EXPECT_EQ(refused.front().type(), msg::kMarketDataReject);
  counterparty_->on_logout(kSession);  // the subscription ends with the session
  {
    std::lock_guard lock(mu_);
    sent_.clear();
  }
  counterparty_->on_tick("EURUSD", Tick{43, 1.1, 1.2, 0});
  std::lock_guard lock(mu_);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(CounterpartyTest, UnknownMessagesAndGarbageAreBusinessRejects) {
  auto unknown =
      ask(*Message::parse("35=ZZ\x01"
                          "34=7\x01"));
  ASSERT_EQ(unknown.size(), 1U);
  EXPECT_EQ(unknown.front().type(), msg::kBusinessReject);
  EXPECT_EQ(unknown.front().get(372), "ZZ");
  {
    std::lock_guard lock(mu_);
    sent_.clear();
  }
  counterparty_->on_message(kSession, "this is not FIX");
  std::lock_guard lock(mu_);
  ASSERT_EQ(sent_.size(), 1U);
  EXPECT_EQ(sent_.front().second.type(), msg::kBusinessReject);
}

TEST_F(CounterpartyTest, WhatTheBrokerDoesOnItsOwnIsReportedUnsolicited) {
  const Login login = open_account();
  auto answers = ask(to_fix(buy(login, "c-1")));
  const auto position = execution_from_fix(answers.front())->result.position;
  {
    std::lock_guard lock(mu_);
    sent_.clear();
  }
  // A stop-loss hit as the simulator reports it: the closing deal.
  auto closed = sim_.order_send(login, [&] {
    TradeRequest r;
    r.symbol = "EURUSD";
    r.volume = 0.1;
    r.type = OrderType::Sell;
    r.position = position;
    r.deviation = 1000;
    return r;
  }());
  counterparty_->on_changes(closed.changes);
  std::lock_guard lock(mu_);
  ASSERT_EQ(sent_.size(), 1U);
  auto report = execution_from_fix(sent_.front().second);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->cl_ord_id.empty());
  EXPECT_EQ(report->exec_type, 'F');
  EXPECT_TRUE(report->closing);
}

}  // namespace
}  // namespace permiso::trading::fix
