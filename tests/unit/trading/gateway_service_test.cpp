// GatewayService with the real SimulatedBroker and a SQLite TradeStore (temp file): one account
// per caller and isolation, idempotent replay (also after a restart), concurrent same-key
// requests open one trade, a reused key is refused, closing twice is a Conflict, retcodes map
// to named fields, broker-initiated closes are persisted, a restart restores every row and
// balance, a storage failure answers StorageUnavailable with nothing acknowledged lost,
// concurrent closes of one trade close it once (the rest Conflict, reads never NotFound), and
// the committed listener sees exactly the committed changes.
#include "trading/service/gateway_service.hpp"
#include "pg_server.hpp"
#include "trading/sim/simulated_broker.hpp"
#include "trading/store/trade_store.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <future>
#include <latch>
#include <limits>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace permiso::trading {
namespace {

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new test::PgServerEnvironment);
constexpr TimeMs kStart = 1'700'000'000'000;
constexpr std::int64_t kNowSeconds = 1'700'000'000;

sim::SimOptions sim_options() {
  sim::SimOptions o;
  o.seed = 11;
  o.start_time_msc = kStart;
  o.slippage_points = 0;
  return o;
}

template <class T>
ServiceResult<T> wait(std::future<ServiceResult<T>>& f) {
  if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    ADD_FAILURE() << "Done never called";
    return ServiceFailure{ServiceError::StorageUnavailable, "", "timeout", std::nullopt};
  }
  return f.get();
}

// The HTTP layer's rendering, reduced: status 201 and a body naming the ticket.
StoredAnswer render(const Position& p, const TradeResult& r) {
  return StoredAnswer{201, R"({"id":)" + std::to_string(p.ticket) + R"(,"price":)" + std::to_string(r.price) + "}",
                      false};
}

OpenTrade buy(std::string symbol, double volume, std::string key = {}, std::string fp = "fp") {
  OpenTrade t;
  t.symbol = std::move(symbol);
  t.volume = volume;
  t.type = OrderType::Buy;
  t.idempotency_key = std::move(key);
  t.fingerprint = std::move(fp);
  return t;
}

/// Another writer holding the database's write lock from construction until release(): every
/// commit of the store under test fails meanwhile.
class WriteLockHolder {
 public:
  explicit WriteLockHolder(const std::string& url) {
    auto db = storage::open_db(url);
    if (!db) throw std::runtime_error("cannot open " + url);
    db_ = std::move(*db);
    holder_ = std::thread([this, released = release_.get_future()] {
      (void)db_->write([&](storage::SqlConn&) -> StoreStatus {
        locked_.set_value();
        released.wait();
        return {};
      });
    });
    locked_.get_future().wait();
  }
  ~WriteLockHolder() { release(); }
  WriteLockHolder(const WriteLockHolder&) = delete;
  WriteLockHolder& operator=(const WriteLockHolder&) = delete;

  void release() {
    if (!holder_.joinable()) return;
    release_.set_value();
    holder_.join();
  }

 private:
  std::unique_ptr<storage::Db> db_;
  std::promise<void> locked_;
  std::promise<void> release_;
  std::thread holder_;
};

/// Broker, store and service as mt5-api wires them; destroyed and rebuilt to simulate a restart.
struct Gateway {
  Gateway(const std::string& url, const Clock& clock, GatewayOptions options, TradeStoreOptions store_options = {},
          sim::SimOptions sim = sim_options(), GatewayService::CommittedListener listener = {}) {
    auto s = TradeStore::open(url, clock, store_options);
    if (!s) throw std::runtime_error(s.error().message);
    store = std::move(*s);
    broker = std::make_unique<sim::SimulatedBroker>(std::move(sim));
    service = std::make_unique<GatewayService>(*broker, *store, clock, options);
    service->set_committed_listener(std::move(listener));
    if (auto st = service->start(); !st) throw std::runtime_error(st.error().message);
  }
  ~Gateway() {
    service.reset();
    broker.reset();
    store.reset();
  }
  std::unique_ptr<TradeStore> store;
  std::unique_ptr<sim::SimulatedBroker> broker;
  std::unique_ptr<GatewayService> service;

  /// Every commit submitted so far has completed (the writer is FIFO).
  void drain() {
    std::promise<void> p;
    CommitRequest r;
    r.done = [&](StoreStatus) { p.set_value(); };
    store->submit(std::move(r));
    p.get_future().wait();
  }

  ServiceResult<StoredAnswer> open(const Caller& c, OpenTrade t) {
    std::promise<ServiceResult<StoredAnswer>> p;
    auto f = p.get_future();
    service->open_trade(c, std::move(t), render, [&](ServiceResult<StoredAnswer> r) { p.set_value(std::move(r)); });
    return wait(f);
  }
  ServiceResult<Position> close(const Caller& c, Ticket t) {
    std::promise<ServiceResult<Position>> p;
    auto f = p.get_future();
    service->close_trade(c, t, [&](ServiceResult<Position> r) { p.set_value(std::move(r)); });
    return wait(f);
  }
  ServiceResult<Position> modify(const Caller& c, Ticket t, std::optional<double> sl, std::optional<double> tp) {
    std::promise<ServiceResult<Position>> p;
    auto f = p.get_future();
    service->modify_trade(c, t, sl, tp, [&](ServiceResult<Position> r) { p.set_value(std::move(r)); });
    return wait(f);
  }
  ServiceResult<AccountInfo> account(const Caller& c) {
    std::promise<ServiceResult<AccountInfo>> p;
    auto f = p.get_future();
    service->account(c, [&](ServiceResult<AccountInfo> r) { p.set_value(std::move(r)); });
    return wait(f);
  }
  Ticket open_ok(const Caller& c, OpenTrade t) {
    auto r = open(c, std::move(t));
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    if (!r) return 0;
    auto id = r->body.substr(6, r->body.find(',') - 6);
    return std::stoull(id);
  }
};

void expect_same_rows(const BrokerState& x, const BrokerState& y) {
  ASSERT_EQ(x.accounts.size(), y.accounts.size());
  for (std::size_t i = 0; i < x.accounts.size(); ++i) {
    EXPECT_EQ(x.accounts[i].login, y.accounts[i].login);
    EXPECT_EQ(x.accounts[i].name, y.accounts[i].name);
    EXPECT_EQ(x.accounts[i].balance, y.accounts[i].balance) << x.accounts[i].login;
    EXPECT_EQ(x.accounts[i].leverage, y.accounts[i].leverage);
    EXPECT_EQ(x.accounts[i].currency, y.accounts[i].currency);
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
    EXPECT_EQ(a.closed, b.closed);
    EXPECT_EQ(a.close_price, b.close_price);
    EXPECT_EQ(a.close_reason, b.close_reason);
  }
  ASSERT_EQ(x.orders.size(), y.orders.size());
  for (std::size_t i = 0; i < x.orders.size(); ++i) {
    EXPECT_EQ(x.orders[i].ticket, y.orders[i].ticket);
    EXPECT_EQ(x.orders[i].state, y.orders[i].state);
    EXPECT_EQ(x.orders[i].price_open, y.orders[i].price_open);
    EXPECT_EQ(x.orders[i].volume_current, y.orders[i].volume_current);
  }
  ASSERT_EQ(x.deals.size(), y.deals.size());
  for (std::size_t i = 0; i < x.deals.size(); ++i) {
    EXPECT_EQ(x.deals[i].ticket, y.deals[i].ticket);
    EXPECT_EQ(x.deals[i].position_id, y.deals[i].position_id);
    EXPECT_EQ(x.deals[i].entry, y.deals[i].entry);
    EXPECT_EQ(x.deals[i].price, y.deals[i].price);
    EXPECT_EQ(x.deals[i].profit, y.deals[i].profit);
    EXPECT_EQ(x.deals[i].volume, y.deals[i].volume);
  }
}

// Param: GatewayOptions::exclusive_store (the key index on) or not (every new key looked up).
class GatewayServiceTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/permiso-gateway-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    url_ = "sqlite://" + dir_ + "/mt5.db";
    options_.exclusive_store = GetParam();
    gw_ = std::make_unique<Gateway>(url_, clock_, options_);
  }
  void TearDown() override {
    gw_.reset();
    std::filesystem::remove_all(dir_);
  }
  void restart(TradeStoreOptions o = {}) {
    gw_.reset();  // everything in memory is gone
    gw_ = std::make_unique<Gateway>(url_, clock_, options_, o);
  }

  ManualClock clock_{kNowSeconds};
  GatewayOptions options_;
  std::string dir_;
  std::string url_;
  std::unique_ptr<Gateway> gw_;
  const Caller alice_{"client:alice", "Alice"};
  const Caller bob_{"user:bob", "Bob"};
};

TEST_P(GatewayServiceTest, EachCallerTradesOnItsOwnAccountAndSeesOnlyItsTrades) {
  auto a = gw_->account(alice_);
  auto b = gw_->account(bob_);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->login, b->login);
  EXPECT_EQ(a->balance, 10000);
  EXPECT_EQ(a->name, "Alice");
  auto again = gw_->account(alice_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->login, a->login);

  const Ticket t = gw_->open_ok(alice_, buy("EURUSD", 0.1));
  ASSERT_NE(t, 0u);
  auto mine = gw_->service->list_trades(alice_, {});
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->trades.size(), 1u);
  EXPECT_EQ(mine->trades[0].ticket, t);
  auto theirs = gw_->service->list_trades(bob_, {});
  ASSERT_TRUE(theirs);
  EXPECT_TRUE(theirs->trades.empty());
  // Another caller's ticket does not exist for Bob, whatever he tries.
  auto get = gw_->service->get_trade(bob_, t);
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code, ServiceError::NotFound);
  auto close = gw_->close(bob_, t);
  ASSERT_FALSE(close);
  EXPECT_EQ(close.error().code, ServiceError::NotFound);
  auto modify = gw_->modify(bob_, t, 1.0, std::nullopt);
  ASSERT_FALSE(modify);
  EXPECT_EQ(modify.error().code, ServiceError::NotFound);
  // A principal that never traded has no trades and no account yet.
  const Caller carol{"user:carol", ""};
  auto none = gw_->service->list_trades(carol, {});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->trades.empty());
  EXPECT_FALSE(gw_->service->login_of("user:carol"));
}

TEST_P(GatewayServiceTest, ConcurrentFirstCallsOfOneCallerOpenOneAccount) {
  constexpr int kThreads = 16;
  std::latch go(kThreads);
  std::vector<Login> logins(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      auto r = gw_->account(alice_);
      ASSERT_TRUE(r);
      logins[static_cast<std::size_t>(i)] = r->login;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<Login>(logins.begin(), logins.end()).size(), 1u);
  auto state = gw_->store->load();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->bindings.size(), 1u);
  EXPECT_EQ(state->broker.accounts.size(), 1u);
  EXPECT_EQ(gw_->broker->snapshot().accounts.size(), 1u);
}

TEST_P(GatewayServiceTest, TheSameKeyAndBodyReplaysTheFirstAnswerAlsoAfterARestart) {
  auto first = gw_->open(alice_, buy("EURUSD", 0.1, "key-1"));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 201);
  EXPECT_FALSE(first->replayed);
  auto second = gw_->open(alice_, buy("EURUSD", 0.1, "key-1"));
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->replayed);
  EXPECT_EQ(second->body, first->body);
  EXPECT_EQ(gw_->service->list_trades(alice_, {})->trades.size(), 1u);
  // The same key of another caller is another request.
  auto bobs = gw_->open(bob_, buy("EURUSD", 0.1, "key-1"));
  ASSERT_TRUE(bobs);
  EXPECT_FALSE(bobs->replayed);

  restart();  // the in-memory answers are gone: the store's record answers
  auto third = gw_->open(alice_, buy("EURUSD", 0.1, "key-1"));
  ASSERT_TRUE(third);
  EXPECT_TRUE(third->replayed);
  EXPECT_EQ(third->body, first->body);
  EXPECT_EQ(gw_->service->list_trades(alice_, {})->trades.size(), 1u);
  EXPECT_GE(gw_->service->stats().idempotent_replays, 1u);

  // After 24 h the key is free again.
  clock_.advance(24 * 3600 + 1);
  auto later = gw_->open(alice_, buy("EURUSD", 0.1, "key-1"));
  ASSERT_TRUE(later);
  EXPECT_FALSE(later->replayed);
  EXPECT_EQ(gw_->service->list_trades(alice_, {})->trades.size(), 2u);
}

TEST_P(GatewayServiceTest, AKeyPushedOutOfEveryMemoryIsStillReplayedFromTheStore) {
  options_.idempotency_cache = 0;  // no answers in memory
  options_.idempotency_index = 2;  // the key index forgets all but two keys
  restart();
  auto first = gw_->open(alice_, buy("EURUSD", 0.1, "k1"));
  ASSERT_TRUE(first);
  ASSERT_TRUE(gw_->open(alice_, buy("EURUSD", 0.1, "k2")));
  ASSERT_TRUE(gw_->open(alice_, buy("EURUSD", 0.1, "k3")));
  auto again = gw_->open(alice_, buy("EURUSD", 0.1, "k1"));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->body, first->body);
  EXPECT_EQ(gw_->service->list_trades(alice_, {})->trades.size(), 3u);
  restart();  // loading more keys than the index holds
  again = gw_->open(alice_, buy("EURUSD", 0.1, "k1"));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(gw_->service->list_trades(alice_, {})->trades.size(), 3u);
}

TEST_P(GatewayServiceTest, SixteenConcurrentRequestsWithOneKeyOpenOneTrade) {
  ASSERT_TRUE(gw_->account(alice_));
  constexpr int kThreads = 16;
  std::latch go(kThreads);
  std::vector<ServiceResult<StoredAnswer>> answers(kThreads, ServiceFailure{});
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      answers[static_cast<std::size_t>(i)] = gw_->open(alice_, buy("EURUSD", 0.1, "same"));
    });
  }
  for (auto& t : threads) t.join();
  int originals = 0;
  for (const auto& a : answers) {
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_EQ(a->body, answers[0]->body);
    if (!a->replayed) ++originals;
  }
  EXPECT_EQ(originals, 1);
  EXPECT_EQ(gw_->service->list_trades(alice_, {})->trades.size(), 1u);
  EXPECT_EQ(gw_->broker->positions_get(*gw_->service->login_of(alice_.account_key)).size(), 1u);
}

TEST_P(GatewayServiceTest, AKeyReusedWithAnotherBodyIsRefused) {
  ASSERT_TRUE(gw_->open(alice_, buy("EURUSD", 0.1, "k", "body-a")));
  auto r = gw_->open(alice_, buy("EURUSD", 0.2, "k", "body-b"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ServiceError::IdempotencyKeyReused);
  restart();
  r = gw_->open(alice_, buy("EURUSD", 0.2, "k", "body-b"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ServiceError::IdempotencyKeyReused);
  EXPECT_EQ(gw_->service->list_trades(alice_, {})->trades.size(), 1u);
}

TEST_P(GatewayServiceTest, ClosingTwiceIsAConflictOnTheId) {
  const Ticket t = gw_->open_ok(alice_, buy("EURUSD", 0.1));
  auto closed = gw_->close(alice_, t);
  ASSERT_TRUE(closed) << closed.error().message;
  EXPECT_TRUE(closed->closed);
  EXPECT_EQ(closed->ticket, t);
  auto again = gw_->close(alice_, t);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ServiceError::Conflict);
  EXPECT_EQ(again.error().field, "id");
  auto modify = gw_->modify(alice_, t, 1.0, std::nullopt);
  ASSERT_FALSE(modify);
  EXPECT_EQ(modify.error().code, ServiceError::Conflict);
  // The closed trade is still readable, from the store.
  auto got = gw_->service->get_trade(alice_, t);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->closed);
  auto unknown = gw_->close(alice_, 999999);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ServiceError::NotFound);
}

TEST_P(GatewayServiceTest, ConcurrentClosesOfOneTradeCloseItOnceAndItIsNeverNotFound) {
  // Between the broker's close and the commit of the closed row, neither the broker's open
  // positions nor storage's closed trades show the trade: it must still be a Conflict to close
  // and readable.
  constexpr int kClosers = 12;
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const Ticket t = gw_->open_ok(alice_, buy("EURUSD", 0.1));
    ASSERT_NE(t, 0u);
    std::latch go(kClosers + 1);
    std::atomic<int> closers_done{0};
    std::vector<ServiceResult<Position>> results(kClosers, ServiceFailure{});
    std::vector<std::thread> threads;
    for (int i = 0; i < kClosers; ++i) {
      threads.emplace_back([&, i] {
        go.arrive_and_wait();
        // Staggered a little, so that some arrive while the first close commits.
        std::this_thread::sleep_for(std::chrono::microseconds(200 * i));
        results[static_cast<std::size_t>(i)] = gw_->close(alice_, t);
        closers_done.fetch_add(1);
      });
    }
    int reads = 0, not_found = 0;
    go.arrive_and_wait();
    while (closers_done.load() < kClosers) {
      auto got = gw_->service->get_trade(alice_, t);
      ++reads;
      if (!got) {
        EXPECT_NE(got.error().code, ServiceError::StorageUnavailable) << got.error().message;
        if (got.error().code == ServiceError::NotFound) ++not_found;
      }
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(not_found, 0) << "of " << reads << " reads";
    int ok = 0;
    for (const auto& r : results) {
      if (r) {
        ++ok;
        EXPECT_TRUE(r->closed);
        EXPECT_EQ(r->ticket, t);
      } else {
        EXPECT_EQ(r.error().code, ServiceError::Conflict) << to_string(r.error()) << ": " << r.error().message;
        EXPECT_EQ(r.error().field, "id");
      }
    }
    EXPECT_EQ(ok, 1);
    auto got = gw_->service->get_trade(alice_, t);
    ASSERT_TRUE(got);
    EXPECT_TRUE(got->closed);
  }
}

TEST_P(GatewayServiceTest, RefusalsNameTheirFieldAndCarryTheRetcode) {
  ASSERT_TRUE(gw_->account(alice_));
  auto money = gw_->open(alice_, buy("XAUUSD", 10));
  ASSERT_FALSE(money);
  EXPECT_EQ(money.error().code, ServiceError::BrokerRefused);
  EXPECT_EQ(money.error().retcode, Retcode::NoMoney);

  auto step = gw_->open(alice_, buy("EURUSD", 0.015));
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().code, ServiceError::BrokerRefused);
  EXPECT_EQ(step.error().field, "volume");
  EXPECT_EQ(step.error().retcode, Retcode::InvalidVolume);

  auto symbol = gw_->open(alice_, buy("NOPE", 0.1));
  ASSERT_FALSE(symbol);
  EXPECT_EQ(symbol.error().code, ServiceError::Validation);
  EXPECT_EQ(symbol.error().field, "symbol");

  auto nan = buy("EURUSD", std::numeric_limits<double>::quiet_NaN());
  auto r = gw_->open(alice_, nan);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ServiceError::Validation);
  EXPECT_EQ(r.error().field, "volume");

  const double ask = gw_->broker->symbol_info_tick("EURUSD")->ask;
  auto wrong_sl = buy("EURUSD", 0.1);
  wrong_sl.sl = ask + 0.01;  // a buy's stop loss above the price
  r = gw_->open(alice_, wrong_sl);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ServiceError::BrokerRefused);
  EXPECT_EQ(r.error().field, "stop_loss");
  EXPECT_EQ(r.error().retcode, Retcode::InvalidStops);
  auto wrong_tp = buy("EURUSD", 0.1);
  wrong_tp.tp = ask - 0.01;
  r = gw_->open(alice_, wrong_tp);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "take_profit");

  EXPECT_TRUE(gw_->service->list_trades(alice_, {})->trades.empty());
  EXPECT_GE(gw_->service->stats().rejections, 4u);
}

TEST_P(GatewayServiceTest, EachBrokerRoundTripIsTimedWithItsActionRefusalsIncluded) {
  std::mutex mu;
  std::vector<TradeAction> actions;
  gw_->service->set_broker_timer([&](TradeAction action, std::chrono::nanoseconds took) {
    EXPECT_GE(took.count(), 0);
    std::lock_guard lock(mu);
    actions.push_back(action);
  });
  const Ticket t = gw_->open_ok(alice_, buy("EURUSD", 0.1));
  const double bid = gw_->broker->symbol_info_tick("EURUSD")->bid;
  ASSERT_TRUE(gw_->modify(alice_, t, bid - 0.01, std::nullopt));
  ASSERT_FALSE(gw_->open(alice_, buy("XAUUSD", 10)));  // no money: the broker still answered
  ASSERT_FALSE(gw_->open(alice_, buy("NOPE", 0.1)));   // refused before the broker: not timed
  ASSERT_TRUE(gw_->close(alice_, t));
  std::lock_guard lock(mu);
  EXPECT_EQ(actions,
            (std::vector<TradeAction>{TradeAction::Deal, TradeAction::SlTp, TradeAction::Deal, TradeAction::Deal}));
  EXPECT_EQ(gw_->service->stats().orders_sent, actions.size());
}

TEST_P(GatewayServiceTest, ABrokerInitiatedStopLossIsPersisted) {
  const auto tick = *gw_->broker->symbol_info_tick("EURUSD");
  auto order = buy("EURUSD", 0.1);
  order.sl = tick.bid - 0.005;
  const Ticket t = gw_->open_ok(alice_, order);
  ASSERT_TRUE(gw_->broker->set_quote("EURUSD", tick.bid - 0.006, tick.bid - 0.0059));
  // The listener's commit is asynchronous: wait for it (bounded).
  bool persisted = false;
  for (int i = 0; i < 600 && !persisted; ++i) {
    auto p = gw_->store->position(*gw_->service->login_of(alice_.account_key), t);
    ASSERT_TRUE(p);
    persisted = p->has_value() && (*p)->closed;
    if (!persisted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(persisted);
  const auto before = gw_->broker->snapshot();
  restart();
  auto got = gw_->service->get_trade(alice_, t);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->closed);
  EXPECT_EQ(got->close_reason, DealReason::Sl);
  EXPECT_EQ(gw_->broker->account_info(before.accounts[0].login)->balance, before.accounts[0].balance);
}

TEST_P(GatewayServiceTest, ARestartRestoresPositionsOrdersDealsAndBalancesExactly) {
  const Ticket a1 = gw_->open_ok(alice_, buy("EURUSD", 0.1));
  const Ticket a2 = gw_->open_ok(alice_, buy("XAUUSD", 0.05));
  OpenTrade sell = buy("GBPUSD", 0.3);
  sell.type = OrderType::Sell;
  const Ticket b1 = gw_->open_ok(bob_, sell);
  ASSERT_TRUE(gw_->broker->set_quote("EURUSD", 1.2, 1.2001));  // a profit to realise
  ASSERT_TRUE(gw_->close(alice_, a1));
  ASSERT_TRUE(gw_->modify(alice_, a2, std::nullopt, 99999.0));
  OpenTrade limit = buy("EURUSD", 0.2);
  limit.type = OrderType::BuyLimit;
  limit.price = 1.1;
  const Ticket pending = gw_->open_ok(bob_, limit);
  ASSERT_NE(pending, 0u);
  (void)b1;
  const BrokerState before = gw_->broker->snapshot();

  restart();
  const BrokerState after = gw_->broker->snapshot();
  expect_same_rows(before, after);
  EXPECT_EQ(gw_->service->orders(bob_)->size(), 1u);
  // Trading carries on with fresh tickets.
  const Ticket next = gw_->open_ok(alice_, buy("EURUSD", 0.1));
  EXPECT_GT(next, before.next_ticket - 1);
  auto deals = gw_->service->deals(alice_, {0, std::numeric_limits<TimeMs>::max(), 1000, std::nullopt});
  ASSERT_TRUE(deals);
  EXPECT_EQ(deals->deals.size(), 5u);  // deposit, two opens, one close, the new open
}

TEST_P(GatewayServiceTest, HistoryBeyondWhatMemoryKeepsIsServedFromTheStoreInPages) {
  sim::SimOptions sim = sim_options();
  sim.history_per_account = 2;
  options_.restore_history = 2;
  auto reopen = [&] {
    gw_.reset();
    gw_ = std::make_unique<Gateway>(url_, clock_, options_, TradeStoreOptions{}, sim);
  };
  reopen();
  std::vector<Ticket> trades;
  for (int i = 0; i < 4; ++i) trades.push_back(gw_->open_ok(alice_, buy("EURUSD", 0.01)));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(gw_->close(alice_, trades[static_cast<std::size_t>(i)]));
  const Login login = *gw_->service->login_of(alice_.account_key);
  EXPECT_EQ(gw_->broker->history_deals_get(login, 0, std::numeric_limits<TimeMs>::max()).size(), 2u);
  EXPECT_EQ(gw_->broker->positions_history_get(login).size(), 2u);

  auto all_deals = [&] {
    DealListQuery q{0, std::numeric_limits<TimeMs>::max(), 3, std::nullopt};
    std::vector<Deal> seen;
    for (int page = 0; page < 10; ++page) {
      auto r = gw_->service->deals(alice_, q);
      EXPECT_TRUE(r);
      if (!r) break;
      EXPECT_LE(r->deals.size(), 3u);
      seen.insert(seen.end(), r->deals.begin(), r->deals.end());
      if (!r->next_cursor) break;
      q.after = r->next_cursor;
    }
    return seen;
  };
  for (int round = 0; round < 2; ++round) {  // before and after a restart that restores 2 of each
    const auto deals = all_deals();
    ASSERT_EQ(deals.size(), 1u + 4u + 3u) << "round " << round;  // deposit, opens, closes
    for (std::size_t i = 1; i < deals.size(); ++i) {
      const bool ordered = deals[i - 1].time_msc < deals[i].time_msc ||
                           (deals[i - 1].time_msc == deals[i].time_msc && deals[i - 1].ticket < deals[i].ticket);
      EXPECT_TRUE(ordered) << "round " << round << " at " << i;
    }
    TradeListQuery q;
    q.status = TradeListQuery::Status::All;
    auto listed = gw_->service->list_trades(alice_, q);
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->trades.size(), 4u);
    auto oldest = gw_->service->get_trade(alice_, trades[0]);
    ASSERT_TRUE(oldest);
    EXPECT_TRUE(oldest->closed);
    reopen();
  }
  EXPECT_EQ(gw_->broker->positions_history_get(login).size(), 2u);
}

TEST_P(GatewayServiceTest, TradesPageByDescendingTicketAcrossOpenAndClosed) {
  std::vector<Ticket> tickets;
  for (int i = 0; i < 5; ++i) tickets.push_back(gw_->open_ok(alice_, buy("EURUSD", 0.01)));
  ASSERT_TRUE(gw_->close(alice_, tickets[1]));
  ASSERT_TRUE(gw_->close(alice_, tickets[3]));
  TradeListQuery q;
  q.status = TradeListQuery::Status::All;
  q.limit = 2;
  std::vector<Ticket> seen;
  for (int page = 0; page < 5; ++page) {
    auto r = gw_->service->list_trades(alice_, q);
    ASSERT_TRUE(r);
    for (const auto& p : r->trades) seen.push_back(p.ticket);
    if (!r->next_cursor) break;
    q.cursor = r->next_cursor;
  }
  EXPECT_EQ(seen, (std::vector<Ticket>{tickets[4], tickets[3], tickets[2], tickets[1], tickets[0]}));
  TradeListQuery closed;
  closed.status = TradeListQuery::Status::Closed;
  auto c = gw_->service->list_trades(alice_, closed);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->trades.size(), 2u);
  EXPECT_EQ(c->trades[0].ticket, tickets[3]);
  auto open = gw_->service->list_trades(alice_, {});
  ASSERT_TRUE(open);
  EXPECT_EQ(open->trades.size(), 3u);
}

TEST_P(GatewayServiceTest, AStorageFailureIsUnavailableAndNoAcknowledgedTradeIsLost) {
  TradeStoreOptions o;
  o.storage.busy_timeout_ms = 50;  // a locked database fails the writer quickly
  o.retry_after_ms = 0;
  restart(o);
  const Ticket kept = gw_->open_ok(alice_, buy("EURUSD", 0.1));
  ASSERT_NE(kept, 0u);

  // Another writer holds the database's write lock: every commit fails.
  WriteLockHolder lock(url_);
  auto r = gw_->open(alice_, buy("EURUSD", 0.2, "during-outage"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ServiceError::StorageUnavailable);
  auto c = gw_->close(alice_, kept);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ServiceError::StorageUnavailable);
  lock.release();

  // Back: the broker's memory was brought back to storage's, the refused trade is gone.
  const Login login = *gw_->service->login_of(alice_.account_key);
  const Ticket next = gw_->open_ok(alice_, buy("EURUSD", 0.3, "after"));
  ASSERT_NE(next, 0u);
  EXPECT_TRUE(gw_->service->ready());
  auto positions = gw_->broker->positions_get(login);
  ASSERT_EQ(positions.size(), 2u);
  std::set<Ticket> open;
  for (const auto& p : positions) open.insert(p.ticket);
  EXPECT_EQ(open, (std::set<Ticket>{kept, next}));
  // The key of the refused request was never stored: it can be used now.
  auto retried = gw_->open(alice_, buy("EURUSD", 0.2, "during-outage"));
  ASSERT_TRUE(retried);
  EXPECT_FALSE(retried->replayed);

  // Every acknowledged trade is in storage, and nothing else.
  const BrokerState memory = gw_->broker->snapshot();
  restart();
  expect_same_rows(memory, gw_->broker->snapshot());
}

/// What the committed listener saw (it runs on the store's writer thread).
struct Committed {
  std::mutex mu;
  std::vector<Changes> calls;
  GatewayService::CommittedListener listener() {
    return [this](const Changes& c) {
      std::lock_guard lock(mu);
      calls.push_back(c);
    };
  }
  /// Calls that carry position `t` (closed or open as asked).
  std::size_t with(Ticket t, bool closed) {
    std::lock_guard lock(mu);
    return static_cast<std::size_t>(std::count_if(calls.begin(), calls.end(), [&](const Changes& c) {
      return std::any_of(c.positions.begin(), c.positions.end(),
                         [&](const Position& p) { return p.ticket == t && p.closed == closed; });
    }));
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return calls.size();
  }
};

TEST_P(GatewayServiceTest, TheCommittedListenerSeesEachCommittedStepOnceAndNoFailedCommit) {
  TradeStoreOptions o;
  o.storage.busy_timeout_ms = 50;  // a locked database fails the writer quickly
  o.retry_after_ms = 0;
  Committed seen;
  gw_.reset();
  gw_ = std::make_unique<Gateway>(url_, clock_, options_, o, sim_options(), seen.listener());

  const Ticket t = gw_->open_ok(alice_, buy("EURUSD", 0.1));
  ASSERT_NE(t, 0u);
  // Called before the caller's answer: the trade's open row, once (after the account's).
  EXPECT_EQ(seen.with(t, false), 1u);
  EXPECT_EQ(seen.count(), 2u);
  auto closed = gw_->close(alice_, t);
  ASSERT_TRUE(closed);
  EXPECT_EQ(seen.with(t, true), 1u);
  EXPECT_EQ(seen.count(), 3u);

  // Broker-initiated: a stop loss reaches the listener once its commit is done.
  const auto tick = *gw_->broker->symbol_info_tick("EURUSD");
  auto order = buy("EURUSD", 0.1);
  order.sl = tick.bid - 0.005;
  const Ticket s = gw_->open_ok(alice_, order);
  ASSERT_TRUE(gw_->broker->set_quote("EURUSD", tick.bid - 0.006, tick.bid - 0.0059));
  for (int i = 0; i < 600 && seen.with(s, true) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  gw_->drain();
  EXPECT_EQ(seen.with(s, true), 1u);
  const Ticket v = gw_->open_ok(alice_, buy("EURUSD", 0.1));
  const std::size_t before_outage = seen.count();

  // Every commit fails while another writer holds the lock: the listener hears nothing.
  WriteLockHolder lock(url_);
  auto refused = gw_->open(alice_, buy("EURUSD", 0.2));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ServiceError::StorageUnavailable);
  auto not_closed = gw_->close(alice_, v);
  ASSERT_FALSE(not_closed);
  EXPECT_EQ(not_closed.error().code, ServiceError::StorageUnavailable);
  lock.release();
  gw_->drain();
  EXPECT_EQ(seen.count(), before_outage);
  EXPECT_EQ(seen.with(v, true), 0u);
}

TEST(GatewayServiceLive, StorageEqualsMemoryOnceQuietEvenAcrossAnOutageWithALiveQuoteStream) {
  // The quote stream runs (SL/TP fire from the broker's thread) while trades are sent and the
  // database is locked for a while: once everything is quiet, what storage holds is exactly
  // what the broker holds, and a restart restores it.
  char tmpl[] = "/tmp/permiso-gateway-live-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string url = "sqlite://" + dir + "/mt5.db";
  ManualClock clock(kNowSeconds);
  sim::SimOptions sim = sim_options();
  sim.volatility_scale = 30;  // stops a few dozen points away fire within a few steps
  TradeStoreOptions store_options;
  store_options.storage.busy_timeout_ms = 20;
  store_options.retry_after_ms = 0;
  BrokerState quiet;
  {
    Gateway gw(url, clock, GatewayOptions{}, store_options, sim);
    gw.broker->start(std::chrono::milliseconds(2));
    std::atomic<bool> stop{false};
    std::vector<std::thread> traders;
    for (int t = 0; t < 4; ++t) {
      traders.emplace_back([&, t] {
        const Caller c{"client:t" + std::to_string(t), ""};
        for (int i = 0; !stop; ++i) {
          const auto tick = gw.broker->symbol_info_tick("EURUSD");
          OpenTrade o = buy("EURUSD", 0.01);
          if (i % 2 == 1) o.type = OrderType::Sell;
          const bool is_buy = o.type == OrderType::Buy;
          const double ref = is_buy ? tick->bid : tick->ask;
          o.sl = is_buy ? ref - 0.0004 : ref + 0.0004;
          o.tp = is_buy ? ref + 0.0004 : ref - 0.0004;
          o.price = std::nullopt;
          o.deviation = 100000;
          (void)gw.open(c, o);  // refusals (stops moved, storage locked) are part of the test
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    {
      auto db = storage::open_db(url);
      ASSERT_TRUE(db);
      std::promise<void> locked;
      std::thread holder([&] {
        // The busy writer may win the lock for a while: try until this one holds it.
        bool held = false;
        while (!held) {
          (void)(*db)->write([&](storage::SqlConn&) -> StoreStatus {
            held = true;
            locked.set_value();
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            return {};
          });
        }
      });
      locked.get_future().wait();
      holder.join();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
    for (auto& t : traders) t.join();
    gw.broker->stop();
    // Quiet: every commit completed and any resync the outage made due has run.
    for (int i = 0; i < 200; ++i) {
      gw.drain();
      if (gw.service->ready()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(gw.service->ready());
    gw.drain();
    quiet = gw.broker->snapshot();
    auto stored = gw.store->load(sim.history_per_account);  // what memory keeps of the history
    ASSERT_TRUE(stored);
    {
      SCOPED_TRACE("memory vs storage");
      expect_same_rows(quiet, stored->broker);
    }
    EXPECT_GT(quiet.positions.size(), 4u);
    std::size_t by_stops = 0;
    for (const auto& p : quiet.positions) by_stops += p.closed ? 1 : 0;
    EXPECT_GT(by_stops, 0u) << "no SL/TP fired: the test did not exercise the listener";
  }
  Gateway again(url, clock, GatewayOptions{}, store_options, sim);
  SCOPED_TRACE("memory vs restored");
  expect_same_rows(quiet, again.broker->snapshot());
  std::filesystem::remove_all(dir);
}

TEST(GatewayServiceOnPostgres, AStoppedDatabaseIsUnavailableThenTradingResumes) {
  (void)kEnv;
  auto& server = test::PgServerEnvironment::server();
  if (server.external()) GTEST_SKIP() << "cannot stop an external server";
  ManualClock clock(kNowSeconds);
  const std::string url = server.create_database();
  GatewayOptions options;
  options.exclusive_store = true;
  const Caller alice{"client:alice", "Alice"};
  std::set<Ticket> acknowledged;
  {
    Gateway gw(url, clock, options);
    acknowledged.insert(gw.open_ok(alice, buy("EURUSD", 0.1, "before")));

    server.stop();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) {
      auto r = gw.open(alice, buy("EURUSD", 0.1, "down-" + std::to_string(i)));
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, ServiceError::StorageUnavailable);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_FALSE(gw.service->ready());

    server.restart();
    // Ready again without a trade: the background resync reloads once the database is back.
    for (int i = 0; i < 200 && !gw.service->ready(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(gw.service->ready());
    ServiceResult<StoredAnswer> back = ServiceFailure{};
    for (int attempt = 0; attempt < 100 && !back; ++attempt) {
      back = gw.open(alice, buy("EURUSD", 0.2, "after"));
      if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(back) << back.error().message;
    acknowledged.insert(std::stoull(back->body.substr(6, back->body.find(',') - 6)));
    EXPECT_TRUE(gw.service->ready());
    std::set<Ticket> open;
    for (const auto& p : gw.broker->positions_get(*gw.service->login_of(alice.account_key))) {
      open.insert(p.ticket);
    }
    EXPECT_EQ(open, acknowledged);
  }
  Gateway again(url, clock, options);  // and exactly those survive a restart
  std::set<Ticket> open;
  for (const auto& p : again.broker->positions_get(*again.service->login_of(alice.account_key))) {
    open.insert(p.ticket);
  }
  EXPECT_EQ(open, acknowledged);
}

INSTANTIATE_TEST_SUITE_P(Store, GatewayServiceTest, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "exclusive" : "shared"; });

}  // namespace
}  // namespace permiso::trading
