// The services' shared command line: serve by default, `config check`, `migrate [--dry-run]`,
// --version, and usage errors as CLI11 reports them.
#include "app/command_line.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace permiso::app {
namespace {

struct Ran {
  int serve = 0;
  int check = 0;
  int migrate = 0;
  int dry_run = 0;
};

int run(Ran& ran, std::vector<const char*> args) {
  args.insert(args.begin(), "svc");
  const CommandLine commands{"svc: a test service",
                             "Run it",
                             "1.2.3",
                             [&ran] {
                               ++ran.serve;
                               return 0;
                             },
                             [&ran] {
                               ++ran.check;
                               return 7;
                             },
                             [&ran](bool dry_run) {
                               ++(dry_run ? ran.dry_run : ran.migrate);
                               return 5;
                             }};
  return run_command_line(static_cast<int>(args.size()), args.data(), commands);
}

TEST(CommandLineTest, ServesWhenNoCommandIsGivenOrServeIsNamed) {
  Ran ran;
  EXPECT_EQ(run(ran, {}), 0);
  EXPECT_EQ(run(ran, {"serve"}), 0);
  EXPECT_EQ(ran.serve, 2);
  EXPECT_EQ(ran.check, 0);
}

TEST(CommandLineTest, ConfigCheckRunsTheCheckAndReturnsItsCode) {
  Ran ran;
  EXPECT_EQ(run(ran, {"config", "check"}), 7);
  EXPECT_EQ(ran.check, 1);
  EXPECT_EQ(ran.serve, 0);
}

TEST(CommandLineTest, MigrateAppliesUnlessDryRunIsGiven) {
  Ran ran;
  EXPECT_EQ(run(ran, {"migrate"}), 5);
  EXPECT_EQ(run(ran, {"migrate", "--dry-run"}), 5);
  EXPECT_EQ(ran.migrate, 1);
  EXPECT_EQ(ran.dry_run, 1);
  EXPECT_EQ(ran.serve + ran.check, 0);
}

TEST(CommandLineTest, UsageErrorsRunNothing) {
  Ran ran;
  testing::internal::CaptureStderr();
  EXPECT_NE(run(ran, {"config"}), 0);  // config needs a subcommand
  EXPECT_NE(run(ran, {"launch"}), 0);
  EXPECT_NE(run(ran, {"migrate", "--force"}), 0);
  (void)testing::internal::GetCapturedStderr();
  EXPECT_EQ(ran.serve + ran.check + ran.migrate + ran.dry_run, 0);
}

TEST(CommandLineTest, VersionPrintsTheVersionAndRunsNothing) {
  Ran ran;
  testing::internal::CaptureStdout();
  EXPECT_EQ(run(ran, {"--version"}), 0);
  EXPECT_NE(testing::internal::GetCapturedStdout().find("1.2.3"), std::string::npos);
  EXPECT_EQ(ran.serve + ran.check, 0);
}

}  // namespace
}  // namespace permiso::app
