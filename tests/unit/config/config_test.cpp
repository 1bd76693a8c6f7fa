// Configuration: profile loading, precedence, every validation rule, redaction.
#include "config/config.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <type_traits>

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

  /// A staging or production profile, with the passwords its ${NAME}s need.
  void use_profile(const char* environment) {
    vars_["PERMISO_ENV"] = environment;
    vars_["POSTGRES_PASSWORD"] = "pg/p@ss:word";
    vars_["REDIS_PASSWORD"] = "redis-pass";
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
  use_profile("production");
  const auto c = load();
  EXPECT_EQ(c.database_url, "postgresql://permiso:pg/p@ss:word@postgres:5432/permiso");  // ${} is plain text
  EXPECT_EQ(c.redis_url, "redis://:redis-pass@redis:6379/0");
  EXPECT_EQ(c.public_base_url, "https://trading.yourdomain.com");
  EXPECT_EQ(c.trusted_proxies, (std::vector<std::string>{"127.0.0.1", "::1"}));
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
  vars_["PERMISO_AUDIT_RETENTION_DAYS"] = "30";
  vars_["PERMISO_AUDIT_EXPORT"] = "stdout";
  const auto c = load();
  EXPECT_EQ(c.audit_retention_days, 30);
  EXPECT_EQ(c.audit_export, "stdout");
  EXPECT_EQ(c.allowed_origins,
            (std::vector<std::string>{"https://a.example.com", "https://b.example.com:8443", "https://c.example.com"}));
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

// Found by fuzz_config: a float where an integer belongs was converted by toml++, and 1e99
// does not fit an int64 (undefined behaviour). A float is now a named problem, whatever it is.
TEST_F(ConfigTest, AFloatWhereAnIntegerBelongsNamesTheField) {
  const auto file = dir_ / "float.toml";
  vars_["PERMISO_CONFIG"] = file.string();
  for (const char* value : {"1e99", "5.0", "-inf", "nan"}) {
    std::ofstream(file) << "[security]\nlockout_threshold = " << value << "\n";
    auto c = load_auth_config(env());
    ASSERT_FALSE(c) << value;
    EXPECT_EQ(c.error().front().field, "security.lockout_threshold") << value;
  }
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
  // The parsed value is the limiter's own Rate: it goes to RateLimiter::consume as is.
  static_assert(std::is_same_v<RateSpec, ratelimit::Rate>);
  EXPECT_EQ(parse_rate("1000000000/minute"), std::nullopt);  // at most 9 digits
  EXPECT_EQ(parse_rate("999999999/hour")->count, 999999999U);
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
  for (const char* field : {"server.port", "LOG_LEVEL", "LOG_FORMAT", "JWT_ALGORITHM", "DATABASE_URL", "REDIS_URL",
                            "ALLOWED_ORIGINS", "jwt.access_token_expire_minutes", "jwt.service_token_expire_minutes"}) {
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

TEST_F(ConfigTest, StagingProfileHasTheSeedsValues) {
  use_profile("staging");
  const auto c = load();
  EXPECT_EQ(c.jwt_algorithm, "RS256");
  EXPECT_EQ(c.jwt_issuer, "permiso-auth-staging");
  EXPECT_EQ(c.access_token_expire_minutes, 30);
  EXPECT_EQ(c.service_token_expire_minutes, 60);
  EXPECT_EQ(c.rate_limit_api, "200/minute");
  EXPECT_EQ(c.rate_limit_service_token, "50/minute");
  EXPECT_EQ(c.allowed_origins, std::vector<std::string>{"https://trading-staging.yourdomain.com"});
  EXPECT_TRUE(validate(c).empty());
}

TEST_F(ConfigTest, EachLayerOverridesOnlyWhatItSets) {
  // defaults → profile → PERMISO_CONFIG file → environment, field by field.
  const auto file = dir_ / "layer.toml";
  std::ofstream(file) << "service_name = \"from-file\"\n[log]\nformat = \"json\"\n[rate_limits]\napi = \"7/second\"\n"
                         "[security]\nlockout_threshold = 9\n";
  vars_["PERMISO_CONFIG"] = file.string();
  vars_["RATE_LIMIT_API"] = "8/second";
  const auto c = load();
  EXPECT_EQ(c.pool_size, 8);                    // default, untouched by any layer
  EXPECT_EQ(c.log_level, "DEBUG");              // development profile
  EXPECT_EQ(c.log_format, "json");              // file over profile
  EXPECT_EQ(c.service_name, "from-file");       // file over default
  EXPECT_EQ(c.lockout_threshold, 9);            // file over default
  EXPECT_EQ(c.rate_limit_api, "8/second");      // environment over file
  EXPECT_EQ(c.rate_limit_login, "10/minute");   // profile
  EXPECT_EQ(c.jwt_issuer, "permiso-auth-dev");  // profile over default
}

TEST_F(ConfigTest, PreparedStatementsAreOnUnlessTheFileOrTheEnvironmentTurnsThemOff) {
  EXPECT_TRUE(load().prepared_statements);
  const auto file = dir_ / "pooler.toml";
  std::ofstream(file) << "[storage]\nprepared_statements = false\n";
  vars_["PERMISO_CONFIG"] = file.string();
  EXPECT_FALSE(load().prepared_statements);
  vars_["PERMISO_PG_PREPARED_STATEMENTS"] = "true";  // environment over file
  EXPECT_TRUE(load().prepared_statements);
  vars_.erase("PERMISO_CONFIG");
  vars_["PERMISO_PG_PREPARED_STATEMENTS"] = "false";
  EXPECT_FALSE(load().prepared_statements);
}

TEST_F(ConfigTest, EveryContractVariableIsHonoured) {
  vars_["PERMISO_DATA_DIR"] = "/srv/permiso";
  vars_["DATABASE_URL"] = "postgresql://u:p@db/permiso";
  vars_["REDIS_URL"] = "redis://redis:6379/1";
  vars_["PERMISO_BOOTSTRAP_ADMIN_USERNAME"] = "root";
  vars_["PERMISO_BOOTSTRAP_ADMIN_PASSWORD"] = "pw";
  vars_["JWT_SECRET_KEY"] = std::string(40, 's');
  vars_["JWT_ALGORITHM"] = "ES256";
  vars_["JWT_ISSUER"] = "iss";
  vars_["RATE_LIMIT_LOGIN"] = "3/hour";
  vars_["LOG_LEVEL"] = "error";
  vars_["LOG_FORMAT"] = "json";
  vars_["PERMISO_HOST"] = "0.0.0.0";
  vars_["PERMISO_CLIENT_SECRET_PEPPER"] = std::string(32, 'p');
  vars_["JWT_PRIVATE_KEY_FILE"] = "/k/a.pem, /k/b.pem";
  vars_["PERMISO_SERVICE_TOKEN_MINUTES"] = "45";
  const auto c = load();
  EXPECT_EQ(c.data_dir, "/srv/permiso");
  EXPECT_EQ(c.effective_database_url(), "postgresql://u:p@db/permiso");
  EXPECT_EQ(c.redis_url, "redis://redis:6379/1");
  EXPECT_EQ(c.bootstrap_admin_username, "root");
  EXPECT_EQ(c.bootstrap_admin_password, "pw");
  EXPECT_EQ(c.jwt_secret_key, std::string(40, 's'));
  EXPECT_EQ(c.jwt_algorithm, "ES256");
  EXPECT_EQ(c.jwt_issuer, "iss");
  EXPECT_EQ(c.rate_limit_login, "3/hour");
  EXPECT_EQ(c.log_level, "error");
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.client_secret_pepper, std::string(32, 'p'));
  EXPECT_EQ(c.private_key_files(), (std::vector<std::string>{"/k/a.pem", "/k/b.pem"}));
  EXPECT_EQ(c.service_token_expire_minutes, 45);
  const auto log = c.log_config();
  EXPECT_EQ(log.level, "error");
  EXPECT_EQ(log.format, "json");
  EXPECT_EQ(log.service, "permiso-auth");
}

TEST_F(ConfigTest, MissingProfileDirOrFileIsReported) {
  vars_["PERMISO_CONFIG_DIR"] = (dir_ / "nowhere").string();
  auto c = load_auth_config(env());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().front().field, "PERMISO_CONFIG_DIR");
  vars_["PERMISO_CONFIG_DIR"] = PERMISO_TEST_CONFIG_DIR;
  vars_["PERMISO_CONFIG"] = (dir_ / "missing.toml").string();
  c = load_auth_config(env());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().front().field, "PERMISO_CONFIG");
}

TEST_F(ConfigTest, AProfileDirectoryOfOnesOwnIsUsed) {
  std::ofstream(dir_ / "production.toml") << "[jwt]\nissuer = \"custom-prod\"\nalgorithm = \"EdDSA\"\n";
  vars_["PERMISO_CONFIG_DIR"] = dir_.string();
  vars_["PERMISO_ENV"] = "production";
  const auto c = load();
  EXPECT_EQ(c.jwt_issuer, "custom-prod");
  EXPECT_EQ(c.jwt_algorithm, "EdDSA");
}

TEST_F(ConfigTest, AllProblemsAreReportedTogether) {
  vars_["PERMISO_PORT"] = "x";
  vars_["PERMISO_THREADS"] = "y";
  vars_["PERMISO_ALLOW_HS256_IN_PRODUCTION"] = "perhaps";
  auto c = load_auth_config(env());
  ASSERT_FALSE(c);
  ASSERT_EQ(c.error().size(), 3U);
  EXPECT_EQ(c.error()[0].field, "PERMISO_PORT");
  EXPECT_EQ(c.error()[1].field, "PERMISO_THREADS");
  EXPECT_EQ(c.error()[2].field, "PERMISO_ALLOW_HS256_IN_PRODUCTION");
}

TEST_F(ConfigTest, Hs256InProductionOnlyWhenExplicitlyAllowed) {
  use_profile("production");
  vars_["JWT_ALGORITHM"] = "HS256";
  vars_["JWT_SECRET_KEY"] = std::string(48, 'k');
  auto c = load();
  EXPECT_TRUE(has_problem(c, "JWT_ALGORITHM"));
  vars_["PERMISO_ALLOW_HS256_IN_PRODUCTION"] = "true";
  c = load();
  EXPECT_TRUE(c.jwt_allow_hs256_in_production);
  EXPECT_TRUE(validate(c).empty());
}

TEST_F(ConfigTest, WildcardOriginIsRefusedInProduction) {
  use_profile("production");
  vars_["ALLOWED_ORIGINS"] = "*";
  EXPECT_TRUE(has_problem(load(), "ALLOWED_ORIGINS"));
}

TEST_F(ConfigTest, AnUnsetVariableInAProfileIsANamedError) {
  vars_["PERMISO_ENV"] = "production";
  vars_["REDIS_PASSWORD"] = "redis-pass";
  auto c = load_auth_config(env());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().front().field, "storage.database_url");
  EXPECT_NE(c.error().front().rule.find("${POSTGRES_PASSWORD} is not set"), std::string::npos)
      << c.error().front().rule;
}

TEST_F(ConfigTest, TheEnvironmentsUrlsReplaceTheProfilesWithoutItsPasswords) {
  vars_["PERMISO_ENV"] = "production";
  vars_["DATABASE_URL"] = "postgresql://permiso@db.internal/permiso";
  vars_["REDIS_URL"] = "redis://cache.internal:6379/1";
  const auto c = load();
  EXPECT_EQ(c.database_url, "postgresql://permiso@db.internal/permiso");
  EXPECT_EQ(c.redis_url, "redis://cache.internal:6379/1");
}

TEST_F(ConfigTest, UrlTemplatesTakeThePasswordPercentEncoded) {
  vars_["DATABASE_URL_TEMPLATE"] = "postgresql://permiso:{password}@postgres:5432/permiso";
  vars_["POSTGRES_PASSWORD"] = "a b/c@d:e%f";
  vars_["REDIS_URL_TEMPLATE"] = "redis://:{password}@redis:6379/0";
  vars_["REDIS_PASSWORD"] = "plain-Pass_1.~";
  auto c = load();
  EXPECT_EQ(c.database_url, "postgresql://permiso:a%20b%2Fc%40d%3Ae%25f@postgres:5432/permiso");
  EXPECT_EQ(c.redis_url, "redis://:plain-Pass_1.~@redis:6379/0");
  EXPECT_EQ(render_redacted(c).find("a%20b"), std::string::npos);

  vars_["DATABASE_URL"] = "postgresql://direct/permiso";  // the URL itself wins over the template
  EXPECT_EQ(load().database_url, "postgresql://direct/permiso");

  vars_.erase("DATABASE_URL");
  vars_.erase("POSTGRES_PASSWORD");
  auto missing = load_auth_config(env());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().front().field, "POSTGRES_PASSWORD");
  EXPECT_NE(missing.error().front().rule.find("DATABASE_URL_TEMPLATE"), std::string::npos);
}

TEST_F(ConfigTest, VariablesInFilesAreExpandedAndEscapable) {
  const auto file = dir_ / "vars.toml";
  std::ofstream(file) << "[jwt]\nissuer = \"${ISSUER_HOST}/auth\"\naudience = \"$${literal}\"\n"
                         "[server]\nallowed_origins = [\"https://${ISSUER_HOST}\"]\n";
  vars_["PERMISO_CONFIG"] = file.string();
  vars_["ISSUER_HOST"] = "auth.example.com";
  auto c = load();
  EXPECT_EQ(c.jwt_issuer, "auth.example.com/auth");
  EXPECT_EQ(c.jwt_audience, "${literal}");
  EXPECT_EQ(c.allowed_origins, std::vector<std::string>{"https://auth.example.com"});

  std::ofstream(file) << "[jwt]\nissuer = \"${BROKEN\"\n";
  auto bad = load_auth_config(env());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().front().field, "jwt.issuer");
}

TEST_F(ConfigTest, SecretsComeThroughTheProvider) {
  const auto secret_file = dir_ / "jwt";
  std::ofstream(secret_file) << std::string(40, 's') << "\n";
  fs::permissions(secret_file, fs::perms::owner_read);
  vars_["SECRETS_PROVIDER"] = "file";
  vars_["JWT_SECRET_KEY_FILE"] = secret_file.string();
  vars_["PERMISO_BOOTSTRAP_ADMIN_PASSWORD"] = "Plain-Env-Passw0rd!";
  EXPECT_EQ(load().jwt_secret_key, std::string(40, 's'));
  EXPECT_EQ(load().bootstrap_admin_password, "Plain-Env-Passw0rd!");

  fs::permissions(secret_file, fs::perms::owner_read | fs::perms::others_write);
  auto refused = load_auth_config(env());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().front().field, "JWT_SECRET_KEY_FILE");

  vars_["SECRETS_PROVIDER"] = "nope";
  auto unknown = load_auth_config(env());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().front().field, "SECRETS_PROVIDER");
}

TEST_F(ConfigTest, EveryNameClientSecretIsFoundWhateverItsForm) {
  vars_["RISK_CLIENT_SECRET"] = "risk-secret-0123456789";
  vars_["RISK_CLIENT_SCOPES"] = "trade:read";
  vars_["PERMISO_CLIENT_SECRET"] = "permisoctl's own, not a service";
  vars_["AZURE_CLIENT_SECRET"] = "the secrets provider's, not a service";
  vars_["REPORTS_CLIENT_SECRET_FILE"] = "/run/secrets/reports";
  vars_["PERMISO_SERVICE_CLIENTS"] = "ledger, risk";
  std::vector<std::string> names;
  for (const auto& [name, value] : vars_) names.push_back(name);
  EXPECT_EQ(service_client_variables(env(), names),
            (std::vector<std::string>{"LEDGER_CLIENT_SECRET", "REPORTS_CLIENT_SECRET", "RISK_CLIENT_SECRET"}));

  vars_.erase("REPORTS_CLIENT_SECRET_FILE");
  names.clear();
  for (const auto& [name, value] : vars_) names.push_back(name);
  auto c = load_auth_config(env(), names);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->service_clients.size(), 1U);  // LEDGER is listed but has no secret
  EXPECT_EQ(c->service_clients[0].variable, "RISK_CLIENT_SECRET");
  EXPECT_EQ(c->service_clients[0].secret, "risk-secret-0123456789");
  EXPECT_EQ(c->service_clients[0].scopes, "trade:read");
  const auto text = render_redacted(*c);
  EXPECT_NE(text.find("RISK_CLIENT_SECRET"), std::string::npos);
  EXPECT_EQ(text.find("risk-secret-0123456789"), std::string::npos);
}

TEST_F(ConfigTest, KeyFilesMustExist) {
  auto c = load();
  const auto pem = dir_ / "current.pem";
  std::ofstream(pem) << "-----BEGIN PRIVATE KEY-----\n";
  c.jwt_private_key_file = pem.string();
  EXPECT_FALSE(has_problem(c, "JWT_PRIVATE_KEY_FILE"));
  c.jwt_private_key_file = pem.string() + "," + (dir_ / "gone.pem").string();
  EXPECT_TRUE(has_problem(c, "JWT_PRIVATE_KEY_FILE"));
}

struct RuleCase {
  const char* name;
  std::function<void(AuthConfig&)> breaks;
  const char* field;
};

class ValidationRule : public ::testing::TestWithParam<RuleCase> {};

TEST_P(ValidationRule, IsReportedWithItsField) {
  AuthConfig c;  // the built-in defaults are valid
  ASSERT_TRUE(validate(c).empty());
  GetParam().breaks(c);
  const auto problems = validate(c);
  ASSERT_EQ(problems.size(), 1U) << GetParam().name;
  EXPECT_EQ(problems.front().field, GetParam().field);
  EXPECT_FALSE(problems.front().rule.empty());
}

const RuleCase kRules[] = {
    {"env", [](AuthConfig& c) { c.environment = "prod"; }, "PERMISO_ENV"},
    {"service_name_empty", [](AuthConfig& c) { c.service_name = ""; }, "service_name"},
    {"service_name_long", [](AuthConfig& c) { c.service_name = std::string(51, 'x'); }, "service_name"},
    {"version", [](AuthConfig& c) { c.version = "1.2"; }, "version"},
    {"data_dir", [](AuthConfig& c) { c.data_dir = ""; }, "PERMISO_DATA_DIR"},
    {"host", [](AuthConfig& c) { c.host = ""; }, "PERMISO_HOST"},
    {"public_url", [](AuthConfig& c) { c.public_base_url = "auth.example.com"; }, "PERMISO_PUBLIC_URL"},
    {"port_low", [](AuthConfig& c) { c.port = 0; }, "server.port"},
    {"port_high", [](AuthConfig& c) { c.port = 65536; }, "server.port"},
    {"threads", [](AuthConfig& c) { c.threads = -1; }, "server.threads"},
    {"body_limit", [](AuthConfig& c) { c.body_limit_bytes = 10; }, "server.body_limit_bytes"},
    {"header_limit", [](AuthConfig& c) { c.header_limit_bytes = 1 << 20; }, "server.header_limit_bytes"},
    {"header_timeout", [](AuthConfig& c) { c.header_timeout_s = 0; }, "server.header_timeout_s"},
    {"read_timeout", [](AuthConfig& c) { c.read_timeout_s = 0; }, "server.read_timeout_s"},
    {"idle_timeout", [](AuthConfig& c) { c.idle_timeout_s = 0; }, "server.idle_timeout_s"},
    {"grace", [](AuthConfig& c) { c.shutdown_grace_s = -1; }, "server.shutdown_grace_s"},
    {"max_connections", [](AuthConfig& c) { c.max_connections = 0; }, "server.max_connections"},
    {"origin_path", [](AuthConfig& c) { c.allowed_origins = {"https://a.example.com/"}; }, "ALLOWED_ORIGINS"},
    {"origin_scheme", [](AuthConfig& c) { c.allowed_origins = {"ftp://a.example.com"}; }, "ALLOWED_ORIGINS"},
    {"origin_port", [](AuthConfig& c) { c.allowed_origins = {"http://a:80x"}; }, "ALLOWED_ORIGINS"},
    {"wildcard_staging",
     [](AuthConfig& c) {
       c.environment = "staging";
       c.allowed_origins = {"*"};
     },
     "ALLOWED_ORIGINS"},
    {"proxy", [](AuthConfig& c) { c.trusted_proxies = {"proxy.local"}; }, "PERMISO_TRUSTED_PROXIES"},
    {"tls_key_alone", [](AuthConfig& c) { c.tls_key_file = "/etc/hostname"; }, "PERMISO_TLS_CERT_FILE"},
    {"tls_cert_alone", [](AuthConfig& c) { c.tls_cert_file = "/etc/hostname"; }, "PERMISO_TLS_KEY_FILE"},
    {"tls_unreadable",
     [](AuthConfig& c) {
       c.tls_cert_file = "/nonexistent/cert.pem";
       c.tls_key_file = "/etc/hostname";
     },
     "PERMISO_TLS_CERT_FILE"},
    {"log_level", [](AuthConfig& c) { c.log_level = "TRACE"; }, "LOG_LEVEL"},
    {"log_format", [](AuthConfig& c) { c.log_format = "JSON"; }, "LOG_FORMAT"},
    {"db_scheme", [](AuthConfig& c) { c.database_url = "mysql://x"; }, "DATABASE_URL"},
    {"db_asyncpg", [](AuthConfig& c) { c.database_url = "postgresql+asyncpg://u@h/d"; }, "DATABASE_URL"},
    {"db_no_path", [](AuthConfig& c) { c.database_url = "sqlite://"; }, "DATABASE_URL"},
    {"redis_scheme", [](AuthConfig& c) { c.redis_url = "rediss://h"; }, "REDIS_URL"},
    {"redis_empty", [](AuthConfig& c) { c.redis_url = "redis://"; }, "REDIS_URL"},
    {"pool", [](AuthConfig& c) { c.pool_size = 0; }, "storage.pool_size"},
    {"connect_timeout", [](AuthConfig& c) { c.connect_timeout_s = 0; }, "storage.connect_timeout_s"},
    {"algorithm", [](AuthConfig& c) { c.jwt_algorithm = "none"; }, "JWT_ALGORITHM"},
    {"algorithm_case", [](AuthConfig& c) { c.jwt_algorithm = "hs256"; }, "JWT_ALGORITHM"},
    {"hs256_production", [](AuthConfig& c) { c.environment = "production"; }, "JWT_ALGORITHM"},
    {"short_secret", [](AuthConfig& c) { c.jwt_secret_key = std::string(31, 'k'); }, "JWT_SECRET_KEY"},
    {"issuer", [](AuthConfig& c) { c.jwt_issuer = ""; }, "JWT_ISSUER"},
    {"audience", [](AuthConfig& c) { c.jwt_audience = ""; }, "JWT_AUDIENCE"},
    {"access_low", [](AuthConfig& c) { c.access_token_expire_minutes = 0; }, "jwt.access_token_expire_minutes"},
    {"access_high", [](AuthConfig& c) { c.access_token_expire_minutes = 1441; }, "jwt.access_token_expire_minutes"},
    {"service_low", [](AuthConfig& c) { c.service_token_expire_minutes = 0; }, "jwt.service_token_expire_minutes"},
    {"refresh", [](AuthConfig& c) { c.refresh_token_expire_days = 0; }, "jwt.refresh_token_expire_days"},
    {"publish_delay", [](AuthConfig& c) { c.key_publish_delay_s = -1; }, "jwt.key_publish_delay_s"},
    {"leeway", [](AuthConfig& c) { c.leeway_s = 301; }, "jwt.leeway_s"},
    {"rate_login", [](AuthConfig& c) { c.rate_limit_login = "10/min"; }, "RATE_LIMIT_LOGIN"},
    {"rate_api", [](AuthConfig& c) { c.rate_limit_api = "x/minute"; }, "RATE_LIMIT_API"},
    {"private_key_not_pem", [](AuthConfig& c) { c.jwt_private_key = "not a key"; }, "JWT_PRIVATE_KEY"},
    {"secrets_refresh", [](AuthConfig& c) { c.secrets_refresh_s = -1; }, "PERMISO_SECRETS_REFRESH_S"},
    {"audit_retention", [](AuthConfig& c) { c.audit_retention_days = -1; }, "PERMISO_AUDIT_RETENTION_DAYS"},
    {"rate_service", [](AuthConfig& c) { c.rate_limit_service_token = "5"; }, "RATE_LIMIT_SERVICE_TOKEN"},
    {"lockout_threshold", [](AuthConfig& c) { c.lockout_threshold = 0; }, "security.lockout_threshold"},
    {"lockout_minutes", [](AuthConfig& c) { c.lockout_minutes = 0; }, "security.lockout_minutes"},
    {"argon2_memory", [](AuthConfig& c) { c.argon2_memory_kib = 8; }, "security.argon2_memory_kib"},
    {"argon2_iterations", [](AuthConfig& c) { c.argon2_iterations = 0; }, "security.argon2_iterations"},
    {"argon2_parallelism", [](AuthConfig& c) { c.argon2_parallelism = 0; }, "security.argon2_parallelism"},
    {"workers", [](AuthConfig& c) { c.worker_threads = 1000; }, "security.worker_threads"},
    {"queue", [](AuthConfig& c) { c.worker_queue = 0; }, "security.worker_queue"},
    {"nice", [](AuthConfig& c) { c.worker_nice = 20; }, "security.worker_nice"},
    {"pepper", [](AuthConfig& c) { c.client_secret_pepper = "short"; }, "PERMISO_CLIENT_SECRET_PEPPER"},
    {"admin", [](AuthConfig& c) { c.bootstrap_admin_username = ""; }, "PERMISO_BOOTSTRAP_ADMIN_USERNAME"},
};
INSTANTIATE_TEST_SUITE_P(AllRules, ValidationRule, ::testing::ValuesIn(kRules),
                         [](const ::testing::TestParamInfo<RuleCase>& rule) { return std::string(rule.param.name); });

TEST(ConfigDefaults, AreTheDocumentedOnes) {
  const AuthConfig c;
  EXPECT_EQ(c.data_dir, "./var");
  EXPECT_EQ(c.audit_retention_days, 90);
  EXPECT_EQ(c.worker_nice, 10);
  EXPECT_EQ(c.audit_export, "");
  EXPECT_EQ(c.body_limit_bytes, 65536);
  EXPECT_EQ(c.header_limit_bytes, 8192);
  EXPECT_EQ(c.lockout_threshold, 5);
  EXPECT_EQ(c.lockout_minutes, 15);
  EXPECT_EQ(c.argon2_memory_kib, 19456);  // OWASP: m=19 MiB, t=2, p=1
  EXPECT_EQ(c.argon2_iterations, 2);
  EXPECT_EQ(c.argon2_parallelism, 1);
  EXPECT_EQ(c.port, 8000);
  EXPECT_EQ(c.service_name, "permiso-auth");
}

TEST_F(ConfigTest, RedactedJsonParsesAndHidesEverySecret) {
  auto c = load();
  c.jwt_secret_key = "super-secret-jwt-key-of-enough-length!!";
  c.client_secret_pepper = "pepper-pepper-pepper-pepper-pepper";
  c.bootstrap_admin_password = "Adm1n!password";
  c.database_url = "postgresql://permiso:dbpass@db:5432/permiso?sslmode=require&password=qpass";
  c.redis_url = "redis://:redispass@redis:6379/0";
  c.jwt_private_key = "-----BEGIN PRIVATE KEY-----\nMIIEkeymaterial\n-----END PRIVATE KEY-----\n";
  c.service_clients = {{"RISK_CLIENT_SECRET", "risk-secret-value-0123", ""}};
  c.allowed_origins = {"https://a.example.com", "weird\"origin\n"};
  const auto text = render_redacted_json(c);
  for (const char* secret : {"super-secret", "pepper-pepper", "Adm1n!password", "dbpass", "qpass", "redispass",
                             "MIIEkeymaterial", "risk-secret-value"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
  const auto o = boost::json::parse(text).as_object();
  EXPECT_EQ(o.at("environment").as_string(), "development");
  EXPECT_EQ(o.at("jwt").at("secret_key").as_string(), "***");
  EXPECT_EQ(o.at("jwt").at("private_key").as_string(), "***");
  EXPECT_EQ(o.at("jwt").at("issuer").as_string(), "permiso-auth-dev");
  EXPECT_EQ(o.at("security").at("client_secret_pepper").as_string(), "***");
  EXPECT_EQ(o.at("bootstrap").at("admin_password").as_string(), "***");
  EXPECT_EQ(o.at("storage").at("database_url").as_string(),
            "postgresql://permiso:***@db:5432/permiso?sslmode=require&password=***");
  EXPECT_EQ(o.at("storage").at("redis_url").as_string(), "redis://:***@redis:6379/0");
  EXPECT_EQ(o.at("server").at("port").as_int64(), 8000);
  EXPECT_EQ(o.at("server").at("allowed_origins").as_array().at(1).as_string(), "weird\"origin\n");
  EXPECT_FALSE(o.at("jwt").at("allow_hs256_in_production").as_bool());
}

TEST_F(ConfigTest, RedactedTomlReadsBackAsTheSameConfiguration) {
  auto c = load();
  c.port = 8123;
  c.allowed_origins = {"https://a.example.com"};
  c.jwt_secret_key = std::string(40, 'z');
  c.database_url = "postgresql://u:hunter2@db/x";
  const auto file = dir_ / "effective.toml";
  std::ofstream(file) << render_redacted(c);
  vars_["PERMISO_CONFIG"] = file.string();
  const auto back = load();
  EXPECT_EQ(back.port, 8123);
  EXPECT_EQ(back.allowed_origins, c.allowed_origins);
  EXPECT_EQ(back.jwt_secret_key, "***");  // never the secret itself
  EXPECT_EQ(back.database_url, "postgresql://u:***@db/x");
  EXPECT_EQ(back.log_level, c.log_level);
}

TEST_F(ConfigTest, SecretsWithoutAPasswordStayReadable) {
  auto c = load();
  c.database_url = "postgresql://permiso@db/permiso";
  c.redis_url = "redis://redis:6379/0";
  const auto text = render_redacted(c);
  EXPECT_NE(text.find("postgresql://permiso@db/permiso"), std::string::npos);
  EXPECT_NE(text.find("redis://redis:6379/0"), std::string::npos);
  EXPECT_NE(text.find("secret_key = \"\""), std::string::npos);  // unset, nothing to hide
}

}  // namespace
}  // namespace permiso::config
