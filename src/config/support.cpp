// See support.hpp.
#include "config/support.hpp"

#include "log/log.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#ifndef PERMISO_SOURCE_CONFIG_DIR
#define PERMISO_SOURCE_CONFIG_DIR "config"
#endif

namespace permiso::config::detail {
namespace fs = std::filesystem;

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

// ---- TomlReader ----

toml::node_view<const toml::node> TomlReader::node(std::string_view table, std::string_view key) const {
  if (table.empty()) return root_[key];
  // A dotted table is walked one level at a time (keys themselves never contain dots here).
  toml::node_view<const toml::node> view{root_};
  std::size_t pos = 0;
  while (pos <= table.size()) {
    const auto end = std::min(table.find('.', pos), table.size());
    view = view[table.substr(pos, end - pos)];
    pos = end + 1;
  }
  return view[key];
}

void TomlReader::str(std::string_view table, std::string_view key, std::string& out) {
  if (auto n = node(table, key)) {
    if (auto v = n.value<std::string>()) {
      if (auto expanded = expand(table, key, *v)) out = std::move(*expanded);
    } else {
      wrong(table, key, "must be a string");
    }
  }
}

std::optional<std::string> TomlReader::expand(std::string_view table, std::string_view key, const std::string& value) {
  std::string bad;
  auto expanded = expand_variables(
      value, [this](std::string_view name) { return secrets_.get(name); }, bad);
  if (!expanded) wrong(table, key, bad);
  return expanded;
}

void TomlReader::integer(std::string_view table, std::string_view key, std::int64_t& out) {
  if (auto n = node(table, key)) {
    // An integer node only: toml++ would convert a float, and 1e99 (found by fuzzing) does
    // not fit an int64 (undefined behaviour).
    if (n.is_integer())
      out = *n.value<std::int64_t>();
    else
      wrong(table, key, "must be an integer");
  }
}

void TomlReader::number(std::string_view table, std::string_view key, double& out) {
  if (auto n = node(table, key)) {
    if (n.is_integer() || n.is_floating_point())
      out = *n.value<double>();
    else
      wrong(table, key, "must be a number");
  }
}

void TomlReader::boolean(std::string_view table, std::string_view key, bool& out) {
  if (auto n = node(table, key)) {
    if (auto v = n.value<bool>())
      out = *v;
    else
      wrong(table, key, "must be true or false");
  }
}

void TomlReader::list(std::string_view table, std::string_view key, std::vector<std::string>& out) {
  if (auto n = node(table, key)) {
    const auto* arr = n.as_array();
    if (arr == nullptr) {
      wrong(table, key, "must be an array of strings");
      return;
    }
    out.clear();
    for (const auto& item : *arr) {
      if (auto v = item.value<std::string>()) {
        if (auto expanded = expand(table, key, *v)) out.push_back(std::move(*expanded));
      } else {
        wrong(table, key, "must be an array of strings");
      }
    }
  }
}

void TomlReader::wrong(std::string_view table, std::string_view key, std::string_view rule) {
  std::string field = table.empty() ? std::string(key) : std::string(table) + "." + std::string(key);
  problems_.push_back({std::move(field), std::string(rule) + " (in " + source_ + ")"});
}

// ---- secrets and variables ----

SecretSource::SecretSource(const EnvLookup& env, std::vector<ConfigProblem>& problems) : problems_(problems) {
  auto provider = secrets::make_provider(env);
  if (provider) {
    provider_ = std::move(*provider);
  } else {
    problems_.push_back({provider.error().field, provider.error().reason});
  }
}

std::optional<std::string> SecretSource::get(std::string_view name) {
  if (!provider_) return std::nullopt;
  if (const auto known = read_.find(name); known != read_.end()) return known->second;
  auto value = provider_->get(name);
  if (!value) problems_.push_back({value.error().field, value.error().reason});
  return read_.emplace(std::string(name), value ? std::move(*value) : std::nullopt).first->second;
}

void SecretSource::str(std::string_view name, std::string& out) {
  if (auto v = get(name)) out = std::move(*v);
}

std::optional<std::string> expand_variables(std::string_view text,
                                            const std::function<std::optional<std::string>(std::string_view)>& lookup,
                                            std::string& bad) {
  std::string out;
  for (std::size_t pos = 0; pos < text.size();) {
    if (text.substr(pos).starts_with("$${")) {
      out += "${";
      pos += 3;
      continue;
    }
    if (!text.substr(pos).starts_with("${")) {
      out.push_back(text[pos++]);
      continue;
    }
    const auto close = text.find('}', pos + 2);
    const auto name = text.substr(pos + 2, close == std::string_view::npos ? 0 : close - pos - 2);
    const bool valid = close != std::string_view::npos && !name.empty() &&
                       std::isdigit(static_cast<unsigned char>(name.front())) == 0 &&
                       std::all_of(name.begin(), name.end(),
                                   [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; });
    if (!valid) {
      bad = "malformed variable reference at '" + std::string(text.substr(pos, 16)) +
            "' (write ${NAME}, or $${ for a literal ${)";
      return std::nullopt;
    }
    auto value = lookup(name);
    if (!value) {
      bad = "${" + std::string(name) + "} is not set";
      return std::nullopt;
    }
    out += *value;
    pos = close + 1;
  }
  return out;
}

bool env_gives(const EnvLookup& env, std::string_view name) {
  for (std::string_view suffix : {"", "_FILE", "_ENCRYPTED", "_TEMPLATE"}) {
    if (auto v = env(std::string(name) + std::string(suffix)); v && !v->empty()) return true;
  }
  return false;
}

bool url_setting(const EnvLookup& env, SecretSource& secrets, const std::string& name, std::string_view password_secret,
                 std::string& url, std::vector<ConfigProblem>& problems) {
  if (auto direct = secrets.get(name); direct && !direct->empty()) {
    url = std::move(*direct);
    return true;
  }
  const auto template_variable = name + "_TEMPLATE";
  auto text = env(template_variable);
  if (!text || text->empty()) return false;
  constexpr std::string_view kPlaceholder = "{password}";
  const auto at = text->find(kPlaceholder);
  if (at == std::string::npos) {
    url = std::move(*text);
    return true;
  }
  auto password = secrets.get(password_secret);
  if (!password) {
    problems.push_back(
        {std::string(password_secret), "is not set, and " + template_variable + " needs it for {password}"});
    return false;
  }
  const auto encoded = secrets::url_encoded(*password);
  url = std::move(*text);
  for (auto pos = at; pos != std::string::npos; pos = url.find(kPlaceholder, pos + encoded.size())) {
    url.replace(pos, kPlaceholder.size(), encoded);
  }
  return true;
}

// ---- layers ----

namespace {

bool load_toml_file(const fs::path& path, const ApplyToml& apply, std::vector<ConfigProblem>& problems,
                    const std::string& field) {
  try {
    const auto table = toml::parse_file(path.string());
    apply(table, path.string());
    return true;
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "cannot parse " << path.string() << ": " << e.description() << " at line " << e.source().begin.line;
    problems.push_back({field, msg.str()});
    return false;
  }
}

}  // namespace

bool load_file_layers(const EnvLookup& env, std::string& environment, const ApplyToml& apply,
                      std::vector<ConfigProblem>& problems) {
  if (auto e = env("PERMISO_ENV"); e && !e->empty()) environment = *e;
  if (environment != "development" && environment != "staging" && environment != "production") {
    problems.push_back({"PERMISO_ENV", "must be development, staging or production, got '" + environment + "'"});
    return false;
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
    const auto file = dir / (environment + ".toml");
    if (fs::exists(file)) {
      load_toml_file(file, apply, problems, "PERMISO_ENV");
      found = true;
      break;
    }
  }
  if (!found) {
    problems.push_back({"PERMISO_CONFIG_DIR", "no " + environment + ".toml profile in " + dirs.front().string()});
  }
  if (auto file = env("PERMISO_CONFIG"); file && !file->empty()) {
    if (!fs::exists(*file)) {
      problems.push_back({"PERMISO_CONFIG", "file " + *file + " does not exist"});
    } else {
      load_toml_file(*file, apply, problems, "PERMISO_CONFIG");
    }
  }
  return true;
}

// ---- environment ----

void env_str(const EnvLookup& env, const char* name, std::string& out) {
  if (auto v = env(name)) out = *v;
}

void env_int(const EnvLookup& env, const char* name, std::int64_t& out, std::vector<ConfigProblem>& problems) {
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

void env_double(const EnvLookup& env, const char* name, double& out, std::vector<ConfigProblem>& problems) {
  if (auto v = env(name)) {
    double d = 0;
    const auto* end = v->data() + v->size();
    const auto [ptr, ec] = std::from_chars(v->data(), end, d);
    if (ec != std::errc() || ptr != end || v->empty() || !std::isfinite(d)) {
      problems.push_back({name, "must be a number, got '" + *v + "'"});
    } else {
      out = d;
    }
  }
}

void env_bool(const EnvLookup& env, const char* name, bool& out, std::vector<ConfigProblem>& problems) {
  if (auto v = env(name)) {
    std::string t = *v;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (t == "1" || t == "true" || t == "yes" || t == "on")
      out = true;
    else if (t == "0" || t == "false" || t == "no" || t == "off" || t.empty())
      out = false;
    else
      problems.push_back({name, "must be true or false, got '" + *v + "'"});
  }
}

void env_origins(const EnvLookup& env, std::vector<std::string>& out) {
  if (auto v = env("ALLOWED_ORIGINS")) out = split_list(*v);
  if (auto v = env("CORS_ORIGINS")) {
    for (auto& o : split_list(*v)) {
      if (std::find(out.begin(), out.end(), o) == out.end()) out.push_back(std::move(o));
    }
  }
}

}  // namespace permiso::config::detail

namespace permiso::config {

// ---- rules ----

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

}  // namespace permiso::config

namespace permiso::config::detail {

std::string secret(const std::string& s) {
  return s.empty() ? std::string() : std::string("***");
}

bool valid_origin(std::string_view o) {
  if (o.starts_with("https://"))
    o.remove_prefix(8);
  else if (o.starts_with("http://"))
    o.remove_prefix(7);
  else
    return false;
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

bool valid_log_level(std::string_view level) {
  const std::string l = upper(std::string(level));
  return l == "DEBUG" || l == "INFO" || l == "WARNING" || l == "ERROR" || l == "CRITICAL";
}

void check_range(std::vector<ConfigProblem>& p, std::string_view field, std::int64_t v, std::int64_t lo,
                 std::int64_t hi) {
  if (v < lo || v > hi) {
    p.push_back({std::string(field), "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                                         std::to_string(v)});
  }
}

void check_origins(std::vector<ConfigProblem>& p, const std::vector<std::string>& origins, std::string_view environment,
                   std::string_view field) {
  for (const auto& o : origins) {
    if (o == "*") {
      if (environment != "development") p.push_back({std::string(field), "'*' is allowed only in development"});
    } else if (!valid_origin(o)) {
      p.push_back({std::string(field), "invalid origin format: " + o + " (expected scheme://host[:port])"});
    }
  }
}

void check_tls_files(std::vector<ConfigProblem>& p, const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    p.push_back({cert_file.empty() ? "PERMISO_TLS_CERT_FILE" : "PERMISO_TLS_KEY_FILE",
                 "set both PERMISO_TLS_CERT_FILE and PERMISO_TLS_KEY_FILE, or neither"});
    return;
  }
  for (const auto& [field, path] :
       {std::pair{"PERMISO_TLS_CERT_FILE", &cert_file}, std::pair{"PERMISO_TLS_KEY_FILE", &key_file}}) {
    if (!path->empty() && !std::ifstream(*path).good()) p.push_back({field, "cannot read " + *path});
  }
}

void check_trusted_proxies(std::vector<ConfigProblem>& p, const std::vector<std::string>& proxies,
                           std::string_view field) {
  for (const auto& ip : proxies) {
    if (!valid_ip(ip)) p.push_back({std::string(field), "not an IP address: " + ip});
  }
}

void check_log(std::vector<ConfigProblem>& p, const std::string& level, const std::string& format) {
  if (!valid_log_level(level)) {
    p.push_back({"LOG_LEVEL", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got '" + level + "'"});
  }
  if (format != "text" && format != "json") {
    p.push_back({"LOG_FORMAT", "must be text or json, got '" + format + "'"});
  }
}

void check_database_url(std::vector<ConfigProblem>& p, const std::string& db, std::string_view field) {
  const auto has_rest = [&db](std::string_view prefix) { return db.starts_with(prefix) && db.size() > prefix.size(); };
  if (!has_rest("sqlite://") && !has_rest("postgresql://") && !has_rest("postgres://")) {
    p.push_back({std::string(field),
                 db.starts_with("postgresql+")
                     ? "driver suffixes such as postgresql+asyncpg:// are not used here: write postgresql://..."
                     : "must be sqlite:///path or postgresql://..."});
  }
}

void check_redis_url(std::vector<ConfigProblem>& p, const std::string& url) {
  if (!url.empty() && (!url.starts_with("redis://") || url.size() == 8)) {
    p.push_back({"REDIS_URL", "must be redis://[:password@]host:port[/db]"});
  }
}

// ---- rendering ----

namespace {

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

std::string render_double(double d) {
  // Shortest text that reads back as the same double; always with a '.' or exponent so
  // TOML reads it as a float.
  char buf[64];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string out(buf, ec == std::errc() ? ptr : buf);
  if (out.find_first_of(".eE") == std::string::npos && out.find_first_of("0123456789") != std::string::npos) {
    out += ".0";
  }
  return out;
}

template <class Quote>
std::string render_value(const Entry::Value& v, Quote quote) {
  if (const auto* str = std::get_if<std::string>(&v)) return quote(*str);
  if (const auto* n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* d = std::get_if<double>(&v)) return render_double(*d);
  const auto& items = std::get<std::vector<std::string>>(v);
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += quote(items[i]);
  }
  return out + "]";
}

/// The JSON rendering's tree: members in first-seen order.
struct JsonNode {
  std::vector<std::pair<std::string, std::string>> values;  // key → rendered value
  std::vector<std::pair<std::string, std::unique_ptr<JsonNode>>> children;
  std::vector<int> order;  // 0: next value, 1: next child

  JsonNode& child(const std::string& name) {
    for (auto& [n, c] : children) {
      if (n == name) return *c;
    }
    children.emplace_back(name, std::make_unique<JsonNode>());
    order.push_back(1);
    return *children.back().second;
  }
  void add(std::string key, std::string value) {
    values.emplace_back(std::move(key), std::move(value));
    order.push_back(0);
  }
  [[nodiscard]] std::string render() const {
    std::string out = "{";
    std::size_t v = 0;
    std::size_t c = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (i > 0) out += ",";
      if (order[i] == 0) {
        out += log::json_quote(values[v].first) + ":" + values[v].second;
        ++v;
      } else {
        out += log::json_quote(children[c].first) + ":" + children[c].second->render();
        ++c;
      }
    }
    return out + "}";
  }
};

}  // namespace

std::string render_toml(std::string_view title, const std::vector<Entry>& entries) {
  std::string out = "# " + std::string(title) + "\n";
  std::string table;
  for (const auto& e : entries) {
    if (e.table != table) {
      table = e.table;
      out += "\n[" + table + "]\n";
    }
    out += e.key + " = " + render_value(e.value, toml_string) + "\n";
  }
  return out;
}

std::string render_json(const std::vector<Entry>& entries) {
  JsonNode root;
  for (const auto& e : entries) {
    JsonNode* node = &root;
    std::size_t pos = 0;
    while (!e.table.empty() && pos <= e.table.size()) {
      const auto end = std::min(e.table.find('.', pos), e.table.size());
      node = &node->child(e.table.substr(pos, end - pos));
      pos = end + 1;
    }
    node->add(e.key, render_value(e.value, log::json_quote));
  }
  return root.render() + "\n";
}

}  // namespace permiso::config::detail
