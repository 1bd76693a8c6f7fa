// The SIEM export: one JSON object per line, appended to a private file that log rotation may
// move away at any time.
#include "auth/audit_export.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace permiso::auth {
namespace {

namespace fs = std::filesystem;

storage::AuditEvent login(std::string actor, std::string outcome) {
  storage::AuditEvent e;
  e.ts = 1'800'000'000;
  e.action = "auth.login";
  e.outcome = std::move(outcome);
  e.actor = std::move(actor);
  e.actor_type = "user";
  e.target = e.actor;
  e.ip = "192.0.2.7";
  e.request_id = "req-1";
  e.details = R"({"grant_type":"password"})";
  return e;
}

std::vector<std::string> lines_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class AuditExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("permiso-audit-export-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(AuditExportTest, AnEventIsOneLineOfJsonWithItsDetailsAsAnObject) {
  const auto line = AuditExport::json_line(login("alice", "failure"));
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v.at("type"), "audit");
  EXPECT_EQ(v.at("timestamp"), "2027-01-15T08:00:00Z");
  EXPECT_FALSE(v.contains("id"));
  EXPECT_EQ(v.at("ts"), 1'800'000'000);
  EXPECT_EQ(v.at("action"), "auth.login");
  EXPECT_EQ(v.at("outcome"), "failure");
  EXPECT_EQ(v.at("actor"), "alice");
  EXPECT_EQ(v.at("ip"), "192.0.2.7");
  EXPECT_EQ(v.at("request_id"), "req-1");
  EXPECT_EQ(v.at("details").at("grant_type"), "password");

  auto odd = login("bob\n{\"forged\":1}", "success");  // a name cannot break out of its line
  odd.details = "not json";
  const auto safe = AuditExport::json_line(odd);
  EXPECT_EQ(safe.find('\n'), safe.size() - 1);
  EXPECT_EQ(boost::json::parse(safe).at("actor"), "bob\n{\"forged\":1}");
  EXPECT_TRUE(boost::json::parse(safe).at("details").as_object().empty());
}

TEST_F(AuditExportTest, AFileIsPrivateAppendedToAndReopenedAfterRotation) {
  const auto file = dir_ / "audit.jsonl";
  auto out = AuditExport::open(file.string());
  ASSERT_TRUE(out);
  (*out)->write({login("alice", "success"), login("bob", "failure")});
  EXPECT_EQ((fs::status(file).permissions() & fs::perms::all), fs::perms::owner_read | fs::perms::owner_write);
  auto again = AuditExport::open(file.string());  // a restart appends
  ASSERT_TRUE(again);
  (*again)->write({login("carol", "success")});
  ASSERT_EQ(lines_of(file).size(), 3U);
  EXPECT_EQ(boost::json::parse(lines_of(file)[2]).at("actor"), "carol");

  fs::rename(file, dir_ / "audit.jsonl.1");  // logrotate's default: move, then the writer reopens
  (*again)->write({login("dave", "success")});
  ASSERT_EQ(lines_of(file).size(), 1U);
  EXPECT_EQ(boost::json::parse(lines_of(file)[0]).at("actor"), "dave");
  EXPECT_EQ(lines_of(dir_ / "audit.jsonl.1").size(), 3U);
}

TEST_F(AuditExportTest, AFileThatCannotBeOpenedIsAnErrorAtOnce) {
  auto out = AuditExport::open((dir_ / "missing-dir" / "audit.jsonl").string());
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().value(), ENOENT);
}

}  // namespace
}  // namespace permiso::auth
