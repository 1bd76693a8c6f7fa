// Upgrades keep trades: for every schema version k of mt5-api's trade store, a database built
// by the first k migrations (TradeStore::migrations()) and filled with plain SQL (what a release
// at k wrote) is opened the normal way (TradeStore::open applies the rest), and every account,
// binding, position, order, deal, idempotency record and the ticket sequence are read back
// through the store's API. SQLite (temp file) and PostgreSQL (tests/support).
#include "pg_server.hpp"
#include "trading/store/trade_store.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

namespace permiso::trading {
namespace {

using storage::Migration;
using storage::Params;
using storage::SqlConn;
using test::PgServerEnvironment;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PgServerEnvironment);

constexpr std::int64_t kT0 = 1'760'000'000;
constexpr TimeMs kMs0 = kT0 * 1000;
constexpr Login kLogin = 5001;
// seed() knows the tables and columns of every version up to this one. A new migration makes
// FixturesKnowEveryMigration fail until seed() writes what it adds (and check() reads it).
constexpr std::int64_t kFixtureVersion = 1;

std::vector<Migration> first(const std::vector<Migration>& all, std::int64_t k) {
  std::vector<Migration> prefix;
  std::copy_if(all.begin(), all.end(), std::back_inserter(prefix), [k](const Migration& m) { return m.version <= k; });
  return prefix;
}

std::int64_t latest(const std::vector<Migration>& all) {
  std::int64_t v = 0;
  for (const auto& m : all) v = std::max<std::int64_t>(v, m.version);
  return v;
}

/// What a release at schema `version` wrote: an account bound to a principal, a buy position
/// still open and a sell position closed at a stop loss, the orders and deals behind them
/// (and a pending limit order), the deposit, an idempotency record of the last POST /trades
/// and the ticket sequence. Booleans as TRUE/FALSE: both dialects read them.
storage::StorageStatus seed(storage::Db& db, std::int64_t /*version*/) {
  return db.write([&](SqlConn& c) -> storage::StorageStatus {
    const std::vector<std::pair<std::string, Params>> statements{
        {"INSERT INTO mt5_accounts (login, name, server, currency, leverage, balance, credit, profit, equity, margin, "
         "margin_free, margin_level, margin_so_call, margin_so_so, demo) VALUES ($1, 'client:svc', 'Permiso-Demo', "
         "'EUR', 200, 10012.5, 0, 3.25, 10015.75, 54.1, 9961.65, 18513.40, 100, 50, TRUE)",
         {kLogin}},
        {"INSERT INTO mt5_account_keys (account_key, login, created_at) VALUES ('client:svc', $1, $2)", {kLogin, kT0}},
        {"INSERT INTO mt5_positions (ticket, login, symbol, type, volume, price_open, price_current, sl, tp, profit, "
         "swap, commission, magic, comment, reason, time_msc, time_update_msc, closed) VALUES (11, $1, 'EURUSD', 0, "
         "0.1, 1.0821, 1.08535, 1.075, 1.095, 3.25, -0.12, 0, 42, 'open one', 0, $2, $3, FALSE)",
         {kLogin, kMs0 + 1000, kMs0 + 9000}},
        {"INSERT INTO mt5_positions (ticket, login, symbol, type, volume, price_open, price_current, sl, tp, profit, "
         "swap, commission, magic, comment, reason, time_msc, time_update_msc, closed, close_time_msc, close_price, "
         "close_reason) VALUES (14, $1, 'GBPUSD', 1, 0.2, 1.2701, 1.2751, 1.2751, 0, -10, 0, 0, 0, 'closed one', 0, "
         "$2, $3, TRUE, $3, 1.2751, 4)",
         {kLogin, kMs0 + 2000, kMs0 + 5000}},
        {"INSERT INTO mt5_orders (ticket, login, symbol, type, state, type_filling, volume_initial, volume_current, "
         "price_open, price_current, sl, tp, magic, comment, position_id, time_setup_msc, time_done_msc) VALUES "
         "(10, $1, 'EURUSD', 0, 4, 0, 0.1, 0, 1.0821, 1.0821, 1.075, 1.095, 42, 'open one', 11, $2, $2), "
         "(13, $1, 'GBPUSD', 1, 4, 0, 0.2, 0, 1.2701, 1.2701, 1.2751, 0, 0, 'closed one', 14, $3, $3), "
         "(16, $1, 'EURUSD', 2, 1, 2, 0.3, 0.3, 1.07, 1.08535, 0, 0, 0, 'limit', 0, $4, 0)",
         {kLogin, kMs0 + 1000, kMs0 + 2000, kMs0 + 6000}},
        {"INSERT INTO mt5_deals (ticket, login, order_ticket, position_id, symbol, type, entry, reason, volume, price, "
         "profit, commission, swap, magic, comment, time_msc) VALUES "
         "(9, $1, 0, 0, '', 2, 0, 0, 0, 0, 10022.5, 0, 0, 0, 'deposit', $2), "
         "(12, $1, 10, 11, 'EURUSD', 0, 0, 0, 0.1, 1.0821, 0, 0, 0, 42, 'open one', $3), "
         "(15, $1, 13, 14, 'GBPUSD', 1, 0, 0, 0.2, 1.2701, 0, 0, 0, 0, 'closed one', $4), "
         "(17, $1, 0, 14, 'GBPUSD', 0, 1, 4, 0.2, 1.2751, -10, 0, 0, 0, 'sl 1.2751', $5)",
         {kLogin, kMs0, kMs0 + 1000, kMs0 + 2000, kMs0 + 5000}},
        {"INSERT INTO mt5_idempotency (caller, idem_key, fingerprint, status, body, created_at) VALUES "
         "('client:svc', 'order-7', 'sha256:abc', 201, '{\"id\":11}', $1)",
         {kT0 - 60}},
        {"INSERT INTO mt5_sequences (name, value) VALUES ('ticket', 40)", {}},
    };
    for (const auto& [sql, params] : statements) {
      if (auto r = c.exec(sql, params); !r) return r.error();
    }
    return {};
  });
}

template <class T>
const T* find(const std::vector<T>& rows, Ticket ticket) {
  auto it = std::find_if(rows.begin(), rows.end(), [ticket](const T& r) { return r.ticket == ticket; });
  return it == rows.end() ? nullptr : &*it;
}

/// Submits and waits for the completion (a liveness bound, not a timing assertion).
StoreStatus commit(TradeStore& store, CommitRequest req) {
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

/// Every row seed() wrote, through the current store, and the upgraded store still writing.
void check(TradeStore& store) {
  auto state = store.load();
  ASSERT_TRUE(state) << state.error().message;
  ASSERT_EQ(state->broker.accounts.size(), 1u);
  const auto& account = state->broker.accounts[0];
  EXPECT_EQ(account.login, kLogin);
  EXPECT_EQ(account.name, "client:svc");
  EXPECT_EQ(account.server, "Permiso-Demo");
  EXPECT_EQ(account.currency, "EUR");
  EXPECT_EQ(account.leverage, 200);
  EXPECT_EQ(account.balance, 10012.5);
  EXPECT_EQ(account.equity, 10015.75);
  EXPECT_EQ(account.margin_level, 18513.40);
  EXPECT_TRUE(account.demo);
  ASSERT_EQ(state->bindings.size(), 1u);
  EXPECT_EQ(state->bindings[0].account_key, "client:svc");
  EXPECT_EQ(state->bindings[0].login, kLogin);
  EXPECT_EQ(state->broker.next_ticket, 40u) << "the ticket sequence continues where the old release left it";

  const auto* open = find(state->broker.positions, 11);
  ASSERT_NE(open, nullptr);
  EXPECT_FALSE(open->closed);
  EXPECT_EQ(open->symbol, "EURUSD");
  EXPECT_EQ(open->type, PositionType::Buy);
  EXPECT_EQ(open->volume, 0.1);
  EXPECT_EQ(open->price_open, 1.0821);
  EXPECT_EQ(open->sl, 1.075);
  EXPECT_EQ(open->tp, 1.095);
  EXPECT_EQ(open->swap, -0.12);
  EXPECT_EQ(open->magic, 42u);
  EXPECT_EQ(open->comment, "open one");
  EXPECT_EQ(open->time_msc, kMs0 + 1000);
  const auto* pending = find(state->broker.orders, 16);
  ASSERT_NE(pending, nullptr);
  EXPECT_EQ(pending->type, OrderType::BuyLimit);
  EXPECT_EQ(pending->state, OrderState::Placed);
  EXPECT_EQ(pending->type_filling, Filling::Return);
  EXPECT_EQ(pending->volume_current, 0.3);
  EXPECT_EQ(pending->price_open, 1.07);

  // The history queries the handlers serve GET /trades?status=closed and GET /history/deals by.
  auto closed = store.closed_positions(kLogin, "", std::nullopt, 10);
  ASSERT_TRUE(closed) << closed.error().message;
  ASSERT_EQ(closed->size(), 1u);
  const auto& c = (*closed)[0];
  EXPECT_EQ(c.ticket, 14u);
  EXPECT_EQ(c.type, PositionType::Sell);
  EXPECT_TRUE(c.closed);
  EXPECT_EQ(c.profit, -10);
  EXPECT_EQ(c.close_time_msc, kMs0 + 5000);
  EXPECT_EQ(c.close_price, 1.2751);
  EXPECT_EQ(c.close_reason, DealReason::Sl);
  auto one = store.position(kLogin, 11);
  ASSERT_TRUE(one) << one.error().message;
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->price_current, 1.08535);
  auto deals = store.deals(kLogin, kMs0, kMs0 + 60'000, std::nullopt, 10);
  ASSERT_TRUE(deals) << deals.error().message;
  ASSERT_EQ(deals->size(), 4u);
  std::vector<Ticket> order;
  for (const auto& d : *deals) order.push_back(d.ticket);
  EXPECT_EQ(order, (std::vector<Ticket>{9, 12, 15, 17})) << "oldest first";
  EXPECT_EQ((*deals)[0].type, DealType::Balance);
  EXPECT_EQ((*deals)[0].profit, 10022.5);
  EXPECT_EQ((*deals)[3].entry, DealEntry::Out);
  EXPECT_EQ((*deals)[3].order, 0u);
  EXPECT_EQ((*deals)[3].position_id, 14u);
  EXPECT_EQ((*deals)[3].reason, DealReason::Sl);

  auto binding = store.find_binding("client:svc");
  ASSERT_TRUE(binding) << binding.error().message;
  EXPECT_EQ(binding->value_or(0), kLogin);
  // A retry of the last order after the upgrade replays the answer the old release stored.
  auto record = store.find_idempotency("client:svc", "order-7");
  ASSERT_TRUE(record) << record.error().message;
  ASSERT_TRUE(record->has_value());
  EXPECT_EQ((*record)->fingerprint, "sha256:abc");
  EXPECT_EQ((*record)->status, 201);
  EXPECT_EQ((*record)->body, R"({"id":11})");
  EXPECT_EQ((*record)->created_at, kT0 - 60);

  // And the upgraded store takes writes: the open position closes, a new one opens.
  Position closing = *open;
  closing.closed = true;
  closing.close_time_msc = kMs0 + 20'000;
  closing.close_price = 1.0861;
  closing.close_reason = DealReason::Client;
  Position fresh;
  fresh.ticket = 40;
  fresh.login = kLogin;
  fresh.symbol = "USDJPY";
  fresh.volume = 1;
  fresh.price_open = 151.2;
  fresh.time_msc = kMs0 + 21'000;
  CommitRequest req;
  req.changes.positions = {closing, fresh};
  auto committed = commit(store, std::move(req));
  ASSERT_TRUE(committed) << committed.error().message;
  auto after = store.closed_positions(kLogin, "", std::nullopt, 10);
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->size(), 2u);
  auto added = store.position(kLogin, 40);
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_TRUE(added->has_value());
}

class TradeStoreUpgradeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    (void)kEnv;
    if (sqlite()) {
      char tmpl[] = "/tmp/permiso-trade-upgrade-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
    }
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  [[nodiscard]] bool sqlite() const { return GetParam() == "sqlite"; }

  std::string fresh_database(std::int64_t version) {
    if (sqlite()) return "sqlite://" + dir_ + "/at-version-" + std::to_string(version) + ".db";
    return PgServerEnvironment::server().create_database();
  }

  ManualClock clock_{kT0};
  std::string dir_;
};

TEST_P(TradeStoreUpgradeTest, FixturesKnowEveryMigration) {
  EXPECT_EQ(latest(TradeStore::migrations()), kFixtureVersion)
      << "a new migration: teach seed() the rows a release at that version writes, and check() to read them";
}

TEST_P(TradeStoreUpgradeTest, TradesWrittenAtEveryEarlierVersionAreServedByTheCurrentStore) {
  const auto& all = TradeStore::migrations();
  const auto newest = latest(all);
  ASSERT_GE(newest, 1);
  // Up to the newest too: with one version so far, that is the only one, and it proves the
  // fixture the first upgrade will start from.
  for (std::int64_t k = 1; k <= newest; ++k) {
    SCOPED_TRACE("database written at schema version " + std::to_string(k) + " of " + std::to_string(newest));
    const auto url = fresh_database(k);
    {
      auto db = storage::open_db(url);
      ASSERT_TRUE(db) << db.error().message;
      auto applied =
          storage::apply_migrations(**db, TradeStore::kMigrationTable, first(all, k), TradeStore::kMigrationLock);
      ASSERT_TRUE(applied) << applied.error().message;
      ASSERT_EQ(static_cast<std::int64_t>(applied->pending.size()), k);
      auto seeded = seed(**db, std::min(k, kFixtureVersion));
      ASSERT_TRUE(seeded) << seeded.error().message;
    }
    auto before = TradeStore::plan_migrations(url);
    ASSERT_TRUE(before) << before.error().message;
    EXPECT_EQ(before->current_version, k);
    EXPECT_EQ(static_cast<std::int64_t>(before->pending.size()), newest - k);

    auto store = TradeStore::open(url, clock_);  // the start-up path: applies what is pending
    ASSERT_TRUE(store) << store.error().message;
    auto after = TradeStore::plan_migrations(url);
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_EQ(after->current_version, newest);
    EXPECT_TRUE(after->pending.empty());
    check(**store);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TradeStoreUpgradeTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace permiso::trading
