// The public SQL layer (storage/sql.hpp) other services build on: open_db from a URL, migrations
// tracked in a caller-chosen table beside permiso-auth's, doubles that round-trip bit for bit.
// Run against SQLite (temp file) and a real PostgreSQL server (tests/support).
#include "pg_server.hpp"
#include "storage/sql.hpp"
#include "storage/storage.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>

namespace permiso::storage {
namespace {

using test::PgServerEnvironment;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PgServerEnvironment);

class SqlLayerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    (void)kEnv;
    if (GetParam() == "sqlite") {
      char tmpl[] = "/tmp/permiso-sql-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
      url_ = "sqlite://" + dir_ + "/test.db";
    } else {
      url_ = PgServerEnvironment::server().create_database();
    }
    auto db = open_db(url_);
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
  }
  void TearDown() override {
    db_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::vector<Row> query(const std::string& sql, const Params& params = {}) {
    std::vector<Row> out;
    auto st = db_->read([&](SqlConn& c) -> StorageStatus {
      auto r = c.exec(sql, params);
      if (!r) return r.error();
      out = std::move(r->rows);
      return {};
    });
    EXPECT_TRUE(st) << st.error().message;
    return out;
  }

  std::string dir_;
  std::string url_;
  std::unique_ptr<Db> db_;
};

const std::vector<Migration> kV1{{1, "widgets", {"CREATE TABLE mt5_widgets (id BIGINT PRIMARY KEY, v TEXT NOT NULL)"}}};
const std::vector<Migration> kV1V2{
    {1, "widgets", {"CREATE TABLE mt5_widgets (id BIGINT PRIMARY KEY, v TEXT NOT NULL)"}},
    {2,
     "gadgets",
     {"CREATE TABLE mt5_gadgets (id BIGINT PRIMARY KEY)", "CREATE INDEX ix_mt5_gadgets ON mt5_gadgets (id)"}}};

TEST_P(SqlLayerTest, MigrationsAreTrackedInTheCallersTableBesidePermisoAuth) {
  ASSERT_TRUE(apply_migrations(*db_, "mt5_schema_migrations", kV1, 7052001));
  // permiso-auth's own schema and table coexist in the same database.
  auto auth = open_storage(url_);
  ASSERT_TRUE(auth) << auth.error().message;
  auto mine = query("SELECT version, name FROM mt5_schema_migrations ORDER BY version");
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0][0].value_or(""), "1");
  EXPECT_EQ(mine[0][1].value_or(""), "widgets");
  auto theirs = query("SELECT version FROM schema_migrations");
  EXPECT_FALSE(theirs.empty());

  // Re-running is a no-op; a new version applies only itself.
  ASSERT_TRUE(apply_migrations(*db_, "mt5_schema_migrations", kV1, 7052001));
  ASSERT_TRUE(apply_migrations(*db_, "mt5_schema_migrations", kV1V2, 7052001));
  EXPECT_EQ(query("SELECT version FROM mt5_schema_migrations").size(), 2u);
  EXPECT_TRUE(query("SELECT id FROM mt5_gadgets").empty());
}

TEST_P(SqlLayerTest, AFailingMigrationAppliesNothing) {
  const std::vector<Migration> bad{{1, "ok", {"CREATE TABLE mt5_a (id BIGINT PRIMARY KEY)"}},
                                   {2, "broken", {"CREATE TABLE mt5_b (id BIGINT PRIMARY KEY)", "THIS IS NOT SQL"}}};
  EXPECT_FALSE(apply_migrations(*db_, "mt5_schema_migrations", bad, 7052001));
  // One transaction: not even version 1 or its table stayed.
  ASSERT_TRUE(apply_migrations(*db_, "mt5_schema_migrations", kV1, 7052001));
  EXPECT_EQ(query("SELECT version FROM mt5_schema_migrations").size(), 1u);
}

TEST_P(SqlLayerTest, TheTableNameMustBeAPlainIdentifier) {
  for (const char* name : {"", "x; DROP TABLE users", "Mt5", "a-b", "t\"q"}) {
    auto st = apply_migrations(*db_, name, kV1, 7052001);
    ASSERT_FALSE(st) << name;
    EXPECT_EQ(st.error().code, StorageError::Invalid);
    EXPECT_EQ(st.error().field, "table");
  }
}

TEST_P(SqlLayerTest, DoublesRoundTripBitForBit) {
  const std::vector<Migration> m{
      {1, "reals", {"CREATE TABLE mt5_reals (id BIGINT PRIMARY KEY, x DOUBLE PRECISION NOT NULL)"}}};
  ASSERT_TRUE(apply_migrations(*db_, "mt5_schema_migrations", m, 7052001));
  // Not -0.0: SQLite stores integral REALs as integers, which drops the sign of zero.
  const double values[] = {
      0.1,   1.1 + 2.2,          1.08437, 1e-300, 123456.78901234567, 5e-324, std::numeric_limits<double>::max(),
      -42.5, 0.30000000000000004};
  auto st = db_->write([&](SqlConn& c) -> StorageStatus {
    std::int64_t id = 0;
    for (double v : values) {
      if (auto r = c.exec("INSERT INTO mt5_reals (id, x) VALUES ($1, $2)", {id++, v}); !r) {
        return r.error();
      }
    }
    return {};
  });
  ASSERT_TRUE(st) << st.error().message;
  auto rows = query("SELECT id, x FROM mt5_reals ORDER BY id");
  ASSERT_EQ(rows.size(), std::size(values));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string& cell = rows[i][1].value();
    double back = 1;
    const auto r = std::from_chars(cell.data(), cell.data() + cell.size(), back);
    ASSERT_EQ(r.ec, std::errc{}) << cell;
    EXPECT_EQ(std::memcmp(&back, &values[i], sizeof back), 0) << cell << " vs " << values[i];
  }
}

// SQLite keeps each connection's prepared statements by their SQL: a statement run again with
// other parameters, after failing midway, after a schema change, and after more distinct
// statements than the cache holds, still answers for its own parameters.
TEST_P(SqlLayerTest, ARepeatedStatementAnswersForItsOwnParameters) {
  const std::vector<Migration> m{{1, "kv", {"CREATE TABLE mt5_kv (k BIGINT PRIMARY KEY, v TEXT)"}}};
  ASSERT_TRUE(apply_migrations(*db_, "mt5_schema_migrations", m, 7052001));
  const std::string insert = "INSERT INTO mt5_kv (k, v) VALUES ($1, $2)";
  auto write = [&](const std::string& sql, const Params& p) {
    return db_->write([&](SqlConn& c) -> StorageStatus {
      if (auto r = c.exec(sql, p); !r) return r.error();
      return {};
    });
  };
  for (std::int64_t k = 0; k < 50; ++k) ASSERT_TRUE(write(insert, {k, "v" + std::to_string(k)}));
  // A duplicate key fails in the middle of the statement; the next use starts clean.
  auto dup = write(insert, {std::int64_t{7}, "again"});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, StorageError::Conflict);
  ASSERT_TRUE(write(insert, {std::int64_t{50}, std::nullopt}));
  // More distinct statements than a connection keeps, between two uses of the same one.
  for (int i = 0; i < 300; ++i) {
    const auto rows =
        query("SELECT v FROM mt5_kv WHERE k = $1 AND " + std::to_string(i) + " >= 0", {std::int64_t{i % 50}});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][0].value_or(""), "v" + std::to_string(i % 50));
  }
  // The schema changes under a kept statement: it is prepared again, not run stale.
  const std::vector<Migration> m2{{1, "kv", {"CREATE TABLE mt5_kv (k BIGINT PRIMARY KEY, v TEXT)"}},
                                  {2, "kv_note", {"ALTER TABLE mt5_kv ADD COLUMN note TEXT"}}};
  ASSERT_TRUE(apply_migrations(*db_, "mt5_schema_migrations", m2, 7052001));
  ASSERT_TRUE(write(insert, {std::int64_t{51}, "v51"}));
  const auto rows = query("SELECT k, v, note FROM mt5_kv WHERE k >= $1 ORDER BY k", {std::int64_t{49}});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][1].value_or(""), "v49");
  EXPECT_FALSE(rows[1][1].has_value());
  EXPECT_EQ(rows[2][1].value_or(""), "v51");
  EXPECT_FALSE(rows[2][2].has_value());
  EXPECT_EQ(query("SELECT v FROM mt5_kv WHERE k = $1", {std::int64_t{7}})[0][0].value_or(""), "v7");
}

// SQLite reads text parameters in place (SQLITE_STATIC): each run's values live only until its
// exec returns, so a reused statement must store and match this run's text, whole (under
// ASan, reading an earlier run's freed parameters would fail the test).
TEST_P(SqlLayerTest, LongTextParametersOfAReusedStatementAreStoredWhole) {
  const std::vector<Migration> m{{1, "kv", {"CREATE TABLE mt5_kv (k BIGINT PRIMARY KEY, v TEXT)"}}};
  ASSERT_TRUE(apply_migrations(*db_, "mt5_schema_migrations", m, 7052001));
  const auto value = [](std::int64_t k) { return std::string(4096 + static_cast<std::size_t>(k), char('a' + k)); };
  for (std::int64_t k = 0; k < 20; ++k) {
    auto st = db_->write([&](SqlConn& c) -> StorageStatus {
      auto r = c.exec("INSERT INTO mt5_kv (k, v) VALUES ($1, $2)", Params{k, value(k)});
      if (!r) return r.error();
      return {};
    });
    ASSERT_TRUE(st) << st.error().message;
  }
  for (std::int64_t k = 19; k >= 0; --k) {
    const auto rows = query("SELECT k, v FROM mt5_kv WHERE v = $1", Params{value(k)});
    ASSERT_EQ(rows.size(), 1u) << k;
    EXPECT_EQ(rows[0][0].value_or(""), std::to_string(k));
    EXPECT_EQ(rows[0][1].value_or(""), value(k));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SqlLayerTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

TEST(OpenDb, UnknownSchemeIsInvalid) {
  auto db = open_db("mysql://localhost/x");
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, StorageError::Invalid);
  EXPECT_EQ(db.error().field, "database_url");
}

}  // namespace
}  // namespace permiso::storage
