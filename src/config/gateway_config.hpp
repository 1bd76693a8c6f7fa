// mt5-api configuration: built-in defaults, then the environment profile (config/<PERMISO_ENV>.toml,
// shared with permiso-auth: mt5-api reads its own [mt5_api] and [mt5_api.broker] tables plus
// the deployment-wide [log], [jwt], [server].allowed_origins/trusted_proxies and
// [storage].redis_url), then the file named by PERMISO_CONFIG, then environment variables.
// validate() reports every problem with its field and rule.
//
// Environment: PERMISO_ENV, PERMISO_DATA_DIR, PERMISO_CONFIG, PERMISO_CONFIG_DIR, MT5_API_HOST,
// MT5_API_PORT, MT5_API_THREADS, PERMISO_AUTH_URL, MT5_DATABASE_URL (else DATABASE_URL),
// REDIS_URL, JWT_ALGORITHM (comma list: the verifier's allow-list), JWT_SECRET_KEY,
// JWT_ISSUER, JWT_AUDIENCE, PERMISO_ALLOW_HS256_IN_PRODUCTION, MT5_SERVICE_CLIENT_ID,
// MT5_SERVICE_CLIENT_SECRET, MT5_BROKER, MT5_SERVER, MT5_LOGIN, MT5_PASSWORD, MT5_SIM_SEED,
// MT5_SIM_TICK_MS, MT5_SIM_MAX_FILL_LOTS, MT5_FIX_* (docs/configuration.md), MT5_DEMO_DEPOSIT, MT5_DEMO_LEVERAGE,
// MT5_DEMO_CURRENCY, ALLOWED_ORIGINS and CORS_ORIGINS (comma lists, merged), RATE_LIMIT_API, LOG_LEVEL, LOG_FORMAT,
// PERMISO_TRUSTED_PROXIES.
#pragma once

#include "common/result.hpp"
#include "config/config.hpp"
#include "fixtags/tag_map.hpp"
#include "log/log.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::config {

struct GatewayConfig {
  std::string environment = "development";
  std::string data_dir = "./var";
  std::string service_name = "mt5-api";
  std::string version = "0.1.0";

  // [mt5_api]: the HTTP server
  std::string host = "127.0.0.1";
  std::int64_t port = 8001;
  std::int64_t threads = 0;                   // 0: one per core
  std::int64_t body_limit_bytes = 16 * 1024;  // an order is a few hundred bytes
  std::int64_t header_limit_bytes = 8 * 1024;
  std::int64_t header_timeout_s = 10;
  std::int64_t read_timeout_s = 30;
  std::int64_t idle_timeout_s = 60;
  std::int64_t handler_timeout_s = 30;
  std::int64_t shutdown_grace_s = 10;
  std::int64_t max_connections = 16384;      // beyond it a new connection is closed at once
  std::vector<std::string> allowed_origins;  // CORS allow-list (ALLOWED_ORIGINS + CORS_ORIGINS)
  std::vector<std::string> trusted_proxies;  // peers whose X-Forwarded-For is believed
  std::string tls_cert_file;                 // serve HTTPS with this chain (and tls_key_file)
  std::string tls_key_file;
  std::string rate_limit_api = "100000/minute";  // per client address; "0/minute": unlimited

  // [log] (shared)
  std::string log_level = "INFO";
  std::string log_format = "text";

  // [mt5_api]: storage
  std::string database_url;  // empty: sqlite under data_dir (mt5-api.db)
  std::int64_t pool_size = 8;
  std::int64_t connect_timeout_s = 3;
  bool prepared_statements = true;  // PostgreSQL: off behind a transaction-pooling proxy
  std::string redis_url;            // [storage].redis_url (shared): revocations pushed at once

  // [mt5_api] and [jwt] (shared): verifying Permiso access tokens
  std::string auth_url = "http://127.0.0.1:8000";  // metadata, JWKS, revocation feed
  std::string auth_ca_file;             // PEM trust anchors for an https:// auth_url; empty: the system store
  std::string jwt_algorithm = "HS256";  // comma list: the algorithms tokens may use
  std::string jwt_issuer = "permiso-auth-dev";
  std::string jwt_audience = "permiso";
  std::string jwt_secret_key;  // HS256 shared secret
  bool jwt_allow_hs256_in_production = false;
  std::int64_t leeway_s = 30;
  std::string service_client_id = "mt5-service";  // mt5-api's own client (revocation feed)
  std::string service_client_secret;
  std::int64_t token_cache_entries = 100'000;  // verified tokens kept in memory

  // [mt5_api.broker]
  std::string broker = "simulator";
  std::string mt5_server;    // a real connector's trade server
  std::string mt5_login;     // its account number (digits)
  std::string mt5_password;  // never logged
  // MT5_BROKER=terminal: the PermisoBridge EA's sockets (docs/brokers.md)
  std::string terminal_command_url = "tcp://127.0.0.1:5555";
  std::string terminal_event_url = "tcp://127.0.0.1:5556";
  std::string terminal_token;  // sent in every command; never logged
  std::int64_t terminal_timeout_ms = 5000;
  // MT5_BROKER=fix: the FIX 4.4 session (docs/fix.md). MT5_SERVER is host:port, MT5_PASSWORD
  // the logon password, MT5_LOGIN the account (empty: mt5-sim opens demo accounts).
  std::string fix_username;  // empty: MT5_LOGIN, else "permiso"
  std::string fix_sender_comp_id = "PERMISO";
  std::string fix_target_comp_id = "MT5SIM";
  std::string fix_quote_target_comp_id;  // empty: quotes over the trade session
  std::string fix_store_dir;             // empty: <data_dir>/fix
  bool fix_tls = false;
  std::string fix_ca_file;  // empty with TLS: the system store
  std::int64_t fix_heartbeat_s = 30;
  std::int64_t fix_timeout_ms = 5000;
  std::int64_t fix_full_read_s = 0;          // each account listed whole this often; 0: effective_fix_full_read_s()
  std::int64_t fix_position_id_tag = 20001;  // MT5_FIX_POSITION_ID_TAG: PositionID's number (an alias)
  /// MT5_FIX_LEDGER: what mt5-api keeps in its own ledger from the start ("positions",
  /// "collateral", both comma-separated); empty: only what the counterparty refuses as unsupported.
  std::string fix_ledger;
  // [mt5_api.broker.fix_tags] and MT5_FIX_TAGS (Name=Number,...; per name over the files'):
  // the broker's numbers for our custom fields (docs/fix.md), the rest keep the dictionary's.
  std::vector<fixtags::TagNumber> fix_tags;
  std::int64_t sim_seed = 0;  // 0: a fresh seed per start
  std::int64_t sim_tick_ms = 250;
  /// The embedded simulator's liquidity: the most lots one order fills at one quote, every
  /// symbol (mt5-sim --max-fill-lots LOTS); 0: unlimited, every order fills whole.
  double sim_max_fill_lots = 0;
  double demo_deposit = 10000;
  std::int64_t demo_leverage = 100;
  std::string demo_currency = "USD";

  /// The effective database URL (MT5_DATABASE_URL, else DATABASE_URL, else
  /// sqlite://<data_dir>/mt5-api.db).
  [[nodiscard]] std::string effective_database_url() const;
  /// fix_full_read_s, or when it is 0 (unset): 2 on a PostgreSQL trade store, which several
  /// replicas may share and where a replica learns of another's trades only from a listing;
  /// 30 on SQLite (one gateway), where listings would only hold up its orders.
  [[nodiscard]] std::int64_t effective_fix_full_read_s() const;
  /// fix_tags with PositionID from fix_position_id_tag when fix_tags does not number it.
  [[nodiscard]] std::vector<fixtags::TagNumber> effective_fix_tags() const;
  /// The custom fields numbered as effective_fix_tags() says (the defaults where validate()
  /// finds a problem with them).
  [[nodiscard]] fixtags::TagMap fix_tag_map() const;
  /// Whether MT5_FIX_LEDGER names `part` ("positions" or "collateral").
  [[nodiscard]] bool fix_ledger_keeps(std::string_view part) const;
  /// JWT_ALGORITHM split at commas.
  [[nodiscard]] std::vector<std::string> jwt_algorithms() const;
  /// The [log] part, for permiso::log::init.
  [[nodiscard]] log::LogConfig log_config() const;
};

/// "host:port" (or "[v6]:port") split; nullopt unless the host is non-empty and the port 1 to 65535.
struct HostPort {
  std::string host;
  int port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view text);

/// The brokers MT5_BROKER may name.
inline constexpr std::string_view kSupportedBrokers = "simulator, fix, terminal";

/// Loads defaults → profile TOML → PERMISO_CONFIG TOML → environment. A file that cannot be
/// read or parsed, or a value of the wrong type, is reported as a problem.
Result<GatewayConfig, std::vector<ConfigProblem>> load_gateway_config(const EnvLookup& env);
/// Every rule the configuration breaks (empty when valid).
std::vector<ConfigProblem> validate(const GatewayConfig& config);
/// The effective configuration as TOML (reads back through PERMISO_CONFIG as the same
/// configuration), secrets replaced by "***": the JWT secret, the service client secret,
/// MT5_PASSWORD, MT5_TERMINAL_TOKEN, and passwords inside the database and Redis URLs.
std::string render_redacted(const GatewayConfig& config);
/// The same as one JSON object.
std::string render_redacted_json(const GatewayConfig& config);

}  // namespace permiso::config
