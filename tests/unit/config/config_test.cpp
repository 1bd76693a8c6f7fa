// Configuration: profile loading, precedence, every validation rule, redaction.
#include "config/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace permiso::config {
namespace {
namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("permiso-config-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    vars_["PERMISO_CONFIG_DIR"] = PERMISO_TEST_CONFIG_DIR;
  }
  void TearDown() override { fs::remove_all(dir_); }

  EnvLookup env() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = vars_.find(std::string(name));
      if (it == vars_.end()) return std::nullopt;
      return it->second;
    };
  }
  AuthConfig load() {
    auto c = load_auth_config(env());
    EXPECT_TRUE(c) << (c ? "" : c.error().front().field + ": " + c.error().front().rule);
    return c ? *c : AuthConfig{};
  }
  bool has_problem(const AuthConfig& c, std::string_view field) {
    for (const auto& p : validate(c)) {
      if (p.field == field) return true;
    }
    return false;
  }

  fs::path dir_;
  std::map<std::string, std::string> vars_;
};

TEST_F(ConfigTest, DevelopmentProfileHasTheSeedsValuesAndIsValid) {
  const auto c = load();
  EXPECT_EQ(c.environment, "development");
  EXPECT_EQ(c.jwt_algorithm, "HS256");
  EXPECT_EQ(c.jwt_issuer, "permiso-auth-dev");
  EXPECT_EQ(c.access_token_expire_minutes, 60);
  EXPECT_EQ(c.service_token_expire_minutes, 120);
  EXPECT_EQ(c.rate_limit_login, "10/minute");
  EXPECT_EQ(c.rate_limit_api, "1000/minute");
  EXPECT_EQ(c.log_format, "text");
  EXPECT_TRUE(validate(c).empty());
}

TEST_F(ConfigTest, ProductionProfileIsStricter) {
  vars_["PERMISO_ENV"] = "production";
  const auto c = load();
  EXPECT_EQ(c.jwt_algorithm, "RS256");
  EXPECT_EQ(c.jwt_issuer, "permiso-auth");
  EXPECT_EQ(c.access_token_expire_minutes, 15);
  EXPECT_EQ(c.rate_limit_login, "5/minute");
  EXPECT_EQ(c.log_format, "json");
  EXPECT_TRUE(validate(c).empty());
}

TEST_F(ConfigTest, UnknownEnvironmentIsRefused) {
  vars_["PERMISO_ENV"] = "prod";
  auto c = load_auth_config(env());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().front().field, "PERMISO_ENV");
}

TEST_F(ConfigTest, FileOverridesProfileAndEnvironmentOverridesFile) {
  const auto file = dir_ / "override.toml";
  std::ofstream(file) << "[jwt]\nissuer = \"from-file\"\naccess_token_expire_minutes = 5\n[server]\nport = 9000\n";
  vars_["PERMISO_CONFIG"] = file.string();
  vars_["JWT_ISSUER"] = "from-env";
  const auto c = load();
  EXPECT_EQ(c.jwt_issuer, "from-env");
  EXPECT_EQ(c.access_token_expire_minutes, 5);
  EXPECT_EQ(c.port, 9000);
}

TEST_F(ConfigTest, EnvironmentListsAndNumbersAreParsed) {
  vars_["ALLOWED_ORIGINS"] = "https://a.example.com, https://b.example.com:8443";
  vars_["CORS_ORIGINS"] = "https://a.example.com,https://c.example.com";
  vars_["PERMISO_PORT"] = "8123";
  const auto c = load();
  EXPECT_EQ(c.allowed_origins, (std::vector<std::string>{"https://a.example.com", "https://b.example.com:8443",
                                                         "https://c.example.com"}));
  EXPECT_EQ(c.port, 8123);
  vars_["PERMISO_PORT"] = "80x";
  auto bad = load_auth_config(env());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().front().field, "PERMISO_PORT");
}

TEST_F(ConfigTest, WrongTypesAndUnparsableFilesNameTheField) {
  const auto file = dir_ / "bad.toml";
  std::ofstream(file) << "[server]\nport = \"eighty\"\n";
  vars_["PERMISO_CONFIG"] = file.string();
  auto c = load_auth_config(env());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().front().field, "server.port");
  std::ofstream(file) << "[server\nport = 1\n";
  c = load_auth_config(env());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().front().field, "PERMISO_CONFIG");
}

TEST_F(ConfigTest, RateLimitsFollowTheSeedsFormat) {
  EXPECT_EQ(parse_rate("5/minute")->count, 5U);
  EXPECT_EQ(parse_rate("5/minute")->period_s, 60U);
  EXPECT_EQ(parse_rate("2/second")->period_s, 1U);
  EXPECT_EQ(parse_rate("1/day")->period_s, 86400U);
  for (const char* bad : {"5 per minute", "5/minutes", "-1/minute", "/minute", "5/", ""}) {
    EXPECT_FALSE(parse_rate(bad)) << bad;
  }
  auto c = load();
  c.rate_limit_login = "5/fortnight";
  EXPECT_TRUE(has_problem(c, "RATE_LIMIT_LOGIN"));
}

TEST_F(ConfigTest, EveryRuleNamesItsField) {
  auto c = load();
  c.port = 0;
  c.log_level = "LOUD";
  c.log_format = "xml";
  c.jwt_algorithm = "none";
  c.database_url = "mysql://x";
  c.redis_url = "http://x";
  c.allowed_origins = {"https://ok.example.com", "not-an-origin", "https://x.example.com/path"};
  c.access_token_expire_minutes = 0;
  c.service_token_expire_minutes = 1441;
  const auto problems = validate(c);
  for (const char* field : {"server.port", "LOG_LEVEL", "LOG_FORMAT", "JWT_ALGORITHM", "DATABASE_URL",
                            "REDIS_URL", "ALLOWED_ORIGINS", "jwt.access_token_expire_minutes",
                            "jwt.service_token_expire_minutes"}) {
    EXPECT_TRUE(has_problem(c, field)) << field;
  }
  EXPECT_GE(problems.size(), 10U);  // both bad origins are reported
}

TEST_F(ConfigTest, ShortHmacSecretsAndHs256InProductionAreRefused) {
  auto c = load();
  c.jwt_secret_key = std::string(31, 'k');
  EXPECT_TRUE(has_problem(c, "JWT_SECRET_KEY"));
  c.jwt_secret_key = std::string(32, 'k');
  EXPECT_FALSE(has_problem(c, "JWT_SECRET_KEY"));
  c.environment = "production";
  EXPECT_TRUE(has_problem(c, "JWT_ALGORITHM"));
}

TEST_F(ConfigTest, WildcardOriginOnlyInDevelopment) {
  auto c = load();
  c.allowed_origins = {"*"};
  EXPECT_FALSE(has_problem(c, "ALLOWED_ORIGINS"));
  c.environment = "staging";
  EXPECT_TRUE(has_problem(c, "ALLOWED_ORIGINS"));
}

TEST_F(ConfigTest, LogLevelIsCaseInsensitive) {
  auto c = load();
  c.log_level = "warning";
  EXPECT_FALSE(has_problem(c, "LOG_LEVEL"));
}

TEST_F(ConfigTest, DefaultDatabaseIsSqliteUnderTheDataDir) {
  vars_["PERMISO_DATA_DIR"] = dir_.string();
  const auto c = load();
  EXPECT_EQ(c.effective_database_url(), "sqlite://" + (dir_ / "permiso.db").string());
}

TEST_F(ConfigTest, RedactionHidesEverySecret) {
  auto c = load();
  c.jwt_secret_key = "super-secret-jwt-key-of-enough-length!!";
  c.client_secret_pepper = "pepper-pepper-pepper-pepper-pepper";
  c.bootstrap_admin_password = "Adm1n!password";
  c.database_url = "postgresql://permiso:dbpass@db:5432/permiso";
  c.redis_url = "redis://:redispass@redis:6379/0";
  const auto text = render_redacted(c);
  for (const char* secret : {"super-secret", "pepper-pepper", "Adm1n!password", "dbpass", "redispass"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
  EXPECT_NE(text.find("postgresql://permiso:***@db:5432/permiso"), std::string::npos);
  EXPECT_NE(text.find("issuer = \"permiso-auth-dev\""), std::string::npos);
}

}  // namespace
}  // namespace permiso::config
