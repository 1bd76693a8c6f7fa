// mt5-api configuration: the shared profiles, precedence, every environment variable, each
// validation rule, redaction and the TOML round trip.
#include "config/gateway_config.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace permiso::config {
namespace {
namespace fs = std::filesystem;

class GatewayConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("permiso-gwconfig-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    vars_["PERMISO_CONFIG_DIR"] = PERMISO_TEST_CONFIG_DIR;
    vars_["JWT_SECRET_KEY"] = kSecret;  // the development profile verifies HS256
  }
  void TearDown() override { fs::remove_all(dir_); }

  EnvLookup env() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = vars_.find(std::string(name));
      if (it == vars_.end()) return std::nullopt;
      return it->second;
    };
  }
  static constexpr const char* kSecret = "a-shared-hs256-secret-of-32-bytes!!";
  GatewayConfig load() {
    auto c = load_gateway_config(env());
    EXPECT_TRUE(c) << (c ? "" : c.error().front().field + ": " + c.error().front().rule);
    return c ? *c : GatewayConfig{};
  }
  static bool has_problem(const GatewayConfig& c, std::string_view field) {
    for (const auto& p : validate(c)) {
      if (p.field == field) return true;
    }
    return false;
  }

  fs::path dir_;
  std::map<std::string, std::string> vars_;
};

TEST_F(GatewayConfigTest, DevelopmentDefaultsAreTheDocumentedOnesAndValid) {
  const auto c = load();
  EXPECT_EQ(c.environment, "development");
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 8001);
  EXPECT_EQ(c.auth_url, "http://127.0.0.1:8000");
  EXPECT_EQ(c.jwt_algorithms(), std::vector<std::string>{"HS256"});  // the shared [jwt] table
  EXPECT_EQ(c.jwt_issuer, "permiso-auth-dev");
  EXPECT_EQ(c.jwt_audience, "permiso");
  EXPECT_EQ(c.service_client_id, "mt5-service");
  EXPECT_EQ(c.broker, "simulator");
  EXPECT_EQ(c.sim_tick_ms, 250);
  EXPECT_EQ(c.sim_max_fill_lots, 0);  // unlimited
  EXPECT_DOUBLE_EQ(c.demo_deposit, 10000);
  EXPECT_EQ(c.demo_leverage, 100);
  EXPECT_EQ(c.demo_currency, "USD");
  EXPECT_EQ(c.log_level, "DEBUG");
  EXPECT_EQ(c.log_config().service, "mt5-api");
  // permiso-auth's [server] port is not ours; its origins are shared.
  EXPECT_EQ(c.allowed_origins, (std::vector<std::string>{"http://localhost:3000", "http://localhost:8080"}));
  EXPECT_TRUE(validate(c).empty()) << validate(c).front().field;
}

TEST_F(GatewayConfigTest, ProductionProfileListensEverywhereAndRefusesHs256) {
  vars_["PERMISO_ENV"] = "production";
  vars_["MT5_SERVICE_CLIENT_SECRET"] = "feed-reader-secret";
  vars_["POSTGRES_PASSWORD"] = "pg-pass";
  vars_["REDIS_PASSWORD"] = "redis-pass";
  auto c = load();
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 8001);
  EXPECT_EQ(c.auth_url, "http://permiso-auth:8000");
  EXPECT_EQ(c.database_url, "postgresql://permiso:pg-pass@postgres:5432/permiso");
  EXPECT_EQ(c.redis_url, "redis://:redis-pass@redis:6379/0");
  EXPECT_EQ(c.rate_limit_api, "100/minute");  // the profile's [rate_limits].api
  EXPECT_EQ(c.trusted_proxies, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(c.jwt_algorithms(), std::vector<std::string>{"RS256"});
  EXPECT_EQ(c.jwt_issuer, "permiso-auth");
  EXPECT_EQ(c.log_format, "json");
  EXPECT_TRUE(validate(c).empty());
  c.jwt_algorithm = "RS256,HS256";
  c.jwt_secret_key = std::string(40, 'k');
  EXPECT_TRUE(has_problem(c, "JWT_ALGORITHM"));
  c.jwt_allow_hs256_in_production = true;
  EXPECT_FALSE(has_problem(c, "JWT_ALGORITHM"));
}

TEST_F(GatewayConfigTest, EveryDocumentedVariableIsHonoured) {
  vars_["PERMISO_DATA_DIR"] = "/srv/permiso";
  vars_["MT5_API_HOST"] = "0.0.0.0";
  vars_["MT5_API_PORT"] = "9001";
  vars_["MT5_API_THREADS"] = "3";
  vars_["PERMISO_AUTH_URL"] = "https://auth.example.com";
  vars_["MT5_DATABASE_URL"] = "postgresql://u:p@db/mt5";
  vars_["REDIS_URL"] = "redis://redis:6379/2";
  vars_["JWT_ALGORITHM"] = "ES256, RS256";
  vars_["JWT_SECRET_KEY"] = std::string(32, 's');
  vars_["JWT_ISSUER"] = "iss";
  vars_["JWT_AUDIENCE"] = "aud";
  vars_["MT5_SERVICE_CLIENT_ID"] = "gateway";
  vars_["MT5_SERVICE_CLIENT_SECRET"] = "client-secret";
  vars_["MT5_BROKER"] = "simulator";
  vars_["MT5_SERVER"] = "mt5.example.com";
  vars_["MT5_LOGIN"] = "12345";
  vars_["MT5_PASSWORD"] = "mt5pw";
  vars_["MT5_SIM_SEED"] = "42";
  vars_["MT5_SIM_TICK_MS"] = "100";
  vars_["MT5_SIM_MAX_FILL_LOTS"] = "0.5";
  vars_["MT5_DEMO_DEPOSIT"] = "2500.5";
  vars_["MT5_DEMO_LEVERAGE"] = "50";
  vars_["MT5_DEMO_CURRENCY"] = "EUR";
  vars_["ALLOWED_ORIGINS"] = "https://a.example.com";
  vars_["CORS_ORIGINS"] = "https://b.example.com,https://a.example.com";
  vars_["RATE_LIMIT_API"] = "50/second";
  vars_["LOG_LEVEL"] = "warning";
  vars_["LOG_FORMAT"] = "json";
  vars_["PERMISO_TRUSTED_PROXIES"] = "127.0.0.1, ::1";
  vars_["PERMISO_AUTH_CA_FILE"] = "/etc/hostname";
  vars_["PERMISO_TLS_CERT_FILE"] = "/etc/hostname";
  vars_["PERMISO_TLS_KEY_FILE"] = "/etc/hostname";
  const auto c = load();
  EXPECT_EQ(c.data_dir, "/srv/permiso");
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 9001);
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.auth_url, "https://auth.example.com");
  EXPECT_EQ(c.effective_database_url(), "postgresql://u:p@db/mt5");
  EXPECT_EQ(c.redis_url, "redis://redis:6379/2");
  EXPECT_EQ(c.jwt_algorithms(), (std::vector<std::string>{"ES256", "RS256"}));
  EXPECT_EQ(c.jwt_secret_key, std::string(32, 's'));
  EXPECT_EQ(c.jwt_issuer, "iss");
  EXPECT_EQ(c.jwt_audience, "aud");
  EXPECT_EQ(c.service_client_id, "gateway");
  EXPECT_EQ(c.service_client_secret, "client-secret");
  EXPECT_EQ(c.mt5_server, "mt5.example.com");
  EXPECT_EQ(c.mt5_login, "12345");
  EXPECT_EQ(c.mt5_password, "mt5pw");
  EXPECT_EQ(c.sim_seed, 42);
  EXPECT_EQ(c.sim_tick_ms, 100);
  EXPECT_DOUBLE_EQ(c.sim_max_fill_lots, 0.5);
  EXPECT_DOUBLE_EQ(c.demo_deposit, 2500.5);
  EXPECT_EQ(c.demo_leverage, 50);
  EXPECT_EQ(c.demo_currency, "EUR");
  EXPECT_EQ(c.allowed_origins, (std::vector<std::string>{"https://a.example.com", "https://b.example.com"}));
  EXPECT_EQ(c.rate_limit_api, "50/second");
  EXPECT_EQ(c.log_config().level, "warning");
  EXPECT_EQ(c.log_config().format, "json");
  EXPECT_EQ(c.trusted_proxies, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(c.auth_ca_file, "/etc/hostname");
  EXPECT_EQ(c.tls_cert_file, "/etc/hostname");
  EXPECT_EQ(c.tls_key_file, "/etc/hostname");
  EXPECT_TRUE(validate(c).empty()) << validate(c).front().field << ": " << validate(c).front().rule;
}

TEST_F(GatewayConfigTest, DatabaseIsMt5DatabaseUrlElseDatabaseUrlElseSqliteUnderTheDataDir) {
  vars_["PERMISO_DATA_DIR"] = dir_.string();
  EXPECT_EQ(load().effective_database_url(), "sqlite://" + (dir_ / "mt5-api.db").string());
  vars_["DATABASE_URL"] = "postgresql://shared/db";
  EXPECT_EQ(load().effective_database_url(), "postgresql://shared/db");
  vars_["MT5_DATABASE_URL"] = "postgresql://own/db";
  EXPECT_EQ(load().effective_database_url(), "postgresql://own/db");
}

TEST_F(GatewayConfigTest, TheFixFullReadIsFrequentOnASharedStoreUnlessSet) {
  vars_["PERMISO_DATA_DIR"] = dir_.string();
  EXPECT_EQ(load().effective_fix_full_read_s(), 30);  // SQLite: one gateway
  vars_["MT5_DATABASE_URL"] = "postgresql://own/db";
  EXPECT_EQ(load().effective_fix_full_read_s(), 2);  // replicas may share it
  vars_["MT5_FIX_FULL_READ_S"] = "45";
  EXPECT_EQ(load().effective_fix_full_read_s(), 45);
}

TEST_F(GatewayConfigTest, TheFixLedgerKeepsWhatItNames) {
  EXPECT_FALSE(load().fix_ledger_keeps("positions"));
  EXPECT_FALSE(load().fix_ledger_keeps("collateral"));
  vars_["MT5_FIX_LEDGER"] = "collateral";
  EXPECT_FALSE(load().fix_ledger_keeps("positions"));
  EXPECT_TRUE(load().fix_ledger_keeps("collateral"));
  vars_["MT5_FIX_LEDGER"] = "positions, collateral";
  EXPECT_TRUE(load().fix_ledger_keeps("positions"));
  EXPECT_TRUE(load().fix_ledger_keeps("collateral"));
}

TEST_F(GatewayConfigTest, DatabaseTemplatesFollowTheSameOrder) {
  vars_["POSTGRES_PASSWORD"] = "p@ss";
  vars_["DATABASE_URL_TEMPLATE"] = "postgresql://permiso:{password}@shared/permiso";
  EXPECT_EQ(load().database_url, "postgresql://permiso:p%40ss@shared/permiso");
  vars_["MT5_DATABASE_URL_TEMPLATE"] = "postgresql://mt5:{password}@own/mt5";
  EXPECT_EQ(load().database_url, "postgresql://mt5:p%40ss@own/mt5");
  vars_["MT5_DATABASE_URL"] = "postgresql://direct/mt5";
  EXPECT_EQ(load().database_url, "postgresql://direct/mt5");
}

TEST_F(GatewayConfigTest, SecretsComeThroughTheProvider) {
  // MT5_PASSWORD and the feed reader's secret, encrypted with a key the test made itself.
  vars_["SECRETS_PROVIDER"] = "encrypted";
  vars_["ENCRYPTION_KEY"] = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
  // Fernet's published example token: "hello" under that key.
  vars_["MT5_PASSWORD_ENCRYPTED"] =
      "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
  EXPECT_EQ(load().mt5_password, "hello");
  vars_["ENCRYPTION_KEY"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  auto wrong = load_gateway_config(env());
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().front().field, "MT5_PASSWORD_ENCRYPTED");
}

TEST_F(GatewayConfigTest, EachLayerOverridesOnlyWhatItSets) {
  const auto file = dir_ / "layer.toml";
  std::ofstream(file) << "[log]\nformat = \"json\"\n[mt5_api]\nport = 9100\nrate_limit_api = \"7/second\"\n"
                         "[mt5_api.broker]\nsim_tick_ms = 500\ndemo_deposit = 5000\nsim_max_fill_lots = 2\n";
  vars_["PERMISO_CONFIG"] = file.string();
  vars_["RATE_LIMIT_API"] = "8/second";
  const auto c = load();
  EXPECT_EQ(c.pool_size, 8);                    // default
  EXPECT_EQ(c.log_level, "DEBUG");              // profile
  EXPECT_EQ(c.log_format, "json");              // file over profile
  EXPECT_EQ(c.port, 9100);                      // file over profile
  EXPECT_EQ(c.sim_tick_ms, 500);                // file over default
  EXPECT_DOUBLE_EQ(c.sim_max_fill_lots, 2);     // an integer where a number is expected
  EXPECT_DOUBLE_EQ(c.demo_deposit, 5000);       // an integer where a number is expected
  EXPECT_EQ(c.rate_limit_api, "8/second");      // environment over file
  EXPECT_EQ(c.jwt_issuer, "permiso-auth-dev");  // profile over default
}

TEST_F(GatewayConfigTest, PreparedStatementsAreOnUnlessTheFileOrTheEnvironmentTurnsThemOff) {
  EXPECT_TRUE(load().prepared_statements);
  const auto file = dir_ / "pooler.toml";
  std::ofstream(file) << "[mt5_api]\nprepared_statements = false\n";
  vars_["PERMISO_CONFIG"] = file.string();
  EXPECT_FALSE(load().prepared_statements);
  vars_["PERMISO_PG_PREPARED_STATEMENTS"] = "true";  // environment over file
  EXPECT_TRUE(load().prepared_statements);
  vars_.erase("PERMISO_CONFIG");
  vars_["PERMISO_PG_PREPARED_STATEMENTS"] = "false";
  EXPECT_FALSE(load().prepared_statements);
}

TEST_F(GatewayConfigTest, WrongTypesAndBadNumbersNameTheField) {
  const auto file = dir_ / "bad.toml";
  std::ofstream(file) << "[mt5_api]\nport = \"eighty\"\n[mt5_api.broker]\ndemo_deposit = \"lots\"\n";
  vars_["PERMISO_CONFIG"] = file.string();
  auto c = load_gateway_config(env());
  ASSERT_FALSE(c);
  ASSERT_EQ(c.error().size(), 2U);
  EXPECT_EQ(c.error()[0].field, "mt5_api.port");
  EXPECT_EQ(c.error()[1].field, "mt5_api.broker.demo_deposit");
  vars_.erase("PERMISO_CONFIG");
  vars_["MT5_API_PORT"] = "80x";
  vars_["MT5_DEMO_DEPOSIT"] = "nan";
  vars_["MT5_SIM_SEED"] = "seed";
  c = load_gateway_config(env());
  ASSERT_FALSE(c);
  ASSERT_EQ(c.error().size(), 3U);
  EXPECT_EQ(c.error()[0].field, "MT5_API_PORT");
  EXPECT_EQ(c.error()[1].field, "MT5_SIM_SEED");
  EXPECT_EQ(c.error()[2].field, "MT5_DEMO_DEPOSIT");
}

TEST_F(GatewayConfigTest, SimulatorLiquidityIsZeroForUnlimitedOrPositiveLots) {
  vars_["MT5_SIM_MAX_FILL_LOTS"] = "0";
  auto c = load();
  EXPECT_EQ(c.sim_max_fill_lots, 0);
  EXPECT_FALSE(has_problem(c, "MT5_SIM_MAX_FILL_LOTS"));
  vars_["MT5_SIM_MAX_FILL_LOTS"] = "-1";
  c = load();
  ASSERT_TRUE(has_problem(c, "MT5_SIM_MAX_FILL_LOTS"));
  for (const auto& p : validate(c)) {
    if (p.field == "MT5_SIM_MAX_FILL_LOTS") {
      EXPECT_EQ(p.rule, "must be 0 (unlimited) or a positive number of lots");
    }
  }
  vars_["MT5_SIM_MAX_FILL_LOTS"] = "thin";
  auto unreadable = load_gateway_config(env());
  ASSERT_FALSE(unreadable);
  EXPECT_EQ(unreadable.error().front().field, "MT5_SIM_MAX_FILL_LOTS");
}

TEST_F(GatewayConfigTest, UnknownBrokerIsAnErrorNamingTheSupportedOnes) {
  vars_["MT5_BROKER"] = "quickfix";
  const auto c = load();
  const auto problems = validate(c);
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].field, "MT5_BROKER");
  EXPECT_NE(problems[0].rule.find("simulator, fix, terminal"), std::string::npos);
  EXPECT_NE(problems[0].rule.find("'quickfix'"), std::string::npos);
}

TEST_F(GatewayConfigTest, UnknownEnvironmentIsRefused) {
  vars_["PERMISO_ENV"] = "prod";
  auto c = load_gateway_config(env());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().front().field, "PERMISO_ENV");
}

struct Rule {
  const char* field;
  void (*breaks)(GatewayConfig&);
};

class GatewayRule : public ::testing::TestWithParam<Rule> {};

TEST_P(GatewayRule, IsReportedWithItsField) {
  GatewayConfig c;
  c.jwt_secret_key = std::string(32, 's');
  ASSERT_TRUE(validate(c).empty()) << validate(c).front().field;
  GetParam().breaks(c);
  const auto problems = validate(c);
  ASSERT_FALSE(problems.empty());
  bool named = false;
  for (const auto& p : problems) named = named || p.field == GetParam().field;
  EXPECT_TRUE(named) << "expected " << GetParam().field << ", got " << problems.front().field;
}

INSTANTIATE_TEST_SUITE_P(
    AllRules, GatewayRule,
    ::testing::Values(
        Rule{"PERMISO_ENV", [](GatewayConfig& c) { c.environment = "qa"; }},
        Rule{"PERMISO_DATA_DIR", [](GatewayConfig& c) { c.data_dir.clear(); }},
        Rule{"version", [](GatewayConfig& c) { c.version = "1.2"; }},
        Rule{"MT5_API_HOST", [](GatewayConfig& c) { c.host.clear(); }},
        Rule{"MT5_API_PORT", [](GatewayConfig& c) { c.port = 0; }},
        Rule{"MT5_API_PORT", [](GatewayConfig& c) { c.port = 70000; }},
        Rule{"MT5_API_THREADS", [](GatewayConfig& c) { c.threads = -1; }},
        Rule{"mt5_api.body_limit_bytes", [](GatewayConfig& c) { c.body_limit_bytes = 10; }},
        Rule{"mt5_api.handler_timeout_s", [](GatewayConfig& c) { c.handler_timeout_s = 0; }},
        Rule{"mt5_api.max_connections", [](GatewayConfig& c) { c.max_connections = 15; }},
        Rule{"ALLOWED_ORIGINS", [](GatewayConfig& c) { c.allowed_origins = {"ftp://x"}; }},
        Rule{"ALLOWED_ORIGINS",
             [](GatewayConfig& c) { c.environment = "staging", c.allowed_origins = {"*"}, c.jwt_algorithm = "RS256"; }},
        Rule{"PERMISO_TRUSTED_PROXIES", [](GatewayConfig& c) { c.trusted_proxies = {"proxy.local"}; }},
        Rule{"PERMISO_TLS_KEY_FILE", [](GatewayConfig& c) { c.tls_cert_file = "/etc/hostname"; }},
        Rule{"PERMISO_TLS_KEY_FILE",
             [](GatewayConfig& c) { c.tls_cert_file = "/etc/hostname", c.tls_key_file = "/nonexistent/key.pem"; }},
        Rule{"RATE_LIMIT_API", [](GatewayConfig& c) { c.rate_limit_api = "lots"; }},
        Rule{"LOG_LEVEL", [](GatewayConfig& c) { c.log_level = "LOUD"; }},
        Rule{"LOG_FORMAT", [](GatewayConfig& c) { c.log_format = "xml"; }},
        Rule{"MT5_DATABASE_URL", [](GatewayConfig& c) { c.database_url = "mysql://x"; }},
        Rule{"MT5_DATABASE_URL", [](GatewayConfig& c) { c.database_url = "postgresql+asyncpg://x"; }},
        Rule{"mt5_api.pool_size", [](GatewayConfig& c) { c.pool_size = 0; }},
        Rule{"REDIS_URL", [](GatewayConfig& c) { c.redis_url = "http://redis"; }},
        Rule{"PERMISO_AUTH_URL", [](GatewayConfig& c) { c.auth_url = "localhost:8000"; }},
        Rule{"JWT_ALGORITHM", [](GatewayConfig& c) { c.jwt_algorithm = "none"; }},
        Rule{"JWT_ALGORITHM", [](GatewayConfig& c) { c.jwt_algorithm = " , "; }},
        Rule{"JWT_SECRET_KEY", [](GatewayConfig& c) { c.jwt_secret_key = "short"; }},
        Rule{"JWT_SECRET_KEY", [](GatewayConfig& c) { c.jwt_secret_key.clear(); }},
        Rule{"MT5_SERVICE_CLIENT_SECRET", [](GatewayConfig& c) { c.environment = "staging"; }},
        Rule{"JWT_ISSUER", [](GatewayConfig& c) { c.jwt_issuer.clear(); }},
        Rule{"JWT_AUDIENCE", [](GatewayConfig& c) { c.jwt_audience.clear(); }},
        Rule{"jwt.leeway_s", [](GatewayConfig& c) { c.leeway_s = 3600; }},
        Rule{"MT5_SERVICE_CLIENT_ID", [](GatewayConfig& c) { c.service_client_id.clear(); }},
        Rule{"mt5_api.token_cache_entries", [](GatewayConfig& c) { c.token_cache_entries = -1; }},
        Rule{"MT5_BROKER", [](GatewayConfig& c) { c.broker = "mt5"; }},
        Rule{"MT5_LOGIN", [](GatewayConfig& c) { c.mt5_login = "12a45"; }},
        Rule{"MT5_TERMINAL_COMMAND_URL",
             [](GatewayConfig& c) { c.broker = "terminal", c.terminal_command_url = "http://127.0.0.1:5555"; }},
        Rule{"MT5_TERMINAL_EVENT_URL", [](GatewayConfig& c) { c.broker = "terminal", c.terminal_event_url = "tcp://"; }},
        Rule{"MT5_TERMINAL_TIMEOUT_MS", [](GatewayConfig& c) { c.broker = "terminal", c.terminal_timeout_ms = 10; }},
        Rule{"MT5_TERMINAL_TOKEN",
             [](GatewayConfig& c) { c.environment = "staging", c.jwt_algorithm = "RS256", c.service_client_secret = "s", c.broker = "terminal"; }},
        Rule{"MT5_SERVER", [](GatewayConfig& c) { c.broker = "fix", c.mt5_password = "p", c.mt5_server = "fix.example"; }},
        Rule{"MT5_SERVER", [](GatewayConfig& c) { c.broker = "fix", c.mt5_password = "p", c.mt5_server = "h:70000"; }},
        Rule{"MT5_PASSWORD", [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "127.0.0.1:9876"; }},
        Rule{"MT5_FIX_SENDER_COMP_ID",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_sender_comp_id = "A B"; }},
        Rule{"MT5_FIX_TARGET_COMP_ID",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_target_comp_id = ""; }},
        Rule{"MT5_FIX_QUOTE_TARGET_COMP_ID",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_quote_target_comp_id = "a=b"; }},
        Rule{"MT5_FIX_CA_FILE",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_ca_file = "/etc/hostname"; }},
        Rule{"MT5_FIX_CA_FILE",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_tls = true; }},
        Rule{"MT5_FIX_POSITION_ID_TAG",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_position_id_tag = 20011; }},
        Rule{"MT5_FIX_HEARTBEAT_S",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_heartbeat_s = 0; }},
        Rule{"MT5_FIX_TIMEOUT_MS",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_timeout_ms = 50; }},
        Rule{"MT5_FIX_FULL_READ_S",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_full_read_s = -1; }},
        Rule{"MT5_FIX_LEDGER",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_ledger = "balance"; }},
        Rule{"MT5_FIX_LEDGER",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_ledger = "positions,"; }},
        Rule{"MT5_FIX_POSITION_ID_TAG",
             [](GatewayConfig& c) { c.broker = "fix", c.mt5_server = "h:1", c.mt5_password = "p", c.fix_position_id_tag = 38; }},
        Rule{"MT5_SIM_SEED", [](GatewayConfig& c) { c.sim_seed = -5; }},
        Rule{"MT5_SIM_TICK_MS", [](GatewayConfig& c) { c.sim_tick_ms = 1; }},
        Rule{"MT5_SIM_MAX_FILL_LOTS", [](GatewayConfig& c) { c.sim_max_fill_lots = -0.1; }},
        Rule{"MT5_SIM_MAX_FILL_LOTS",
             [](GatewayConfig& c) { c.sim_max_fill_lots = std::numeric_limits<double>::quiet_NaN(); }},
        Rule{"MT5_DEMO_DEPOSIT", [](GatewayConfig& c) { c.demo_deposit = 0; }},
        Rule{"MT5_DEMO_DEPOSIT", [](GatewayConfig& c) { c.demo_deposit = std::numeric_limits<double>::infinity(); }},
        Rule{"MT5_DEMO_LEVERAGE", [](GatewayConfig& c) { c.demo_leverage = 0; }},
        Rule{"MT5_DEMO_CURRENCY", [](GatewayConfig& c) { c.demo_currency = "usd"; }},
        Rule{"MT5_DEMO_CURRENCY", [](GatewayConfig& c) { c.demo_currency = "DOLLAR"; }}));

TEST_F(GatewayConfigTest, AFixBrokerWithAddressAndPasswordIsValid) {
  auto c = load();
  c.broker = "fix";
  c.mt5_server = "[::1]:9876";
  c.mt5_password = "fix-password";
  EXPECT_TRUE(validate(c).empty());
  const auto address = parse_host_port(c.mt5_server);
  ASSERT_TRUE(address);
  EXPECT_EQ(address->host, "::1");
  EXPECT_EQ(address->port, 9876);
  EXPECT_FALSE(parse_host_port(":80"));
  EXPECT_FALSE(parse_host_port("host:"));
  EXPECT_FALSE(parse_host_port("host:0"));
  EXPECT_FALSE(parse_host_port("host:12x"));
}

TEST_F(GatewayConfigTest, RedactionHidesEverySecret) {
  auto c = load();
  c.jwt_secret_key = "super-secret-jwt-key-of-enough-length!!";
  c.service_client_secret = "svc-client-secret";
  c.mt5_password = "mt5-password";
  c.terminal_token = "bridge-token-value";
  c.database_url = "postgresql://mt5:dbpass@db:5432/mt5";
  c.redis_url = "redis://:redispass@redis:6379/0";
  for (const auto& text : {render_redacted(c), render_redacted_json(c)}) {
    for (const char* secret :
         {"super-secret", "svc-client-secret", "mt5-password", "bridge-token-value", "dbpass", "redispass"}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << secret;
    }
    EXPECT_NE(text.find("postgresql://mt5:***@db:5432/mt5"), std::string::npos);
  }
  const auto json = boost::json::parse(render_redacted_json(c)).as_object();
  EXPECT_EQ(json.at("mt5_api").at("port").as_int64(), 8001);
  EXPECT_EQ(json.at("mt5_api").at("broker").at("kind").as_string(), "simulator");
  EXPECT_EQ(json.at("mt5_api").at("broker").at("password").as_string(), "***");
  EXPECT_EQ(json.at("jwt").at("secret_key").as_string(), "***");
}

TEST_F(GatewayConfigTest, RedactedTomlReadsBackAsTheSameConfiguration) {
  vars_["MT5_API_PORT"] = "9555";
  vars_["MT5_DEMO_DEPOSIT"] = "1234.25";
  vars_["JWT_ALGORITHM"] = "ES256,EdDSA";
  vars_["ALLOWED_ORIGINS"] = "https://x.example.com";
  const auto original = load();
  const auto file = dir_ / "effective.toml";
  std::ofstream(file) << render_redacted(original);
  std::map<std::string, std::string> only_file{{"PERMISO_CONFIG_DIR", PERMISO_TEST_CONFIG_DIR},
                                               {"PERMISO_CONFIG", file.string()},
                                               {"JWT_SECRET_KEY", kSecret}};  // redacted in the file
  vars_ = only_file;
  const auto back = load();
  EXPECT_EQ(render_redacted(back), render_redacted(original));
  EXPECT_EQ(back.port, 9555);
  EXPECT_DOUBLE_EQ(back.demo_deposit, 1234.25);
  EXPECT_EQ(back.jwt_algorithms(), (std::vector<std::string>{"ES256", "EdDSA"}));
}

// ---- MT5_BROKER=fix: the broker's numbers for our custom fields ----

/// A valid FIX broker but for what the test sets.
GatewayConfig fix_broker(GatewayConfig c) {
  c.broker = "fix";
  c.mt5_server = "127.0.0.1:9876";
  c.mt5_password = "p";
  return c;
}

std::vector<std::string> fix_tag_problems(const GatewayConfig& c) {
  std::vector<std::string> lines;
  for (const auto& p : validate(c)) {
    if (p.field == "MT5_FIX_TAGS" || p.field == "MT5_FIX_POSITION_ID_TAG") lines.push_back(p.field + ": " + p.rule);
  }
  return lines;
}

TEST_F(GatewayConfigTest, FixTagsComeFromTheProfileTableAndTheEnvironmentNameByName) {
  const auto file = dir_ / "broker.toml";
  std::ofstream(file) << "[mt5_api.broker.fix_tags]\nMagic = 7002\nBalance = 7030\n";
  vars_["PERMISO_CONFIG"] = file.string();
  vars_["MT5_FIX_TAGS"] = "Balance=7130, Digits=7050";
  const auto c = fix_broker(load());
  // A TOML table's keys come in name order; the environment's after them.
  EXPECT_EQ(c.fix_tags, (std::vector<fixtags::TagNumber>{{"Balance", 7130}, {"Magic", 7002}, {"Digits", 7050}}));
  EXPECT_TRUE(validate(c).empty()) << validate(c).front().field << ": " << validate(c).front().rule;
  const auto tags = c.fix_tag_map();
  EXPECT_EQ(tags.magic, 7002);
  EXPECT_EQ(tags.balance, 7130);  // the environment over the file
  EXPECT_EQ(tags.digits, 7050);
  EXPECT_EQ(tags.position_id, 20001);  // not named: the dictionary's
}

TEST_F(GatewayConfigTest, PositionIdTagStaysAnAliasOfPositionId) {
  vars_["MT5_FIX_POSITION_ID_TAG"] = "7001";
  auto c = fix_broker(load());
  EXPECT_TRUE(validate(c).empty());
  EXPECT_EQ(c.fix_tag_map().position_id, 7001);
  vars_["MT5_FIX_TAGS"] = "PositionID=7001,Magic=7002";  // saying the same twice is fine
  c = fix_broker(load());
  EXPECT_TRUE(validate(c).empty());
  EXPECT_EQ(c.fix_tag_map().position_id, 7001);
  vars_["MT5_FIX_TAGS"] = "PositionID=7101";
  c = fix_broker(load());
  EXPECT_EQ(fix_tag_problems(c),
            (std::vector<std::string>{"MT5_FIX_POSITION_ID_TAG: is 7001 but MT5_FIX_TAGS has PositionID=7101: set one "
                                      "of them"}));
}

TEST_F(GatewayConfigTest, EveryBadFixTagIsAStartUpErrorNamingFieldAndRule) {
  auto c = fix_broker(load());
  c.fix_tags = {{"Colour", 7001}, {"Magic", 38}, {"Bid", 7013}, {"Ask", 7013}, {"Swap", 20015}};
  EXPECT_EQ(fix_tag_problems(c),
            (std::vector<std::string>{
                "MT5_FIX_TAGS: Colour is not a custom field of the FIX dictionary (docs/fix.md lists them; names are "
                "case-sensitive)",
                "MT5_FIX_TAGS: Magic must be in FIX's user-defined ranges 5000..9999 or 20000..49999, got 38",
                "MT5_FIX_TAGS: Bid 7013 is Ask's number too: two fields cannot share one tag",
                "MT5_FIX_TAGS: Swap 20015 is Reason's number too: two fields cannot share one tag"}));
  // The simulator ignores FIX settings, as it ignores MT5_SERVER.
  c.broker = "simulator";
  EXPECT_TRUE(fix_tag_problems(c).empty());
}

TEST_F(GatewayConfigTest, MalformedFixTagsAreLoadErrors) {
  vars_["MT5_FIX_TAGS"] = "Magic:7002";
  auto c = load_gateway_config(env());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().front().field, "MT5_FIX_TAGS");
  EXPECT_EQ(c.error().front().rule, "'Magic:7002' is not Name=Number (e.g. PositionID=7001)");
  vars_.erase("MT5_FIX_TAGS");
  const auto file = dir_ / "bad-tags.toml";
  std::ofstream(file) << "[mt5_api.broker.fix_tags]\nMagic = \"7002\"\n";
  vars_["PERMISO_CONFIG"] = file.string();
  c = load_gateway_config(env());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().front().field, "mt5_api.broker.fix_tags.Magic");
  std::ofstream(file) << "[mt5_api.broker]\nfix_tags = 7002\n";
  c = load_gateway_config(env());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().front().field, "mt5_api.broker.fix_tags");
}

TEST_F(GatewayConfigTest, RenumberedFixTagsReadBackFromTheRenderedConfiguration) {
  vars_["MT5_FIX_TAGS"] = "PositionID=7001,TradeAllowed=49999";
  const auto original = load();
  const auto file = dir_ / "effective-tags.toml";
  std::ofstream(file) << render_redacted(original);
  vars_ = {
      {"PERMISO_CONFIG_DIR", PERMISO_TEST_CONFIG_DIR}, {"PERMISO_CONFIG", file.string()}, {"JWT_SECRET_KEY", kSecret}};
  const auto back = load();
  EXPECT_EQ(back.fix_tags, original.fix_tags);
  const auto json = boost::json::parse(render_redacted_json(original));
  EXPECT_EQ(json.at("mt5_api").at("broker").at("fix_tags").at("TradeAllowed").as_int64(), 49999);
}

}  // namespace
}  // namespace permiso::config
