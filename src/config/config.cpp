// See config.hpp.
#include "config/config.hpp"

#include "config/support.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace permiso::config {
namespace fs = std::filesystem;
using namespace detail;

namespace {

void apply_toml(const toml::table& t, const std::string& source, AuthConfig& c, std::vector<ConfigProblem>& problems,
                SecretSource& secrets, const EnvOverrides& overrides) {
  TomlReader r(t, source, problems, secrets);
  r.top_str("data_dir", c.data_dir);
  r.top_str("service_name", c.service_name);
  r.str("server", "host", c.host);
  r.integer("server", "port", c.port);
  r.integer("server", "threads", c.threads);
  r.integer("server", "body_limit_bytes", c.body_limit_bytes);
  r.integer("server", "header_limit_bytes", c.header_limit_bytes);
  r.integer("server", "header_timeout_s", c.header_timeout_s);
  r.integer("server", "read_timeout_s", c.read_timeout_s);
  r.integer("server", "idle_timeout_s", c.idle_timeout_s);
  r.integer("server", "shutdown_grace_s", c.shutdown_grace_s);
  r.integer("server", "max_connections", c.max_connections);
  r.list("server", "allowed_origins", c.allowed_origins);
  r.list("server", "trusted_proxies", c.trusted_proxies);
  r.str("server", "public_base_url", c.public_base_url);
  r.str("server", "tls_cert_file", c.tls_cert_file);
  r.str("server", "tls_key_file", c.tls_key_file);
  r.str("server", "data_dir", c.data_dir);
  r.list("dashboard", "redirect_uris", c.dashboard_redirect_uris);
  r.str("log", "level", c.log_level);
  r.str("log", "format", c.log_format);
  if (!overrides.database_url) r.str("storage", "database_url", c.database_url);
  r.integer("storage", "pool_size", c.pool_size);
  r.integer("storage", "connect_timeout_s", c.connect_timeout_s);
  r.boolean("storage", "prepared_statements", c.prepared_statements);
  if (!overrides.redis_url) r.str("storage", "redis_url", c.redis_url);
  r.str("jwt", "algorithm", c.jwt_algorithm);
  r.str("jwt", "issuer", c.jwt_issuer);
  r.str("jwt", "audience", c.jwt_audience);
  r.str("jwt", "secret_key", c.jwt_secret_key);
  r.str("jwt", "private_key_file", c.jwt_private_key_file);
  r.str("jwt", "private_key", c.jwt_private_key);
  r.boolean("jwt", "allow_hs256_in_production", c.jwt_allow_hs256_in_production);
  r.integer("jwt", "access_token_expire_minutes", c.access_token_expire_minutes);
  r.integer("jwt", "service_token_expire_minutes", c.service_token_expire_minutes);
  r.integer("jwt", "refresh_token_expire_days", c.refresh_token_expire_days);
  r.integer("jwt", "key_publish_delay_s", c.key_publish_delay_s);
  r.integer("jwt", "leeway_s", c.leeway_s);
  r.str("rate_limits", "login", c.rate_limit_login);
  r.str("rate_limits", "api", c.rate_limit_api);
  r.str("rate_limits", "service_token", c.rate_limit_service_token);
  r.integer("security", "lockout_threshold", c.lockout_threshold);
  r.integer("security", "lockout_minutes", c.lockout_minutes);
  r.integer("security", "argon2_memory_kib", c.argon2_memory_kib);
  r.integer("security", "argon2_iterations", c.argon2_iterations);
  r.integer("security", "argon2_parallelism", c.argon2_parallelism);
  r.integer("security", "worker_threads", c.worker_threads);
  r.integer("security", "worker_queue", c.worker_queue);
  r.integer("security", "worker_nice", c.worker_nice);
  r.str("security", "client_secret_pepper", c.client_secret_pepper);
  r.integer("security", "secrets_refresh_s", c.secrets_refresh_s);
  r.integer("audit", "retention_days", c.audit_retention_days);
  r.str("audit", "export", c.audit_export);
  r.str("bootstrap", "admin_username", c.bootstrap_admin_username);
  r.str("bootstrap", "admin_password", c.bootstrap_admin_password);
}

std::vector<std::string> service_client_list(const AuthConfig& c) {
  std::vector<std::string> out;
  for (const auto& client : c.service_clients) out.push_back(client.variable);
  return out;
}

/// The service clients' secrets, each read through the provider.
void load_service_clients(const EnvLookup& env, const std::vector<std::string>& env_names, SecretSource& secrets,
                          AuthConfig& c) {
  for (const auto& variable : service_client_variables(env, env_names)) {
    auto value = secrets.get(variable);
    if (!value || value->empty()) continue;
    const auto scopes = env(variable.substr(0, variable.size() - 6) + "SCOPES");  // NAME_CLIENT_SCOPES
    c.service_clients.push_back({variable, std::move(*value), scopes.value_or("")});
  }
}

std::vector<Entry> entries(const AuthConfig& c) {
  using L = std::vector<std::string>;
  return {
      {"", "environment", c.environment},
      {"", "service_name", c.service_name},
      {"", "version", c.version},
      {"", "data_dir", c.data_dir},
      {"server", "host", c.host},
      {"server", "port", c.port},
      {"server", "threads", c.threads},
      {"server", "body_limit_bytes", c.body_limit_bytes},
      {"server", "header_limit_bytes", c.header_limit_bytes},
      {"server", "header_timeout_s", c.header_timeout_s},
      {"server", "read_timeout_s", c.read_timeout_s},
      {"server", "idle_timeout_s", c.idle_timeout_s},
      {"server", "shutdown_grace_s", c.shutdown_grace_s},
      {"server", "max_connections", c.max_connections},
      {"server", "allowed_origins", L(c.allowed_origins)},
      {"server", "trusted_proxies", L(c.trusted_proxies)},
      {"server", "public_base_url", c.public_base_url},
      {"server", "tls_cert_file", c.tls_cert_file},
      {"server", "tls_key_file", c.tls_key_file},
      {"dashboard", "redirect_uris", L(c.dashboard_redirect_uris)},
      {"log", "level", c.log_level},
      {"log", "format", c.log_format},
      {"storage", "database_url", redact_url(c.effective_database_url())},
      {"storage", "pool_size", c.pool_size},
      {"storage", "connect_timeout_s", c.connect_timeout_s},
      {"storage", "prepared_statements", c.prepared_statements},
      {"storage", "redis_url", redact_url(c.redis_url)},
      {"jwt", "algorithm", c.jwt_algorithm},
      {"jwt", "issuer", c.jwt_issuer},
      {"jwt", "audience", c.jwt_audience},
      {"jwt", "secret_key", secret(c.jwt_secret_key)},
      {"jwt", "private_key_file", c.jwt_private_key_file},
      {"jwt", "private_key", secret(c.jwt_private_key)},
      {"jwt", "allow_hs256_in_production", c.jwt_allow_hs256_in_production},
      {"jwt", "access_token_expire_minutes", c.access_token_expire_minutes},
      {"jwt", "service_token_expire_minutes", c.service_token_expire_minutes},
      {"jwt", "refresh_token_expire_days", c.refresh_token_expire_days},
      {"jwt", "key_publish_delay_s", c.key_publish_delay_s},
      {"jwt", "leeway_s", c.leeway_s},
      {"rate_limits", "login", c.rate_limit_login},
      {"rate_limits", "api", c.rate_limit_api},
      {"rate_limits", "service_token", c.rate_limit_service_token},
      {"security", "lockout_threshold", c.lockout_threshold},
      {"security", "lockout_minutes", c.lockout_minutes},
      {"security", "argon2_memory_kib", c.argon2_memory_kib},
      {"security", "argon2_iterations", c.argon2_iterations},
      {"security", "argon2_parallelism", c.argon2_parallelism},
      {"security", "worker_threads", c.worker_threads},
      {"security", "worker_queue", c.worker_queue},
      {"security", "worker_nice", c.worker_nice},
      {"security", "client_secret_pepper", secret(c.client_secret_pepper)},
      {"security", "secrets_refresh_s", c.secrets_refresh_s},
      {"audit", "retention_days", c.audit_retention_days},
      {"audit", "export", c.audit_export},
      {"bootstrap", "admin_username", c.bootstrap_admin_username},
      {"bootstrap", "admin_password", secret(c.bootstrap_admin_password)},
      {"service_clients", "variables", service_client_list(c)},
  };
}

}  // namespace

std::optional<RateSpec> parse_rate(std::string_view text) {
  return ratelimit::parse_rate(text);
}

std::string AuthConfig::effective_database_url() const {
  if (!database_url.empty()) return database_url;
  return "sqlite://" + fs::absolute(fs::path(data_dir) / "permiso.db").lexically_normal().string();
}

std::vector<std::string> AuthConfig::private_key_files() const {
  return split_list(jwt_private_key_file);
}

log::LogConfig AuthConfig::log_config() const {
  log::LogConfig l;
  l.level = log_level;
  l.format = log_format;
  l.service = service_name;
  return l;
}

std::vector<std::string> process_env_names() {
  std::vector<std::string> names;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    names.emplace_back(entry.substr(0, entry.find('=')));
  }
  return names;
}

std::vector<std::string> service_client_variables(const EnvLookup& env, const std::vector<std::string>& env_names) {
  constexpr std::string_view kSuffix = "_CLIENT_SECRET";
  std::vector<std::string> found;
  const auto add = [&found, kSuffix](std::string name) {
    const bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
      return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
    });
    const auto prefixed = name + "_";  // PERMISO_CLIENT_SECRET is permisoctl's, AZURE_… the provider's
    if (!valid || prefixed.starts_with("PERMISO_") || prefixed.starts_with("AWS_") || prefixed.starts_with("AZURE_")) {
      return;
    }
    name += kSuffix;
    if (std::find(found.begin(), found.end(), name) == found.end()) found.push_back(std::move(name));
  };
  for (std::string_view name : env_names) {
    for (std::string_view tail : {"", "_FILE", "_ENCRYPTED"}) {
      const auto suffix = std::string(kSuffix) + std::string(tail);
      if (name.size() > suffix.size() && name.ends_with(suffix))
        add(std::string(name.substr(0, name.size() - suffix.size())));
    }
  }
  if (auto listed = env("PERMISO_SERVICE_CLIENTS")) {
    for (auto& name : split_list(*listed)) add(upper(std::move(name)));
  }
  std::sort(found.begin(), found.end());
  return found;
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<AuthConfig, std::vector<ConfigProblem>> load_auth_config(const EnvLookup& env,
                                                                const std::vector<std::string>& env_names) {
  AuthConfig c;
  std::vector<ConfigProblem> problems;
  SecretSource secrets(env, problems);
  const EnvOverrides overrides{env_gives(env, "DATABASE_URL"), env_gives(env, "REDIS_URL")};
  const auto apply = [&](const toml::table& t, const std::string& source) {
    apply_toml(t, source, c, problems, secrets, overrides);
  };
  if (!load_file_layers(env, c.environment, apply, problems)) return problems;

  env_str(env, "PERMISO_DATA_DIR", c.data_dir);
  env_str(env, "PERMISO_HOST", c.host);
  env_int(env, "PERMISO_PORT", c.port, problems);
  env_int(env, "PERMISO_THREADS", c.threads, problems);
  env_str(env, "PERMISO_PUBLIC_URL", c.public_base_url);
  env_str(env, "PERMISO_TLS_CERT_FILE", c.tls_cert_file);
  env_str(env, "PERMISO_TLS_KEY_FILE", c.tls_key_file);
  if (auto v = env("DASHBOARD_REDIRECT_URIS")) c.dashboard_redirect_uris = split_list(*v);
  url_setting(env, secrets, "DATABASE_URL", "POSTGRES_PASSWORD", c.database_url, problems);
  url_setting(env, secrets, "REDIS_URL", "REDIS_PASSWORD", c.redis_url, problems);
  secrets.str("JWT_SECRET_KEY", c.jwt_secret_key);
  env_str(env, "JWT_ALGORITHM", c.jwt_algorithm);
  env_str(env, "JWT_ISSUER", c.jwt_issuer);
  env_str(env, "JWT_AUDIENCE", c.jwt_audience);
  env_str(env, "JWT_PRIVATE_KEY_FILE", c.jwt_private_key_file);
  // Key files are paths (a rotation lists several); the PEM itself may come from a store.
  if (c.jwt_private_key_file.empty()) secrets.str("JWT_PRIVATE_KEY", c.jwt_private_key);
  env_bool(env, "PERMISO_ALLOW_HS256_IN_PRODUCTION", c.jwt_allow_hs256_in_production, problems);
  env_bool(env, "PERMISO_PG_PREPARED_STATEMENTS", c.prepared_statements, problems);
  env_int(env, "PERMISO_ACCESS_TOKEN_MINUTES", c.access_token_expire_minutes, problems);
  env_int(env, "PERMISO_SERVICE_TOKEN_MINUTES", c.service_token_expire_minutes, problems);
  env_int(env, "PERMISO_KEY_PUBLISH_DELAY_S", c.key_publish_delay_s, problems);
  env_int(env, "PERMISO_SECRETS_REFRESH_S", c.secrets_refresh_s, problems);
  env_int(env, "PERMISO_AUDIT_RETENTION_DAYS", c.audit_retention_days, problems);
  env_str(env, "PERMISO_AUDIT_EXPORT", c.audit_export);
  env_str(env, "RATE_LIMIT_LOGIN", c.rate_limit_login);
  env_str(env, "RATE_LIMIT_API", c.rate_limit_api);
  env_str(env, "RATE_LIMIT_SERVICE_TOKEN", c.rate_limit_service_token);
  env_str(env, "LOG_LEVEL", c.log_level);
  env_str(env, "LOG_FORMAT", c.log_format);
  secrets.str("PERMISO_CLIENT_SECRET_PEPPER", c.client_secret_pepper);
  env_str(env, "PERMISO_BOOTSTRAP_ADMIN_USERNAME", c.bootstrap_admin_username);
  secrets.str("PERMISO_BOOTSTRAP_ADMIN_PASSWORD", c.bootstrap_admin_password);
  load_service_clients(env, env_names, secrets, c);
  env_origins(env, c.allowed_origins);
  if (auto v = env("PERMISO_TRUSTED_PROXIES")) c.trusted_proxies = split_list(*v);
  if (!problems.empty()) return problems;
  return c;
}

namespace {

/// The service itself: environment, name, version, data directory.
void check_service(std::vector<ConfigProblem>& p, const AuthConfig& c) {
  if (c.environment != "development" && c.environment != "staging" && c.environment != "production") {
    p.push_back({"PERMISO_ENV", "must be development, staging or production, got '" + c.environment + "'"});
  }
  if (c.service_name.empty() || c.service_name.size() > 50) {
    p.push_back({"service_name", "must be 1 to 50 characters"});
  }
  if (!valid_version(c.version)) p.push_back({"version", "must look like 1.2.3, got '" + c.version + "'"});
  if (c.data_dir.empty()) p.push_back({"PERMISO_DATA_DIR", "must not be empty"});
}

/// The HTTP listener, CORS, proxies and logging.
void check_server(std::vector<ConfigProblem>& p, const AuthConfig& c) {
  if (c.host.empty()) p.push_back({"PERMISO_HOST", "must not be empty"});
  if (!c.public_base_url.empty() && !c.public_base_url.starts_with("http://") &&
      !c.public_base_url.starts_with("https://")) {
    p.push_back({"PERMISO_PUBLIC_URL", "must be an http:// or https:// URL"});
  }
  check_range(p, "server.port", c.port, 1, 65535);
  check_range(p, "server.threads", c.threads, 0, 256);
  check_range(p, "server.body_limit_bytes", c.body_limit_bytes, 1024, 16 * 1024 * 1024);
  check_range(p, "server.header_limit_bytes", c.header_limit_bytes, 1024, 64 * 1024);
  check_range(p, "server.header_timeout_s", c.header_timeout_s, 1, 300);
  check_range(p, "server.read_timeout_s", c.read_timeout_s, 1, 300);
  check_range(p, "server.idle_timeout_s", c.idle_timeout_s, 1, 3600);
  check_range(p, "server.shutdown_grace_s", c.shutdown_grace_s, 0, 300);
  check_range(p, "server.max_connections", c.max_connections, 16, 1'000'000);
  check_origins(p, c.allowed_origins, c.environment);
  for (const auto& uri : c.dashboard_redirect_uris) {
    // The full rule (no fragment, a host) is the authorization server's; this catches typos.
    const bool loopback_http =
        uri.starts_with("http://localhost") || uri.starts_with("http://127.0.0.1") || uri.starts_with("http://[::1]");
    if (!uri.starts_with("https://") && !loopback_http) {
      p.push_back({"DASHBOARD_REDIRECT_URIS", "'" + uri + "' must be https, or http to a loopback address"});
    }
  }
  check_trusted_proxies(p, c.trusted_proxies);
  check_tls_files(p, c.tls_cert_file, c.tls_key_file);
  check_log(p, c.log_level, c.log_format);
}

/// The database and Redis.
void check_storage(std::vector<ConfigProblem>& p, const AuthConfig& c) {
  check_database_url(p, c.effective_database_url(), "DATABASE_URL");
  check_redis_url(p, c.redis_url);
  check_range(p, "storage.pool_size", c.pool_size, 1, 256);
  check_range(p, "storage.connect_timeout_s", c.connect_timeout_s, 1, 60);
}

/// Token signing and lifetimes.
void check_jwt(std::vector<ConfigProblem>& p, const AuthConfig& c) {
  const bool known_alg = c.jwt_algorithm == "HS256" || c.jwt_algorithm == "RS256" || c.jwt_algorithm == "ES256" ||
                         c.jwt_algorithm == "EdDSA";
  if (!known_alg) {
    p.push_back({"JWT_ALGORITHM", "must be HS256, RS256, ES256 or EdDSA, got '" + c.jwt_algorithm + "'"});
  }
  if (c.jwt_algorithm == "HS256") {
    if (c.environment == "production" && !c.jwt_allow_hs256_in_production) {
      p.push_back({"JWT_ALGORITHM",
                   "HS256 shares the signing secret with every verifier; production requires RS256, "
                   "ES256 or EdDSA (or PERMISO_ALLOW_HS256_IN_PRODUCTION=true)"});
    }
    if (!c.jwt_secret_key.empty() && c.jwt_secret_key.size() < 32) {
      p.push_back({"JWT_SECRET_KEY", "must be at least 32 bytes (256 bits) for HS256"});
    }
  }
  if (!c.jwt_private_key.empty() && c.jwt_private_key.find("-----BEGIN ") == std::string::npos) {
    p.push_back({"JWT_PRIVATE_KEY", "must be PEM text (-----BEGIN PRIVATE KEY----- …)"});
  }
  for (const auto& file : c.private_key_files()) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) p.push_back({"JWT_PRIVATE_KEY_FILE", "not a readable file: " + file});
  }
  if (c.jwt_issuer.empty()) p.push_back({"JWT_ISSUER", "must not be empty"});
  if (c.jwt_audience.empty()) p.push_back({"JWT_AUDIENCE", "must not be empty"});
  check_range(p, "jwt.access_token_expire_minutes", c.access_token_expire_minutes, 1, 1440);
  check_range(p, "jwt.service_token_expire_minutes", c.service_token_expire_minutes, 1, 1440);
  check_range(p, "jwt.refresh_token_expire_days", c.refresh_token_expire_days, 1, 365);
  check_range(p, "jwt.key_publish_delay_s", c.key_publish_delay_s, 0, 7 * 86400);
  check_range(p, "jwt.leeway_s", c.leeway_s, 0, 300);
}

/// Rate limits, lockout, password hashing, workers and the bootstrap admin.
void check_security(std::vector<ConfigProblem>& p, const AuthConfig& c) {
  for (const auto& [field, value] :
       {std::pair{"RATE_LIMIT_LOGIN", &c.rate_limit_login}, std::pair{"RATE_LIMIT_API", &c.rate_limit_api},
        std::pair{"RATE_LIMIT_SERVICE_TOKEN", &c.rate_limit_service_token}}) {
    if (!parse_rate(*value)) {
      p.push_back({field, "must match N/(second|minute|hour|day), got '" + *value + "'"});
    }
  }
  check_range(p, "security.lockout_threshold", c.lockout_threshold, 1, 100);
  check_range(p, "security.lockout_minutes", c.lockout_minutes, 1, 7 * 24 * 60);
  check_range(p, "security.argon2_memory_kib", c.argon2_memory_kib, 1024, 4 * 1024 * 1024);
  check_range(p, "security.argon2_iterations", c.argon2_iterations, 1, 64);
  check_range(p, "security.argon2_parallelism", c.argon2_parallelism, 1, 64);
  check_range(p, "security.worker_threads", c.worker_threads, 0, 256);
  check_range(p, "security.worker_queue", c.worker_queue, 1, 1'000'000);
  check_range(p, "security.worker_nice", c.worker_nice, 0, 19);
  check_range(p, "PERMISO_SECRETS_REFRESH_S", c.secrets_refresh_s, 0, 86'400);
  check_range(p, "PERMISO_AUDIT_RETENTION_DAYS", c.audit_retention_days, 0, 36'500);
  if (!c.client_secret_pepper.empty() && c.client_secret_pepper.size() < 32) {
    p.push_back({"PERMISO_CLIENT_SECRET_PEPPER", "must be at least 32 bytes"});
  }
  if (c.bootstrap_admin_username.empty()) {
    p.push_back({"PERMISO_BOOTSTRAP_ADMIN_USERNAME", "must not be empty"});
  }
}

}  // namespace

std::vector<ConfigProblem> validate(const AuthConfig& c) {
  std::vector<ConfigProblem> p;
  check_service(p, c);
  check_server(p, c);
  check_storage(p, c);
  check_jwt(p, c);
  check_security(p, c);
  return p;
}

std::string render_redacted(const AuthConfig& c) {
  return render_toml("effective permiso-auth configuration (secrets redacted)", entries(c));
}

std::string render_redacted_json(const AuthConfig& c) {
  return render_json(entries(c));
}

}  // namespace permiso::config
