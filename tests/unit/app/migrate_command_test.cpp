// `<service> migrate [--dry-run]` as an operator reads it: the plan rendered with each pending
// migration's SQL, "up to date" when nothing is pending, a newer schema refused with exit 1,
// and the database password never printed.
#include "app/migrate_command.hpp"

#include "app/startup.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace permiso::app {
namespace {

using storage::MigrationPlan;
using storage::StorageResult;

const storage::Migration kFirst{1, "initial schema", {"CREATE TABLE t (id BIGINT)", "CREATE INDEX ix_t ON t (id)"}};
const storage::Migration kSecond{2, "widgets", {"CREATE TABLE w (id BIGINT)"}};

struct Output {
  int code = 0;
  std::string out;
  std::string err;
};

Output run(StorageResult<MigrationPlan> result, bool dry_run,
           std::string url = "postgresql://permiso:s3cret@db/permiso") {
  const SchemaMigrations schema{"svc", std::move(url), [&] { return result; }, [&] { return result; }};
  std::ostringstream out;
  std::ostringstream err;
  const int code = migrate_command(schema, dry_run, out, err);
  return {code, out.str(), err.str()};
}

TEST(MigrateCommandTest, DryRunListsEachPendingMigrationWithItsStatements) {
  const auto got = run(MigrationPlan{true, 1, 2, {kSecond}}, true);
  EXPECT_EQ(got.code, 0);
  EXPECT_NE(got.out.find("schema version now: 1"), std::string::npos) << got.out;
  EXPECT_NE(got.out.find("-- version 2: widgets\nCREATE TABLE w (id BIGINT);"), std::string::npos) << got.out;
  EXPECT_NE(got.out.find("nothing was changed"), std::string::npos) << got.out;
}

TEST(MigrateCommandTest, DryRunOnAMissingDatabaseSaysEveryMigrationIsPending) {
  const auto got = run(MigrationPlan{false, 0, 2, {kFirst, kSecond}}, true, "sqlite:///data/permiso.db");
  EXPECT_EQ(got.code, 0);
  EXPECT_NE(got.out.find("no database yet: every migration is pending"), std::string::npos) << got.out;
  EXPECT_NE(got.out.find("CREATE INDEX ix_t ON t (id);"), std::string::npos) << got.out;
}

TEST(MigrateCommandTest, NothingPendingReadsUpToDate) {
  for (const bool dry_run : {true, false}) {
    const auto got = run(MigrationPlan{true, 2, 2, {}}, dry_run);
    EXPECT_EQ(got.code, 0);
    EXPECT_NE(got.out.find("schema is up to date (version 2)"), std::string::npos) << got.out;
  }
}

TEST(MigrateCommandTest, ApplyingPrintsWhatWasApplied) {
  const auto got = run(MigrationPlan{true, 0, 2, {kFirst, kSecond}}, false);
  EXPECT_EQ(got.code, 0);
  EXPECT_NE(got.out.find("applied version 1: initial schema\napplied version 2: widgets\n"), std::string::npos)
      << got.out;
  EXPECT_NE(got.out.find("schema is now at version 2"), std::string::npos) << got.out;
  EXPECT_EQ(got.out.find("CREATE TABLE"), std::string::npos) << "the SQL is the dry run's";
}

TEST(MigrateCommandTest, ANewerSchemaIsRefusedWithExitCode1) {
  const auto got =
      run(storage::StorageFailure{storage::StorageError::SchemaTooNew, "schema_version", "newer: 3 > 2"}, true);
  EXPECT_EQ(got.code, kExitStartup);
  EXPECT_EQ(kExitStartup, 1);
  EXPECT_NE(got.err.find("schema_too_new: newer: 3 > 2"), std::string::npos) << got.err;
}

TEST(MigrateCommandTest, TheDatabasePasswordIsNeverPrinted) {
  const auto got = run(MigrationPlan{true, 2, 2, {}}, true);
  EXPECT_EQ(got.out.find("s3cret"), std::string::npos) << got.out;
  EXPECT_NE(got.out.find("permiso:***@db"), std::string::npos) << got.out;
}

}  // namespace
}  // namespace permiso::app
