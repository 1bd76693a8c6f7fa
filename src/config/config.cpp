// See config.hpp.
#include "config/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <variant>

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
  void boolean(const char* table, const char* key, bool& out) {
    if (auto node = root_[table][key]) {
      if (auto v = node.value<bool>()) out = *v;
      else wrong(table, key, "must be true or false");
    }
  }
  /// A key outside any table.
  void top_str(const char* key, std::string& out) {
    if (auto node = root_[key]) {
      if (auto v = node.value<std::string>()) out = *v;
      else problems_.push_back({key, "must be a string (in " + source_ + ")"});
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

void env_bool(const EnvLookup& env, const char* name, bool& out, std::vector<ConfigProblem>& problems) {
  if (auto v = env(name)) {
    std::string t = *v;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (t == "1" || t == "true" || t == "yes" || t == "on") out = true;
    else if (t == "0" || t == "false" || t == "no" || t == "off" || t.empty()) out = false;
    else problems.push_back({name, "must be true or false, got '" + *v + "'"});
  }
}

/// scheme://user:password@host/…?password=… with both passwords replaced by "***".
std::string redact_url(const std::string& url) {
  std::string out = url;
  const auto scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  const auto query = std::min(out.find('?', scheme), out.size());
  // The last '@' before the query ends the userinfo (a password may itself hold '@' or '/').
  const auto at = out.rfind('@', query == 0 ? 0 : query - 1);
  if (at != std::string::npos && at > scheme + 3) {
    const auto colon = out.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  for (auto pos = out.find('?'); pos != std::string::npos && pos < out.size(); pos = out.find('&', pos + 1)) {
    const auto name = pos + 1;
    if (out.compare(name, 9, "password=") == 0) {
      const auto value = name + 9;
      const auto end = std::min(out.find('&', value), out.size());
      out.replace(value, end - value, "***");
    }
  }
  return out;
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

// ^\d+\.\d+\.\d+$ (the seed's version rule).
bool valid_version(std::string_view v) {
  int parts = 0;
  std::size_t digits = 0;
  for (const char ch : v) {
    if (ch >= '0' && ch <= '9') {
      ++digits;
    } else if (ch == '.' && digits > 0) {
      ++parts;
      digits = 0;
    } else {
      return false;
    }
  }
  return parts == 2 && digits > 0;
}

bool valid_ip(std::string_view ip) {
  return !ip.empty() && std::all_of(ip.begin(), ip.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
  });
}

std::string toml_string(const std::string& s) {
  // A TOML basic string: control characters escaped as \uXXXX.
  std::string out = "\"";
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  return out + "\"";
}

/// One rendered setting: the single description both renderings (TOML, JSON) are made from,
/// so they cannot disagree on what is redacted.
struct Entry {
  std::string table;  // "" for top-level keys
  std::string key;
  using Value = std::variant<std::string, std::int64_t, bool, std::vector<std::string>>;
  Value value;
};

std::string secret(const std::string& s) { return s.empty() ? std::string() : std::string("***"); }

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
      {"server", "allowed_origins", L(c.allowed_origins)},
      {"server", "trusted_proxies", L(c.trusted_proxies)},
      {"server", "public_base_url", c.public_base_url},
      {"log", "level", c.log_level},
      {"log", "format", c.log_format},
      {"storage", "database_url", redact_url(c.effective_database_url())},
      {"storage", "pool_size", c.pool_size},
      {"storage", "connect_timeout_s", c.connect_timeout_s},
      {"storage", "redis_url", redact_url(c.redis_url)},
      {"jwt", "algorithm", c.jwt_algorithm},
      {"jwt", "issuer", c.jwt_issuer},
      {"jwt", "audience", c.jwt_audience},
      {"jwt", "secret_key", secret(c.jwt_secret_key)},
      {"jwt", "private_key_file", c.jwt_private_key_file},
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
      {"security", "client_secret_pepper", secret(c.client_secret_pepper)},
      {"bootstrap", "admin_username", c.bootstrap_admin_username},
      {"bootstrap", "admin_password", secret(c.bootstrap_admin_password)},
  };
}

template <class Quote>
std::string render_value(const Entry::Value& v, Quote quote) {
  if (const auto* str = std::get_if<std::string>(&v)) return quote(*str);
  if (const auto* n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  const auto& items = std::get<std::vector<std::string>>(v);
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += quote(items[i]);
  }
  return out + "]";
}

}  // namespace

std::optional<RateSpec> parse_rate(std::string_view text) { return ratelimit::parse_rate(text); }

std::string AuthConfig::effective_database_url() const {
  if (!database_url.empty()) return database_url;
  return "sqlite://" + fs::absolute(fs::path(data_dir) / "permiso.db").lexically_normal().string();
}

std::vector<std::string> AuthConfig::private_key_files() const { return split_list(jwt_private_key_file); }

log::LogConfig AuthConfig::log_config() const {
  log::LogConfig l;
  l.level = log_level;
  l.format = log_format;
  l.service = service_name;
  return l;
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
  env_bool(env, "PERMISO_ALLOW_HS256_IN_PRODUCTION", c.jwt_allow_hs256_in_production, problems);
  env_int(env, "PERMISO_ACCESS_TOKEN_MINUTES", c.access_token_expire_minutes, problems);
  env_int(env, "PERMISO_SERVICE_TOKEN_MINUTES", c.service_token_expire_minutes, problems);
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
  if (c.environment != "development" && c.environment != "staging" && c.environment != "production") {
    p.push_back({"PERMISO_ENV", "must be development, staging or production, got '" + c.environment + "'"});
  }
  if (c.service_name.empty() || c.service_name.size() > 50) {
    p.push_back({"service_name", "must be 1 to 50 characters"});
  }
  if (!valid_version(c.version)) p.push_back({"version", "must look like 1.2.3, got '" + c.version + "'"});
  if (c.data_dir.empty()) p.push_back({"PERMISO_DATA_DIR", "must not be empty"});
  if (c.host.empty()) p.push_back({"PERMISO_HOST", "must not be empty"});
  if (!c.public_base_url.empty() && !c.public_base_url.starts_with("http://") &&
      !c.public_base_url.starts_with("https://")) {
    p.push_back({"PERMISO_PUBLIC_URL", "must be an http:// or https:// URL"});
  }
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
  const auto has_rest = [&db](std::string_view prefix) { return db.starts_with(prefix) && db.size() > prefix.size(); };
  if (!has_rest("sqlite://") && !has_rest("postgresql://") && !has_rest("postgres://")) {
    p.push_back({"DATABASE_URL", db.starts_with("postgresql+")
                                     ? "driver suffixes such as postgresql+asyncpg:// are not used here: write postgresql://..."
                                     : "must be sqlite:///path or postgresql://..."});
  }
  if (!c.redis_url.empty() && (!c.redis_url.starts_with("redis://") || c.redis_url.size() == 8)) {
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
    if (c.environment == "production" && !c.jwt_allow_hs256_in_production) {
      p.push_back({"JWT_ALGORITHM", "HS256 shares the signing secret with every verifier; production requires RS256, "
                                    "ES256 or EdDSA (or PERMISO_ALLOW_HS256_IN_PRODUCTION=true)"});
    }
    if (!c.jwt_secret_key.empty() && c.jwt_secret_key.size() < 32) {
      p.push_back({"JWT_SECRET_KEY", "must be at least 32 bytes (256 bits) for HS256"});
    }
  }
  for (const auto& file : c.private_key_files()) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) p.push_back({"JWT_PRIVATE_KEY_FILE", "not a readable file: " + file});
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
  std::string out = "# effective permiso-auth configuration (secrets redacted)\n";
  std::string table;
  for (const auto& e : entries(c)) {
    if (e.table != table) {
      table = e.table;
      out += "\n[" + table + "]\n";
    }
    out += e.key + " = " + render_value(e.value, toml_string) + "\n";
  }
  return out;
}

std::string render_redacted_json(const AuthConfig& c) {
  std::string out = "{";
  std::string table;
  bool first = true;
  for (const auto& e : entries(c)) {
    if (e.table != table) {
      if (!table.empty()) out += "}";
      table = e.table;
      out += (first ? "" : ",") + log::json_quote(table) + ":{";
      first = true;
    }
    if (!first) out += ",";
    first = false;
    out += log::json_quote(e.key) + ":" + render_value(e.value, log::json_quote);
  }
  if (!table.empty()) out += "}";
  return out + "}\n";
}

}  // namespace permiso::config
