// The migration plan behind `migrate --dry-run`: what apply_migrations would do, found without
// changing the database (no SQLite file created, PostgreSQL read in READ ONLY transactions),
// and a schema newer than the binary refused by the plan and by the start-up path alike.
// Run against SQLite (temp dir) and a real PostgreSQL server (tests/support).
#include "pg_server.hpp"
#include "storage/sql.hpp"
#include "storage/storage.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace permiso::storage {
namespace {

using test::PgServerEnvironment;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PgServerEnvironment);

constexpr std::int64_t kLock = 7052001;
const std::vector<Migration> kV1{{1, "widgets", {"CREATE TABLE mt5_widgets (id BIGINT PRIMARY KEY)"}}};
const std::vector<Migration> kV1V2{{1, "widgets", {"CREATE TABLE mt5_widgets (id BIGINT PRIMARY KEY)"}},
                                   {2, "gadgets", {"CREATE TABLE mt5_gadgets (id BIGINT PRIMARY KEY)"}}};

class MigrationPlanTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    (void)kEnv;
    if (sqlite()) {
      char tmpl[] = "/tmp/permiso-plan-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
      file_ = dir_ + "/data/permiso.db";  // not even its directory exists yet
      url_ = "sqlite://" + file_;
    } else {
      url_ = PgServerEnvironment::server().create_database();
    }
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  [[nodiscard]] bool sqlite() const { return GetParam() == "sqlite"; }

  /// Runs `sql` in a write transaction on a fresh read-write connection.
  void write(const std::string& sql, const Params& params = {}) {
    auto db = open_db(url_);
    ASSERT_TRUE(db) << db.error().message;
    auto st = (*db)->write([&](SqlConn& c) -> StorageStatus {
      auto r = c.exec(sql, params);
      if (!r) return r.error();
      return {};
    });
    ASSERT_TRUE(st) << st.error().message;
  }

  bool table_exists(const std::string& table) {
    auto db = open_db(url_);
    EXPECT_TRUE(db) << db.error().message;
    auto r = (*db)->query(sqlite() ? "SELECT count(*) FROM sqlite_master WHERE name = $1"
                                   : "SELECT count(*) FROM pg_tables WHERE tablename = $1",
                          {table});
    EXPECT_TRUE(r) << r.error().message;
    return r && r->rows.at(0).at(0).value_or("0") != "0";
  }

  std::string dir_;
  std::string file_;
  std::string url_;
};

TEST_P(MigrationPlanTest, AFreshDatabaseHasEveryMigrationPendingAndIsLeftUntouched) {
  auto plan = plan_auth_migrations(url_);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->current_version, 0);
  EXPECT_EQ(plan->latest_version, 4);
  ASSERT_EQ(plan->pending.size(), 4u);
  EXPECT_EQ(plan->pending[0].version, 1);
  EXPECT_EQ(plan->pending[1].version, 2);
  EXPECT_EQ(plan->pending[2].version, 3);
  EXPECT_EQ(plan->pending[3].version, 4);
  EXPECT_FALSE(plan->pending[0].statements.empty());
  if (sqlite()) {
    EXPECT_FALSE(plan->database_exists);
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(file_).parent_path())) << "nothing created";
  } else {
    EXPECT_TRUE(plan->database_exists);
    EXPECT_FALSE(table_exists("schema_migrations")) << "the plan created its table";
  }
}

TEST_P(MigrationPlanTest, AfterMigrateNothingIsPending) {
  auto applied = apply_auth_migrations(url_);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(applied->current_version, 0);
  EXPECT_EQ(applied->pending.size(), 4u);  // what it applied
  auto plan = plan_auth_migrations(url_);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->database_exists);
  EXPECT_EQ(plan->current_version, 4);
  EXPECT_TRUE(plan->pending.empty());
  // And the start-up path agrees: applying again applies nothing.
  auto again = apply_auth_migrations(url_);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->pending.empty());
}

TEST_P(MigrationPlanTest, OnlyTheMigrationsNotYetRecordedArePendingAndNoneIsApplied) {
  {
    auto db = open_db(url_);
    ASSERT_TRUE(db) << db.error().message;
    ASSERT_TRUE(apply_migrations(**db, "mt5_schema_migrations", kV1, kLock));
  }
  auto plan = plan_migrations(url_, "mt5_schema_migrations", kV1V2);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->current_version, 1);
  ASSERT_EQ(plan->pending.size(), 1u);
  EXPECT_EQ(plan->pending[0].name, "gadgets");
  EXPECT_FALSE(table_exists("mt5_gadgets"));
}

TEST_P(MigrationPlanTest, AVersionAboveTheLatestIsANewerSchemaForThePlanAndForStartUp) {
  ASSERT_TRUE(apply_auth_migrations(url_));
  write("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)",
        {std::int64_t{5}, "from a newer release"});
  auto plan = plan_auth_migrations(url_);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, StorageError::SchemaTooNew);
  EXPECT_NE(plan.error().message.find("version 5"), std::string::npos) << plan.error().message;
  // Forward-only: neither `migrate` nor `serve` (open_storage) runs an older binary on it.
  auto applied = apply_auth_migrations(url_);
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().code, StorageError::SchemaTooNew);
  auto opened = open_storage(url_);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, StorageError::SchemaTooNew);
}

TEST_P(MigrationPlanTest, AReadOnlyDbRefusesToWrite) {
  ASSERT_TRUE(apply_auth_migrations(url_));
  StorageOptions options;
  options.read_only = true;
  auto db = open_db(url_, options);
  ASSERT_TRUE(db) << db.error().message;
  auto st = (*db)->write([](SqlConn& c) -> StorageStatus {
    auto r = c.exec("CREATE TABLE mt5_intruder (id BIGINT)");
    if (!r) return r.error();
    return {};
  });
  EXPECT_FALSE(st);
  auto autocommit = (*db)->query("CREATE TABLE mt5_intruder (id BIGINT)");
  EXPECT_FALSE(autocommit);
  EXPECT_FALSE(table_exists("mt5_intruder"));
}

TEST_P(MigrationPlanTest, ANonPlainTableNameIsRefused) {
  auto plan = plan_migrations(url_, "x; DROP TABLE users", kV1);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, StorageError::Invalid);
  EXPECT_EQ(plan.error().field, "table");
}

INSTANTIATE_TEST_SUITE_P(Backends, MigrationPlanTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace permiso::storage
