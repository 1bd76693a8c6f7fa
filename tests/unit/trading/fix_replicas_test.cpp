// Two mt5-api replicas over one broker, as scripts/run-cluster runs them: two GatewayServices,
// each with its own FIX connector (its own SenderCompID), over one FIX counterparty (mt5-sim's,
// on the simulated broker), sharing one PostgreSQL trade store. A replica serves an account the
// other opened, a retried order reaches the broker as the first one (its ClOrdID comes from
// the key) and is answered with the first one's trade on either replica, even when both send
// it at once, and a replica's reads follow what the other did.
#include "trading/fix/fix_broker.hpp"
#include "trading/fix/fix_server.hpp"
#include "trading/handlers/requests.hpp"
#include "trading/service/gateway_service.hpp"
#include "trading/sim/simulated_broker.hpp"
#include "trading/store/trade_store.hpp"

#include "connector_test_support.hpp"
#include "free_port.hpp"
#include "pg_server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace permiso::trading::fix {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::quiet_market;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new test::PgServerEnvironment);
constexpr const char* kPassword = "fix-replica-password";

StoredAnswer render(const Position& p, const TradeResult&) {
  return StoredAnswer{201, R"({"id":)" + std::to_string(p.ticket) + "}", false};
}

Ticket ticket_of(const StoredAnswer& a) {
  return std::stoull(a.body.substr(6, a.body.find('}') - 6));
}

OpenTrade buy(const Caller& caller, std::string key, double volume = 0.1) {
  OpenTrade t;
  t.symbol = "EURUSD";
  t.volume = volume;
  t.type = OrderType::Buy;
  t.idempotency_key = std::move(key);
  t.fingerprint = "fp-" + std::to_string(volume);
  t.broker_order_id = handlers::broker_order_id(caller.account_key, t.idempotency_key);  // as the handler derives it
  return t;
}

/// One mt5-api replica: its connector, its store handle, its service.
struct Replica {
  Replica(FixOptions options, const std::string& url, const Clock& clock) {
    broker = std::make_unique<FixBroker>(std::move(options));
    broker->start();
    if (!broker->wait_until_connected(10s)) throw std::runtime_error("the replica's FIX session never logged on");
    auto s = TradeStore::open(url, clock);
    if (!s) throw std::runtime_error(s.error().message);
    store = std::move(*s);
    GatewayOptions o;
    o.exclusive_store = false;  // shared with the other replica
    service = std::make_unique<GatewayService>(*broker, *store, clock, o);
    if (auto st = service->start(); !st) throw std::runtime_error(st.error().message);
  }
  ~Replica() {
    service.reset();
    broker->stop();
    store.reset();
  }
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  ServiceResult<StoredAnswer> open(const Caller& c, OpenTrade t) {
    std::promise<ServiceResult<StoredAnswer>> p;
    auto f = p.get_future();
    service->open_trade(c, std::move(t), render, [&](ServiceResult<StoredAnswer> r) { p.set_value(std::move(r)); });
    if (f.wait_for(60s) != std::future_status::ready) throw std::runtime_error("open_trade never answered");
    return f.get();
  }
  ServiceResult<AccountInfo> account(const Caller& c) {
    std::promise<ServiceResult<AccountInfo>> p;
    auto f = p.get_future();
    service->account(c, [&](ServiceResult<AccountInfo> r) { p.set_value(std::move(r)); });
    if (f.wait_for(60s) != std::future_status::ready) throw std::runtime_error("account never answered");
    return f.get();
  }
  std::vector<Ticket> open_tickets(const Caller& c) {
    std::vector<Ticket> out;
    TradeListQuery q;
    if (auto page = service->list_trades(c, q)) {
      for (const auto& p : page->trades) out.push_back(p.ticket);
    }
    return out;
  }

  std::unique_ptr<FixBroker> broker;
  std::unique_ptr<TradeStore> store;
  std::unique_ptr<GatewayService> service;
};

class FixReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    (void)kEnv;
    dir_ = std::filesystem::temp_directory_path() / ("permiso-fix-replicas-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    url_ = test::PgServerEnvironment::server().create_database();
    // A free port can be taken between finding it and binding it (an outgoing connection's
    // ephemeral port): then another one.
    int port = 0;
    std::string why;
    for (int attempt = 0; attempt < 5 && !server_; ++attempt) {
      port = test::free_port();
      try {
        auto server = std::make_unique<FixServer>(sim_, server_options(port));
        server->start();
        server_ = std::move(server);
      } catch (const std::exception& e) {
        why = e.what();
      }
    }
    ASSERT_TRUE(server_) << "the FIX acceptor never started: " << why;
    try {
      a_ = std::make_unique<Replica>(options(port, "REPLICA1"), url_, clock_);
      b_ = std::make_unique<Replica>(options(port, "REPLICA2"), url_, clock_);
    } catch (const std::exception& e) {
      FAIL() << "a replica did not start: " << e.what();
    }
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    if (server_) server_->stop();
    std::filesystem::remove_all(dir_);
  }

  FixServerOptions server_options(int port) {
    FixServerOptions o;
    o.port = port;
    o.comp_id = "MT5SIM";
    o.client_comp_ids = {"REPLICA1", "REPLICA2"};
    o.username = "permiso";
    o.password = kPassword;
    o.store_dir = (dir_ / "server").string();
    o.multi_account = true;
    return o;
  }

  FixOptions options(int port, const std::string& sender) {
    FixOptions o;
    o.port = port;
    o.sender_comp_id = sender;
    o.username = "permiso";
    o.password = kPassword;
    o.store_dir = (dir_ / sender).string();
    o.heartbeat_seconds = 1;
    o.reconnect_seconds = 1;
    o.timeout = 10s;  // a liveness bound, never reached on a healthy run
    o.refresh_interval = 100ms;
    return o;
  }

  /// The open positions the broker itself holds for `login`.
  std::size_t positions_at_broker(Login login) { return sim_.positions_get(login).size(); }

  ManualClock clock_{1'700'000'000};
  std::filesystem::path dir_;
  std::string url_;
  sim::SimulatedBroker sim_{quiet_market()};
  std::unique_ptr<FixServer> server_;
  std::unique_ptr<Replica> a_;
  std::unique_ptr<Replica> b_;
  const Caller alice_{"client:alice", "Alice"};
};

TEST_F(FixReplicasTest, AReplicaServesTheAccountTheOtherOpened) {
  auto on_a = a_->account(alice_);
  ASSERT_TRUE(on_a) << on_a.error().message;
  auto on_b = b_->account(alice_);
  ASSERT_TRUE(on_b) << on_b.error().message;
  EXPECT_EQ(on_b->login, on_a->login);  // found in storage, not a second account opened
  EXPECT_EQ(b_->service->login_of(alice_.account_key), a_->service->login_of(alice_.account_key));
  EXPECT_EQ(sim_.snapshot().accounts.size(), 1u);
}

TEST_F(FixReplicasTest, ANewPrincipalMeetingBothReplicasAtOnceGetsOneAccount) {
  for (int round = 0; round < 3; ++round) {
    const Caller who{"client:racer-" + std::to_string(round), "Racer"};
    std::latch go(2);
    auto ask = [&](Replica& r) {
      go.arrive_and_wait();
      return r.account(who);
    };
    auto on_a = std::async(std::launch::async, ask, std::ref(*a_));
    auto on_b = std::async(std::launch::async, ask, std::ref(*b_));
    auto x = on_a.get();
    auto y = on_b.get();
    ASSERT_TRUE(x) << x.error().message;  // the replica that lost the binding serves the winner's
    ASSERT_TRUE(y) << y.error().message;
    EXPECT_EQ(x->login, y->login) << who.account_key;
    EXPECT_EQ(a_->service->login_of(who.account_key), b_->service->login_of(who.account_key));
  }
}

TEST_F(FixReplicasTest, TheFirstReadOnTheOtherReplicaFindsTheAccount) {
  auto first = a_->open(alice_, buy(alice_, "read-1"));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(b_->service->answers_from_memory(alice_));  // B has not met alice: off the I/O thread
  EXPECT_EQ(b_->open_tickets(alice_), std::vector<Ticket>{ticket_of(*first)});
  EXPECT_TRUE(b_->service->answers_from_memory(alice_));
}

TEST_F(FixReplicasTest, AFirstReadWhileTheBrokerIsUnreachableIsUnavailableNotEmpty) {
  auto first = a_->open(alice_, buy(alice_, "hidden-1"));
  ASSERT_TRUE(first) << first.error().message;
  b_->broker->stop();  // B's session is gone: it cannot read the account A opened
  auto page = b_->service->list_trades(alice_, TradeListQuery{});
  ASSERT_FALSE(page) << "an empty list would hide the trade";
  EXPECT_EQ(page.error().code, ServiceError::BrokerUnavailable);
  auto orders = b_->service->orders(alice_);
  ASSERT_FALSE(orders);
  EXPECT_EQ(orders.error().code, ServiceError::BrokerUnavailable);
  // A principal with no account anywhere still reads empty.
  auto nobody = b_->service->list_trades(Caller{"client:nobody", "Nobody"}, TradeListQuery{});
  ASSERT_TRUE(nobody) << nobody.error().message;
  EXPECT_TRUE(nobody->trades.empty());
}

TEST_F(FixReplicasTest, ARetryOnTheOtherReplicaReturnsTheFirstTrade) {
  auto first = a_->open(alice_, buy(alice_, "order-1"));
  ASSERT_TRUE(first) << first.error().message;
  auto retry = b_->open(alice_, buy(alice_, "order-1"));
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(retry->body, first->body);
  const Login login = *a_->service->login_of(alice_.account_key);
  EXPECT_EQ(positions_at_broker(login), 1u);
  // Another body under the same key is refused on either replica.
  auto reused = b_->open(alice_, buy(alice_, "order-1", 0.2));
  ASSERT_FALSE(reused);
  EXPECT_EQ(reused.error().code, ServiceError::IdempotencyKeyReused);
}

TEST_F(FixReplicasTest, OneKeySentToBothReplicasAtOnceOpensOneTrade) {
  ASSERT_TRUE(a_->account(alice_));  // the account exists on both before the race
  ASSERT_TRUE(b_->account(alice_));
  const Login login = *a_->service->login_of(alice_.account_key);
  for (int round = 0; round < 5; ++round) {
    const std::string key = "race-" + std::to_string(round);
    std::latch go(2);
    auto send = [&](Replica& r) {
      go.arrive_and_wait();
      return r.open(alice_, buy(alice_, key));
    };
    auto on_a = std::async(std::launch::async, send, std::ref(*a_));
    auto on_b = std::async(std::launch::async, send, std::ref(*b_));
    auto x = on_a.get();
    auto y = on_b.get();
    ASSERT_TRUE(x) << x.error().message;
    ASSERT_TRUE(y) << y.error().message;
    EXPECT_EQ(ticket_of(*x), ticket_of(*y)) << key;
    EXPECT_EQ(positions_at_broker(login), static_cast<std::size_t>(round + 1)) << key;
  }
}

TEST_F(FixReplicasTest, AReplicasReadsFollowWhatTheOtherDid) {
  auto first = a_->open(alice_, buy(alice_, "seen-1"));
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(b_->account(alice_));
  const Ticket ticket = ticket_of(*first);
  EXPECT_TRUE(eventually([&] {
    auto tickets = b_->open_tickets(alice_);
    return std::find(tickets.begin(), tickets.end(), ticket) != tickets.end();
  })) << "replica B never listed the trade replica A opened";
}

TEST_F(FixReplicasTest, ARefusedOrderMayBeRetriedUnderItsKey) {
  // The counterparty keeps answers by ClOrdID, but not refusals: nothing happened, and a retry
  // after one is executed, as on the embedded simulator.
  ASSERT_TRUE(a_->account(alice_));
  auto refused = a_->open(alice_, buy(alice_, "too-big", 1e6));
  ASSERT_FALSE(refused);
  auto later = b_->open(alice_, buy(alice_, "too-big", 0.1));  // same ClOrdID, now a fundable order
  ASSERT_TRUE(later) << later.error().message;
  EXPECT_FALSE(later->replayed);
  EXPECT_EQ(positions_at_broker(*a_->service->login_of(alice_.account_key)), 1u);
}

}  // namespace
}  // namespace permiso::trading::fix
