// The FIX counterparty (mt5-sim's matching engine over FIX) without sockets: requests go in as
// FIX text, answers come out through the Send function and are read back with the mapping. The
// simulated broker's listeners call the counterparty directly and its market moves only by
// set_quote, so ticks and unsolicited reports arrive synchronously: no test waits.
#include "connector_test_support.hpp"
#include "trading/fix/counterparty.hpp"
#include "trading/fix/mapping.hpp"
#include "trading/sim/simulated_broker.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace permiso::trading::fix {
namespace {

using trading::testing::gbpusd;
using trading::testing::thin_gbpusd_market;

constexpr const char* kSession = "FIX.4.4:MT5SIM->PERMISO";
constexpr const char* kOtherSession = "FIX.4.4:MT5SIM->PERMISO-2";

double round5(double price) {
  return std::round(price * 1e5) / 1e5;
}

/// FIX text written with '|' for SOH.
std::string soh(std::string text) {
  for (char& c : text) {
    if (c == '|') c = kSoh;
  }
  return text;
}

/// What the counterparty sent, to which session.
class Wire {
 public:
  bool send(const std::string& session, const Message& message) {
    std::lock_guard lock(mu_);
    sent_.emplace_back(session, message);
    return true;
  }
  /// Everything sent since the last take, to any session.
  std::vector<std::pair<std::string, Message>> take() {
    std::lock_guard lock(mu_);
    return std::exchange(sent_, {});
  }
  std::vector<Message> take_messages() {
    std::vector<Message> messages;
    for (auto& [session, message] : take()) messages.push_back(std::move(message));
    return messages;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, Message>> sent_;
};

class CounterpartyTest : public ::testing::Test {
 protected:
  CounterpartyTest() { make_counterparty(true, 100'000); }

  ~CounterpartyTest() override {
    sim_.set_tick_listener(nullptr);
    sim_.set_change_listener(nullptr);
  }

  void make_counterparty(bool multi_account, std::size_t remembered, std::string quote_comp_id = "") {
    sim_.set_tick_listener(nullptr);
    sim_.set_change_listener(nullptr);
    CounterpartyOptions o;
    o.multi_account = multi_account;
    o.username = "permiso";
    o.password = "secret";
    o.remembered_answers = remembered;
    o.quote_comp_id = std::move(quote_comp_id);
    counterparty_ = std::make_unique<Counterparty>(
        sim_, o, [this](const std::string& s, const Message& m) { return wire_.send(s, m); });
    counterparty_->on_logon(kSession);
    sim_.set_tick_listener([this](std::string_view s, const Tick& t) { counterparty_->on_tick(s, t); });
    sim_.set_change_listener([this](const Changes& c) { counterparty_->on_changes(c); });
  }

  /// Sends `request` from `session` and returns every message sent meanwhile.
  std::vector<Message> ask(const Message& request, const std::string& session = kSession) {
    wire_.take();
    counterparty_->on_message(session, request.text());
    return wire_.take_messages();
  }

  /// The one answer to `request`.
  Message answer(const Message& request) {
    auto answers = ask(request);
    EXPECT_EQ(answers.size(), 1U) << request.text();
    return answers.empty() ? Message() : answers.front();
  }

  Execution execution(const Message& request) {
    auto e = execution_from_fix(answer(request));
    EXPECT_TRUE(e) << request.text();
    return e.value_or(Execution{});
  }

  Login open_account(double deposit = 10'000) {
    auto report =
        account_open_report_from_fix(answer(to_fix(AccountOpenRequest{"a-1", "trader", "USD", 100, deposit})));
    EXPECT_TRUE(report && report->login != 0);
    return report ? report->login : 0;
  }

  /// A request of `action` on EURUSD for `login`, the rest left to the caller.
  static OrderRequest request(TradeAction action, Login login, std::string cl_ord_id) {
    OrderRequest r;
    r.cl_ord_id = std::move(cl_ord_id);
    r.login = login;
    r.request.action = action;
    r.request.symbol = "EURUSD";
    return r;
  }

  OrderRequest market(Login login, std::string cl_ord_id, OrderType type = OrderType::Buy, double volume = 0.1,
                      Ticket position = 0) {
    OrderRequest r = request(TradeAction::Deal, login, std::move(cl_ord_id));
    r.request.volume = volume;
    r.request.type = type;
    r.request.deviation = 1000;
    r.request.position = position;
    r.time_msc = sim_.now();
    return r;
  }

  OrderRequest pending(Login login, std::string cl_ord_id, OrderType type, double price, double volume = 0.1) {
    OrderRequest r = market(login, std::move(cl_ord_id), type, volume);
    r.request.action = TradeAction::Pending;
    r.request.type_filling = Filling::Return;
    r.request.price = price;
    return r;
  }

  /// A G (Modify) or F (Remove) for pending order `order`.
  OrderRequest on_pending(TradeAction action, Login login, std::string cl_ord_id, std::string orig, Ticket order,
                          double price) {
    OrderRequest r = pending(login, std::move(cl_ord_id), OrderType::BuyLimit, price);
    r.orig_cl_ord_id = std::move(orig);
    r.request.action = action;
    r.request.order = order;
    return r;
  }

  OrderRequest stops(Login login, std::string cl_ord_id, Ticket position, double sl, double tp) {
    OrderRequest r = request(TradeAction::SlTp, login, std::move(cl_ord_id));
    r.request.position = position;
    r.request.sl = sl;
    r.request.tp = tp;
    return r;
  }

  Tick eurusd() const { return *sim_.symbol_info_tick("EURUSD"); }
  /// Moves EURUSD by `delta` (its spread kept): triggers are evaluated, listeners called.
  void move_eurusd(double delta) {
    const Tick t = eurusd();
    ASSERT_TRUE(sim_.set_quote("EURUSD", round5(t.bid + delta), round5(t.ask + delta)));
  }

  sim::SimulatedBroker sim_{thin_gbpusd_market()};
  Wire wire_;
  std::unique_ptr<Counterparty> counterparty_;
};

// ---------------------------------------------------------------- logon

TEST_F(CounterpartyTest, ALogonNeedsTheUsernameAndThePassword) {
  std::string reason;
  EXPECT_TRUE(counterparty_->accept_logon(kSession, "permiso", "secret", reason));
  EXPECT_FALSE(counterparty_->accept_logon(kSession, "permiso", "secreT", reason));
  EXPECT_EQ(reason, "unknown username or wrong password");
  reason.clear();
  EXPECT_FALSE(counterparty_->accept_logon(kSession, "root", "secret", reason));
  EXPECT_EQ(reason, "unknown username or wrong password");  // never says which was wrong
  EXPECT_FALSE(counterparty_->accept_logon(kSession, "permiso", "", reason));
  EXPECT_FALSE(counterparty_->accept_logon(kSession, "permiso", "secret-and-more", reason));
}

TEST_F(CounterpartyTest, WithoutAPasswordConfiguredEveryLogonIsRefused) {
  Counterparty open_door(sim_, CounterpartyOptions{}, [](const std::string&, const Message&) { return true; });
  std::string reason;
  EXPECT_FALSE(open_door.accept_logon(kSession, "", "", reason));
}

// ---------------------------------------------------------------- D, G, F, U3

TEST_F(CounterpartyTest, AMarketBuyFillsWithItsDealAndOpensAPosition) {
  const Login login = open_account();
  const auto e = execution(to_fix(market(login, "c-1")));
  EXPECT_EQ(e.exec_type, 'F');
  EXPECT_EQ(e.cl_ord_id, "c-1");
  EXPECT_EQ(e.result.retcode, Retcode::Done);
  ASSERT_TRUE(e.deal);
  EXPECT_EQ(e.deal->entry, DealEntry::In);
  EXPECT_FALSE(e.closing);
  EXPECT_EQ(e.order.state, OrderState::Filled);
  const auto positions = sim_.positions_get(login);
  ASSERT_EQ(positions.size(), 1U);
  EXPECT_EQ(e.result.position, positions.front().ticket);
  EXPECT_EQ(e.deal->position_id, positions.front().ticket);
  EXPECT_DOUBLE_EQ(e.deal->price, positions.front().price_open);
}

TEST_F(CounterpartyTest, ClosingAPositionGivesAnOutDealWithItsProfit) {
  const Login login = open_account();
  const auto opened = execution(to_fix(market(login, "c-1")));
  move_eurusd(0.0050);  // 50 pips in the buy's favour
  const auto closed = execution(to_fix(market(login, "c-2", OrderType::Sell, 0.1, opened.result.position)));
  EXPECT_EQ(closed.exec_type, 'F');
  EXPECT_TRUE(closed.closing);
  ASSERT_TRUE(closed.deal);
  EXPECT_EQ(closed.deal->entry, DealEntry::Out);
  EXPECT_EQ(closed.result.position, opened.result.position);
  EXPECT_GT(closed.deal->profit, 0);
  const auto deals = sim_.history_deals_get(login, 0, sim_.now() + 1);
  ASSERT_FALSE(deals.empty());
  EXPECT_EQ(deals.back().ticket, closed.deal->ticket);
  EXPECT_DOUBLE_EQ(deals.back().profit, closed.deal->profit);
  EXPECT_TRUE(sim_.positions_get(login).empty());
}

TEST_F(CounterpartyTest, APendingOrderIsPlacedModifiedAndRemoved) {
  const Login login = open_account();
  const double price = round5(eurusd().ask - 0.0050);
  const auto placed_message = answer(to_fix(pending(login, "p-1", OrderType::BuyLimit, price)));
  EXPECT_EQ(placed_message.get(39), "0");  // OrdStatus New
  const auto placed = execution_from_fix(placed_message);
  ASSERT_TRUE(placed);
  EXPECT_EQ(placed->exec_type, '0');
  EXPECT_EQ(placed->result.retcode, Retcode::Placed);
  EXPECT_EQ(placed->order.state, OrderState::Placed);
  EXPECT_DOUBLE_EQ(placed->order.price_open, price);
  const Ticket order = placed->result.order;
  ASSERT_EQ(sim_.orders_get(login).size(), 1U);
  EXPECT_EQ(sim_.orders_get(login).front().ticket, order);

  const double lower = round5(price - 0.0010);
  const auto modified = execution(to_fix(on_pending(TradeAction::Modify, login, "p-2", "p-1", order, lower)));
  EXPECT_EQ(modified.exec_type, '5');
  EXPECT_EQ(modified.cl_ord_id, "p-2");
  EXPECT_EQ(modified.orig_cl_ord_id, "p-1");
  EXPECT_EQ(modified.result.order, order);
  EXPECT_DOUBLE_EQ(sim_.orders_get(login).front().price_open, lower);

  const auto removed = execution(to_fix(on_pending(TradeAction::Remove, login, "p-3", "p-2", order, lower)));
  EXPECT_EQ(removed.exec_type, '4');
  EXPECT_EQ(removed.result.order, order);
  EXPECT_EQ(removed.order.state, OrderState::Canceled);
  EXPECT_TRUE(sim_.orders_get(login).empty());
}

TEST_F(CounterpartyTest, ARefusedOrderIsRejectedWithTheMt5Retcode) {
  const Login login = open_account();
  const auto message = answer(to_fix(market(login, "c-1", OrderType::Buy, 1000)));  // beyond the volume max
  const auto too_large = execution_from_fix(message);
  ASSERT_TRUE(too_large);
  EXPECT_EQ(too_large->exec_type, '8');
  EXPECT_EQ(message.get(39), "8");
  EXPECT_EQ(too_large->result.retcode, Retcode::InvalidVolume);
  EXPECT_EQ(too_large->cl_ord_id, "c-1");

  const auto poor = answer(to_fix(market(login, "c-2", OrderType::Buy, 50)));  // 50 lots on 10,000 USD
  EXPECT_EQ(execution_from_fix(poor)->result.retcode, Retcode::NoMoney);
  EXPECT_EQ(poor.get(103), "3");  // OrdRejReason: exceeds limit
  EXPECT_TRUE(sim_.positions_get(login).empty());
}

TEST_F(CounterpartyTest, ReplacingOrCancellingAnUnknownOrderIsACancelReject) {
  const Login login = open_account();
  for (const auto action : {TradeAction::Modify, TradeAction::Remove}) {
    const auto id = action == TradeAction::Modify ? "g-1" : "f-1";
    const auto refusal = request_refusal_from_fix(answer(to_fix(on_pending(action, login, id, "p-0", 999'999, 1.0))));
    ASSERT_TRUE(refusal);
    EXPECT_EQ(refusal->type, msg::kOrderCancelReject);
    EXPECT_EQ(refusal->cl_ord_id, id);
    EXPECT_EQ(refusal->orig_cl_ord_id, "p-0");
    EXPECT_EQ(refusal->response_to, action == TradeAction::Modify ? '2' : '1');
    EXPECT_FALSE(is_success(refusal->retcode));
  }
}

TEST_F(CounterpartyTest, APositionModifyRequestChangesThePositionsStops) {
  const Login login = open_account();
  const auto opened = execution(to_fix(market(login, "c-1")));
  const Tick t = eurusd();
  const double sl = round5(t.bid - 0.0050);
  const double tp = round5(t.bid + 0.0050);
  const auto report = request_refusal_from_fix(answer(to_fix(stops(login, "s-1", opened.result.position, sl, tp))));
  ASSERT_TRUE(report);
  EXPECT_EQ(report->type, msg::kPositionModifyReport);
  EXPECT_EQ(report->retcode, Retcode::Done);
  EXPECT_EQ(report->position, opened.result.position);
  const auto position = sim_.positions_get(login).front();
  EXPECT_DOUBLE_EQ(position.sl, sl);
  EXPECT_DOUBLE_EQ(position.tp, tp);

  const auto unknown = request_refusal_from_fix(answer(to_fix(stops(login, "s-2", 424'242, sl, tp))));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->type, msg::kPositionModifyReport);  // U4 whatever the outcome
  EXPECT_FALSE(is_success(unknown->retcode));
}

// ---------------------------------------------------------------- ClOrdID: the idempotency key

TEST_F(CounterpartyTest, TheSameClOrdIdIsAnsweredAgainIdenticallyAndExecutedOnce) {
  const Login login = open_account();
  const auto first = answer(to_fix(market(login, "c-1")));
  const auto again = answer(to_fix(market(login, "c-1")));
  EXPECT_EQ(first.text(), again.text());
  EXPECT_EQ(sim_.positions_get(login).size(), 1U);

  const double price = round5(eurusd().ask - 0.0050);
  const auto placed = answer(to_fix(pending(login, "p-1", OrderType::BuyLimit, price)));
  EXPECT_EQ(answer(to_fix(pending(login, "p-1", OrderType::BuyLimit, price))).text(), placed.text());
  EXPECT_EQ(sim_.orders_get(login).size(), 1U);
}

// ---------------------------------------------------------------- partial fills (GBPUSD: 0.3 lots a fill)

TEST_F(CounterpartyTest, AnIocOrderFilledInPartIsATradeThenItsRestCanceled) {
  const Login login = open_account(100'000);
  OrderRequest ioc{"i-1", "", login, gbpusd(OrderType::Buy, 1.0, Filling::Ioc), sim_.now()};
  const auto sent = ask(to_fix(ioc));
  ASSERT_EQ(sent.size(), 2U);
  // 1. the trade: OrdStatus 1, 0.3 filled, 0.7 open at that moment, DONE_PARTIAL
  EXPECT_EQ(sent[0].get(150), "F");
  EXPECT_EQ(sent[0].get(39), "1");
  EXPECT_EQ(sent[0].get(32), "0.3");
  EXPECT_EQ(sent[0].get(14), "0.3");
  EXPECT_EQ(sent[0].get(151), "0.7");
  const auto fill = execution_from_fix(sent[0]);
  ASSERT_TRUE(fill && fill->deal);
  EXPECT_EQ(fill->cl_ord_id, "i-1");
  EXPECT_EQ(fill->result.retcode, Retcode::DonePartial);
  EXPECT_DOUBLE_EQ(fill->result.volume, 0.3);
  // 2. the rest canceled: OrdStatus 4, CumQty 0.3, LeavesQty 0, the same ClOrdID and retcode
  EXPECT_EQ(sent[1].get(150), "4");
  EXPECT_EQ(sent[1].get(39), "4");
  EXPECT_EQ(sent[1].get(14), "0.3");
  EXPECT_EQ(sent[1].get(151), "0");
  const auto rest = execution_from_fix(sent[1]);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->cl_ord_id, "i-1");
  EXPECT_EQ(rest->result.retcode, Retcode::DonePartial);
  EXPECT_EQ(rest->result.order, fill->result.order);
  EXPECT_DOUBLE_EQ(rest->order.volume_current, 0.7);
  ASSERT_EQ(sim_.positions_get(login).size(), 1U);
  EXPECT_DOUBLE_EQ(sim_.positions_get(login).front().volume, 0.3);

  // The same ClOrdID again: both answers again, nothing executed twice.
  const auto again = ask(to_fix(ioc));
  ASSERT_EQ(again.size(), 2U);
  EXPECT_EQ(again[0].text(), sent[0].text());
  EXPECT_EQ(again[1].text(), sent[1].text());
  EXPECT_EQ(sim_.positions_get(login).size(), 1U);
  // Its status is where it ended: canceled with 0.3 filled.
  const auto status = execution_from_fix(answer(to_fix(OrderStatusRequest{"i-1", login, "GBPUSD", OrderType::Buy})));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->exec_type, 'I');
  EXPECT_EQ(status->order.state, OrderState::Canceled);
  EXPECT_DOUBLE_EQ(status->order.volume_current, 0.7);
}

TEST_F(CounterpartyTest, AFokOrderTheLiquidityCannotFillIsRejected) {
  const Login login = open_account(100'000);
  const auto e =
      execution(to_fix(OrderRequest{"k-1", "", login, gbpusd(OrderType::Buy, 1.0, Filling::Fok), sim_.now()}));
  EXPECT_EQ(e.exec_type, '8');
  EXPECT_EQ(e.result.retcode, Retcode::Reject);
  EXPECT_EQ(e.result.comment, "not enough liquidity to fill the order");
  EXPECT_TRUE(sim_.positions_get(login).empty());
}

TEST_F(CounterpartyTest, AReturnOrdersRestIsFilledAtLaterQuotesAndReportedPerFill) {
  const Login login = open_account(100'000);
  const auto first =
      execution(to_fix(OrderRequest{"r-1", "", login, gbpusd(OrderType::Sell, 0.5, Filling::Return), sim_.now()}));
  EXPECT_EQ(first.result.retcode, Retcode::DonePartial);
  EXPECT_EQ(first.order.state, OrderState::Partial);
  EXPECT_DOUBLE_EQ(first.order.volume_current, 0.2);
  const Tick t = *sim_.symbol_info_tick("GBPUSD");
  wire_.take();
  ASSERT_TRUE(sim_.set_quote("GBPUSD", round5(t.bid + 0.0001), round5(t.ask + 0.0001)));
  const auto sent = wire_.take_messages();
  ASSERT_EQ(sent.size(), 1U);  // the last fill: OrdStatus 2, the order done
  EXPECT_EQ(sent[0].get(150), "F");
  EXPECT_EQ(sent[0].get(39), "2");
  EXPECT_EQ(sent[0].get(32), "0.2");
  EXPECT_EQ(sent[0].get(14), "0.5");
  EXPECT_EQ(sent[0].get(151), "0");
  const auto report = execution_from_fix(sent[0]);
  ASSERT_TRUE(report && report->deal);
  EXPECT_TRUE(report->cl_ord_id.empty());  // unsolicited
  EXPECT_EQ(report->result.position, first.result.position);
  EXPECT_DOUBLE_EQ(sim_.positions_get(login).front().volume, 0.5);
}

TEST_F(CounterpartyTest, ARefusedNewOrderIsExecutedWhenItsClOrdIdComesAgain) {
  // An idempotent order's ClOrdID comes from its key: a retry after a refusal (nothing
  // happened) must be executed, not answered with the refusal.
  const Login login = open_account();
  EXPECT_EQ(execution(to_fix(market(login, "k-1", OrderType::Buy, 50))).result.retcode, Retcode::NoMoney);
  const auto unknown = answer(to_fix(OrderStatusRequest{"k-1", login, "EURUSD", OrderType::Buy}));
  EXPECT_EQ(unknown.get(103), "5");  // nothing is kept of it
  EXPECT_EQ(execution(to_fix(market(login, "k-1", OrderType::Buy, 0.1))).result.retcode, Retcode::Done);
  EXPECT_EQ(sim_.positions_get(login).size(), 1U);
}

TEST_F(CounterpartyTest, AnOrderArrivingTwiceAtOnceIsExecutedOnce) {
  const Login login = open_account();
  const std::string text = to_fix(market(login, "c-1")).text();
  std::thread first([&] { counterparty_->on_message(kSession, text); });
  std::thread second([&] { counterparty_->on_message(kOtherSession, text); });
  first.join();
  second.join();
  const auto sent = wire_.take();
  ASSERT_EQ(sent.size(), 2U);  // one answer each, the same
  EXPECT_NE(sent[0].first, sent[1].first);
  EXPECT_EQ(sent[0].second.text(), sent[1].second.text());
  EXPECT_EQ(sim_.positions_get(login).size(), 1U);
}

TEST_F(CounterpartyTest, ClOrdIdsAreKeptPerAccount) {
  const Login a = open_account();
  const Login b = open_account();
  ASSERT_NE(a, b);
  EXPECT_EQ(execution(to_fix(market(a, "c-1"))).exec_type, 'F');
  EXPECT_EQ(execution(to_fix(market(b, "c-1"))).exec_type, 'F');
  EXPECT_EQ(sim_.positions_get(a).size(), 1U);
  EXPECT_EQ(sim_.positions_get(b).size(), 1U);
}

TEST_F(CounterpartyTest, TheOldestAnswersAreForgottenPastTheBound) {
  make_counterparty(true, 3);
  const Login login = open_account();
  for (const char* id : {"c-1", "c-2", "c-3", "c-4"}) ask(to_fix(market(login, id)));
  EXPECT_EQ(sim_.positions_get(login).size(), 4U);
  ask(to_fix(market(login, "c-4")));  // still remembered
  EXPECT_EQ(sim_.positions_get(login).size(), 4U);
  ask(to_fix(market(login, "c-1")));  // forgotten (3 kept): a new order
  EXPECT_EQ(sim_.positions_get(login).size(), 5U);
}

// ---------------------------------------------------------------- H, AF

TEST_F(CounterpartyTest, OrderStatusGivesWhatWasAnsweredOrUnknownOrder) {
  const Login login = open_account();
  const auto filled = execution(to_fix(market(login, "c-1")));
  const auto known_message = answer(to_fix(OrderStatusRequest{"c-1", login, "EURUSD", OrderType::Buy}));
  EXPECT_EQ(known_message.get(39), "2");  // Filled
  const auto known = execution_from_fix(known_message);
  ASSERT_TRUE(known);
  EXPECT_EQ(known->exec_type, 'I');
  EXPECT_EQ(known->cl_ord_id, "c-1");
  EXPECT_EQ(known->result.order, filled.result.order);
  EXPECT_EQ(known->result.position, filled.result.position);

  for (const auto& [id, account] : {std::pair<std::string, Login>{"never-sent", login}, {"c-1", login + 1}}) {
    const auto unknown = answer(to_fix(OrderStatusRequest{id, account, "EURUSD", OrderType::Buy}));
    EXPECT_EQ(unknown.get(150), "I");
    EXPECT_EQ(unknown.get(39), "8");   // Rejected
    EXPECT_EQ(unknown.get(103), "5");  // unknown order
    EXPECT_EQ(unknown.get(11), id);
    EXPECT_EQ(unknown.get(37), "NONE");
  }
  EXPECT_EQ(sim_.positions_get(login).size(), 1U);  // asking executes nothing
}

TEST_F(CounterpartyTest, OrderStatusOfARefusedReplaceIsItsCancelReject) {
  const Login login = open_account();
  const auto refused = answer(to_fix(on_pending(TradeAction::Modify, login, "g-1", "p-0", 999'999, 1.0)));
  EXPECT_EQ(answer(to_fix(OrderStatusRequest{"g-1", login, "EURUSD", OrderType::BuyLimit})).text(), refused.text());
}

TEST_F(CounterpartyTest, MassStatusReportsEveryPendingOrderOrSaysThereIsNone) {
  const Login login = open_account();
  const auto none_message = answer(to_fix(AccountQuery{msg::kOrderMassStatusRequest, "m-1", login, 0, 0, 0}));
  const auto none = execution_from_fix(none_message);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->no_order());
  EXPECT_EQ(none->mass_status_id, "m-1");
  EXPECT_EQ(none_message.get(911), "0");
  EXPECT_EQ(none_message.get(912), "Y");

  const double best_ask = eurusd().ask;
  answer(to_fix(pending(login, "p-1", OrderType::BuyLimit, round5(best_ask - 0.0050))));
  answer(to_fix(pending(login, "p-2", OrderType::BuyStop, round5(best_ask + 0.0050))));
  std::vector<Execution> reports;
  for (const auto& m : ask(to_fix(AccountQuery{msg::kOrderMassStatusRequest, "m-2", login, 0, 0, 0}))) {
    reports.push_back(execution_from_fix(m).value_or(Execution{}));
  }
  ASSERT_EQ(reports.size(), 2U);
  for (std::size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ(reports[i].exec_type, 'I');
    EXPECT_EQ(reports[i].mass_status_id, "m-2");
    EXPECT_EQ(reports[i].total_reports, 2U);
    EXPECT_EQ(reports[i].last_report, i == 1);
    EXPECT_EQ(reports[i].order.state, OrderState::Placed);
  }
  EXPECT_EQ(reports[0].order.type, OrderType::BuyLimit);
  EXPECT_EQ(reports[1].order.type, OrderType::BuyStop);
}

// ---------------------------------------------------------------- AN, BB, AD, x

TEST_F(CounterpartyTest, PositionsAreAcknowledgedThenReportedOneByOne) {
  const Login login = open_account();
  const auto none = ask(to_fix(AccountQuery{msg::kRequestForPositions, "p-1", login, 0, 0, sim_.now()}));
  ASSERT_EQ(none.size(), 1U);  // AO alone
  EXPECT_EQ(none.front().type(), msg::kPositionsAck);
  EXPECT_EQ(reports_ack_from_fix(none.front())->total, 0U);

  const auto first = execution(to_fix(market(login, "c-1")));
  const auto second = execution(to_fix(market(login, "c-2", OrderType::Sell, 0.2)));
  const auto two = ask(to_fix(AccountQuery{msg::kRequestForPositions, "p-2", login, 0, 0, sim_.now()}));
  ASSERT_EQ(two.size(), 3U);  // AO, then one AP per position, the last marked
  EXPECT_EQ(reports_ack_from_fix(two[0])->total, 2U);
  const auto a = position_report_from_fix(two[1]);
  const auto b = position_report_from_fix(two[2]);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->last);
  EXPECT_TRUE(b->last);
  EXPECT_EQ(a->id, "p-2");
  EXPECT_EQ(a->position.ticket, first.result.position);
  EXPECT_EQ(b->position.ticket, second.result.position);
  EXPECT_EQ(b->position.type, PositionType::Sell);
  EXPECT_DOUBLE_EQ(b->position.volume, 0.2);
}

TEST_F(CounterpartyTest, CollateralReportsTheAccountOrThatItIsUnknown) {
  const Login login = open_account(12'345);
  const auto known =
      collateral_report_from_fix(answer(to_fix(AccountQuery{msg::kCollateralInquiry, "b-1", login, 0, 0, 0})));
  ASSERT_TRUE(known && known->account);
  EXPECT_EQ(known->id, "b-1");
  EXPECT_EQ(known->account->login, login);
  EXPECT_DOUBLE_EQ(known->account->balance, 12'345);
  EXPECT_EQ(known->account->currency, "USD");

  const auto unknown_message = answer(to_fix(AccountQuery{msg::kCollateralInquiry, "b-2", 424'242, 0, 0, 0}));
  EXPECT_EQ(unknown_message.get(910), "4");  // challenged
  const auto unknown = collateral_report_from_fix(unknown_message);
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(unknown->account);
  EXPECT_FALSE(unknown->text.empty());
}

TEST_F(CounterpartyTest, TradeCapturesListTheDealsOldestFirst) {
  const Login login = open_account();
  const auto opened = execution(to_fix(market(login, "c-1")));
  execution(to_fix(market(login, "c-2", OrderType::Sell, 0.1, opened.result.position)));
  const auto deals = ask(to_fix(AccountQuery{msg::kTradeCaptureRequest, "t-1", login, 0, sim_.now() + 1, 0}));
  ASSERT_EQ(deals.size(), 4U);  // AQ, the deposit, the buy, the close
  EXPECT_EQ(deals[0].type(), msg::kTradeCaptureAck);
  EXPECT_EQ(reports_ack_from_fix(deals[0])->total, 3U);
  std::vector<TradeCapture> captures;
  for (std::size_t i = 1; i < deals.size(); ++i) captures.push_back(*trade_capture_from_fix(deals[i]));
  EXPECT_EQ(captures[0].deal.type, DealType::Balance);
  EXPECT_EQ(captures[1].deal.entry, DealEntry::In);
  EXPECT_EQ(captures[2].deal.entry, DealEntry::Out);
  EXPECT_LT(captures[1].deal.ticket, captures[2].deal.ticket);
  EXPECT_FALSE(captures[1].last);
  EXPECT_TRUE(captures[2].last);

  const auto later =
      ask(to_fix(AccountQuery{msg::kTradeCaptureRequest, "t-2", login, sim_.now() + 1, sim_.now() + 2, 0}));
  ASSERT_EQ(later.size(), 1U);  // AQ alone
  EXPECT_EQ(reports_ack_from_fix(later[0])->total, 0U);
}

TEST_F(CounterpartyTest, TheSecurityListHasEverySymbolOfTheBroker) {
  const auto list = security_list_from_fix(answer(to_fix(AccountQuery{msg::kSecurityListRequest, "s-1", 0, 0, 0, 0})));
  ASSERT_TRUE(list);
  EXPECT_EQ(list->id, "s-1");
  const auto expected = sim_.symbols_get();
  ASSERT_EQ(list->symbols.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(list->symbols[i].name, expected[i].name);
    EXPECT_EQ(list->symbols[i].digits, expected[i].digits);
    EXPECT_DOUBLE_EQ(list->symbols[i].contract_size, expected[i].contract_size);
  }
}

// ---------------------------------------------------------------- V, W

TEST_F(CounterpartyTest, QuotesAreSnapshottedAtOnceThenStreamedPerTick) {
  const auto snapshots = ask(to_fix(QuoteSubscription{"q-1", {"EURUSD", "USDJPY"}}));
  ASSERT_EQ(snapshots.size(), 2U);
  const auto now = quote_snapshot_from_fix(snapshots[0]);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->id, "q-1");
  EXPECT_EQ(now->symbol, "EURUSD");
  EXPECT_DOUBLE_EQ(now->tick.bid, eurusd().bid);
  EXPECT_EQ(quote_snapshot_from_fix(snapshots[1])->symbol, "USDJPY");

  move_eurusd(0.0007);
  const auto ticked = wire_.take();
  ASSERT_EQ(ticked.size(), 1U);  // EURUSD's tick only: set_quote ticks one symbol
  EXPECT_EQ(ticked[0].first, kSession);
  const auto w = quote_snapshot_from_fix(ticked[0].second);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->id, "q-1");
  EXPECT_DOUBLE_EQ(w->tick.bid, eurusd().bid);
  EXPECT_DOUBLE_EQ(w->tick.ask, eurusd().ask);

  ASSERT_TRUE(sim_.set_quote("GBPUSD", 1.25, 1.2501));  // not subscribed
  EXPECT_TRUE(wire_.take().empty());

  counterparty_->on_logout(kSession);  // the subscription ends with the session
  move_eurusd(0.0001);
  EXPECT_TRUE(wire_.take().empty());
}

TEST_F(CounterpartyTest, AnOlderTickThanOneSentIsNotSent) {
  ask(to_fix(QuoteSubscription{"q-1", {"EURUSD"}}));
  const Tick t = eurusd();
  counterparty_->on_tick("EURUSD", Tick{t.time_msc - 1, t.bid, t.ask, 0});  // overtaken by the snapshot
  EXPECT_TRUE(wire_.take().empty());
}

TEST_F(CounterpartyTest, AnUnknownSymbolRefusesTheSubscription) {
  const auto refused = answer(to_fix(QuoteSubscription{"q-1", {"EURUSD", "NOSUCH"}}));
  EXPECT_EQ(refused.type(), msg::kMarketDataReject);
  EXPECT_EQ(refused.get(262), "q-1");
  EXPECT_EQ(refused.get(281), "0");
  EXPECT_NE(refused.get(58)->find("NOSUCH"), std::string_view::npos);
  move_eurusd(0.0001);
  EXPECT_TRUE(wire_.take().empty());  // nothing subscribed
}

TEST_F(CounterpartyTest, AMarketDataSessionIsServedQuotesOnlyAndHearsNoExecutionReports) {
  make_counterparty(true, 100'000, "MT5SIM-MD");
  const std::string quotes = "FIX.4.4:MT5SIM-MD->PERMISO";
  counterparty_->on_logon(quotes);
  const auto snapshot = ask(to_fix(QuoteSubscription{"q-1", {"EURUSD"}}), quotes);
  ASSERT_EQ(snapshot.size(), 1U);
  EXPECT_EQ(quote_snapshot_from_fix(snapshot.front())->symbol, "EURUSD");

  const Login login = open_account();  // on the trading session
  const auto refused = ask(to_fix(market(login, "c-1")), quotes);
  ASSERT_EQ(refused.size(), 1U);
  EXPECT_EQ(refused.front().type(), msg::kBusinessReject);
  EXPECT_NE(refused.front().get(58)->find("market data only"), std::string_view::npos);
  EXPECT_TRUE(sim_.positions_get(login).empty()) << "nothing executed from the market-data session";

  const double price = round5(eurusd().ask - 0.0020);
  execution(to_fix(pending(login, "p-1", OrderType::BuyLimit, price)));
  move_eurusd(-0.0030);  // the ask falls through the limit: a report, and a tick
  int reports = 0;
  for (const auto& [session, message] : wire_.take()) {
    if (message.type() == msg::kExecutionReport) {
      ++reports;
      EXPECT_EQ(session, kSession) << "reports go to the trading session only";
    } else {
      EXPECT_EQ(session, quotes);
      EXPECT_EQ(message.type(), msg::kMarketDataSnapshot);
    }
  }
  EXPECT_EQ(reports, 1);
}

// ---------------------------------------------------------------- anything else

TEST_F(CounterpartyTest, AnUnsupportedMessageTypeIsABusinessReject) {
  const auto reject = answer(*Message::parse(soh("35=ZZ|34=7|")));
  EXPECT_EQ(reject.type(), msg::kBusinessReject);
  EXPECT_EQ(reject.get(45), "7");
  EXPECT_EQ(reject.get(372), "ZZ");
  EXPECT_EQ(reject.get(380), "3");
  EXPECT_EQ(reject.get(58), "unsupported message type");
}

TEST_F(CounterpartyTest, GarbageIsABusinessRejectNotACrash) {
  for (const std::string text : {"this is not FIX", "", "35=D|11", "=|=|", "35=D|34=9|11=c-1|1=abc|"}) {
    wire_.take();
    counterparty_->on_message(kSession, soh(text));
    const auto answers = wire_.take_messages();
    ASSERT_EQ(answers.size(), 1U) << text;
    EXPECT_EQ(answers.front().type(), msg::kBusinessReject) << text;
  }
}

TEST_F(CounterpartyTest, ARequestMissingARequiredFieldIsABusinessReject) {
  const Login login = open_account();
  // A D without Symbol, OrderQty and Side.
  const auto reject = answer(*Message::parse(soh("35=D|34=12|11=c-1|1=" + std::to_string(login) + "|40=1|")));
  EXPECT_EQ(reject.type(), msg::kBusinessReject);
  EXPECT_EQ(reject.get(45), "12");
  EXPECT_EQ(reject.get(372), "D");
  EXPECT_EQ(reject.get(58), "a required field is missing or malformed");
  EXPECT_TRUE(sim_.positions_get(login).empty());
  // The ClOrdID was never claimed: a well-formed request with it executes.
  EXPECT_EQ(execution(to_fix(market(login, "c-1"))).exec_type, 'F');

  EXPECT_EQ(answer(*Message::parse(soh("35=AN|34=13|710=p-1|"))).type(), msg::kBusinessReject);  // no Account
}

// ---------------------------------------------------------------- what the broker does on its own

TEST_F(CounterpartyTest, APendingOrderTriggeredByTheMarketIsReportedToEverySession) {
  counterparty_->on_logon(kOtherSession);
  counterparty_->on_logon("FIX.4.4:MT5SIM->GONE");
  counterparty_->on_logout("FIX.4.4:MT5SIM->GONE");
  const Login login = open_account();
  const double price = round5(eurusd().ask - 0.0020);
  const auto placed = execution(to_fix(pending(login, "p-1", OrderType::BuyLimit, price)));
  move_eurusd(-0.0030);  // the ask falls through the limit
  const auto sent = wire_.take();
  ASSERT_EQ(sent.size(), 2U);  // one report to each logged-on session
  EXPECT_EQ(sent[0].first, kSession);
  EXPECT_EQ(sent[1].first, kOtherSession);
  EXPECT_EQ(sent[0].second.text(), sent[1].second.text());
  const auto report = execution_from_fix(sent[0].second);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->cl_ord_id.empty());  // unsolicited
  EXPECT_EQ(report->exec_type, 'F');
  EXPECT_EQ(report->result.order, placed.result.order);
  ASSERT_TRUE(report->deal);
  EXPECT_EQ(report->deal->entry, DealEntry::In);
  EXPECT_FALSE(report->closing);
  ASSERT_EQ(sim_.positions_get(login).size(), 1U);
  EXPECT_EQ(report->result.position, sim_.positions_get(login).front().ticket);
}

TEST_F(CounterpartyTest, AStopLossHitIsReportedWithItsReason) {
  const Login login = open_account();
  const auto opened = execution(to_fix(market(login, "c-1")));
  const double sl = round5(eurusd().bid - 0.0020);
  answer(to_fix(stops(login, "s-1", opened.result.position, sl, 0)));
  move_eurusd(-0.0030);  // the bid falls through the stop
  const auto sent = wire_.take_messages();
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].get(20015), "4");  // Reason: SL
  const auto report = execution_from_fix(sent[0]);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->cl_ord_id.empty());
  EXPECT_EQ(report->exec_type, 'F');
  EXPECT_TRUE(report->closing);
  ASSERT_TRUE(report->deal);
  EXPECT_EQ(report->deal->reason, DealReason::Sl);
  EXPECT_EQ(report->deal->entry, DealEntry::Out);
  EXPECT_EQ(report->result.position, opened.result.position);
  EXPECT_LT(report->deal->profit, 0);
  EXPECT_TRUE(sim_.positions_get(login).empty());
}

TEST_F(CounterpartyTest, APendingOrderRejectedWhenItTriggersIsReportedRejected) {
  const Login login = open_account();
  // Margin is checked when the order triggers, not when it is placed: 50 lots on 10,000 USD.
  const auto placed = execution(to_fix(pending(login, "p-1", OrderType::BuyLimit, round5(eurusd().ask - 0.0020), 50)));
  ASSERT_EQ(placed.exec_type, '0');
  move_eurusd(-0.0030);
  const auto sent = wire_.take_messages();
  ASSERT_EQ(sent.size(), 1U);
  const auto report = execution_from_fix(sent[0]);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->exec_type, '8');
  EXPECT_EQ(report->result.order, placed.result.order);
  EXPECT_EQ(report->result.comment, "Not enough money");
  EXPECT_TRUE(sim_.orders_get(login).empty());
}

// ---------------------------------------------------------------- U1

TEST_F(CounterpartyTest, EveryAccountOpenRequestOpensAnAccountInMultiAccountMode) {
  const Login a = open_account();
  const Login b = open_account();
  EXPECT_NE(a, b);
  EXPECT_TRUE(sim_.account_info(a));
  EXPECT_TRUE(sim_.account_info(b));
}

TEST_F(CounterpartyTest, OneAccountAnswersEveryAccountOpenRequestInSingleAccountMode) {
  make_counterparty(false, 100);
  const Login first = open_account(10'000);
  EXPECT_EQ(open_account(99'999), first);
  EXPECT_DOUBLE_EQ(sim_.account_info(first)->balance, 10'000);
}

TEST_F(CounterpartyTest, AnAccountTheBrokerRefusesIsAReportWithoutLogin) {
  const auto report = account_open_report_from_fix(answer(to_fix(AccountOpenRequest{"a-9", "trader", "XXX", 100, 1})));
  ASSERT_TRUE(report);
  EXPECT_EQ(report->id, "a-9");
  EXPECT_EQ(report->login, 0U);
  EXPECT_FALSE(is_success(report->retcode));
  EXPECT_FALSE(report->text.empty());
}

}  // namespace
}  // namespace permiso::trading::fix
