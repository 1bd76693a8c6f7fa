// permiso-auth configuration: built-in defaults, then the environment profile's TOML file
// (config/<PERMISO_ENV>.toml), then the file named by PERMISO_CONFIG, then environment
// variables. validate() reports every problem with its field and rule, so a bad
// configuration stops start-up with a message that says what to fix.
//
// Environment: PERMISO_ENV, PERMISO_CONFIG_DIR (profiles; else ./config, else the source
// tree's config/), PERMISO_CONFIG, PERMISO_DATA_DIR, PERMISO_HOST, PERMISO_PORT,
// PERMISO_THREADS, PERMISO_PUBLIC_URL, PERMISO_TRUSTED_PROXIES, DATABASE_URL, REDIS_URL,
// JWT_SECRET_KEY, JWT_ALGORITHM, JWT_ISSUER, JWT_AUDIENCE, JWT_PRIVATE_KEY_FILE (comma list),
// JWT_PRIVATE_KEY (the PEM itself, from a secret store),
// PERMISO_ALLOW_HS256_IN_PRODUCTION, PERMISO_ACCESS_TOKEN_MINUTES,
// PERMISO_SERVICE_TOKEN_MINUTES, PERMISO_KEY_PUBLISH_DELAY_S, ALLOWED_ORIGINS and
// CORS_ORIGINS (comma lists, merged), RATE_LIMIT_LOGIN, RATE_LIMIT_API,
// RATE_LIMIT_SERVICE_TOKEN, LOG_LEVEL, LOG_FORMAT, PERMISO_CLIENT_SECRET_PEPPER,
// PERMISO_BOOTSTRAP_ADMIN_USERNAME, PERMISO_BOOTSTRAP_ADMIN_PASSWORD, DATABASE_URL_TEMPLATE and
// REDIS_URL_TEMPLATE (with POSTGRES_PASSWORD and REDIS_PASSWORD), every <NAME>_CLIENT_SECRET
// (and <NAME>_CLIENT_SCOPES), PERMISO_SERVICE_CLIENTS, PERMISO_SECRETS_REFRESH_S. Secrets (the JWT secret, the pepper,
// passwords, URLs that carry them, client secrets) are read through SECRETS_PROVIDER
// (secrets/provider.hpp); ${NAME} in the TOML files is filled the same way. The whole list
// with what each does is docs/configuration.md.
#pragma once

#include "common/result.hpp"
#include "log/log.hpp"
#include "ratelimit/rate_limiter.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::config {

/// The limiter's own type, so a parsed RATE_LIMIT_* value goes straight to RateLimiter::consume.
using RateSpec = ratelimit::Rate;
/// "N/(second|minute|hour|day)" (the seed's format); nullopt otherwise. Same as
/// ratelimit::parse_rate: one grammar for validation and for the limiter.
std::optional<RateSpec> parse_rate(std::string_view text);

/// A service client's secret found in the environment (<NAME>_CLIENT_SECRET).
struct ServiceClientSecret {
  std::string variable;  // NAME_CLIENT_SECRET
  std::string secret;
  std::string scopes;  // NAME_CLIENT_SCOPES as given (granted when the client is created)
};

struct AuthConfig {
  std::string environment = "development";
  std::string data_dir = "./var";
  std::string service_name = "permiso-auth";
  std::string version = "0.1.0";

  // [server]
  std::string host = "127.0.0.1";
  std::int64_t port = 8000;
  std::int64_t threads = 0;  // 0: one per core
  std::int64_t body_limit_bytes = 64 * 1024;
  std::int64_t header_limit_bytes = 8 * 1024;
  std::int64_t header_timeout_s = 10;
  std::int64_t read_timeout_s = 30;
  std::int64_t idle_timeout_s = 60;
  std::int64_t shutdown_grace_s = 10;
  std::int64_t max_connections = 16384;      // beyond it a new connection is closed at once
  std::vector<std::string> allowed_origins;  // CORS allow-list (ALLOWED_ORIGINS + CORS_ORIGINS)
  std::vector<std::string> trusted_proxies;  // peers whose X-Forwarded-For is believed
  std::string public_base_url;               // absolute URL in discovery; empty: from Host
  std::string tls_cert_file;                 // serve HTTPS with this chain (and tls_key_file)
  std::string tls_key_file;

  // [dashboard]: the web app's public client and its exact redirect URIs
  std::vector<std::string> dashboard_redirect_uris;

  // [log]
  std::string log_level = "INFO";
  std::string log_format = "text";

  // [storage]
  std::string database_url;  // empty: sqlite under data_dir
  std::int64_t pool_size = 8;
  std::int64_t connect_timeout_s = 3;
  bool prepared_statements = true;  // PostgreSQL: off behind a transaction-pooling proxy
  std::string redis_url;            // empty: in-process limits and revocation feed only

  // [jwt]
  std::string jwt_algorithm = "HS256";
  std::string jwt_issuer = "permiso-auth-dev";
  std::string jwt_audience = "permiso";
  std::string jwt_secret_key;                  // HS256 shared secret; empty: generated under data_dir
  std::string jwt_private_key_file;            // PEM; "current.pem,previous.pem"; empty: generated (development)
  std::string jwt_private_key;                 // PEM text from a secret store (JWT_PRIVATE_KEY); blocks as the files
  bool jwt_allow_hs256_in_production = false;  // HS256 shares the signing secret with verifiers
  std::int64_t access_token_expire_minutes = 60;
  std::int64_t service_token_expire_minutes = 120;
  std::int64_t refresh_token_expire_days = 30;
  std::int64_t key_publish_delay_s = 3600;
  std::int64_t leeway_s = 30;

  // [rate_limits] and [security]
  std::string rate_limit_login = "10/minute";
  std::string rate_limit_api = "1000/minute";
  std::string rate_limit_service_token = "100/minute";
  std::int64_t lockout_threshold = 5;
  std::int64_t lockout_minutes = 15;
  std::int64_t argon2_memory_kib = 19456;  // OWASP: m=19 MiB, t=2, p=1
  std::int64_t argon2_iterations = 2;
  std::int64_t argon2_parallelism = 1;
  std::int64_t worker_threads = 0;  // blocking pool (storage, Argon2); 0: 2 per core
  std::int64_t worker_queue = 1024;
  std::int64_t worker_nice = 10;         // the blocking pool's nice value: Argon2 yields to I/O threads
  std::string client_secret_pepper;      // empty: generated once and kept in storage
  std::int64_t secrets_refresh_s = 300;  // re-read secrets this often (service clients follow); 0: never

  // [audit]
  std::int64_t audit_retention_days = 90;  // older events are purged in small batches; 0: kept forever
  std::string audit_export;                // "" none, "stdout", or a file: every event as a JSON line

  // bootstrap admin
  std::string bootstrap_admin_username = "admin";
  std::string bootstrap_admin_password;

  // service clients ensured at start-up, one per <NAME>_CLIENT_SECRET found
  std::vector<ServiceClientSecret> service_clients;

  /// The effective database URL (the default SQLite file under data_dir when unset).
  [[nodiscard]] std::string effective_database_url() const;
  /// JWT_PRIVATE_KEY_FILE split at commas: the first signs, the rest stay published.
  [[nodiscard]] std::vector<std::string> private_key_files() const;
  /// The [log] part, for permiso::log::init.
  [[nodiscard]] log::LogConfig log_config() const;
};

struct ConfigProblem {
  std::string field;
  std::string rule;
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
/// The process environment.
EnvLookup process_env();

/// The names of the process environment's variables (for finding <NAME>_CLIENT_SECRET).
std::vector<std::string> process_env_names();

/// The <NAME>_CLIENT_SECRET variables a configuration names: those in `env_names` (also when
/// given as <NAME>_CLIENT_SECRET_FILE or _ENCRYPTED) and those PERMISO_SERVICE_CLIENTS lists
/// (for stores that cannot be listed); PERMISO_*, AWS_* and AZURE_* are not service clients.
std::vector<std::string> service_client_variables(const EnvLookup& env, const std::vector<std::string>& env_names);

/// Loads defaults → profile TOML → PERMISO_CONFIG TOML → environment. A file that cannot
/// be read or parsed, or a value of the wrong type, is reported as a problem. `env_names`
/// lists the environment's variable names, where service client secrets are looked for.
Result<AuthConfig, std::vector<ConfigProblem>> load_auth_config(const EnvLookup& env,
                                                                const std::vector<std::string>& env_names = {});
/// Every rule the configuration breaks (empty when valid).
std::vector<ConfigProblem> validate(const AuthConfig& config);
/// The effective configuration as TOML, secrets replaced by "***" (the JWT secret, the
/// pepper, the bootstrap password, passwords inside DATABASE_URL and REDIS_URL).
std::string render_redacted(const AuthConfig& config);
/// The same as one JSON object ({"environment":…, "server":{…}, …}).
std::string render_redacted_json(const AuthConfig& config);

/// scheme://user:password@host/…?password=… with both passwords replaced by "***": the only
/// form in which a database or Redis URL is ever printed (config check, `migrate`).
std::string redact_url(const std::string& url);

}  // namespace permiso::config

namespace permiso::config {
[[noreturn]] inline void throw_exception_from_error(const std::vector<ConfigProblem>& problems,
                                                    const boost::source_location&) {
  throw ::permiso::BadResultAccess("invalid configuration: " +
                                   (problems.empty() ? std::string() : problems.front().field));
}
}  // namespace permiso::config
