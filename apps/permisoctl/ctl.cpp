// See ctl.hpp.
#include "ctl.hpp"

#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

namespace permisoctl {

using permiso::AuthClient;
using permiso::AuthClientErrc;
using permiso::AuthClientError;
using permiso::AuthClientOptions;

const char* const kExitCodes =
    "\nExit codes:\n"
    "  0  success\n"
    "  1  usage: bad arguments or missing input\n"
    "  2  authentication or authorization: not logged in, bad credentials, expired session, missing scope\n"
    "  3  not found\n"
    "  4  conflict or validation error (already exists, a field breaks a rule)\n"
    "  5  server unavailable, rate limited, or an unexpected answer\n"
    "\nEnvironment: PERMISO_URL (server), XDG_CONFIG_HOME/HOME (where `login` keeps the token),\n"
    "PERMISO_PASSWORD, PERMISO_CLIENT_ID, PERMISO_CLIENT_SECRET.";

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int fail(int code, const std::string& message) {
  std::cerr << "permisoctl: " << message << "\n";
  return code;
}

std::string url_encode(std::string_view in) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : in) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> read_stdin_line() {
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::optional<std::string> prompt_hidden(const std::string& prompt) {
  if (::isatty(STDIN_FILENO) == 0) return std::nullopt;
  std::cerr << prompt << std::flush;
  termios old{};
  ::tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  auto line = read_stdin_line();
  ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::cerr << "\n";
  return line;
}

namespace {

/// Exit code for an HTTP status that is not a success.
int exit_for_status(int status) {
  if (status == 401 || status == 403) return kAuth;
  if (status == 404) return kNotFound;
  if (status == 400 || status == 409 || status == 413 || status == 422 || status == 423) return kConflict;
  return kUnavailable;
}

std::string server_message(const std::string& body, int status) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  std::string out = "HTTP " + std::to_string(status);
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    if (const auto* e = o.if_contains("error"); e && e->is_string()) out += " " + std::string(e->get_string());
    if (const auto* d = o.if_contains("error_description"); d && d->is_string())
      out += ": " + std::string(d->get_string());
    if (const auto* f = o.if_contains("field"); f && f->is_string())
      out += " (field: " + std::string(f->get_string()) + ")";
  }
  return out;
}

}  // namespace

int report(const AuthClientError& e, const std::string& url) {
  switch (e.code) {
    case AuthClientErrc::InvalidArgument:
      return fail(kUsage, "error: " + e.message);
    case AuthClientErrc::NotLoggedIn:
      return fail(kAuth, "error: not logged in: run `permisoctl login --username <name>` first");
    case AuthClientErrc::Authentication:
      return fail(kAuth, "error: authentication failed: " + e.message +
                             "\n  hint: run `permisoctl login` again (or check the client id and secret)");
    case AuthClientErrc::TokenRevoked:
      return fail(kAuth, "error: the token was revoked: " + e.message +
                             "\n  hint: if your session was ended, run `permisoctl login` again");
    case AuthClientErrc::Forbidden:
      return fail(kAuth, "error: forbidden: " + e.message);
    case AuthClientErrc::InsufficientScope: {
      std::string missing;
      for (const auto& s : e.missing_scopes) missing += (missing.empty() ? "" : " ") + s;
      return fail(kAuth, "error: your token lacks the scope(s): " + (missing.empty() ? std::string("?") : missing) +
                             "\n  hint: ask an admin to grant a role with them, then `permisoctl login` again");
    }
    case AuthClientErrc::InvalidScope:
      return fail(kConflict, "error: " + e.message + "\n  hint: request only scopes the client holds");
    case AuthClientErrc::RateLimited:
      return fail(kUnavailable, "error: rate limited; retry in " + std::to_string(e.retry_after.count()) + " s");
    case AuthClientErrc::Unavailable:
      return fail(kUnavailable,
                  "error: " + e.message + "\n  hint: is permiso-auth running at " + url + "? Set --url or PERMISO_URL");
    case AuthClientErrc::Protocol:
      return fail(kUnavailable, "error: unexpected answer: " + e.message);
  }
  return kUnavailable;
}

const json::array& list_of(const json::value& v, std::string_view key) {
  static const json::array empty;
  if (const auto* a = v.if_array()) return *a;
  if (const auto* o = v.if_object()) {
    if (const auto* x = o->if_contains(key); x && x->is_array()) return x->get_array();
  }
  return empty;
}

std::string object_fields(const json::value& v) {
  return v.is_object() ? fields(v.get_object()) : pretty(v);
}

std::string join_list(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return json::serialize(a);
}

const std::vector<std::pair<std::string, std::string>> kClientColumns = {{"CLIENT ID", "client_id"},
                                                                         {"NAME", "name"},
                                                                         {"ACTIVE", "is_active"},
                                                                         {"TRUSTED", "is_trusted"},
                                                                         {"LIFETIME", "access_token_lifetime"},
                                                                         {"SCOPES", "scopes"}};
const std::vector<std::pair<std::string, std::string>> kUserColumns = {
    {"ID", "id"}, {"USERNAME", "username"}, {"EMAIL", "email"}, {"ACTIVE", "is_active"}, {"ROLES", "roles"}};

std::string client_with_secret(const json::value& v) {
  std::string out;
  if (const auto* o = v.if_object()) {
    if (const auto* c = o->if_contains("client"); c && c->is_object()) out += fields(c->get_object());
    if (const auto* s = o->if_contains("client_secret"); s && s->is_string()) {
      out += "\nclient_secret: " + std::string(s->get_string()) +
             "\n(shown once: store it now; `permisoctl clients rotate-secret` issues a new one)\n";
    }
  }
  return out;
}

std::optional<std::string> token_argument(const std::string& arg) {
  if (arg != "-") return arg;
  return read_stdin_line();
}

Ctl::Ctl(Global g) : g_(std::move(g)) {
  saved_ = load_login();
  if (g_.url.empty()) {
    if (const char* env = std::getenv("PERMISO_URL"); env != nullptr && *env != '\0') g_.url = env;
  }
  if (g_.url.empty() && saved_) g_.url = saved_->url;
  if (g_.url.empty()) g_.url = kDefaultUrl;
  while (!g_.url.empty() && g_.url.back() == '/') g_.url.pop_back();
}

AuthClientOptions Ctl::options() const {
  AuthClientOptions o;
  o.auth_url = g_.url;
  o.timeout = std::chrono::seconds(g_.timeout_s);
  o.retry.max_attempts = 3;
  o.retry.max_retry_after = std::chrono::seconds(5);
  return o;
}

AuthClient& Ctl::user_client() {
  if (!user_) {
    user_ = std::make_unique<AuthClient>(options());
    if (saved_) {
      permiso::UserSession s;
      s.access_token = saved_->access_token;
      s.refresh_token = saved_->refresh_token;
      s.session_id = saved_->session_id;
      s.scope = saved_->scope;
      s.expires_at = std::chrono::system_clock::time_point(std::chrono::seconds(saved_->expires_at));
      user_->set_session(std::move(s));
    }
  }
  return *user_;
}

void Ctl::save_session_if_renewed() {
  if (!user_ || !saved_) return;
  auto s = user_->session();
  if (!s || s->access_token == saved_->access_token) return;
  saved_->access_token = s->access_token;
  saved_->refresh_token = s->refresh_token;
  saved_->expires_at = std::chrono::duration_cast<std::chrono::seconds>(s->expires_at.time_since_epoch()).count();
  (void)save_login(*saved_);
}

int Ctl::call(std::string_view method, const std::string& path, const std::string& body, json::value& out,
              const std::string& what) {
  if (!saved_) return report(AuthClientError{AuthClientErrc::NotLoggedIn, "", 0, "", {}, {}, {}, ""}, g_.url);
  if (saved_->url != g_.url) {
    return fail(kAuth, "error: the saved login is for " + saved_->url + ", not " + g_.url +
                           "\n  hint: run `permisoctl --url " + g_.url + " login`");
  }
  auto r = user_client().request(method, g_.url + path, {}, body);
  save_session_if_renewed();
  if (!r) return report(r.error(), g_.url);
  if (r->status < 200 || r->status >= 300) {
    std::string msg = "error: " + server_message(r->body, r->status);
    if (r->status == 404 && !what.empty()) msg += "\n  hint: " + what;
    return fail(exit_for_status(r->status), msg);
  }
  boost::system::error_code ec;
  out = r->body.empty() ? json::value(json::object{}) : json::parse(r->body, ec);
  if (ec) return fail(kUnavailable, "error: the server's answer is not JSON");
  return kOk;
}

int Ctl::show(std::string_view method, const std::string& path, const std::string& body,
              const std::function<std::string(const json::value&)>& render, const std::string& what) {
  json::value out;
  const int rc = call(method, path, body, out, what);
  if (rc == kOk) print(out, [&] { return render(out); });
  return rc;
}

void Ctl::print(const json::value& v, const std::function<std::string()>& as_table) const {
  std::cout << (json_out() ? pretty(v) : as_table());
}

}  // namespace permisoctl
