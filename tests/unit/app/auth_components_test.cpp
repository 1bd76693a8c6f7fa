// permiso-auth's components opened from configuration: what `config check` accepts must also
// open at start-up.
#include "components.hpp"

#include "jose/key.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace permiso::auth_app {
namespace {

namespace fs = std::filesystem;

class OpenKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("permiso-keys-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write_key(const std::string& name) {
    const auto key = *jose::SigningKey::generate(jose::Algorithm::ES256);
    std::ofstream(dir_ / name) << key.private_pem();
    return key.kid();
  }

  fs::path dir_;
  ManualClock clock_{1'700'000'000};
};

TEST_F(OpenKeysTest, AKeyFileListWithSpacesAfterTheCommasOpens) {
  const auto current = write_key("a.pem");
  const auto previous = write_key("b.pem");
  config::AuthConfig cfg;
  cfg.environment = "production";
  cfg.jwt_algorithm = "ES256";
  cfg.jwt_private_key_file = (dir_ / "a.pem").string() + ", " + (dir_ / "b.pem").string() + " ";
  for (const auto& problem : config::validate(cfg)) {  // `config check` accepts the list…
    EXPECT_NE(problem.field, "JWT_PRIVATE_KEY_FILE") << problem.rule;
  }
  const auto keys = open_keys(cfg, clock_);  // …and start-up opens both keys
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->current().kid(), current);
  EXPECT_EQ(keys->list().size(), 2U);
}

TEST_F(OpenKeysTest, OutsideDevelopmentAKeyMustBeConfigured) {
  config::AuthConfig cfg;
  cfg.environment = "production";
  cfg.jwt_algorithm = "ES256";
  cfg.data_dir = dir_.string();
  EXPECT_FALSE(open_keys(cfg, clock_));
  cfg.environment = "development";  // development generates its keys once under the data dir
  EXPECT_TRUE(open_keys(cfg, clock_));
}

TEST_F(OpenKeysTest, AMissingKeyFileIsAStartupFailure) {
  config::AuthConfig cfg;
  cfg.jwt_algorithm = "ES256";
  cfg.jwt_private_key_file = (dir_ / "missing.pem").string();
  EXPECT_FALSE(open_keys(cfg, clock_));
}

}  // namespace
}  // namespace permiso::auth_app
