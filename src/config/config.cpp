// See config.hpp.
#include "config/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#ifndef PERMISO_SOURCE_CONFIG_DIR
#define PERMISO_SOURCE_CONFIG_DIR "config"
#endif

namespace permiso::config {
namespace fs = std::filesystem;

namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto end = std::min(text.find(',', pos), text.size());
    std::string item(text.substr(pos, end - pos));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(std::move(item));
    pos = end + 1;
  }
  return out;
}

/// Reads one TOML table into the config; wrong types become problems.
class TomlReader {
 public:
  TomlReader(const toml::table& root, std::string source, std::vector<ConfigProblem>& problems)
      : root_(root), source_(std::move(source)), problems_(problems) {}

  void str(const char* table, const char* key, std::string& out) {
    if (auto node = root_[table][key]) {
      if (auto v = node.value<std::string>()) out = *v;
      else wrong(table, key, "must be a string");
    }
  }
  void integer(const char* table, const char* key, std::int64_t& out) {
    if (auto node = root_[table][key]) {
      if (auto v = node.value<std::int64_t>()) out = *v;
      else wrong(table, key, "must be an integer");
    }
  }
  void list(const char* table, const char* key, std::vector<std::string>& out) {
    if (auto node = root_[table][key]) {
      const auto* arr = node.as_array();
      if (arr == nullptr) {
        wrong(table, key, "must be an array of strings");
        return;
      }
      out.clear();
      for (const auto& item : *arr) {
        if (auto v = item.value<std::string>()) out.push_back(*v);
        else wrong(table, key, "must be an array of strings");
      }
    }
  }

 private:
  void wrong(const char* table, const char* key, const char* rule) {
    problems_.push_back({std::string(table) + "." + key, std::string(rule) + " (in " + source_ + ")"});
  }
  const toml::table& root_;
  std::string source_;
  std::vector<ConfigProblem>& problems_;
};

void apply_toml(const toml::table& t, const std::string& source, AuthConfig& c,
                std::vector<ConfigProblem>& problems) {
  TomlReader r(t, source, problems);
  r.str("server", "host", c.host);
  r.integer("server", "port", c.port);
  r.integer("server", "threads", c.threads);
  r.integer("server", "body_limit_bytes", c.body_limit_bytes);
  r.integer("server", "header_limit_bytes", c.header_limit_bytes);
  r.integer("server", "header_timeout_s", c.header_timeout_s);
  r.integer("server", "read_timeout_s", c.read_timeout_s);
  r.integer("server", "idle_timeout_s", c.idle_timeout_s);
  r.integer("server", "shutdown_grace_s", c.shutdown_grace_s);
  r.list("server", "allowed_origins", c.allowed_origins);
  r.list("server", "trusted_proxies", c.trusted_proxies);
  r.str("server", "public_base_url", c.public_base_url);
  r.str("server", "data_dir", c.data_dir);
  r.str("log", "level", c.log_level);
  r.str("log", "format", c.log_format);
  r.str("storage", "database_url", c.database_url);
  r.integer("storage", "pool_size", c.pool_size);
  r.integer("storage", "connect_timeout_s", c.connect_timeout_s);
  r.str("storage", "redis_url", c.redis_url);
  r.str("jwt", "algorithm", c.jwt_algorithm);
  r.str("jwt", "issuer", c.jwt_issuer);
  r.str("jwt", "audience", c.jwt_audience);
  r.str("jwt", "secret_key", c.jwt_secret_key);
  r.str("jwt", "private_key_file", c.jwt_private_key_file);
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
  r.str("security", "client_secret_pepper", c.client_secret_pepper);
  r.str("bootstrap", "admin_username", c.bootstrap_admin_username);
  r.str("bootstrap", "admin_password", c.bootstrap_admin_password);
}

bool load_toml_file(const fs::path& path, AuthConfig& c, std::vector<ConfigProblem>& problems,
                    const std::string& field) {
  try {
    const auto table = toml::parse_file(path.string());
    apply_toml(table, path.string(), c, problems);
    return true;
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "cannot parse " << path.string() << ": " << e.description() << " at line "
        << e.source().begin.line;
    problems.push_back({field, msg.str()});
    return false;
  }
}

void env_str(const EnvLookup& env, const char* name, std::string& out) {
  if (auto v = env(name)) out = *v;
}

void env_int(const EnvLookup& env, const char* name, std::int64_t& out,
             std::vector<ConfigProblem>& problems) {
  if (auto v = env(name)) {
    try {
      std::size_t used = 0;
      const auto n = std::stoll(*v, &used);
      if (used != v->size()) throw std::invalid_argument("trailing characters");
      out = n;
    } catch (const std::exception&) {
      problems.push_back({name, "must be an integer, got '" + *v + "'"});
    }
  }
}

std::string redact_url(const std::string& url) {
  // scheme://user:password@host → scheme://user:***@host
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  const auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

// ^https?://[a-zA-Z0-9.-]+(:[0-9]{1,5})?$ (the seed's origin rule).
bool valid_origin(std::string_view o) {
  if (o.starts_with("https://")) o.remove_prefix(8);
  else if (o.starts_with("http://")) o.remove_prefix(7);
  else return false;
  const auto colon = o.find(':');
  const auto host = o.substr(0, colon);
  if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-';
      })) {
    return false;
  }
  if (colon == std::string_view::npos) return true;
  const auto port = o.substr(colon + 1);
  return !port.empty() && port.size() <= 5 &&
         std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool valid_ip(std::string_view ip) {
  return !ip.empty() && std::all_of(ip.begin(), ip.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
  });
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string toml_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += toml_string(items[i]);
  }
  return out + "]";
}

}  // namespace

std::optional<RateSpec> parse_rate(std::string_view text) {
  // ^\d{1,9}/(second|minute|hour|day)$ (the seed's rule), without std::regex.
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 9) return std::nullopt;
  const auto digits = text.substr(0, slash);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const auto unit = text.substr(slash + 1);
  RateSpec r;
  r.count = static_cast<std::uint32_t>(std::stoul(std::string(digits)));
  if (unit == "second") r.period_s = 1;
  else if (unit == "minute") r.period_s = 60;
  else if (unit == "hour") r.period_s = 3600;
  else if (unit == "day") r.period_s = 86400;
  else return std::nullopt;
  return r;
}

std::string AuthConfig::effective_database_url() const {
  if (!database_url.empty()) return database_url;
  return "sqlite://" + fs::absolute(fs::path(data_dir) / "permiso.db").lexically_normal().string();
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<AuthConfig, std::vector<ConfigProblem>> load_auth_config(const EnvLookup& env) {
  AuthConfig c;
  std::vector<ConfigProblem> problems;
  if (auto e = env("PERMISO_ENV"); e && !e->empty()) c.environment = *e;
  if (c.environment != "development" && c.environment != "staging" && c.environment != "production") {
    problems.push_back({"PERMISO_ENV", "must be development, staging or production, got '" + c.environment + "'"});
    return problems;
  }
  // The profile: PERMISO_CONFIG_DIR, ./config, then the source tree's config/.
  std::vector<fs::path> dirs;
  if (auto d = env("PERMISO_CONFIG_DIR"); d && !d->empty()) {
    dirs.emplace_back(*d);
  } else {
    dirs.emplace_back("config");
    dirs.emplace_back(PERMISO_SOURCE_CONFIG_DIR);
  }
  bool found = false;
  for (const auto& dir : dirs) {
    const auto file = dir / (c.environment + ".toml");
    if (fs::exists(file)) {
      load_toml_file(file, c, problems, "PERMISO_ENV");
      found = true;
      break;
    }
  }
  if (!found) {
    problems.push_back({"PERMISO_CONFIG_DIR", "no " + c.environment + ".toml profile in " + dirs.front().string()});
  }
  if (auto file = env("PERMISO_CONFIG"); file && !file->empty()) {
    if (!fs::exists(*file)) {
      problems.push_back({"PERMISO_CONFIG", "file " + *file + " does not exist"});
    } else {
      load_toml_file(*file, c, problems, "PERMISO_CONFIG");
    }
  }

  env_str(env, "PERMISO_DATA_DIR", c.data_dir);
  env_str(env, "PERMISO_HOST", c.host);
  env_int(env, "PERMISO_PORT", c.port, problems);
  env_int(env, "PERMISO_THREADS", c.threads, problems);
  env_str(env, "PERMISO_PUBLIC_URL", c.public_base_url);
  env_str(env, "DATABASE_URL", c.database_url);
  env_str(env, "REDIS_URL", c.redis_url);
  env_str(env, "JWT_SECRET_KEY", c.jwt_secret_key);
  env_str(env, "JWT_ALGORITHM", c.jwt_algorithm);
  env_str(env, "JWT_ISSUER", c.jwt_issuer);
  env_str(env, "JWT_AUDIENCE", c.jwt_audience);
  env_str(env, "JWT_PRIVATE_KEY_FILE", c.jwt_private_key_file);
  env_int(env, "PERMISO_ACCESS_TOKEN_MINUTES", c.access_token_expire_minutes, problems);
  env_int(env, "PERMISO_KEY_PUBLISH_DELAY_S", c.key_publish_delay_s, problems);
  env_str(env, "RATE_LIMIT_LOGIN", c.rate_limit_login);
  env_str(env, "RATE_LIMIT_API", c.rate_limit_api);
  env_str(env, "RATE_LIMIT_SERVICE_TOKEN", c.rate_limit_service_token);
  env_str(env, "LOG_LEVEL", c.log_level);
  env_str(env, "LOG_FORMAT", c.log_format);
  env_str(env, "PERMISO_CLIENT_SECRET_PEPPER", c.client_secret_pepper);
  env_str(env, "PERMISO_BOOTSTRAP_ADMIN_USERNAME", c.bootstrap_admin_username);
  env_str(env, "PERMISO_BOOTSTRAP_ADMIN_PASSWORD", c.bootstrap_admin_password);
  if (auto v = env("ALLOWED_ORIGINS")) c.allowed_origins = split_list(*v);
  if (auto v = env("CORS_ORIGINS")) {
    for (auto& o : split_list(*v)) {
      if (std::find(c.allowed_origins.begin(), c.allowed_origins.end(), o) == c.allowed_origins.end()) {
        c.allowed_origins.push_back(std::move(o));
      }
    }
  }
  if (auto v = env("PERMISO_TRUSTED_PROXIES")) c.trusted_proxies = split_list(*v);
  if (!problems.empty()) return problems;
  return c;
}

std::vector<ConfigProblem> validate(const AuthConfig& c) {
  std::vector<ConfigProblem> p;
  auto range = [&](const char* field, std::int64_t v, std::int64_t lo, std::int64_t hi) {
    if (v < lo || v > hi) {
      p.push_back({field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                              ", got " + std::to_string(v)});
    }
  };
  range("server.port", c.port, 1, 65535);
  range("server.threads", c.threads, 0, 256);
  range("server.body_limit_bytes", c.body_limit_bytes, 1024, 16 * 1024 * 1024);
  range("server.header_limit_bytes", c.header_limit_bytes, 1024, 64 * 1024);
  range("server.header_timeout_s", c.header_timeout_s, 1, 300);
  range("server.read_timeout_s", c.read_timeout_s, 1, 300);
  range("server.idle_timeout_s", c.idle_timeout_s, 1, 3600);
  range("server.shutdown_grace_s", c.shutdown_grace_s, 0, 300);
  for (const auto& o : c.allowed_origins) {
    if (o == "*") {
      if (c.environment != "development") {
        p.push_back({"ALLOWED_ORIGINS", "'*' is allowed only in development"});
      }
    } else if (!valid_origin(o)) {
      p.push_back({"ALLOWED_ORIGINS", "invalid origin format: " + o + " (expected scheme://host[:port])"});
    }
  }
  for (const auto& ip : c.trusted_proxies) {
    if (!valid_ip(ip)) p.push_back({"PERMISO_TRUSTED_PROXIES", "not an IP address: " + ip});
  }
  const std::string level = upper(c.log_level);
  if (level != "DEBUG" && level != "INFO" && level != "WARNING" && level != "ERROR" && level != "CRITICAL") {
    p.push_back({"LOG_LEVEL", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got '" + c.log_level + "'"});
  }
  if (c.log_format != "text" && c.log_format != "json") {
    p.push_back({"LOG_FORMAT", "must be text or json, got '" + c.log_format + "'"});
  }
  const auto db = c.effective_database_url();
  if (!db.starts_with("sqlite:") && !db.starts_with("postgresql://") && !db.starts_with("postgres://")) {
    p.push_back({"DATABASE_URL", "must be sqlite:///path or postgresql://..."});
  }
  if (!c.redis_url.empty() && !c.redis_url.starts_with("redis://")) {
    p.push_back({"REDIS_URL", "must be redis://[:password@]host:port[/db]"});
  }
  range("storage.pool_size", c.pool_size, 1, 256);
  range("storage.connect_timeout_s", c.connect_timeout_s, 1, 60);
  const bool known_alg = c.jwt_algorithm == "HS256" || c.jwt_algorithm == "RS256" ||
                         c.jwt_algorithm == "ES256" || c.jwt_algorithm == "EdDSA";
  if (!known_alg) {
    p.push_back({"JWT_ALGORITHM", "must be HS256, RS256, ES256 or EdDSA, got '" + c.jwt_algorithm + "'"});
  }
  if (c.jwt_algorithm == "HS256") {
    if (c.environment == "production") {
      p.push_back({"JWT_ALGORITHM", "HS256 shares the signing secret with every verifier; production requires RS256, ES256 or EdDSA"});
    }
    if (!c.jwt_secret_key.empty() && c.jwt_secret_key.size() < 32) {
      p.push_back({"JWT_SECRET_KEY", "must be at least 32 bytes (256 bits) for HS256"});
    }
  }
  if (c.jwt_issuer.empty()) p.push_back({"JWT_ISSUER", "must not be empty"});
  if (c.jwt_audience.empty()) p.push_back({"JWT_AUDIENCE", "must not be empty"});
  range("jwt.access_token_expire_minutes", c.access_token_expire_minutes, 1, 1440);
  range("jwt.service_token_expire_minutes", c.service_token_expire_minutes, 1, 1440);
  range("jwt.refresh_token_expire_days", c.refresh_token_expire_days, 1, 365);
  range("jwt.key_publish_delay_s", c.key_publish_delay_s, 0, 7 * 86400);
  range("jwt.leeway_s", c.leeway_s, 0, 300);
  for (const auto& [field, value] : {std::pair{"RATE_LIMIT_LOGIN", &c.rate_limit_login},
                                     std::pair{"RATE_LIMIT_API", &c.rate_limit_api},
                                     std::pair{"RATE_LIMIT_SERVICE_TOKEN", &c.rate_limit_service_token}}) {
    if (!parse_rate(*value)) {
      p.push_back({field, "must match N/(second|minute|hour|day), got '" + *value + "'"});
    }
  }
  range("security.lockout_threshold", c.lockout_threshold, 1, 100);
  range("security.lockout_minutes", c.lockout_minutes, 1, 7 * 24 * 60);
  range("security.argon2_memory_kib", c.argon2_memory_kib, 1024, 4 * 1024 * 1024);
  range("security.argon2_iterations", c.argon2_iterations, 1, 64);
  range("security.argon2_parallelism", c.argon2_parallelism, 1, 64);
  range("security.worker_threads", c.worker_threads, 0, 256);
  range("security.worker_queue", c.worker_queue, 1, 1'000'000);
  if (!c.client_secret_pepper.empty() && c.client_secret_pepper.size() < 32) {
    p.push_back({"PERMISO_CLIENT_SECRET_PEPPER", "must be at least 32 bytes"});
  }
  if (c.bootstrap_admin_username.empty()) {
    p.push_back({"PERMISO_BOOTSTRAP_ADMIN_USERNAME", "must not be empty"});
  }
  return p;
}

std::string render_redacted(const AuthConfig& c) {
  auto secret = [](const std::string& s) { return s.empty() ? std::string("\"\"") : std::string("\"***\""); };
  std::ostringstream o;
  o << "# effective permiso-auth configuration (secrets redacted)\n"
    << "environment = " << toml_string(c.environment) << "\n"
    << "data_dir = " << toml_string(c.data_dir) << "\n\n"
    << "[server]\nhost = " << toml_string(c.host) << "\nport = " << c.port << "\nthreads = " << c.threads
    << "\nbody_limit_bytes = " << c.body_limit_bytes << "\nheader_limit_bytes = " << c.header_limit_bytes
    << "\nheader_timeout_s = " << c.header_timeout_s << "\nread_timeout_s = " << c.read_timeout_s
    << "\nidle_timeout_s = " << c.idle_timeout_s << "\nshutdown_grace_s = " << c.shutdown_grace_s
    << "\nallowed_origins = " << toml_list(c.allowed_origins)
    << "\ntrusted_proxies = " << toml_list(c.trusted_proxies)
    << "\npublic_base_url = " << toml_string(c.public_base_url) << "\n\n"
    << "[log]\nlevel = " << toml_string(c.log_level) << "\nformat = " << toml_string(c.log_format) << "\n\n"
    << "[storage]\ndatabase_url = " << toml_string(redact_url(c.effective_database_url()))
    << "\npool_size = " << c.pool_size << "\nconnect_timeout_s = " << c.connect_timeout_s
    << "\nredis_url = " << toml_string(redact_url(c.redis_url)) << "\n\n"
    << "[jwt]\nalgorithm = " << toml_string(c.jwt_algorithm) << "\nissuer = " << toml_string(c.jwt_issuer)
    << "\naudience = " << toml_string(c.jwt_audience) << "\nsecret_key = " << secret(c.jwt_secret_key)
    << "\nprivate_key_file = " << toml_string(c.jwt_private_key_file)
    << "\naccess_token_expire_minutes = " << c.access_token_expire_minutes
    << "\nservice_token_expire_minutes = " << c.service_token_expire_minutes
    << "\nrefresh_token_expire_days = " << c.refresh_token_expire_days
    << "\nkey_publish_delay_s = " << c.key_publish_delay_s << "\nleeway_s = " << c.leeway_s << "\n\n"
    << "[rate_limits]\nlogin = " << toml_string(c.rate_limit_login) << "\napi = " << toml_string(c.rate_limit_api)
    << "\nservice_token = " << toml_string(c.rate_limit_service_token) << "\n\n"
    << "[security]\nlockout_threshold = " << c.lockout_threshold << "\nlockout_minutes = " << c.lockout_minutes
    << "\nargon2_memory_kib = " << c.argon2_memory_kib << "\nargon2_iterations = " << c.argon2_iterations
    << "\nargon2_parallelism = " << c.argon2_parallelism << "\nworker_threads = " << c.worker_threads
    << "\nworker_queue = " << c.worker_queue << "\nclient_secret_pepper = " << secret(c.client_secret_pepper)
    << "\n\n[bootstrap]\nadmin_username = " << toml_string(c.bootstrap_admin_username)
    << "\nadmin_password = " << secret(c.bootstrap_admin_password) << "\n";
  return o.str();
}

}  // namespace permiso::config
