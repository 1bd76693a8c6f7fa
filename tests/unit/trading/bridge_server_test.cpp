// The bridge server over the simulated broker, spoken to as the connector does: a plain
// ZeroMQ REQ socket for commands and a SUB socket for events, on ephemeral loopback ports.
// Every wait polls against a deadline; nothing relies on a fixed sleep.
#include "trading/terminal/bridge_server.hpp"

#include "trading/sim/simulated_broker.hpp"
#include "trading/terminal/protocol.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <zmq.hpp>

namespace permiso::trading::terminal {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Deadline = std::chrono::steady_clock::time_point;

constexpr TimeMs kStart = 1'700'000'000'000;
constexpr auto kPatience = 5s;  // generous under sanitizers; a passing test never waits it out
constexpr std::string_view kToken = "s3cret";

sim::SimOptions exact_options() {
  sim::SimOptions o;
  o.seed = 7;
  o.start_time_msc = kStart;
  o.slippage_points = 0;
  return o;
}

BridgeServerOptions loopback_options(std::string token) {
  BridgeServerOptions o;
  o.command_endpoint = "tcp://127.0.0.1:*";
  o.event_endpoint = "tcp://127.0.0.1:*";
  o.token = std::move(token);
  o.heartbeat = 50ms;
  return o;
}

/// One frame from `socket` within `within`, or nullopt.
std::optional<std::string> receive_within(zmq::socket_t& socket, std::chrono::milliseconds within) {
  std::vector<zmq::pollitem_t> items = {{socket.handle(), 0, ZMQ_POLLIN, 0}};
  if (zmq::poll(items, within) <= 0) return std::nullopt;
  zmq::message_t message;
  if (!socket.recv(message, zmq::recv_flags::dontwait)) return std::nullopt;
  return message.to_string();
}

std::chrono::milliseconds left_until(Deadline deadline) {
  return std::max(0ms,
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
}

class BridgeServerTest : public ::testing::Test {
 protected:
  BridgeServerTest() : BridgeServerTest(loopback_options(std::string(kToken))) {}
  explicit BridgeServerTest(BridgeServerOptions options) : server_(sim_, std::move(options)) {
    server_.start();
    requests_.set(zmq::sockopt::linger, 0);
    events_.set(zmq::sockopt::linger, 0);
    requests_.connect(server_.command_endpoint());
    events_.set(zmq::sockopt::subscribe, "");
    events_.connect(server_.event_endpoint());
  }

  /// Sends `text` and waits for its reply.
  std::optional<Reply> exchange(const std::string& text, std::chrono::milliseconds within = kPatience) {
    requests_.send(zmq::buffer(text), zmq::send_flags::none);
    auto answer = receive_within(requests_, within);
    return answer ? parse_reply(*answer) : std::nullopt;
  }

  /// A command with our token, the next id and `args`.
  std::optional<Reply> call(std::string_view cmd, const json::object& args = {}, std::string_view token = kToken) {
    auto message = command(++next_id_, cmd, token);
    for (const auto& [key, value] : args) message[key] = value;
    auto reply = exchange(json::serialize(message));
    if (reply) {
      EXPECT_EQ(reply->id, next_id_);
    }
    return reply;
  }

  /// The login of a new demo account with 10,000 USD.
  Login open_account() {
    auto reply = call("account_open", {{"name", "Ada"}, {"currency", "USD"}, {"leverage", 100}, {"deposit", 10'000}});
    EXPECT_TRUE(reply && reply->ok);
    if (!reply || !reply->ok) return 0;
    auto account = account_from_json(reply->body.at("account"));
    EXPECT_TRUE(account);
    return account ? account->login : 0;
  }

  /// The next event of `topic`, skipping others, within the deadline.
  std::optional<Event> next_event(EventTopic topic, Deadline deadline) {
    while (true) {
      auto frame = receive_within(events_, left_until(deadline));
      if (!frame) return std::nullopt;
      auto event = parse_event(*frame);
      EXPECT_TRUE(event) << *frame;
      if (event && event->topic == topic) return event;
    }
  }

  /// Waits until the subscription is live (a heartbeat arrives): PUB drops what it sends before.
  void await_subscription() {
    ASSERT_TRUE(next_event(EventTopic::Heartbeat, std::chrono::steady_clock::now() + kPatience));
  }

  sim::SimulatedBroker sim_{exact_options()};
  BridgeServer server_;
  zmq::context_t context_{1};
  zmq::socket_t requests_{context_, zmq::socket_type::req};
  zmq::socket_t events_{context_, zmq::socket_type::sub};
  std::uint64_t next_id_ = 0;
};

TEST_F(BridgeServerTest, BindsEphemeralPortsAndReportsThem) {
  EXPECT_EQ(server_.command_endpoint().rfind("tcp://127.0.0.1:", 0), 0U);
  EXPECT_NE(server_.command_endpoint(), "tcp://127.0.0.1:*");
  EXPECT_NE(server_.command_endpoint(), server_.event_endpoint());
}

TEST_F(BridgeServerTest, HelloDescribesAMultiAccountTerminal) {
  auto reply = call("hello");
  ASSERT_TRUE(reply);
  ASSERT_TRUE(reply->ok);
  auto terminal = terminal_from_json(reply->body.at("terminal"));
  ASSERT_TRUE(terminal);
  EXPECT_TRUE(terminal->multi_account);
  EXPECT_TRUE(terminal->connected);
  EXPECT_EQ(terminal->name, "mt5-sim");
  EXPECT_EQ(server_.commands_served(), 1U);
}

TEST_F(BridgeServerTest, MarketBuyIsListedInPositions) {
  const Login login = open_account();
  ASSERT_NE(login, 0U);
  TradeRequest buy;
  buy.symbol = "EURUSD";
  buy.volume = 0.1;
  buy.deviation = 20;
  json::object args{{"login", login}};
  add_request_fields(args, buy);
  auto sent = call("order_send", args);
  ASSERT_TRUE(sent && sent->ok);
  auto result = trade_result_from_json(sent->body.at("result"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->retcode, Retcode::Done);
  auto changes = changes_from_json(sent->body.at("changes"));
  ASSERT_TRUE(changes);
  EXPECT_GT(changes->sequence, 0U);
  ASSERT_EQ(changes->positions.size(), 1U);

  auto listed = call("positions", {{"login", login}, {"symbol", ""}});
  ASSERT_TRUE(listed && listed->ok);
  const auto& rows = listed->body.at("positions").as_array();
  ASSERT_EQ(rows.size(), 1U);
  auto position = position_from_json(rows[0]);
  ASSERT_TRUE(position);
  EXPECT_EQ(position->ticket, result->position);
  EXPECT_EQ(position->volume, 0.1);
  EXPECT_FALSE(position->closed);
}

TEST_F(BridgeServerTest, ReadCommandsAnswerTheBrokersRows) {
  const Login login = open_account();
  auto account = call("account_info", {{"login", login}});
  ASSERT_TRUE(account && account->ok);
  EXPECT_EQ(account_from_json(account->body.at("account"))->balance, 10'000);

  auto symbols = call("symbols");
  ASSERT_TRUE(symbols && symbols->ok);
  EXPECT_EQ(symbols->body.at("symbols").as_array().size(), sim_.symbols_get().size());

  auto symbol = call("symbol", {{"symbol", "EURUSD"}});
  ASSERT_TRUE(symbol && symbol->ok);
  EXPECT_EQ(symbol_from_json(symbol->body.at("symbol"))->name, "EURUSD");

  auto tick = call("tick", {{"symbol", "EURUSD"}});
  ASSERT_TRUE(tick && tick->ok);
  EXPECT_EQ(tick_from_json(tick->body.at("tick"))->bid, sim_.symbol_info_tick("EURUSD")->bid);

  auto orders = call("orders", {{"login", login}, {"symbol", "EURUSD"}});
  ASSERT_TRUE(orders && orders->ok);
  EXPECT_TRUE(orders->body.at("orders").as_array().empty());

  auto deals = call("history_deals", {{"login", login}, {"from_msc", 0}, {"to_msc", kStart + 1}});
  ASSERT_TRUE(deals && deals->ok);
  ASSERT_EQ(deals->body.at("deals").as_array().size(), 1U);  // the deposit
  EXPECT_EQ(deal_from_json(deals->body.at("deals").as_array()[0])->type, DealType::Balance);
}

TEST_F(BridgeServerTest, WrongTokenIsUnauthorized) {
  auto reply = call("hello", {}, "guess");
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->ok);
  EXPECT_EQ(reply->error, ErrorCode::Unauthorized);
  auto without = exchange(R"({"v":1,"id":77,"cmd":"hello"})");
  ASSERT_TRUE(without);
  EXPECT_EQ(without->id, 77U);
  EXPECT_EQ(without->error, ErrorCode::Unauthorized);
}

TEST_F(BridgeServerTest, BadJsonIsABadRequest) {
  auto reply = exchange("{not json");
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->ok);
  EXPECT_EQ(reply->id, 0U);
  EXPECT_EQ(reply->error, ErrorCode::BadRequest);
}

TEST_F(BridgeServerTest, MissingArgumentsAreABadRequest) {
  auto no_login = call("account_info");
  ASSERT_TRUE(no_login);
  EXPECT_EQ(no_login->error, ErrorCode::BadRequest);
  auto no_fields = call("order_send", {{"login", open_account()}, {"symbol", "EURUSD"}});
  ASSERT_TRUE(no_fields);
  EXPECT_EQ(no_fields->error, ErrorCode::BadRequest);
  auto bad_currency = call("account_open", {{"name", "x"}, {"currency", "XYZ"}, {"leverage", 100}, {"deposit", 1}});
  ASSERT_TRUE(bad_currency);
  EXPECT_EQ(bad_currency->error, ErrorCode::BadRequest);
}

TEST_F(BridgeServerTest, UnknownCommandIsNamedSo) {
  auto reply = call("fly");
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->ok);
  EXPECT_EQ(reply->error, ErrorCode::UnknownCommand);
}

TEST_F(BridgeServerTest, UnknownLoginAndSymbolAreNotFound) {
  for (const auto& [cmd, args] : std::vector<std::pair<std::string, json::object>>{
           {"account_info", {{"login", 999}}},
           {"positions", {{"login", 999}, {"symbol", ""}}},
           {"symbol", {{"symbol", "NOPE"}}},
           {"tick", {{"symbol", "NOPE"}}},
       }) {
    auto reply = call(cmd, args);
    ASSERT_TRUE(reply) << cmd;
    EXPECT_EQ(reply->error, ErrorCode::NotFound) << cmd;
  }
}

TEST_F(BridgeServerTest, TicksArePublishedAfterAStep) {
  await_subscription();
  sim_.step(250);
  auto event = next_event(EventTopic::Tick, std::chrono::steady_clock::now() + kPatience);
  ASSERT_TRUE(event);
  ASSERT_TRUE(event->body.at("symbol").is_string());
  auto tick = tick_from_json(event->body.at("tick"));
  ASSERT_TRUE(tick);
  EXPECT_EQ(tick->time_msc, kStart + 250);
}

TEST_F(BridgeServerTest, StopLossHitIsPublishedAsATradeEvent) {
  const Login login = open_account();
  const double bid = sim_.symbol_info_tick("EURUSD")->bid;
  TradeRequest buy;
  buy.symbol = "EURUSD";
  buy.volume = 0.1;
  buy.deviation = 20;
  buy.sl = bid - 0.005;
  json::object args{{"login", login}};
  add_request_fields(args, buy);
  auto sent = call("order_send", args);
  ASSERT_TRUE(sent && sent->ok);
  const auto opened = changes_from_json(sent->body.at("changes"));
  ASSERT_TRUE(opened);

  await_subscription();
  ASSERT_TRUE(sim_.set_quote("EURUSD", bid - 0.006, bid - 0.0058));
  auto event = next_event(EventTopic::Trade, std::chrono::steady_clock::now() + kPatience);
  ASSERT_TRUE(event);
  auto changes = changes_from_json(event->body.at("changes"));
  ASSERT_TRUE(changes);
  EXPECT_GT(changes->sequence, opened->sequence);
  ASSERT_EQ(changes->positions.size(), 1U);
  EXPECT_TRUE(changes->positions[0].closed);
  EXPECT_EQ(changes->positions[0].close_reason, DealReason::Sl);

  auto listed = call("positions", {{"login", login}, {"symbol", ""}});
  ASSERT_TRUE(listed && listed->ok);
  EXPECT_TRUE(listed->body.at("positions").as_array().empty());
}

TEST_F(BridgeServerTest, HeartbeatsArrive) {
  auto event = next_event(EventTopic::Heartbeat, std::chrono::steady_clock::now() + kPatience);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->body.at("connected"), json::value(true));
  EXPECT_TRUE(event->body.at("time_msc").is_int64());
}

TEST_F(BridgeServerTest, PausedServerAnswersNothingUntilResumed) {
  server_.set_paused(true);
  auto message = command(1, "hello", kToken);
  requests_.send(zmq::buffer(json::serialize(message)), zmq::send_flags::none);
  EXPECT_FALSE(receive_within(requests_, 300ms));
  server_.set_paused(false);
  auto late = receive_within(requests_, kPatience);  // the request waited in the socket
  ASSERT_TRUE(late);
  EXPECT_TRUE(parse_reply(*late)->ok);
}

constexpr TimeMs kMinuteAtStart = kStart - kStart % 60'000;

/// Two M1 bars of history ending at the minute the simulation starts in.
std::vector<Bar> two_minutes_of_history() {
  return {Bar{kMinuteAtStart - 60'000, 1.1, 1.3, 1.0, 1.2, 7}, Bar{kMinuteAtStart, 1.2, 1.2, 1.1, 1.1, 3}};
}

/// A `rates` reply's bars; empty when refused or malformed.
std::vector<Bar> bars_of(const std::optional<Reply>& reply) {
  if (!reply || !reply->ok) return {};
  return bar_rows(reply->body, "rates").value_or(std::vector<Bar>{});
}

TEST_F(BridgeServerTest, RatesAnswerTheNewestBarsOfTheHistoryOldestFirst) {
  const auto history = two_minutes_of_history();
  server_.history().load_history("EURUSD", Timeframe::M1, history);
  const json::object m1{{"symbol", "EURUSD"}, {"timeframe", "M1"}, {"count", 10}};
  EXPECT_EQ(bars_of(call("rates", m1)), history);
  auto newest = m1;
  newest["count"] = 1;
  EXPECT_EQ(bars_of(call("rates", newest)), std::vector<Bar>{history.back()});
}

TEST_F(BridgeServerTest, RatesRefuseWhatCopyRatesWouldNot) {
  const json::object m1{{"symbol", "EURUSD"}, {"timeframe", "M1"}, {"count", 10}};
  for (const auto& [key, bad] : std::vector<std::pair<std::string, json::value>>{
           {"timeframe", "W1"}, {"count", 0}, {"count", kMaxRatesPerCommand + 1}, {"symbol", 5}}) {
    auto args = m1;
    args[key] = bad;
    auto reply = call("rates", args);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->error, ErrorCode::BadRequest) << key << " " << json::serialize(bad);
  }
  auto unknown = m1;
  unknown["symbol"] = "NOPE";
  auto reply = call("rates", unknown);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->error, ErrorCode::NotFound);
}

constexpr TimeMs kTwoHours = 2 * 3'600'000;

/// A terminal whose trade server keeps GMT+2, as many brokers' do: the simulator's clock is
/// that server's clock, and the wire must carry UTC, as the EA sends it.
class BridgeServerOnGmtPlus2Test : public BridgeServerTest {
 protected:
  BridgeServerOnGmtPlus2Test() : BridgeServerTest(gmt_plus_2()) {}
  static BridgeServerOptions gmt_plus_2() {
    auto o = loopback_options(std::string(kToken));
    o.server_utc_offset = 2h;
    return o;
  }
  /// A filled market buy of EURUSD: its deal as the reply carries it.
  std::optional<Deal> buy_deal(Login login) {
    TradeRequest buy;
    buy.symbol = "EURUSD";
    buy.volume = 0.1;
    buy.deviation = 20;
    json::object args{{"login", login}};
    add_request_fields(args, buy);
    auto sent = call("order_send", args);
    if (!sent || !sent->ok) return std::nullopt;
    auto changes = changes_from_json(sent->body.at("changes"));
    if (!changes || changes->deals.empty()) return std::nullopt;
    return changes->deals.front();
  }
};

TEST_F(BridgeServerOnGmtPlus2Test, HelloSaysTheOffsetAndRowsCarryUtc) {
  auto hello = call("hello");
  ASSERT_TRUE(hello && hello->ok);
  EXPECT_EQ(terminal_from_json(hello->body.at("terminal"))->server_utc_offset_s, 7200);
  const TimeMs utc_now = sim_.now() - kTwoHours;
  auto tick = call("tick", {{"symbol", "EURUSD"}});
  ASSERT_TRUE(tick && tick->ok);
  EXPECT_EQ(tick_from_json(tick->body.at("tick"))->time_msc, utc_now);
  const Login login = open_account();
  auto deal = buy_deal(login);
  ASSERT_TRUE(deal);
  EXPECT_EQ(deal->time_msc, utc_now);
  auto listed = call("positions", {{"login", login}, {"symbol", ""}});
  ASSERT_TRUE(listed && listed->ok);
  EXPECT_EQ(position_from_json(listed->body.at("positions").as_array().at(0))->time_msc, utc_now);
}

TEST_F(BridgeServerOnGmtPlus2Test, RatesCarryUtc) {
  server_.history().load_history("EURUSD", Timeframe::M1, two_minutes_of_history());
  auto bars = bars_of(call("rates", {{"symbol", "EURUSD"}, {"timeframe", "M1"}, {"count", 1}}));
  ASSERT_EQ(bars.size(), 1U);
  EXPECT_EQ(bars.front().time_msc, kMinuteAtStart - kTwoHours);
}

TEST_F(BridgeServerOnGmtPlus2Test, HistoryBoundsAreReadAsUtc) {
  const Login login = open_account();
  auto deal = buy_deal(login);
  ASSERT_TRUE(deal);
  auto in_utc = call("history_deals", {{"login", login}, {"from_msc", deal->time_msc}, {"to_msc", deal->time_msc + 1}});
  ASSERT_TRUE(in_utc && in_utc->ok);
  std::vector<Ticket> found;
  for (const auto& row : in_utc->body.at("deals").as_array()) found.push_back(deal_from_json(row)->ticket);
  EXPECT_NE(std::find(found.begin(), found.end(), deal->ticket), found.end());  // beside the deposit, same ms
  // The same bounds on the server's clock are two hours later than the deal: nothing there.
  const TimeMs server_time = deal->time_msc + kTwoHours;
  auto shifted = call("history_deals", {{"login", login}, {"from_msc", server_time}, {"to_msc", server_time + 1}});
  ASSERT_TRUE(shifted && shifted->ok);
  EXPECT_TRUE(shifted->body.at("deals").as_array().empty());
}

TEST(BridgeServerWithoutToken, CommandsNeedNoToken) {
  sim::SimulatedBroker sim(exact_options());
  BridgeServer server(sim, loopback_options(""));
  server.start();
  zmq::context_t context(1);
  zmq::socket_t requests(context, zmq::socket_type::req);
  requests.set(zmq::sockopt::linger, 0);
  requests.connect(server.command_endpoint());
  requests.send(zmq::str_buffer(R"({"v":1,"id":1,"cmd":"hello"})"), zmq::send_flags::none);
  auto answer = receive_within(requests, kPatience);
  ASSERT_TRUE(answer);
  EXPECT_TRUE(parse_reply(*answer)->ok);
}

TEST(BridgeServerBinding, AnEndpointInUseThrowsNamingIt) {
  sim::SimulatedBroker sim(exact_options());
  BridgeServer first(sim, loopback_options(""));
  auto options = loopback_options("");
  options.command_endpoint = first.command_endpoint();
  try {
    BridgeServer second(sim, options);
    FAIL() << "bound an endpoint in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(first.command_endpoint()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace permiso::trading::terminal
