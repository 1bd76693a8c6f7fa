// mt5-sim's FIX acceptor end to end: a FixServer over the simulated broker on a free loopback
// port, and a bare SessionEngine initiator with a recording handler speaking docs/fix.md's
// messages to it. Every wait has a deadline and a condition.
#include "trading/fix/fix_server.hpp"
#include "connector_test_support.hpp"
#include "trading/fix/mapping.hpp"
#include "trading/sim/simulated_broker.hpp"

#include "free_port.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace permiso::trading::fix {
namespace {

using trading::testing::quiet_market;

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr auto kDeadline = 10s;
constexpr char kPassword[] = "fix-server-test-password";
constexpr char kSession[] = "FIX.4.4:PERMISO->MT5SIM";

/// The initiator's side: every callback recorded, waited on with a deadline.
class Recorder : public SessionHandler {
 public:
  void on_logon(const std::string&) override {
    record([&] { ++logons_; });
  }
  void on_logout(const std::string&) override {}
  void on_message(const std::string&, const std::string& text) override {
    auto message = Message::parse(text);
    record([&] {
      if (message) messages_.push_back(std::move(*message));
    });
  }
  void on_log(const std::string&, const std::string& line) override {
    record([&] { log_.push_back(line); });
  }

  bool wait_logon() {
    return wait([&] { return logons_ > 0; });
  }
  /// The first message received of `type` for which `matches` holds, waiting for it.
  std::optional<Message> wait_message(std::string_view type, const std::function<bool(const Message&)>& matches = {}) {
    std::optional<Message> found;
    wait([&] {
      for (const auto& m : messages_) {
        if (m.type() == type && (!matches || matches(m))) {
          found = m;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  bool wait_log(std::string_view needle) {
    return wait([&] {
      for (const auto& line : log_) {
        if (line.find(needle) != std::string::npos) return true;
      }
      return false;
    });
  }
  int logons() {
    std::lock_guard lock(mu_);
    return logons_;
  }

 private:
  void record(const std::function<void()>& change) {
    {
      std::lock_guard lock(mu_);
      change();
    }
    changed_.notify_all();
  }
  bool wait(const std::function<bool()>& condition) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, kDeadline, condition);
  }

  std::mutex mu_;
  std::condition_variable changed_;
  int logons_ = 0;
  std::vector<Message> messages_;
  std::vector<std::string> log_;
};

class FixServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = fs::temp_directory_path() /
           ("permiso-fix-server-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::create_directories(dir_);
    port_ = test::free_port();
    FixServerOptions o;
    o.port = port_;
    o.client_comp_ids = {"PERMISO"};
    o.password = kPassword;
    o.store_dir = (dir_ / "server").string();
    server_ = std::make_unique<FixServer>(sim_, o);
    server_->start();
  }

  void TearDown() override {
    if (client_) client_->stop();
    server_->stop();
    fs::remove_all(dir_);
  }

  /// A bare initiator logging on with `password`.
  void connect(const std::string& password) {
    EngineOptions o;
    o.role = EngineOptions::Role::Initiator;
    o.sessions = {{"PERMISO", "MT5SIM"}};
    o.port = port_;
    o.dictionary_path = (dir_ / "client.xml").string();
    ASSERT_TRUE(write_dictionary(o.dictionary_path));
    o.username = "permiso";
    o.password = password;
    o.reconnect_seconds = 1;
    o.reset_on_logon = true;
    client_ = std::make_unique<SessionEngine>(o, recorder_);
    client_->start();
  }

  bool send(const Message& message) { return client_->send(kSession, message.text()); }

  sim::SimulatedBroker sim_{quiet_market()};
  fs::path dir_;
  int port_ = 0;
  std::unique_ptr<FixServer> server_;
  Recorder recorder_;
  std::unique_ptr<SessionEngine> client_;
};

TEST_F(FixServerTest, AnInitiatorLogsOnListsTheSymbolsOpensAnAccountAndTrades) {
  connect(kPassword);
  ASSERT_TRUE(recorder_.wait_logon());

  ASSERT_TRUE(send(to_fix(AccountQuery{msg::kSecurityListRequest, "s-1", 0, 0, 0, 0})));
  auto list_message = recorder_.wait_message(msg::kSecurityList);
  ASSERT_TRUE(list_message);
  auto list = security_list_from_fix(*list_message);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->symbols.size(), sim_.symbols_get().size());

  ASSERT_TRUE(send(to_fix(AccountOpenRequest{"a-1", "trader", "USD", 100, 10'000})));
  auto opened_message = recorder_.wait_message(msg::kAccountOpenReport);
  ASSERT_TRUE(opened_message);
  const auto opened = account_open_report_from_fix(*opened_message);
  ASSERT_TRUE(opened && opened->login != 0);

  OrderRequest buy;
  buy.cl_ord_id = "c-1";
  buy.login = opened->login;
  buy.request.symbol = "EURUSD";
  buy.request.volume = 0.1;
  buy.request.deviation = 1000;
  buy.time_msc = sim_.now();
  ASSERT_TRUE(send(to_fix(buy)));
  auto filled_message =
      recorder_.wait_message(msg::kExecutionReport, [](const Message& m) { return m.get(11) == "c-1"; });
  ASSERT_TRUE(filled_message);
  const auto filled = execution_from_fix(*filled_message);
  ASSERT_TRUE(filled);
  EXPECT_EQ(filled->exec_type, 'F');
  ASSERT_TRUE(filled->deal);
  ASSERT_EQ(sim_.positions_get(opened->login).size(), 1U);
  EXPECT_EQ(filled->result.position, sim_.positions_get(opened->login).front().ticket);
}

TEST_F(FixServerTest, TheBrokersTicksReachASubscriber) {
  connect(kPassword);
  ASSERT_TRUE(recorder_.wait_logon());
  ASSERT_TRUE(send(to_fix(QuoteSubscription{"q-1", {"EURUSD"}})));
  ASSERT_TRUE(recorder_.wait_message(msg::kMarketDataSnapshot));  // the snapshot
  ASSERT_TRUE(sim_.set_quote("EURUSD", 1.23456, 1.23466));        // through the broker's listener
  auto tick = recorder_.wait_message(msg::kMarketDataSnapshot, [](const Message& m) {
    auto q = quote_snapshot_from_fix(m);
    return q && q->tick.bid == 1.23456;
  });
  ASSERT_TRUE(tick);
  EXPECT_EQ(quote_snapshot_from_fix(*tick)->id, "q-1");
}

TEST_F(FixServerTest, AWrongPasswordNeverLogsOn) {
  connect("not-the-password");
  ASSERT_TRUE(recorder_.wait_log("unknown username or wrong password"));  // the acceptor's Logout text
  EXPECT_EQ(recorder_.logons(), 0);
}

TEST(FixServerOptions, EveryProblemIsNamedAndTheServerRefusesToBeBuilt) {
  FixServerOptions o;
  o.port = 0;
  o.client_comp_ids = {"MT5SIM", "PERMISO", "PERMISO"};
  o.cert_file = "cert.pem";
  o.quote_comp_id = "PERMISO";  // an initiator's: the market-data session needs a name of its own
  const auto problems = o.validate();
  const auto names = [&](std::string_view field) {
    return std::count_if(problems.begin(), problems.end(), [&](const std::string& p) { return p.starts_with(field); });
  };
  EXPECT_EQ(names("port:"), 1);
  EXPECT_EQ(names("client_comp_ids:"), 2);  // our own comp id, and one given twice
  EXPECT_EQ(names("password:"), 1);
  EXPECT_EQ(names("store_dir:"), 1);
  EXPECT_EQ(names("cert_file/key_file:"), 1);
  EXPECT_EQ(names("quote_comp_id:"), 1);
  o.quote_comp_id = o.comp_id;
  const auto again = o.validate();
  EXPECT_EQ(
      std::count_if(again.begin(), again.end(), [](const std::string& p) { return p.starts_with("quote_comp_id:"); }),
      1);
  sim::SimulatedBroker broker(quiet_market());
  EXPECT_THROW(FixServer(broker, o), std::invalid_argument);
}

}  // namespace
}  // namespace permiso::trading::fix
