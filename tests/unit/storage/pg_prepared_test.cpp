// The PostgreSQL backend's server-side prepared statements, against a real server: a statement
// used again is prepared once per connection, the per-connection cache stays bounded, the
// switch turns them off, and a connection recovers when the server loses its statements
// (DEALLOCATE ALL, a changed result type, a restart). Every Db here has one connection, so
// pg_prepared_statements, read through it, is the session that ran the statements.
#include "pg_server.hpp"
#include "storage/sql.hpp"
#include "storage/storage.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace permiso::storage {
namespace {

using test::PgServerEnvironment;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PgServerEnvironment);

constexpr std::size_t kCacheCapacity = 256;  // StatementCache::kCapacity in pg_db.cpp
const std::string kSelect = "SELECT v FROM mt5_kv WHERE k = $1";

class PgPreparedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    (void)kEnv;
    url_ = PgServerEnvironment::server().create_database();
    // The schema and rows come through another Db, so db_'s session starts with nothing kept.
    const std::vector<Migration> m{{1,
                                    "kv",
                                    {"CREATE TABLE mt5_kv (k BIGINT PRIMARY KEY, v TEXT)",
                                     "INSERT INTO mt5_kv SELECT g, 'v' || g FROM generate_series(0, 9) AS g"}}};
    auto setup = open(true);
    ASSERT_TRUE(setup);
    ASSERT_TRUE(apply_migrations(*setup, "mt5_schema_migrations", m, 7052001));
    db_ = open(true);
    ASSERT_TRUE(db_);
    ASSERT_TRUE(prepared(*db_).empty());
  }

  std::unique_ptr<Db> open(bool prepared_statements) const {
    StorageOptions options;
    options.pool_size = 1;
    options.prepared_statements = prepared_statements;
    auto db = open_db(url_, options);
    EXPECT_TRUE(db) << db.error().message;
    return db ? std::move(*db) : nullptr;
  }

  // The statements this session holds prepared, by their SQL (parameterless: never prepared).
  static std::vector<std::string> prepared(Db& db) {
    std::vector<std::string> out;
    auto r = db.query("SELECT statement FROM pg_prepared_statements ORDER BY statement");
    EXPECT_TRUE(r) << r.error().message;
    if (r) {
      for (const auto& row : r->rows) out.push_back(row.at(0).value_or(""));
    }
    return out;
  }

  // kSelect for key k in a transaction of its own, and what it answered.
  static StorageResult<std::string> select_in_transaction(Db& db, std::int64_t k) {
    std::string v;
    auto st = db.read([&](SqlConn& c) -> StorageStatus {
      auto r = c.exec(kSelect, {k});
      if (!r) return r.error();
      v = r->rows.at(0).at(0).value_or("");
      return {};
    });
    if (!st) return st.error();
    return v;
  }

  static std::string select_alone(Db& db, std::int64_t k) {
    auto r = db.query(kSelect, {k});
    EXPECT_TRUE(r) << r.error().message;
    return r && r->rows.size() == 1 ? r->rows[0].at(0).value_or("") : "";
  }

  std::string url_;
  std::unique_ptr<Db> db_;
};

TEST_F(PgPreparedTest, AStatementUsedAgainIsPreparedOncePerConnection) {
  // The first use runs unnamed: a statement built once (a filter, a batch) takes no slot.
  EXPECT_EQ(select_alone(*db_, 1), "v1");
  EXPECT_TRUE(prepared(*db_).empty());
  for (std::int64_t k = 0; k < 10; ++k) EXPECT_EQ(select_alone(*db_, k), "v" + std::to_string(k));
  for (std::int64_t k = 0; k < 10; ++k) EXPECT_EQ(select_in_transaction(*db_, k).value(), "v" + std::to_string(k));
  EXPECT_EQ(prepared(*db_), std::vector<std::string>{kSelect});
}

TEST_F(PgPreparedTest, TheSameSqlWithOtherParameterTypesIsAnotherStatement) {
  const std::string sql = "SELECT $1::text IS NULL";
  for (int i = 0; i < 2; ++i) {
    auto text = db_->query(sql, {"x"});
    ASSERT_TRUE(text) << text.error().message;
    EXPECT_EQ(text->rows.at(0).at(0).value_or(""), "f");
    auto null = db_->query(sql, {std::nullopt});
    ASSERT_TRUE(null) << null.error().message;
    EXPECT_EQ(null->rows.at(0).at(0).value_or(""), "t");
  }
  EXPECT_EQ(prepared(*db_).size(), 2u);
}

TEST_F(PgPreparedTest, AConnectionKeepsAtMostItsCapacityAndStillAnswersBeyondIt) {
  constexpr int kDistinct = 300;
  auto sql = [](int i) { return "SELECT v FROM mt5_kv WHERE k = $1 AND " + std::to_string(i) + " >= 0"; };
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < kDistinct; ++i) {
      auto r = db_->query(sql(i), {std::int64_t{i % 10}});
      ASSERT_TRUE(r) << r.error().message;
      ASSERT_EQ(r->rows.size(), 1u);
      EXPECT_EQ(r->rows[0].at(0).value_or(""), "v" + std::to_string(i % 10));
    }
  }
  EXPECT_EQ(prepared(*db_).size(), kCacheCapacity);
  // The statements kept first stay kept: a full cache neither evicts nor grows.
  EXPECT_EQ(select_alone(*db_, 3), "v3");
  EXPECT_EQ(select_alone(*db_, 3), "v3");
  EXPECT_EQ(prepared(*db_).size(), kCacheCapacity);
}

// Long statements (the trade store's combined writes) cost the server memory in proportion to
// their text: a connection keeps at most 512 KiB of SQL, and never a statement over 64 KiB.
TEST_F(PgPreparedTest, AConnectionKeepsAtMostItsBudgetOfSqlAndNoStatementOver64KiB) {
  constexpr std::size_t kBudget = 512 * 1024;  // StatementCache::kMaxKeptBytes
  auto sql = [](int i, std::size_t pad) {
    return "SELECT v FROM mt5_kv WHERE k = $1 AND '" + std::string(pad, 'x') + "' <> '" + std::to_string(i) + "'";
  };
  const std::string huge = sql(-1, 65 * 1024);
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 20; ++i) EXPECT_EQ(db_->query(sql(i, 40 * 1024), {std::int64_t{i % 10}})->rows.size(), 1u);
    EXPECT_EQ(db_->query(huge, {std::int64_t{1}})->rows.size(), 1u);
  }
  const auto kept = prepared(*db_);
  std::size_t bytes = 0;
  for (const auto& s : kept) bytes += s.size();
  EXPECT_LE(bytes, kBudget);
  EXPECT_EQ(kept.size(), kBudget / (sql(0, 40 * 1024).size() + 4));  // + the key's "\0" "20,"
  EXPECT_EQ(std::count(kept.begin(), kept.end(), huge), 0);
}

TEST_F(PgPreparedTest, SwitchedOffNothingIsPrepared) {
  auto off = open(false);
  ASSERT_TRUE(off);
  for (std::int64_t k = 0; k < 10; ++k) {
    EXPECT_EQ(select_alone(*off, k), "v" + std::to_string(k));
    EXPECT_EQ(select_in_transaction(*off, k).value(), "v" + std::to_string(k));
  }
  EXPECT_TRUE(prepared(*off).empty());
}

TEST_F(PgPreparedTest, AStatementTheServerDroppedIsPreparedAgainAndRetriedAlone) {
  EXPECT_EQ(select_alone(*db_, 1), "v1");
  EXPECT_EQ(select_alone(*db_, 2), "v2");
  ASSERT_EQ(prepared(*db_).size(), 1u);
  ASSERT_TRUE(db_->query("DEALLOCATE ALL"));  // as a proxy's DISCARD ALL would
  ASSERT_TRUE(prepared(*db_).empty());
  // On its own (autocommit) the failed statement was all that ran: retried once, prepared anew.
  EXPECT_EQ(select_alone(*db_, 4), "v4");
  EXPECT_EQ(prepared(*db_), std::vector<std::string>{kSelect});
}

TEST_F(PgPreparedTest, InATransactionADroppedStatementFailsItOnceThenIsPreparedAgain) {
  EXPECT_EQ(select_in_transaction(*db_, 1).value(), "v1");
  EXPECT_EQ(select_in_transaction(*db_, 2).value(), "v2");
  ASSERT_EQ(prepared(*db_).size(), 1u);
  ASSERT_TRUE(db_->query("DEALLOCATE ALL"));
  // The error aborted the transaction: no retry inside it, the caller sees a failure.
  auto failed = select_in_transaction(*db_, 3);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, StorageError::Internal);
  // The connection itself is fine: the next transaction prepares the statement again.
  EXPECT_EQ(select_in_transaction(*db_, 3).value(), "v3");
  EXPECT_EQ(prepared(*db_), std::vector<std::string>{kSelect});
}

TEST_F(PgPreparedTest, AResultTypeChangedByAMigrationIsPreparedAgain) {
  const std::string star = "SELECT * FROM mt5_kv WHERE k = $1";
  for (int i = 0; i < 2; ++i) {
    auto r = db_->query(star, {std::int64_t{5}});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->rows.at(0).size(), 2u);
  }
  ASSERT_EQ(prepared(*db_).size(), 1u);
  ASSERT_TRUE(db_->query("ALTER TABLE mt5_kv ADD COLUMN note TEXT"));
  // 0A000 "cached plan must not change result type": the kept statement is dropped and the
  // call, alone in its transaction, runs again prepared afresh.
  auto r = db_->query(star, {std::int64_t{5}});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->rows[0].size(), 3u);
  EXPECT_EQ(r->rows[0].at(1).value_or(""), "v5");
  EXPECT_EQ(prepared(*db_), std::vector<std::string>{star});  // the stale one is deallocated
}

TEST_F(PgPreparedTest, AfterAServerRestartTheNewConnectionPreparesAfresh) {
  auto& server = PgServerEnvironment::server();
  if (server.external()) GTEST_SKIP() << "cannot restart an external server";
  EXPECT_EQ(select_in_transaction(*db_, 1).value(), "v1");
  EXPECT_EQ(select_in_transaction(*db_, 2).value(), "v2");
  ASSERT_EQ(prepared(*db_).size(), 1u);
  server.stop();
  server.restart();  // pg_ctl -w: returns once the server accepts connections
  // The pooled connection died with the server; BEGIN finds that and the call runs on a new
  // connection, whose cache starts empty (nothing is run under a name the server never saw).
  EXPECT_EQ(select_in_transaction(*db_, 6).value(), "v6");
  EXPECT_TRUE(prepared(*db_).empty());
  EXPECT_EQ(select_in_transaction(*db_, 7).value(), "v7");
  EXPECT_EQ(select_alone(*db_, 8), "v8");
  EXPECT_EQ(prepared(*db_), std::vector<std::string>{kSelect});
}

}  // namespace
}  // namespace permiso::storage
