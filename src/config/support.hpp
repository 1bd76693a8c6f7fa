// Internal to permiso_config: the pieces every service's configuration is built from (the
// layered loading of profile → PERMISO_CONFIG file → environment, typed TOML and environment
// readers that turn wrong types into problems, the syntax rules shared by services, and the
// redacted TOML/JSON rendering). One copy, so permiso-auth and mt5-api cannot drift apart.
#pragma once

#include "config/config.hpp"
#include "secrets/provider.hpp"

#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace permiso::config::detail {

std::string upper(std::string s);
/// "a, b,,c" → {"a", "b", "c"} (items trimmed, empty ones dropped).
std::vector<std::string> split_list(std::string_view text);

/// Secrets through the provider SECRETS_PROVIDER names: a provider that cannot be made, or
/// a secret that cannot be read, becomes a problem named after the variable to fix.
class SecretSource {
 public:
  SecretSource(const EnvLookup& env, std::vector<ConfigProblem>& problems);
  /// The secret's value; nullopt when it is unset, or unreadable (a problem is recorded).
  /// Asked of the provider once per load: a name read twice (a template and a ${NAME}) costs
  /// a remote store one call and reports one problem.
  std::optional<std::string> get(std::string_view name);
  /// Sets `out` when the secret is set.
  void str(std::string_view name, std::string& out);

 private:
  std::unique_ptr<secrets::SecretProvider> provider_;
  std::vector<ConfigProblem>& problems_;
  std::map<std::string, std::optional<std::string>, std::less<>> read_;
};

/// Replaces each ${NAME} in `text` with lookup(NAME); "$${" writes a literal "${". Nullopt,
/// with the offending reference in `bad`, when a variable is unset or a reference malformed.
std::optional<std::string> expand_variables(std::string_view text,
                                            const std::function<std::optional<std::string>(std::string_view)>& lookup,
                                            std::string& bad);

/// A URL that may carry a password: the secret `name` (DATABASE_URL) if set, else the seed's
/// template `name`_TEMPLATE with "{password}" replaced by the secret `password_secret`
/// (percent-encoded) if the template is set, else `url` is left as it was. A template that
/// needs an unset password is a problem. True when `url` was set here.
bool url_setting(const EnvLookup& env, SecretSource& secrets, const std::string& name, std::string_view password_secret,
                 std::string& url, std::vector<ConfigProblem>& problems);

/// True when the environment gives `name` in any of its forms (NAME, NAME_FILE,
/// NAME_ENCRYPTED, NAME_TEMPLATE): the files' value, and any ${NAME} in it, is then not read.
bool env_gives(const EnvLookup& env, std::string_view name);

/// The storage URLs the environment replaces (env_gives): the files' values are not read.
struct EnvOverrides {
  bool database_url = false;
  bool redis_url = false;
};

/// Reads keys of one TOML document into a config; wrong types become problems named
/// "<table>.<key>". `table` may be dotted ("mt5_api.broker") or empty (a top-level key).
/// Strings may hold ${NAME}, read through `secrets` (the provider, then the environment).
class TomlReader {
 public:
  TomlReader(const toml::table& root, std::string source, std::vector<ConfigProblem>& problems, SecretSource& secrets)
      : root_(root), source_(std::move(source)), problems_(problems), secrets_(secrets) {}

  void str(std::string_view table, std::string_view key, std::string& out);
  void integer(std::string_view table, std::string_view key, std::int64_t& out);
  /// An integer or a float.
  void number(std::string_view table, std::string_view key, double& out);
  void boolean(std::string_view table, std::string_view key, bool& out);
  void list(std::string_view table, std::string_view key, std::vector<std::string>& out);
  /// A top-level string key (its problem is named by the key alone).
  void top_str(std::string_view key, std::string& out) { str({}, key, out); }

 private:
  [[nodiscard]] toml::node_view<const toml::node> node(std::string_view table, std::string_view key) const;
  void wrong(std::string_view table, std::string_view key, std::string_view rule);
  /// `value` with its ${NAME}s expanded; nullopt (a problem recorded) when one is unset.
  std::optional<std::string> expand(std::string_view table, std::string_view key, const std::string& value);
  const toml::table& root_;
  std::string source_;
  std::vector<ConfigProblem>& problems_;
  SecretSource& secrets_;
};

/// Applies one parsed TOML document (its path is the source named in problems).
using ApplyToml = std::function<void(const toml::table& table, const std::string& source)>;

/// The layers every service shares, in order: PERMISO_ENV (checked: development, staging or
/// production; stored in `environment`), the profile <env>.toml from PERMISO_CONFIG_DIR (else
/// ./config, else the source tree's config/), then the file named by PERMISO_CONFIG. The
/// caller applies the environment afterwards. False when PERMISO_ENV is unknown (nothing
/// else is loaded then).
bool load_file_layers(const EnvLookup& env, std::string& environment, const ApplyToml& apply,
                      std::vector<ConfigProblem>& problems);

void env_str(const EnvLookup& env, const char* name, std::string& out);
void env_int(const EnvLookup& env, const char* name, std::int64_t& out, std::vector<ConfigProblem>& problems);
void env_double(const EnvLookup& env, const char* name, double& out, std::vector<ConfigProblem>& problems);
void env_bool(const EnvLookup& env, const char* name, bool& out, std::vector<ConfigProblem>& problems);
/// ALLOWED_ORIGINS replaces the list, CORS_ORIGINS adds to it (both comma lists).
void env_origins(const EnvLookup& env, std::vector<std::string>& out);

using config::redact_url;  // public: config.hpp
/// "***" for a set secret, "" for an unset one (so the rendering says whether it is set).
std::string secret(const std::string& s);
/// ^https?://[a-zA-Z0-9.-]+(:[0-9]{1,5})?$ (the seed's origin rule).
bool valid_origin(std::string_view origin);
/// ^\d+\.\d+\.\d+$ (the seed's version rule).
bool valid_version(std::string_view version);
bool valid_ip(std::string_view ip);
bool valid_log_level(std::string_view level);

/// Appends "must be between lo and hi, got v" when v is outside [lo, hi].
void check_range(std::vector<ConfigProblem>& problems, std::string_view field, std::int64_t v, std::int64_t lo,
                 std::int64_t hi);
/// The rules on the HTTP server, log and origin fields every service has.
void check_origins(std::vector<ConfigProblem>& problems, const std::vector<std::string>& origins,
                   std::string_view environment, std::string_view field = "ALLOWED_ORIGINS");
/// The server's own TLS: both files or neither, and each readable.
void check_tls_files(std::vector<ConfigProblem>& problems, const std::string& cert_file, const std::string& key_file);
void check_trusted_proxies(std::vector<ConfigProblem>& problems, const std::vector<std::string>& proxies,
                           std::string_view field = "PERMISO_TRUSTED_PROXIES");
void check_log(std::vector<ConfigProblem>& problems, const std::string& level, const std::string& format);
/// sqlite:///path or postgresql://… (postgres:// too); `field` names the variable.
void check_database_url(std::vector<ConfigProblem>& problems, const std::string& url, std::string_view field);
void check_redis_url(std::vector<ConfigProblem>& problems, const std::string& url);

/// One rendered setting: the single description both renderings (TOML, JSON) are made from,
/// so they cannot disagree on what is redacted.
struct Entry {
  std::string table;  // "" for top-level keys; may be dotted
  std::string key;
  using Value = std::variant<std::string, std::int64_t, bool, std::vector<std::string>, double>;
  Value value;
};
/// `title` as a comment line, then the entries grouped by table.
std::string render_toml(std::string_view title, const std::vector<Entry>& entries);
/// One JSON object; a dotted table nests ("mt5_api.broker" → {"mt5_api":{"broker":{…}}}) as
/// long as entries of one table are contiguous.
std::string render_json(const std::vector<Entry>& entries);

}  // namespace permiso::config::detail
