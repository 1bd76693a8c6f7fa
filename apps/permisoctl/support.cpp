// See support.hpp.
#include "support.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace permisoctl {
namespace fs = std::filesystem;

fs::path config_dir() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg == '/') return fs::path(xdg) / "permiso";
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr && *home != '\0' ? home : ".") / ".config" / "permiso";
}

fs::path credentials_path() {
  return config_dir() / "credentials.json";
}

namespace {

std::string str(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

std::optional<SavedLogin> load_login() {
  std::ifstream in(credentials_path());
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  auto v = boost::json::parse(ss.str(), ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  SavedLogin l;
  l.url = str(o, "url");
  l.username = str(o, "username");
  l.access_token = str(o, "access_token");
  l.refresh_token = str(o, "refresh_token");
  l.session_id = str(o, "session_id");
  l.scope = str(o, "scope");
  if (const auto* e = o.if_contains("expires_at"); e != nullptr && e->is_int64()) l.expires_at = e->get_int64();
  if (l.access_token.empty()) return std::nullopt;
  return l;
}

std::string save_login(const SavedLogin& l) {
  const auto dir = config_dir();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return "cannot create " + dir.string() + ": " + ec.message();
  ::chmod(dir.c_str(), 0700);
  const boost::json::object o{{"url", l.url},
                              {"username", l.username},
                              {"access_token", l.access_token},
                              {"refresh_token", l.refresh_token},
                              {"session_id", l.session_id},
                              {"scope", l.scope},
                              {"expires_at", l.expires_at}};
  const std::string text = boost::json::serialize(o) + "\n";
  const auto tmp = dir / ("credentials.json.tmp." + std::to_string(::getpid()));
  // Created 0600 from the start: the token is never readable by others, not even briefly.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + tmp.string();
  ::fchmod(fd, 0600);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) {
    fs::remove(tmp, ec);
    return "cannot write " + tmp.string();
  }
  fs::rename(tmp, credentials_path(), ec);
  if (ec) return "cannot replace " + credentials_path().string() + ": " + ec.message();
  return {};
}

bool forget_login() {
  std::error_code ec;
  return fs::remove(credentials_path(), ec);
}

namespace {

void pretty_to(std::string& out, const boost::json::value& v, int indent) {
  const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
  const std::string inner(static_cast<std::size_t>(indent + 1) * 2, ' ');
  if (const auto* o = v.if_object()) {
    if (o->empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (const auto& kv : *o) {
      if (!first) out += ",\n";
      first = false;
      out += inner + boost::json::serialize(boost::json::string(kv.key())) + ": ";
      pretty_to(out, kv.value(), indent + 1);
    }
    out += "\n" + pad + "}";
  } else if (const auto* a = v.if_array()) {
    if (a->empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    bool first = true;
    for (const auto& x : *a) {
      if (!first) out += ",\n";
      first = false;
      out += inner;
      pretty_to(out, x, indent + 1);
    }
    out += "\n" + pad + "]";
  } else {
    out += boost::json::serialize(v);
  }
}

}  // namespace

std::string pretty(const boost::json::value& v) {
  std::string out;
  pretty_to(out, v, 0);
  return out + "\n";
}

std::string cell(const boost::json::value* v) {
  if (v == nullptr || v->is_null()) return "-";
  if (const auto* s = v->if_string()) return std::string(*s);
  if (v->is_bool()) return v->get_bool() ? "yes" : "no";
  if (const auto* a = v->if_array()) {
    std::string out;
    for (const auto& x : *a) {
      if (!out.empty()) out += ",";
      if (const auto* o = x.if_object(); o != nullptr && o->contains("name")) {
        out += cell(o->if_contains("name"));
      } else {
        out += cell(&x);
      }
    }
    return out.empty() ? "-" : out;
  }
  return boost::json::serialize(*v);
}

std::string table(const boost::json::array& rows, const std::vector<std::pair<std::string, std::string>>& columns) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> width;
  for (const auto& [header, key] : columns) width.push_back(header.size());
  for (const auto& row : rows) {
    std::vector<std::string> line;
    const auto* o = row.if_object();
    for (std::size_t i = 0; i < columns.size(); ++i) {
      auto text = cell(o != nullptr ? o->if_contains(columns[i].second) : nullptr);
      if (text.size() > 60) text = text.substr(0, 57) + "...";
      width[i] = std::max(width[i], text.size());
      line.push_back(std::move(text));
    }
    cells.push_back(std::move(line));
  }
  std::string out;
  const auto emit = [&](const std::vector<std::string>& line) {
    for (std::size_t i = 0; i < line.size(); ++i) {
      out += line[i];
      if (i + 1 < line.size()) out += std::string(width[i] - line[i].size() + 2, ' ');
    }
    out += "\n";
  };
  std::vector<std::string> headers;
  for (const auto& c : columns) headers.push_back(c.first);
  emit(headers);
  for (const auto& line : cells) emit(line);
  return out;
}

std::string fields(const boost::json::object& o) {
  std::size_t w = 0;
  for (const auto& kv : o) w = std::max(w, kv.key().size());
  std::string out;
  for (const auto& kv : o) {
    out += std::string(kv.key()) + ":" + std::string(w - kv.key().size() + 1, ' ');
    const auto& v = kv.value();
    if (v.is_object() || (v.is_array() && !v.get_array().empty() && v.get_array()[0].is_object() &&
                          !v.get_array()[0].get_object().contains("name"))) {
      out += boost::json::serialize(v);
    } else {
      out += cell(&v);
    }
    out += "\n";
  }
  return out;
}

std::string relative_time(std::int64_t when, std::int64_t now) {
  const std::int64_t d = when - now;
  const std::int64_t a = d < 0 ? -d : d;
  if (a == 0) return "now";
  std::string amount;
  const auto unit = [&](std::int64_t n, const char* name) {
    amount = std::to_string(n) + " " + name + (n == 1 ? "" : "s");
  };
  if (a < 60)
    unit(a, "second");
  else if (a < 3600)
    unit(a / 60, "minute");
  else if (a < 86400)
    unit(a / 3600, "hour");
  else
    unit(a / 86400, "day");
  return d >= 0 ? "in " + amount : amount + " ago";
}

namespace {

std::optional<std::string> base64url_decode(std::string_view in) {
  std::string out;
  std::uint32_t buf = 0;
  int bits = 0;
  for (const char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-' || c == '+')
      v = 62;
    else if (c == '_' || c == '/')
      v = 63;
    else if (c == '=')
      break;
    else
      return std::nullopt;
    buf = (buf << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace

std::optional<DecodedJwt> decode_jwt(std::string_view token) {
  if (token.size() > 64 * 1024) return std::nullopt;
  const auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  const auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) return std::nullopt;
  auto h = base64url_decode(token.substr(0, d1));
  auto p = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!h || !p) return std::nullopt;
  boost::system::error_code ec;
  DecodedJwt out;
  out.header = boost::json::parse(*h, ec);
  if (ec || !out.header.is_object()) return std::nullopt;
  out.claims = boost::json::parse(*p, ec);
  if (ec || !out.claims.is_object()) return std::nullopt;
  return out;
}

}  // namespace permisoctl
