// See gateway_config.hpp.
#include "config/gateway_config.hpp"

#include "config/support.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>

namespace permiso::config {
namespace fs = std::filesystem;
using detail::Entry;

namespace {

constexpr const char* kApi = "mt5_api";
constexpr const char* kBroker = "mt5_api.broker";
constexpr const char* kFixTags = "fix_tags";  // a table of its own under kBroker

/// Numbers `n.name` as `n` says, over an earlier layer's number for it.
void set_fix_tag(std::vector<fixtags::TagNumber>& tags, fixtags::TagNumber n) {
  const auto same = std::find_if(tags.begin(), tags.end(), [&](const auto& t) { return t.name == n.name; });
  if (same != tags.end()) {
    same->number = n.number;
  } else {
    tags.push_back(std::move(n));
  }
}

/// [mt5_api.broker.fix_tags]: Name = number, one key per renumbered field.
void read_fix_tags(const toml::table& t, const std::string& source, GatewayConfig& c,
                   std::vector<ConfigProblem>& problems) {
  const auto node = t.at_path(std::string(kBroker) + "." + kFixTags);
  if (!node) return;
  const auto* table = node.as_table();
  if (table == nullptr) {
    problems.push_back({std::string(kBroker) + "." + kFixTags, "must be a table of Name = number (in " + source + ")"});
    return;
  }
  for (const auto& [key, value] : *table) {
    if (!value.is_integer()) {
      problems.push_back({std::string(kBroker) + "." + kFixTags + "." + std::string(key.str()),
                          "must be an integer (in " + source + ")"});
      continue;
    }
    set_fix_tag(c.fix_tags, {std::string(key.str()), *value.value<std::int64_t>()});
  }
}

/// MT5_FIX_TAGS: Name=Number,... over the files' numbers, name by name.
void env_fix_tags(const EnvLookup& env, GatewayConfig& c, std::vector<ConfigProblem>& problems) {
  const auto text = env("MT5_FIX_TAGS");
  if (!text) return;
  auto numbers = fixtags::parse_tag_numbers(*text);
  if (!numbers) {
    problems.push_back({"MT5_FIX_TAGS", numbers.error()});
    return;
  }
  for (auto& n : *numbers) set_fix_tag(c.fix_tags, std::move(n));
}

void apply_toml(const toml::table& t, const std::string& source, GatewayConfig& c, std::vector<ConfigProblem>& problems,
                detail::SecretSource& secrets, const detail::EnvOverrides& overrides) {
  detail::TomlReader r(t, source, problems, secrets);
  r.top_str("data_dir", c.data_dir);
  // Deployment-wide settings shared with permiso-auth.
  r.list("server", "allowed_origins", c.allowed_origins);
  r.list("server", "trusted_proxies", c.trusted_proxies);
  r.str("log", "level", c.log_level);
  r.str("log", "format", c.log_format);
  if (!overrides.redis_url) r.str("storage", "redis_url", c.redis_url);
  r.str("jwt", "algorithm", c.jwt_algorithm);
  r.str("jwt", "issuer", c.jwt_issuer);
  r.str("jwt", "audience", c.jwt_audience);
  r.str("jwt", "secret_key", c.jwt_secret_key);
  r.boolean("jwt", "allow_hs256_in_production", c.jwt_allow_hs256_in_production);
  r.integer("jwt", "leeway_s", c.leeway_s);
  r.str("rate_limits", "api", c.rate_limit_api);  // the profile's per-address API limit
  // mt5-api's own tables (over the shared ones).
  r.str(kApi, "service_name", c.service_name);
  r.str(kApi, "host", c.host);
  r.integer(kApi, "port", c.port);
  r.integer(kApi, "threads", c.threads);
  r.integer(kApi, "body_limit_bytes", c.body_limit_bytes);
  r.integer(kApi, "header_limit_bytes", c.header_limit_bytes);
  r.integer(kApi, "header_timeout_s", c.header_timeout_s);
  r.integer(kApi, "read_timeout_s", c.read_timeout_s);
  r.integer(kApi, "idle_timeout_s", c.idle_timeout_s);
  r.integer(kApi, "handler_timeout_s", c.handler_timeout_s);
  r.integer(kApi, "shutdown_grace_s", c.shutdown_grace_s);
  r.integer(kApi, "max_connections", c.max_connections);
  r.list(kApi, "allowed_origins", c.allowed_origins);
  r.list(kApi, "trusted_proxies", c.trusted_proxies);
  r.str(kApi, "tls_cert_file", c.tls_cert_file);
  r.str(kApi, "tls_key_file", c.tls_key_file);
  r.str(kApi, "rate_limit_api", c.rate_limit_api);
  if (!overrides.database_url) r.str(kApi, "database_url", c.database_url);
  r.integer(kApi, "pool_size", c.pool_size);
  r.integer(kApi, "connect_timeout_s", c.connect_timeout_s);
  r.boolean(kApi, "prepared_statements", c.prepared_statements);
  r.str(kApi, "auth_url", c.auth_url);
  r.str(kApi, "auth_ca_file", c.auth_ca_file);
  r.str(kApi, "service_client_id", c.service_client_id);
  r.str(kApi, "service_client_secret", c.service_client_secret);
  r.integer(kApi, "token_cache_entries", c.token_cache_entries);
  r.str(kBroker, "kind", c.broker);
  r.str(kBroker, "server", c.mt5_server);
  r.str(kBroker, "login", c.mt5_login);
  r.str(kBroker, "password", c.mt5_password);
  r.str(kBroker, "terminal_command_url", c.terminal_command_url);
  r.str(kBroker, "terminal_event_url", c.terminal_event_url);
  r.str(kBroker, "terminal_token", c.terminal_token);
  r.integer(kBroker, "terminal_timeout_ms", c.terminal_timeout_ms);
  r.str(kBroker, "fix_username", c.fix_username);
  r.str(kBroker, "fix_sender_comp_id", c.fix_sender_comp_id);
  r.str(kBroker, "fix_target_comp_id", c.fix_target_comp_id);
  r.str(kBroker, "fix_quote_target_comp_id", c.fix_quote_target_comp_id);
  r.str(kBroker, "fix_store_dir", c.fix_store_dir);
  r.boolean(kBroker, "fix_tls", c.fix_tls);
  r.str(kBroker, "fix_ca_file", c.fix_ca_file);
  r.integer(kBroker, "fix_heartbeat_s", c.fix_heartbeat_s);
  r.integer(kBroker, "fix_timeout_ms", c.fix_timeout_ms);
  r.integer(kBroker, "fix_full_read_s", c.fix_full_read_s);
  r.integer(kBroker, "fix_position_id_tag", c.fix_position_id_tag);
  r.str(kBroker, "fix_ledger", c.fix_ledger);
  read_fix_tags(t, source, c, problems);
  r.integer(kBroker, "sim_seed", c.sim_seed);
  r.integer(kBroker, "sim_tick_ms", c.sim_tick_ms);
  r.number(kBroker, "sim_max_fill_lots", c.sim_max_fill_lots);
  r.number(kBroker, "demo_deposit", c.demo_deposit);
  r.integer(kBroker, "demo_leverage", c.demo_leverage);
  r.str(kBroker, "demo_currency", c.demo_currency);
}

std::vector<Entry> entries(const GatewayConfig& c) {
  using L = std::vector<std::string>;
  std::vector<Entry> all{
      {"", "environment", c.environment},
      {"", "version", c.version},
      {"", "data_dir", c.data_dir},
      {"log", "level", c.log_level},
      {"log", "format", c.log_format},
      {"storage", "redis_url", detail::redact_url(c.redis_url)},
      {"jwt", "algorithm", c.jwt_algorithm},
      {"jwt", "issuer", c.jwt_issuer},
      {"jwt", "audience", c.jwt_audience},
      {"jwt", "secret_key", detail::secret(c.jwt_secret_key)},
      {"jwt", "allow_hs256_in_production", c.jwt_allow_hs256_in_production},
      {"jwt", "leeway_s", c.leeway_s},
      {kApi, "service_name", c.service_name},
      {kApi, "host", c.host},
      {kApi, "port", c.port},
      {kApi, "threads", c.threads},
      {kApi, "body_limit_bytes", c.body_limit_bytes},
      {kApi, "header_limit_bytes", c.header_limit_bytes},
      {kApi, "header_timeout_s", c.header_timeout_s},
      {kApi, "read_timeout_s", c.read_timeout_s},
      {kApi, "idle_timeout_s", c.idle_timeout_s},
      {kApi, "handler_timeout_s", c.handler_timeout_s},
      {kApi, "shutdown_grace_s", c.shutdown_grace_s},
      {kApi, "max_connections", c.max_connections},
      {kApi, "allowed_origins", L(c.allowed_origins)},
      {kApi, "trusted_proxies", L(c.trusted_proxies)},
      {kApi, "tls_cert_file", c.tls_cert_file},
      {kApi, "tls_key_file", c.tls_key_file},
      {kApi, "rate_limit_api", c.rate_limit_api},
      {kApi, "database_url", detail::redact_url(c.effective_database_url())},
      {kApi, "pool_size", c.pool_size},
      {kApi, "connect_timeout_s", c.connect_timeout_s},
      {kApi, "prepared_statements", c.prepared_statements},
      {kApi, "auth_url", c.auth_url},
      {kApi, "auth_ca_file", c.auth_ca_file},
      {kApi, "service_client_id", c.service_client_id},
      {kApi, "service_client_secret", detail::secret(c.service_client_secret)},
      {kApi, "token_cache_entries", c.token_cache_entries},
      {kBroker, "kind", c.broker},
      {kBroker, "server", c.mt5_server},
      {kBroker, "login", c.mt5_login},
      {kBroker, "password", detail::secret(c.mt5_password)},
      {kBroker, "terminal_command_url", c.terminal_command_url},
      {kBroker, "terminal_event_url", c.terminal_event_url},
      {kBroker, "terminal_token", detail::secret(c.terminal_token)},
      {kBroker, "terminal_timeout_ms", c.terminal_timeout_ms},
      {kBroker, "fix_username", c.fix_username},
      {kBroker, "fix_sender_comp_id", c.fix_sender_comp_id},
      {kBroker, "fix_target_comp_id", c.fix_target_comp_id},
      {kBroker, "fix_quote_target_comp_id", c.fix_quote_target_comp_id},
      {kBroker, "fix_store_dir", c.fix_store_dir},
      {kBroker, "fix_tls", c.fix_tls},
      {kBroker, "fix_ca_file", c.fix_ca_file},
      {kBroker, "fix_heartbeat_s", c.fix_heartbeat_s},
      {kBroker, "fix_timeout_ms", c.fix_timeout_ms},
      {kBroker, "fix_full_read_s", c.effective_fix_full_read_s()},
      {kBroker, "fix_position_id_tag", c.fix_position_id_tag},
      {kBroker, "fix_ledger", c.fix_ledger},
      {kBroker, "sim_seed", c.sim_seed},
      {kBroker, "sim_tick_ms", c.sim_tick_ms},
      {kBroker, "sim_max_fill_lots", c.sim_max_fill_lots},
      {kBroker, "demo_deposit", c.demo_deposit},
      {kBroker, "demo_leverage", c.demo_leverage},
      {kBroker, "demo_currency", c.demo_currency},
  };
  const std::string fix_tags = std::string(kBroker) + "." + kFixTags;
  for (const auto& n : c.fix_tags) all.push_back({fix_tags, n.name, n.number});
  return all;
}

bool known_algorithm(std::string_view a) {
  return a == "HS256" || a == "RS256" || a == "ES256" || a == "EdDSA";
}

bool http_url(std::string_view u) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (u.starts_with(scheme) && u.size() > scheme.size() && u.find_first_of(" \t\r\n") == std::string_view::npos) {
      return true;
    }
  }
  return false;
}

/// mt5-api's own database first (MT5_DATABASE_URL, or its template): DATABASE_URL alone may
/// well be permiso-auth's, which mt5-api shares only when given nothing of its own.
void load_storage_urls(const EnvLookup& env, detail::SecretSource& secrets, GatewayConfig& c,
                       std::vector<ConfigProblem>& problems) {
  if (!detail::url_setting(env, secrets, "MT5_DATABASE_URL", "POSTGRES_PASSWORD", c.database_url, problems)) {
    detail::url_setting(env, secrets, "DATABASE_URL", "POSTGRES_PASSWORD", c.database_url, problems);
  }
  detail::url_setting(env, secrets, "REDIS_URL", "REDIS_PASSWORD", c.redis_url, problems);
}

/// MT5_FIX_LEDGER's items, blanks around them trimmed; none for an empty value.
std::vector<std::string_view> ledger_parts(std::string_view list) {
  std::vector<std::string_view> parts;
  if (list.empty()) return parts;
  for (;;) {  // "a," is "a" and "": a stray comma is refused as an empty item
    const auto comma = list.find(',');
    auto part = list.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    parts.push_back(part);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return parts;
}

}  // namespace

std::string GatewayConfig::effective_database_url() const {
  if (!database_url.empty()) return database_url;
  return "sqlite://" + fs::absolute(fs::path(data_dir) / "mt5-api.db").lexically_normal().string();
}

bool GatewayConfig::fix_ledger_keeps(std::string_view part) const {
  const auto parts = ledger_parts(fix_ledger);
  return std::find(parts.begin(), parts.end(), part) != parts.end();
}

std::int64_t GatewayConfig::effective_fix_full_read_s() const {
  if (fix_full_read_s > 0) return fix_full_read_s;
  return effective_database_url().starts_with("sqlite:") ? 30 : 2;
}

std::vector<fixtags::TagNumber> GatewayConfig::effective_fix_tags() const {
  std::vector<fixtags::TagNumber> numbers;
  const bool numbers_position_id =
      std::any_of(fix_tags.begin(), fix_tags.end(), [](const auto& n) { return n.name == "PositionID"; });
  if (fix_position_id_tag != fixtags::TagMap{}.position_id && !numbers_position_id) {
    numbers.push_back({"PositionID", fix_position_id_tag});
  }
  numbers.insert(numbers.end(), fix_tags.begin(), fix_tags.end());
  return numbers;
}

fixtags::TagMap GatewayConfig::fix_tag_map() const {
  auto numbered = fixtags::make_tag_map(effective_fix_tags());
  return numbered ? *numbered : fixtags::TagMap{};
}

std::vector<std::string> GatewayConfig::jwt_algorithms() const {
  return detail::split_list(jwt_algorithm);
}

log::LogConfig GatewayConfig::log_config() const {
  log::LogConfig l;
  l.level = log_level;
  l.format = log_format;
  l.service = service_name;
  return l;
}

Result<GatewayConfig, std::vector<ConfigProblem>> load_gateway_config(const EnvLookup& env) {
  GatewayConfig c;
  std::vector<ConfigProblem> problems;
  detail::SecretSource secrets(env, problems);
  const detail::EnvOverrides overrides{
      detail::env_gives(env, "MT5_DATABASE_URL") || detail::env_gives(env, "DATABASE_URL"),
      detail::env_gives(env, "REDIS_URL")};
  const auto apply = [&](const toml::table& t, const std::string& source) {
    apply_toml(t, source, c, problems, secrets, overrides);
  };
  if (!detail::load_file_layers(env, c.environment, apply, problems)) return problems;

  using detail::env_double;
  using detail::env_int;
  using detail::env_str;
  env_str(env, "PERMISO_DATA_DIR", c.data_dir);
  env_str(env, "MT5_API_HOST", c.host);
  env_int(env, "MT5_API_PORT", c.port, problems);
  env_int(env, "MT5_API_THREADS", c.threads, problems);
  env_str(env, "PERMISO_AUTH_URL", c.auth_url);
  env_str(env, "PERMISO_AUTH_CA_FILE", c.auth_ca_file);
  load_storage_urls(env, secrets, c, problems);
  env_str(env, "JWT_ALGORITHM", c.jwt_algorithm);
  secrets.str("JWT_SECRET_KEY", c.jwt_secret_key);
  env_str(env, "JWT_ISSUER", c.jwt_issuer);
  env_str(env, "JWT_AUDIENCE", c.jwt_audience);
  detail::env_bool(env, "PERMISO_ALLOW_HS256_IN_PRODUCTION", c.jwt_allow_hs256_in_production, problems);
  detail::env_bool(env, "PERMISO_PG_PREPARED_STATEMENTS", c.prepared_statements, problems);
  env_str(env, "MT5_SERVICE_CLIENT_ID", c.service_client_id);
  secrets.str("MT5_SERVICE_CLIENT_SECRET", c.service_client_secret);
  env_str(env, "MT5_BROKER", c.broker);
  env_str(env, "MT5_SERVER", c.mt5_server);
  env_str(env, "MT5_LOGIN", c.mt5_login);
  secrets.str("MT5_PASSWORD", c.mt5_password);
  env_str(env, "MT5_TERMINAL_COMMAND_URL", c.terminal_command_url);
  env_str(env, "MT5_TERMINAL_EVENT_URL", c.terminal_event_url);
  secrets.str("MT5_TERMINAL_TOKEN", c.terminal_token);
  env_int(env, "MT5_TERMINAL_TIMEOUT_MS", c.terminal_timeout_ms, problems);
  env_str(env, "MT5_FIX_USERNAME", c.fix_username);
  env_str(env, "MT5_FIX_SENDER_COMP_ID", c.fix_sender_comp_id);
  env_str(env, "MT5_FIX_TARGET_COMP_ID", c.fix_target_comp_id);
  env_str(env, "MT5_FIX_QUOTE_TARGET_COMP_ID", c.fix_quote_target_comp_id);
  env_str(env, "MT5_FIX_STORE_DIR", c.fix_store_dir);
  detail::env_bool(env, "MT5_FIX_TLS", c.fix_tls, problems);
  env_str(env, "MT5_FIX_CA_FILE", c.fix_ca_file);
  env_int(env, "MT5_FIX_HEARTBEAT_S", c.fix_heartbeat_s, problems);
  env_int(env, "MT5_FIX_TIMEOUT_MS", c.fix_timeout_ms, problems);
  env_int(env, "MT5_FIX_FULL_READ_S", c.fix_full_read_s, problems);
  env_int(env, "MT5_FIX_POSITION_ID_TAG", c.fix_position_id_tag, problems);
  env_str(env, "MT5_FIX_LEDGER", c.fix_ledger);
  env_fix_tags(env, c, problems);
  env_int(env, "MT5_SIM_SEED", c.sim_seed, problems);
  env_int(env, "MT5_SIM_TICK_MS", c.sim_tick_ms, problems);
  env_double(env, "MT5_SIM_MAX_FILL_LOTS", c.sim_max_fill_lots, problems);
  env_double(env, "MT5_DEMO_DEPOSIT", c.demo_deposit, problems);
  env_int(env, "MT5_DEMO_LEVERAGE", c.demo_leverage, problems);
  env_str(env, "MT5_DEMO_CURRENCY", c.demo_currency);
  env_str(env, "RATE_LIMIT_API", c.rate_limit_api);
  env_str(env, "LOG_LEVEL", c.log_level);
  env_str(env, "LOG_FORMAT", c.log_format);
  detail::env_origins(env, c.allowed_origins);
  if (auto v = env("PERMISO_TRUSTED_PROXIES")) c.trusted_proxies = detail::split_list(*v);
  env_str(env, "PERMISO_TLS_CERT_FILE", c.tls_cert_file);
  env_str(env, "PERMISO_TLS_KEY_FILE", c.tls_key_file);
  if (!problems.empty()) return problems;
  return c;
}

namespace {

/// The service itself: environment, name, version, data directory.
void check_service(std::vector<ConfigProblem>& p, const GatewayConfig& c) {
  if (c.environment != "development" && c.environment != "staging" && c.environment != "production") {
    p.push_back({"PERMISO_ENV", "must be development, staging or production, got '" + c.environment + "'"});
  }
  if (c.service_name.empty() || c.service_name.size() > 50) {
    p.push_back({"mt5_api.service_name", "must be 1 to 50 characters"});
  }
  if (!detail::valid_version(c.version)) p.push_back({"version", "must look like 1.2.3, got '" + c.version + "'"});
  if (c.data_dir.empty()) p.push_back({"PERMISO_DATA_DIR", "must not be empty"});
}

/// The HTTP listener, CORS, proxies, rate limit and logging.
void check_http(std::vector<ConfigProblem>& p, const GatewayConfig& c) {
  if (c.host.empty()) p.push_back({"MT5_API_HOST", "must not be empty"});
  detail::check_range(p, "MT5_API_PORT", c.port, 1, 65535);
  detail::check_range(p, "MT5_API_THREADS", c.threads, 0, 256);
  detail::check_range(p, "mt5_api.body_limit_bytes", c.body_limit_bytes, 1024, 16 * 1024 * 1024);
  detail::check_range(p, "mt5_api.header_limit_bytes", c.header_limit_bytes, 1024, 64 * 1024);
  detail::check_range(p, "mt5_api.header_timeout_s", c.header_timeout_s, 1, 300);
  detail::check_range(p, "mt5_api.read_timeout_s", c.read_timeout_s, 1, 300);
  detail::check_range(p, "mt5_api.idle_timeout_s", c.idle_timeout_s, 1, 3600);
  detail::check_range(p, "mt5_api.handler_timeout_s", c.handler_timeout_s, 1, 300);
  detail::check_range(p, "mt5_api.shutdown_grace_s", c.shutdown_grace_s, 0, 300);
  detail::check_range(p, "mt5_api.max_connections", c.max_connections, 16, 1'000'000);
  detail::check_origins(p, c.allowed_origins, c.environment);
  detail::check_trusted_proxies(p, c.trusted_proxies);
  detail::check_tls_files(p, c.tls_cert_file, c.tls_key_file);
  if (!parse_rate(c.rate_limit_api)) {
    p.push_back({"RATE_LIMIT_API", "must match N/(second|minute|hour|day), got '" + c.rate_limit_api + "'"});
  }
  detail::check_log(p, c.log_level, c.log_format);
}

/// The database and Redis.
void check_database(std::vector<ConfigProblem>& p, const GatewayConfig& c) {
  detail::check_database_url(p, c.effective_database_url(), "MT5_DATABASE_URL");
  detail::check_range(p, "mt5_api.pool_size", c.pool_size, 1, 256);
  detail::check_range(p, "mt5_api.connect_timeout_s", c.connect_timeout_s, 1, 60);
  detail::check_redis_url(p, c.redis_url);
}

/// permiso-auth and the tokens it signs.
void check_jwt(std::vector<ConfigProblem>& p, const GatewayConfig& c) {
  if (!http_url(c.auth_url)) p.push_back({"PERMISO_AUTH_URL", "must be an http:// or https:// URL"});
  const auto algs = c.jwt_algorithms();
  if (algs.empty()) p.push_back({"JWT_ALGORITHM", "must name at least one of HS256, RS256, ES256, EdDSA"});
  bool hs256 = false;
  for (const auto& a : algs) {
    if (!known_algorithm(a)) {
      p.push_back({"JWT_ALGORITHM", "must be HS256, RS256, ES256 or EdDSA (a comma list), got '" + a + "'"});
    }
    hs256 = hs256 || a == "HS256";
  }
  if (hs256) {
    if (c.environment == "production" && !c.jwt_allow_hs256_in_production) {
      p.push_back({"JWT_ALGORITHM",
                   "HS256 shares the signing secret with every verifier; production requires RS256, "
                   "ES256 or EdDSA (or PERMISO_ALLOW_HS256_IN_PRODUCTION=true)"});
    }
    if (!c.jwt_secret_key.empty() && c.jwt_secret_key.size() < 32) {
      p.push_back({"JWT_SECRET_KEY", "must be at least 32 bytes (256 bits) for HS256"});
    }
    if (c.jwt_secret_key.empty()) {
      p.push_back({"JWT_SECRET_KEY",
                   "is required to verify HS256 tokens: give mt5-api permiso-auth's JWT_SECRET_KEY "
                   "(or allow only RS256/ES256/EdDSA in JWT_ALGORITHM)"});
    }
  }
  if (c.jwt_issuer.empty()) p.push_back({"JWT_ISSUER", "must not be empty"});
  if (c.jwt_audience.empty()) p.push_back({"JWT_AUDIENCE", "must not be empty"});
  detail::check_range(p, "jwt.leeway_s", c.leeway_s, 0, 300);
}

/// The client mt5-api reads the revocation feed as.
void check_service_client(std::vector<ConfigProblem>& p, const GatewayConfig& c) {
  if (c.service_client_id.empty() || c.service_client_id.size() > 100) {
    p.push_back({"MT5_SERVICE_CLIENT_ID", "must be 1 to 100 characters"});
  }
  if (c.service_client_secret.empty() && c.environment != "development") {
    // Without it revocations would never reach this gateway (the contract's 2 s bound).
    p.push_back({"MT5_SERVICE_CLIENT_SECRET",
                 "is required outside development: mt5-api reads permiso-auth's "
                 "revocation feed as " +
                     c.service_client_id});
  }
  detail::check_range(p, "mt5_api.token_cache_entries", c.token_cache_entries, 0, 10'000'000);
}

/// A ZeroMQ endpoint the connector can connect to.
bool zmq_endpoint(std::string_view url) {
  return (url.starts_with("tcp://") && url.size() > 6) || (url.starts_with("ipc://") && url.size() > 6);
}

/// MT5_BROKER=terminal: where the PermisoBridge EA listens, and how it is trusted.
void check_terminal(std::vector<ConfigProblem>& p, const GatewayConfig& c) {
  if (!zmq_endpoint(c.terminal_command_url)) {
    p.push_back({"MT5_TERMINAL_COMMAND_URL", "must be a tcp://host:port or ipc:// endpoint"});
  }
  if (!zmq_endpoint(c.terminal_event_url)) {
    p.push_back({"MT5_TERMINAL_EVENT_URL", "must be a tcp://host:port or ipc:// endpoint"});
  }
  // Without the token any local process that reaches the EA's port could trade the account.
  if (c.terminal_token.empty() && c.environment != "development") {
    p.push_back({"MT5_TERMINAL_TOKEN", "is required outside development (the bridge refuses commands without it)"});
  }
  detail::check_range(p, "MT5_TERMINAL_TIMEOUT_MS", c.terminal_timeout_ms, 100, 60'000);
}

/// A FIX comp id: printable ASCII without SOH, '=' or spaces, as counterparties expect.
bool comp_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 &&
         std::all_of(id.begin(), id.end(), [](char ch) { return ch > ' ' && ch < 127 && ch != '='; });
}

/// The broker's numbers for our custom fields: names the dictionary has, FIX's user-defined
/// ranges, one field per number (a message with two would be read wrongly, not refused).
void check_fix_tags(std::vector<ConfigProblem>& p, const GatewayConfig& c) {
  const auto position_id =
      std::find_if(c.fix_tags.begin(), c.fix_tags.end(), [](const auto& n) { return n.name == "PositionID"; });
  const bool alias = c.fix_position_id_tag != fixtags::TagMap{}.position_id;
  if (alias && position_id != c.fix_tags.end() && position_id->number != c.fix_position_id_tag) {
    p.push_back({"MT5_FIX_POSITION_ID_TAG",
                 "is " + std::to_string(c.fix_position_id_tag) +
                     " but MT5_FIX_TAGS has PositionID=" + std::to_string(position_id->number) + ": set one of them"});
  }
  auto numbered = fixtags::make_tag_map(c.effective_fix_tags());
  if (numbered) return;
  for (const auto& problem : numbered.error()) {
    // MT5_FIX_POSITION_ID_TAG's own problems are named after it, as before MT5_FIX_TAGS.
    const bool from_alias = problem.field == "PositionID" && alias && position_id == c.fix_tags.end();
    p.push_back({from_alias ? "MT5_FIX_POSITION_ID_TAG" : "MT5_FIX_TAGS", problem.field + " " + problem.rule});
  }
}

/// MT5_BROKER=fix: where the counterparty listens and how the session logs on.
void check_fix(std::vector<ConfigProblem>& p, const GatewayConfig& c) {
  if (!parse_host_port(c.mt5_server)) p.push_back({"MT5_SERVER", "must be the FIX counterparty's host:port"});
  if (c.mt5_password.empty()) p.push_back({"MT5_PASSWORD", "is required: the FIX logon's password"});
  if (!comp_id(c.fix_sender_comp_id)) p.push_back({"MT5_FIX_SENDER_COMP_ID", "must be 1 to 64 printable characters"});
  if (!comp_id(c.fix_target_comp_id)) p.push_back({"MT5_FIX_TARGET_COMP_ID", "must be 1 to 64 printable characters"});
  if (!c.fix_quote_target_comp_id.empty() && !comp_id(c.fix_quote_target_comp_id)) {
    p.push_back({"MT5_FIX_QUOTE_TARGET_COMP_ID", "must be 1 to 64 printable characters, or empty"});
  }
  if (!c.fix_ca_file.empty() && !c.fix_tls) p.push_back({"MT5_FIX_CA_FILE", "is set but MT5_FIX_TLS is not true"});
  // QuickFIX verifies a certificate only against a CA file it is given.
  if (c.fix_tls && c.fix_ca_file.empty()) {
    p.push_back(
        {"MT5_FIX_CA_FILE", "is required with MT5_FIX_TLS: the counterparty's certificate is verified against it"});
  }
  detail::check_range(p, "MT5_FIX_HEARTBEAT_S", c.fix_heartbeat_s, 1, 300);
  detail::check_range(p, "MT5_FIX_TIMEOUT_MS", c.fix_timeout_ms, 100, 60'000);
  detail::check_range(p, "MT5_FIX_FULL_READ_S", c.fix_full_read_s, 0, 3600);
  check_fix_tags(p, c);
  for (const auto part : ledger_parts(c.fix_ledger)) {
    if (part != "positions" && part != "collateral") {
      p.push_back({"MT5_FIX_LEDGER",
                   "must list positions, collateral or both (comma-separated); got '" + std::string(part) + "'"});
    }
  }
}

/// The broker and the simulator's demo account.
void check_broker(std::vector<ConfigProblem>& p, const GatewayConfig& c) {
  if (c.broker != "simulator" && c.broker != "terminal" && c.broker != "fix") {
    p.push_back({"MT5_BROKER", "must be one of: " + std::string(kSupportedBrokers) + "; got '" + c.broker + "'"});
  }
  if (c.broker == "terminal") check_terminal(p, c);
  if (c.broker == "fix") check_fix(p, c);
  if (!c.mt5_login.empty() &&
      !std::all_of(c.mt5_login.begin(), c.mt5_login.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    p.push_back({"MT5_LOGIN", "must be an account number (digits only)"});
  }
  if (c.mt5_login.size() > 19) p.push_back({"MT5_LOGIN", "must be at most 19 digits"});
  if (c.sim_seed < 0) p.push_back({"MT5_SIM_SEED", "must be 0 (a fresh seed) or a positive integer"});
  detail::check_range(p, "MT5_SIM_TICK_MS", c.sim_tick_ms, 10, 60'000);
  if (!std::isfinite(c.sim_max_fill_lots) || c.sim_max_fill_lots < 0) {
    p.push_back({"MT5_SIM_MAX_FILL_LOTS", "must be 0 (unlimited) or a positive number of lots"});
  }
  if (!std::isfinite(c.demo_deposit) || c.demo_deposit <= 0 || c.demo_deposit > 1e12) {
    p.push_back({"MT5_DEMO_DEPOSIT", "must be a positive amount of at most 1e12"});
  }
  detail::check_range(p, "MT5_DEMO_LEVERAGE", c.demo_leverage, 1, 1000);
  if (c.demo_currency.size() != 3 ||
      !std::all_of(c.demo_currency.begin(), c.demo_currency.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
    p.push_back(
        {"MT5_DEMO_CURRENCY", "must be a three-letter ISO 4217 code such as USD, got '" + c.demo_currency + "'"});
  }
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const auto port_text = text.substr(colon + 1);
  int port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return std::nullopt;
  }
  return HostPort{std::string(host), port};
}

std::vector<ConfigProblem> validate(const GatewayConfig& c) {
  std::vector<ConfigProblem> p;
  check_service(p, c);
  check_http(p, c);
  check_database(p, c);
  check_jwt(p, c);
  check_service_client(p, c);
  check_broker(p, c);
  return p;
}

std::string render_redacted(const GatewayConfig& c) {
  return detail::render_toml("effective mt5-api configuration (secrets redacted)", entries(c));
}

std::string render_redacted_json(const GatewayConfig& c) {
  return detail::render_json(entries(c));
}

}  // namespace permiso::config
