// TradeStore against SQLite (temp file) and a real PostgreSQL server (tests/support): every row
// type round-trips, upserts keep the newest step, a batch is atomic, idempotency keys are
// unique under races and expire after 24 h, load() after reopening equals what was committed,
// and a stopped database gives fast Unavailable answers, then recovers.
#include "trading/store/trade_store.hpp"
#include "pg_server.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

namespace permiso::trading {
namespace {

using test::PgServerEnvironment;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PgServerEnvironment);
constexpr std::int64_t kT0 = 1'700'000'000;

std::string num(double d) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

// Every field, so a mismatch shows which one.
std::string dump(const Position& p) {
  std::ostringstream o;
  o << "pos " << p.ticket << " login=" << p.login << " " << p.symbol << " type=" << static_cast<int>(p.type)
    << " vol=" << num(p.volume) << " open=" << num(p.price_open) << " cur=" << num(p.price_current)
    << " sl=" << num(p.sl) << " tp=" << num(p.tp) << " profit=" << num(p.profit) << " swap=" << num(p.swap)
    << " comm=" << num(p.commission) << " magic=" << p.magic << " comment=" << p.comment
    << " reason=" << static_cast<int>(p.reason) << " t=" << p.time_msc << " tu=" << p.time_update_msc
    << " closed=" << p.closed << " ct=" << (p.close_time_msc ? std::to_string(*p.close_time_msc) : "-")
    << " cp=" << (p.close_price ? num(*p.close_price) : "-")
    << " cr=" << (p.close_reason ? std::to_string(static_cast<int>(*p.close_reason)) : "-");
  return o.str();
}
std::string dump(const Order& x) {
  std::ostringstream o;
  o << "order " << x.ticket << " login=" << x.login << " " << x.symbol << " type=" << static_cast<int>(x.type)
    << " state=" << static_cast<int>(x.state) << " fill=" << static_cast<int>(x.type_filling)
    << " vi=" << num(x.volume_initial) << " vc=" << num(x.volume_current) << " po=" << num(x.price_open)
    << " pc=" << num(x.price_current) << " sl=" << num(x.sl) << " tp=" << num(x.tp) << " magic=" << x.magic
    << " comment=" << x.comment << " pos=" << x.position_id << " ts=" << x.time_setup_msc << " td=" << x.time_done_msc;
  return o.str();
}
std::string dump(const Deal& d) {
  std::ostringstream o;
  o << "deal " << d.ticket << " login=" << d.login << " order=" << d.order << " pos=" << d.position_id << " "
    << d.symbol << " type=" << static_cast<int>(d.type) << " entry=" << static_cast<int>(d.entry)
    << " reason=" << static_cast<int>(d.reason) << " vol=" << num(d.volume) << " price=" << num(d.price)
    << " profit=" << num(d.profit) << " comm=" << num(d.commission) << " swap=" << num(d.swap) << " magic=" << d.magic
    << " comment=" << d.comment << " t=" << d.time_msc;
  return o.str();
}
std::string dump(const AccountInfo& a) {
  std::ostringstream o;
  o << "account " << a.login << " " << a.name << " " << a.server << " " << a.currency << " lev=" << a.leverage
    << " bal=" << num(a.balance) << " credit=" << num(a.credit) << " profit=" << num(a.profit)
    << " eq=" << num(a.equity) << " margin=" << num(a.margin) << " free=" << num(a.margin_free)
    << " level=" << num(a.margin_level) << " call=" << num(a.margin_so_call) << " so=" << num(a.margin_so_so)
    << " demo=" << a.demo;
  return o.str();
}
template <class T>
std::vector<std::string> dump_all(const std::vector<T>& v) {
  std::vector<std::string> out;
  for (const auto& x : v) out.push_back(dump(x));
  return out;
}

AccountInfo account(Login login, double balance) {
  AccountInfo a;
  a.login = login;
  a.name = "Alice Ünicode";
  a.server = "Permiso-Demo";
  a.currency = "EUR";
  a.leverage = 500;
  a.balance = balance;
  a.credit = 0.5;
  a.profit = -12.34;
  a.equity = balance - 12.34 + 0.5;
  a.margin = 216.87;
  a.margin_free = a.equity - a.margin;
  a.margin_level = a.equity / a.margin * 100;
  a.demo = true;
  return a;
}

Position position(Ticket t, Login login, bool closed = false) {
  Position p;
  p.ticket = t;
  p.login = login;
  p.symbol = "EURUSD";
  p.type = PositionType::Sell;
  p.volume = 0.1 + 0.2;  // 0.30000000000000004: the exact bits must survive
  p.price_open = 1.08437;
  p.price_current = 1.08431;
  p.sl = 1.09;
  p.tp = 1.07;
  p.profit = 0.6;
  p.swap = -0.01;
  p.commission = -0.7;
  p.magic = 0xFFFF'FFFF'FFFF'FFF0ULL;  // beyond int64: stored as the same 64 bits
  p.comment = "it's \"quoted\"";
  p.reason = DealReason::Expert;
  p.time_msc = kT0 * 1000 + 1;
  p.time_update_msc = kT0 * 1000 + 2;
  if (closed) {
    p.closed = true;
    p.close_time_msc = kT0 * 1000 + 3;
    p.close_price = 1.0843;
    p.close_reason = DealReason::Tp;
  }
  return p;
}

Order order(Ticket t, Login login) {
  Order o;
  o.ticket = t;
  o.login = login;
  o.symbol = "XAUUSD";
  o.type = OrderType::BuyLimit;
  o.state = OrderState::Placed;
  o.type_filling = Filling::Return;
  o.volume_initial = 1.5;
  o.volume_current = 1.5;
  o.price_open = 2001.25;
  o.price_current = 2010.5;
  o.sl = 1990;
  o.tp = 2050;
  o.magic = 7;
  o.comment = "limit";
  o.position_id = 0;
  o.time_setup_msc = kT0 * 1000;
  return o;
}

Order filled_order(Ticket t, Login login) {
  Order o = order(t, login);
  o.state = OrderState::Filled;
  o.time_done_msc = kT0 * 1000 + 9;
  return o;
}

Deal deal(Ticket t, Login login, Ticket pos, TimeMs time) {
  Deal d;
  d.ticket = t;
  d.login = login;
  d.order = pos;
  d.position_id = pos;
  d.symbol = "EURUSD";
  d.type = DealType::Sell;
  d.entry = DealEntry::In;
  d.reason = DealReason::Client;
  d.volume = 0.3;
  d.price = 1.08437;
  d.profit = 0;
  d.commission = -0.35;
  d.swap = 0;
  d.magic = 3;
  d.comment = "";
  d.time_msc = time;
  return d;
}

IdempotencyRecord idem(std::string caller, std::string key, std::int64_t at, std::string fingerprint = "fp1") {
  return IdempotencyRecord{std::move(caller), std::move(key), std::move(fingerprint), 201, R"({"id":1})", at};
}

class TradeStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    (void)kEnv;
    if (GetParam() == "sqlite") {
      char tmpl[] = "/tmp/permiso-tradestore-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
      url_ = "sqlite://" + dir_ + "/trading.db";
    } else {
      url_ = PgServerEnvironment::server().create_database();
    }
    store_ = open_or_die();
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<TradeStore> open_or_die(TradeStoreOptions options = {}) {
    auto s = TradeStore::open(url_, clock_, options);
    if (!s) {
      ADD_FAILURE() << "open " << url_ << ": " << s.error().message;
      return nullptr;
    }
    return std::move(*s);
  }

  // Submits and waits for the completion (a liveness bound, not a timing assertion).
  static StoreStatus commit(TradeStore& store, CommitRequest req) {
    auto promise = std::make_shared<std::promise<StoreStatus>>();
    auto fut = promise->get_future();
    req.done = [promise](StoreStatus st) { promise->set_value(std::move(st)); };
    store.submit(std::move(req));
    if (fut.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      ADD_FAILURE() << "completion never called";
      return StorageFailure{StorageError::Internal, {}, "timeout"};
    }
    return fut.get();
  }
  StoreStatus commit(CommitRequest req) { return commit(*store_, std::move(req)); }
  static CommitRequest with(Changes ch) {
    CommitRequest r;
    r.changes = std::move(ch);
    return r;
  }

  StoredState load() {
    auto s = store_->load();
    EXPECT_TRUE(s) << s.error().message;
    return s ? *s : StoredState{};
  }

  ManualClock clock_{kT0};
  std::string dir_;
  std::string url_;
  std::unique_ptr<TradeStore> store_;
};

TEST_P(TradeStoreTest, EveryRowTypeRoundTripsThroughAReopen) {
  Changes ch;
  ch.accounts = {account(5000001, 10000.25), account(5000002, 0.1 + 0.7)};
  ch.positions = {position(10, 5000001), position(12, 5000001, true)};
  ch.orders = {order(11, 5000002)};
  ch.deals = {deal(13, 5000001, 10, kT0 * 1000 + 5)};
  ch.deals[0].symbol = "";  // a balance deal has no symbol
  ch.deals[0].type = DealType::Balance;
  CommitRequest req = with(ch);
  req.binding = AccountBinding{"client:alpha", 5000001};
  ASSERT_TRUE(commit(std::move(req)));
  CommitRequest second;
  second.binding = AccountBinding{"user:42", 5000002};
  ASSERT_TRUE(commit(std::move(second)));

  store_.reset();
  store_ = open_or_die();  // a new process: migrations already applied, state from disk
  auto st = load();
  EXPECT_EQ(dump_all(st.broker.accounts), dump_all(ch.accounts));
  EXPECT_EQ(dump_all(st.broker.positions), dump_all(ch.positions));
  EXPECT_EQ(dump_all(st.broker.orders), dump_all(ch.orders));
  EXPECT_EQ(dump_all(st.broker.deals), dump_all(ch.deals));
  EXPECT_EQ(st.broker.next_ticket, 14u);
  ASSERT_EQ(st.bindings.size(), 2u);
  EXPECT_EQ(st.bindings[0].account_key, "client:alpha");
  EXPECT_EQ(st.bindings[0].login, 5000001u);
  EXPECT_EQ(st.bindings[1].account_key, "user:42");
  EXPECT_EQ(st.bindings[1].login, 5000002u);
}

TEST_P(TradeStoreTest, AnEmptyStoreLoadsEmptyWithTicketOne) {
  auto st = load();
  EXPECT_TRUE(st.broker.accounts.empty());
  EXPECT_TRUE(st.broker.positions.empty());
  EXPECT_TRUE(st.bindings.empty());
  EXPECT_EQ(st.broker.next_ticket, 1u);
}

TEST_P(TradeStoreTest, RowsAreUpsertedByTicketAsStateAfter) {
  Changes open;
  open.accounts = {account(1, 100)};
  open.positions = {position(5, 1)};
  open.orders = {order(6, 1)};
  ASSERT_TRUE(commit(with(open)));
  Changes closed;
  closed.accounts = {account(1, 150)};
  closed.positions = {position(5, 1, true)};
  closed.orders = {filled_order(6, 1)};
  ASSERT_TRUE(commit(with(closed)));
  ASSERT_TRUE(commit(with(closed)));  // writing the same state again changes nothing

  auto st = load();
  EXPECT_EQ(dump_all(st.broker.positions), dump_all(closed.positions));
  EXPECT_EQ(dump_all(st.broker.orders), dump_all(closed.orders));
  EXPECT_EQ(dump_all(st.broker.accounts), dump_all(closed.accounts));
}

TEST_P(TradeStoreTest, EachOperationIsTimedUnderItsName) {
  struct Observed {
    std::mutex mu;
    std::map<std::string, std::vector<std::chrono::nanoseconds>> by_op;
  };
  auto observed = std::make_shared<Observed>();
  TradeStoreOptions options;
  options.timer = [observed](TradeStoreOp op, std::chrono::nanoseconds took) {
    std::lock_guard lock(observed->mu);
    observed->by_op[std::string(to_string(op))].push_back(took);
  };
  store_.reset();
  store_ = open_or_die(options);
  ASSERT_TRUE(store_);
  Changes open;
  open.accounts = {account(1, 100)};
  open.positions = {position(5, 1)};
  ASSERT_TRUE(commit(with(open)));
  ASSERT_TRUE(store_->closed_positions(1, "", std::nullopt, 10));
  ASSERT_TRUE(store_->position(1, 5));
  ASSERT_TRUE(store_->deals(1, 0, kT0 * 1000, std::nullopt, 10));
  ASSERT_TRUE(store_->find_binding("nobody"));
  ASSERT_TRUE(store_->find_idempotency("caller", "key"));
  ASSERT_TRUE(store_->recent_idempotency_keys(10));
  ASSERT_TRUE(store_->purge_expired());
  ASSERT_TRUE(store_->load());

  std::lock_guard lock(observed->mu);
  std::set<std::string> names;
  for (const auto& [name, took] : observed->by_op) names.insert(name);
  EXPECT_EQ(names,
            (std::set<std::string>{"commit", "commit_wait", "closed_positions", "position", "deals", "find_binding",
                                   "find_idempotency", "recent_idempotency_keys", "purge", "load"}));
  // One request, one transaction: its wait from submit() to durable holds the whole commit.
  ASSERT_EQ(observed->by_op["commit"].size(), 1U);
  ASSERT_EQ(observed->by_op["commit_wait"].size(), 1U);
  EXPECT_GT(observed->by_op["commit"][0].count(), 0);
  EXPECT_GE(observed->by_op["commit_wait"][0], observed->by_op["commit"][0]);
}

TEST(TradeStoreOps, EveryOperationHasItsOwnLabel) {
  std::set<std::string_view> labels;
  for (std::size_t i = 0; i < kTradeStoreOpCount; ++i) {
    const auto label = to_string(static_cast<TradeStoreOp>(i));
    EXPECT_NE(label, "unknown");
    labels.insert(label);
  }
  EXPECT_EQ(labels.size(), kTradeStoreOpCount);
}

TEST_P(TradeStoreTest, AChangeOlderThanOneCommittedIsNotWrittenOverIt) {
  // The listener's SL close (step 7) can reach the writer before order_send's open (step 6).
  Changes newer;
  newer.sequence = 7;
  newer.accounts = {account(1, 150)};
  newer.positions = {position(5, 1, true)};
  ASSERT_TRUE(commit(with(newer)));
  Changes older;
  older.sequence = 6;
  older.accounts = {account(1, 100)};
  older.positions = {position(5, 1)};
  older.deals = {deal(4, 1, 5, kT0 * 1000)};
  ASSERT_TRUE(commit(with(older)));  // accepted: its deal is new
  auto st = load();
  EXPECT_EQ(dump_all(st.broker.positions), dump_all(newer.positions));
  EXPECT_EQ(dump_all(st.broker.accounts), dump_all(newer.accounts));
  EXPECT_EQ(st.broker.deals.size(), 1u);
}

TEST_P(TradeStoreTest, WithinOneBatchTheNewestStepWinsWhateverTheArrivalOrder) {
  // Requests submitted from a completion land in the same next batch (the writer is busy).
  std::promise<void> both;
  std::atomic<int> left{2};
  auto count = [&](StoreStatus st) {
    EXPECT_TRUE(st) << st.error().message;
    if (--left == 0) both.set_value();
  };
  Changes newer;
  newer.sequence = 20;
  newer.positions = {position(5, 1, true)};
  Changes older;
  older.sequence = 19;
  older.positions = {position(5, 1)};
  CommitRequest first;
  first.done = [&](StoreStatus) {
    CommitRequest a = with(newer);
    a.done = count;
    store_->submit(std::move(a));
    CommitRequest b = with(older);
    b.done = count;
    store_->submit(std::move(b));
  };
  store_->submit(std::move(first));
  ASSERT_EQ(both.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(dump_all(load().broker.positions), dump_all(newer.positions));
  EXPECT_EQ(store_->stats().batches, 2u);
}

TEST_P(TradeStoreTest, ABatchIsAtomicAndEveryCompletionSeesItsOutcome) {
  // A row the database refuses (invalid UTF-8 for PostgreSQL, NaN → NULL for SQLite's NOT
  // NULL) fails its whole batch: the good request beside it is not written either.
  std::promise<void> both;
  std::atomic<int> left{2};
  std::atomic<int> failures{0};
  auto count = [&](StoreStatus st) {
    if (!st) ++failures;
    if (--left == 0) both.set_value();
  };
  Changes good;
  good.positions = {position(1, 1)};
  Changes bad;
  bad.positions = {position(2, 1)};
  bad.positions[0].symbol = "\xff\xfe";
  bad.positions[0].price_open = std::nan("");
  CommitRequest first;
  first.done = [&](StoreStatus) {
    CommitRequest a = with(good);
    a.done = count;
    store_->submit(std::move(a));
    CommitRequest b = with(bad);
    b.done = count;
    store_->submit(std::move(b));
  };
  store_->submit(std::move(first));
  ASSERT_EQ(both.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(failures.load(), 2);
  EXPECT_TRUE(load().broker.positions.empty());
  // The store goes on: the next batch commits.
  EXPECT_TRUE(commit(with(good)));
  EXPECT_EQ(load().broker.positions.size(), 1u);
}

TEST_P(TradeStoreTest, ConcurrentInsertsOfOneIdempotencyKeyExactlyOneWins) {
  constexpr int kThreads = 8;
  std::latch go(kThreads);
  std::atomic<int> ok{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Changes ch;
      ch.positions = {position(100 + static_cast<Ticket>(t), 1)};
      CommitRequest r = with(ch);
      r.idempotency = idem("client:a", "key-1", kT0, "fp" + std::to_string(t));
      go.arrive_and_wait();
      auto st = commit(*store_, std::move(r));
      if (st) {
        ++ok;
      } else if (st.error().code == StorageError::Conflict) {
        EXPECT_EQ(st.error().field, "idempotency_key");
        ++conflicts;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  // Only the winner's rows were written.
  EXPECT_EQ(load().broker.positions.size(), 1u);
  auto rec = store_->find_idempotency("client:a", "key-1");
  ASSERT_TRUE(rec);
  ASSERT_TRUE(rec->has_value());
  EXPECT_EQ((*rec)->status, 201);
  EXPECT_EQ((*rec)->body, R"({"id":1})");
  EXPECT_EQ(load().broker.positions[0].ticket, 100 + std::stoull((*rec)->fingerprint.substr(2)));
  // Another caller may use the same key.
  CommitRequest other;
  other.idempotency = idem("client:b", "key-1", kT0);
  EXPECT_TRUE(commit(std::move(other)));
}

TEST_P(TradeStoreTest, TwoStoresOnOneDatabaseAgreeOnTheWinnerOfAKey) {
  auto replica = open_or_die();  // another mt5-api replica on the same database
  ASSERT_NE(replica, nullptr);
  std::latch go(2);
  StoreStatus a, b;
  std::thread ta([&] {
    CommitRequest r;
    r.idempotency = idem("client:a", "k", kT0, "A");
    go.arrive_and_wait();
    a = commit(*store_, std::move(r));
  });
  std::thread tb([&] {
    CommitRequest r;
    r.idempotency = idem("client:a", "k", kT0, "B");
    go.arrive_and_wait();
    b = commit(*replica, std::move(r));
  });
  ta.join();
  tb.join();
  EXPECT_NE(static_cast<bool>(a), static_cast<bool>(b));
  const StoreStatus& lost = a ? b : a;
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, StorageError::Conflict);
}

TEST_P(TradeStoreTest, IdempotencyRecordsExpireAfter24Hours) {
  CommitRequest r;
  r.idempotency = idem("client:a", "k", clock_.now_seconds());
  ASSERT_TRUE(commit(std::move(r)));
  clock_.advance(24 * 3600 - 1);
  auto found = store_->find_idempotency("client:a", "k");
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->has_value());
  CommitRequest again;
  again.idempotency = idem("client:a", "k", clock_.now_seconds(), "fp2");
  auto st = commit(std::move(again));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, StorageError::Conflict);

  clock_.advance(2);  // 24 h + 1 s
  found = store_->find_idempotency("client:a", "k");
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->has_value());
  // The expired key can be used again (the stale record is replaced) …
  CommitRequest reuse;
  reuse.idempotency = idem("client:a", "k", clock_.now_seconds(), "fp3");
  ASSERT_TRUE(commit(std::move(reuse)));
  found = store_->find_idempotency("client:a", "k");
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->fingerprint, "fp3");
  // … and purging removes only expired records.
  CommitRequest old;
  old.idempotency = idem("client:a", "old", clock_.now_seconds() - 24 * 3600 - 5);
  ASSERT_TRUE(commit(std::move(old)));
  auto purged = store_->purge_expired();
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1);
  found = store_->find_idempotency("client:a", "k");
  ASSERT_TRUE(found && found->has_value());
}

TEST_P(TradeStoreTest, ABacklogOfExpiredRecordsIsPurgedInChunks) {
  constexpr int kRecords = 2 * static_cast<int>(TradeStore::kPurgeChunk) + 1;
  std::vector<std::future<StoreStatus>> done;
  for (int i = 0; i < kRecords; ++i) {
    auto promise = std::make_shared<std::promise<StoreStatus>>();
    done.push_back(promise->get_future());
    CommitRequest r;
    r.idempotency = idem("client:a", "old-" + std::to_string(i), kT0 - 24 * 3600 - 1);
    r.done = [promise](StoreStatus st) { promise->set_value(std::move(st)); };
    store_->submit(std::move(r));
  }
  for (auto& f : done) ASSERT_TRUE(f.get());
  CommitRequest live;
  live.idempotency = idem("client:a", "live", kT0);
  ASSERT_TRUE(commit(std::move(live)));
  auto purged = store_->purge_expired();
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, kRecords);
  auto found = store_->find_idempotency("client:a", "live");
  ASSERT_TRUE(found && found->has_value());
}

TEST_P(TradeStoreTest, AnAccountKeyAndALoginAreBoundOnce) {
  CommitRequest a;
  a.binding = AccountBinding{"user:1", 10};
  ASSERT_TRUE(commit(std::move(a)));
  for (auto binding : {AccountBinding{"user:1", 11}, AccountBinding{"user:2", 10}}) {
    CommitRequest b;
    b.binding = binding;
    b.changes.accounts = {account(binding.login, 1)};
    auto st = commit(std::move(b));
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, StorageError::Conflict);
    EXPECT_EQ(st.error().field, "account_key");
  }
  auto st = load();
  ASSERT_EQ(st.bindings.size(), 1u);
  EXPECT_EQ(st.bindings[0].login, 10u);
  EXPECT_TRUE(st.broker.accounts.empty());  // the refused requests wrote nothing
}

TEST_P(TradeStoreTest, ABindingIsFoundByItsAccountKey) {
  CommitRequest a;
  a.binding = AccountBinding{"client:alpha", 5000001};
  ASSERT_TRUE(commit(std::move(a)));
  auto other = open_or_die();  // another replica's store on the same database
  auto found = other->find_binding("client:alpha");
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->value_or(0), 5000001u);
  auto missing = other->find_binding("client:beta");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST_P(TradeStoreTest, AClosedPositionAndAFinishedOrderAreNeverOpenedAgain) {
  // Two replicas read one broker: one commits a close while the other's older read, which still
  // saw the position open, is on its way. Each store's step sequences are its own, so only the
  // rows themselves can say which is final.
  Changes closed;
  closed.positions = {position(5, 1, true)};
  closed.orders = {filled_order(6, 1)};
  ASSERT_TRUE(commit(with(closed)));
  auto other = open_or_die();
  Changes stale;
  stale.positions = {position(5, 1), position(7, 1)};  // 7 is new: it is written
  stale.orders = {order(6, 1)};
  ASSERT_TRUE(commit(*other, with(stale)));
  auto st = load();
  ASSERT_EQ(st.broker.positions.size(), 2u);
  EXPECT_EQ(dump(st.broker.positions[0]), dump(closed.positions[0]));
  EXPECT_EQ(dump(st.broker.positions[1]), dump(position(7, 1)));
  EXPECT_EQ(dump_all(st.broker.orders), dump_all(closed.orders));
  // An open position's update is still written (only the final state is kept as it is).
  Position moved = position(7, 1);
  moved.sl = 1.1;
  Changes update;
  update.positions = {moved};
  ASSERT_TRUE(commit(*other, with(update)));
  EXPECT_EQ(dump(load().broker.positions[1]), dump(moved));
}

TEST_P(TradeStoreTest, ClosedTradesPageByDescendingTicketAndDealsByTime) {
  Changes ch;
  for (Ticket t = 1; t <= 25; ++t) {
    auto p = position(t, t % 5 == 0 ? 2 : 1, /*closed=*/t % 3 != 0);
    if (t % 2 == 0) p.symbol = "GBPUSD";
    ch.positions.push_back(p);
    ch.deals.push_back(deal(100 + t, 1, t, kT0 * 1000 + static_cast<TimeMs>(t)));
  }
  ASSERT_TRUE(commit(with(ch)));
  std::vector<Ticket> expected;
  for (Ticket t = 25; t >= 1; --t) {
    if (t % 5 != 0 && t % 3 != 0) expected.push_back(t);
  }
  std::vector<Ticket> seen;
  std::optional<Ticket> cursor;
  for (int page = 0; page < 10; ++page) {
    auto r = store_->closed_positions(1, "", cursor, 4);
    ASSERT_TRUE(r) << r.error().message;
    for (const auto& p : *r) {
      EXPECT_TRUE(p.closed);
      EXPECT_EQ(p.login, 1u);
      seen.push_back(p.ticket);
    }
    if (r->size() < 4) break;
    cursor = r->back().ticket;
  }
  EXPECT_EQ(seen, expected);
  auto gbp = store_->closed_positions(1, "GBPUSD", std::nullopt, 100);
  ASSERT_TRUE(gbp);
  for (const auto& p : *gbp) EXPECT_EQ(p.symbol, "GBPUSD");
  EXPECT_FALSE(gbp->empty());

  auto one = store_->position(1, 4);
  ASSERT_TRUE(one && one->has_value());
  EXPECT_EQ((*one)->ticket, 4u);
  auto foreign = store_->position(2, 4);  // another login's ticket
  ASSERT_TRUE(foreign);
  EXPECT_FALSE(foreign->has_value());

  auto deals = store_->deals(1, kT0 * 1000 + 3, kT0 * 1000 + 7, std::nullopt, 100);
  ASSERT_TRUE(deals);
  ASSERT_EQ(deals->size(), 4u);
  EXPECT_EQ((*deals)[0].ticket, 103u);
  EXPECT_EQ((*deals)[3].ticket, 106u);
  auto after = store_->deals(1, kT0 * 1000 + 3, kT0 * 1000 + 7, DealCursor{(*deals)[1].time_msc, 104}, 100);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 2u);  // the page after deal 104
  EXPECT_EQ((*after)[0].ticket, 105u);
}

TEST_P(TradeStoreTest, LoadRestoresEveryOpenRowAndTheRecentHistoryOfEachAccount) {
  Changes ch;
  for (Ticket t = 1; t <= 10; ++t) ch.positions.push_back(position(t, 1, /*closed=*/t > 2));
  for (Ticket t = 11; t <= 15; ++t) ch.positions.push_back(position(t, 2, /*closed=*/t < 15));
  ch.orders.push_back(order(20, 1));  // pending
  for (Ticket t = 21; t <= 26; ++t) {
    auto o = order(t, 1);
    o.state = OrderState::Filled;
    ch.orders.push_back(o);
  }
  auto partial_close = deal(100, 1, /*position=*/1, kT0 * 1000);  // the oldest deal of all
  partial_close.entry = DealEntry::Out;
  ch.deals.push_back(partial_close);
  for (Ticket t = 101; t <= 110; ++t) ch.deals.push_back(deal(t, 1, 3, kT0 * 1000 + static_cast<TimeMs>(t)));
  ASSERT_TRUE(commit(with(ch)));

  auto bounded = store_->load(3);
  ASSERT_TRUE(bounded);
  auto tickets = [](const auto& rows) {
    std::vector<Ticket> out;
    for (const auto& r : rows) out.push_back(r.ticket);
    return out;
  };
  const auto& b = bounded->broker;
  EXPECT_EQ(tickets(b.positions), (std::vector<Ticket>{1, 2, 8, 9, 10, 12, 13, 14, 15}));
  EXPECT_EQ(tickets(b.orders), (std::vector<Ticket>{20, 24, 25, 26}));
  EXPECT_EQ(tickets(b.deals), (std::vector<Ticket>{100, 108, 109, 110}));  // 100: an open position's
  EXPECT_EQ(b.next_ticket, 111u);

  auto all = store_->load();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->broker.positions.size(), 15u);
  EXPECT_EQ(all->broker.orders.size(), 7u);
  EXPECT_EQ(all->broker.deals.size(), 11u);
}

TEST_P(TradeStoreTest, AFullQueueIsRefusedAtOnce) {
  auto store = open_or_die([] {
    TradeStoreOptions o;
    o.queue_capacity = 1;
    return o;
  }());
  ASSERT_NE(store, nullptr);
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> entered;
  CommitRequest blocker;
  blocker.done = [&, released](StoreStatus) {
    entered.set_value();
    released.wait();  // holds the writer
  };
  ASSERT_TRUE(store->submit(std::move(blocker)));
  entered.get_future().wait();
  CommitRequest queued;
  std::promise<StoreStatus> queued_done;
  queued.done = [&](StoreStatus st) { queued_done.set_value(st); };
  ASSERT_TRUE(store->submit(std::move(queued)));  // fills the queue
  bool inline_called = false;
  CommitRequest refused;
  refused.done = [&](StoreStatus st) {
    inline_called = true;
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, StorageError::Unavailable);
  };
  EXPECT_FALSE(store->submit(std::move(refused)));
  EXPECT_TRUE(inline_called);
  release.set_value();
  EXPECT_TRUE(queued_done.get_future().get());
}

TEST_P(TradeStoreTest, AStoppedDatabaseFailsFastThenRecovers) {
  if (GetParam() != "postgresql") GTEST_SKIP() << "outage is a PostgreSQL scenario";
  auto& server = PgServerEnvironment::server();
  if (server.external()) GTEST_SKIP() << "cannot stop an external server";
  Changes before;
  before.positions = {position(1, 1)};
  ASSERT_TRUE(commit(with(before)));

  server.stop();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    Changes ch;
    ch.positions = {position(100 + static_cast<Ticket>(i), 1)};
    auto st = commit(with(ch));
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, StorageError::Unavailable);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  auto read = store_->load();
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, StorageError::Unavailable);

  server.restart();
  // Back within a few retry windows; nothing refused during the outage was written.
  StoreStatus st = StorageFailure{};
  for (int attempt = 0; attempt < 100 && !st; ++attempt) {
    Changes ch;
    ch.positions = {position(2, 1)};
    st = commit(with(ch));
    if (!st) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(st) << st.error().message;
  auto after = load();
  ASSERT_EQ(after.broker.positions.size(), 2u);
  EXPECT_EQ(after.broker.positions[0].ticket, 1u);
  EXPECT_EQ(after.broker.positions[1].ticket, 2u);
}

TEST_P(TradeStoreTest, ABatchLargerThanOneStatementIsWrittenWhole) {
  // Beyond one statement's chunk and parameter budget: several statements, one transaction.
  Changes ch;
  for (Ticket t = 1; t <= 2000; ++t) {
    ch.positions.push_back(position(t, 1 + t % 7, t % 2 == 0));
    ch.deals.push_back(deal(10000 + t, 1 + t % 7, t, kT0 + static_cast<TimeMs>(t)));
  }
  for (Ticket t = 1; t <= 600; ++t) ch.orders.push_back(order(20000 + t, 1));
  for (Login l = 1; l <= 7; ++l) ch.accounts.push_back(account(l, 100.0 * static_cast<double>(l)));
  ASSERT_TRUE(commit(with(ch)));
  auto st = load();
  EXPECT_EQ(dump_all(st.broker.positions), dump_all(ch.positions));
  EXPECT_EQ(dump_all(st.broker.deals), dump_all(ch.deals));
  EXPECT_EQ(dump_all(st.broker.orders), dump_all(ch.orders));
  EXPECT_EQ(dump_all(st.broker.accounts), dump_all(ch.accounts));
  EXPECT_EQ(st.broker.next_ticket, 20601u);
}

TEST_P(TradeStoreTest, ManyConcurrentRequestsShareTransactions) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<StoreStatus>> futures;
      for (int i = 0; i < kPerThread; ++i) {
        const Ticket ticket = static_cast<Ticket>(t * kPerThread + i + 1);
        auto promise = std::make_shared<std::promise<StoreStatus>>();
        futures.push_back(promise->get_future());
        Changes ch;
        ch.positions = {position(ticket, 1)};
        ch.deals = {deal(ticket + 100000, 1, ticket, kT0)};
        CommitRequest r = with(ch);
        r.idempotency = idem("c" + std::to_string(t), std::to_string(i), kT0);
        r.done = [promise](StoreStatus st) { promise->set_value(std::move(st)); };
        store_->submit(std::move(r));
      }
      for (auto& f : futures) {
        if (f.get()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  const auto stats = store_->stats();
  EXPECT_EQ(stats.committed, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_LE(stats.batches, stats.committed);
  auto st = load();
  EXPECT_EQ(st.broker.positions.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(st.broker.next_ticket, 100000u + kThreads * kPerThread + 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, TradeStoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& param_info) { return param_info.param; });

TEST(TradeStoreOpen, AnUnknownSchemeIsInvalid) {
  ManualClock clock(kT0);
  auto s = TradeStore::open("mysql://x", clock);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, StorageError::Invalid);
}

}  // namespace
}  // namespace permiso::trading
