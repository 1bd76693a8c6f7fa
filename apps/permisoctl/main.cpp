// permisoctl: the operator's command line for permiso-auth, on libpermiso-client. Each
// command is one API call (or two), rendered as a table or as the server's JSON; failures
// say what to do and exit with the documented codes (support.hpp, `permisoctl --help`).
#include "permiso/auth_client.hpp"
#include "support.hpp"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace permisoctl {
namespace {

namespace json = boost::json;
using permiso::AuthClient;
using permiso::AuthClientErrc;
using permiso::AuthClientError;
using permiso::AuthClientOptions;

constexpr const char* kDefaultUrl = "http://127.0.0.1:8000";
constexpr const char* kExitCodes =
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

/// Reads one line from stdin (secrets are never taken from argv: other users see argv).
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

struct Global {
  std::string url;
  std::string output = "table";
  int timeout_s = 10;
};

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

int report(const AuthClientError& e, const std::string& url) {
  switch (e.code) {
    case AuthClientErrc::InvalidArgument:
      return fail(kUsage, "error: " + e.message);
    case AuthClientErrc::NotLoggedIn:
      return fail(kAuth, "error: not logged in: run `permisoctl login --username <name>` first");
    case AuthClientErrc::Authentication:
      return fail(kAuth, "error: authentication failed: " + e.message +
                             "\n  hint: run `permisoctl login` again (or check the client id and secret)");
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

class Ctl {
 public:
  explicit Ctl(Global g) : g_(std::move(g)) {
    saved_ = load_login();
    if (g_.url.empty()) {
      if (const char* env = std::getenv("PERMISO_URL"); env != nullptr && *env != '\0') g_.url = env;
    }
    if (g_.url.empty() && saved_) g_.url = saved_->url;
    if (g_.url.empty()) g_.url = kDefaultUrl;
    while (!g_.url.empty() && g_.url.back() == '/') g_.url.pop_back();
  }

  [[nodiscard]] bool json_out() const { return g_.output == "json"; }
  [[nodiscard]] const std::string& url() const { return g_.url; }

  AuthClientOptions options() const {
    AuthClientOptions o;
    o.auth_url = g_.url;
    o.timeout = std::chrono::seconds(g_.timeout_s);
    o.retry.max_attempts = 3;
    o.retry.max_retry_after = std::chrono::seconds(5);
    return o;
  }

  /// A user-mode client with the saved login; the session is saved back if it was renewed.
  AuthClient& user_client() {
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

  void save_session_if_renewed() {
    if (!user_ || !saved_) return;
    auto s = user_->session();
    if (!s || s->access_token == saved_->access_token) return;
    saved_->access_token = s->access_token;
    saved_->refresh_token = s->refresh_token;
    saved_->expires_at = std::chrono::duration_cast<std::chrono::seconds>(s->expires_at.time_since_epoch()).count();
    (void)save_login(*saved_);
  }

  /// One authenticated API call. On success `out` holds the parsed JSON; else the exit code.
  int call(std::string_view method, const std::string& path, const std::string& body, json::value& out,
           const std::string& what = {}) {
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

  /// Prints JSON (--output json) or the table/fields rendering.
  void print(const json::value& v, const std::function<std::string()>& as_table) const {
    std::cout << (json_out() ? pretty(v) : as_table());
  }

  std::optional<SavedLogin>& saved() { return saved_; }

 private:
  Global g_;
  std::optional<SavedLogin> saved_;
  std::unique_ptr<AuthClient> user_;
};

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

/// Rendering of an answer that carries a one-time secret (create, rotate-secret).
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

}  // namespace
}  // namespace permisoctl

int main(int argc, char** argv) {
  using namespace permisoctl;
  CLI::App app{"permisoctl: manage a Permiso authorization server (clients, users, roles, keys, audit)"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  Global g;
  app.add_option(
      "--url", g.url,
      "permiso-auth base URL (env PERMISO_URL; else the saved login's; else " + std::string(kDefaultUrl) + ")");
  app.add_option("-o,--output", g.output, "table (default) or json")->check(CLI::IsMember({"table", "json"}));
  app.add_option("--timeout", g.timeout_s, "seconds per HTTP call (default 10)")->check(CLI::Range(1, 300));

  // ---- login / logout / token ----
  auto* login =
      app.add_subcommand("login", "Log in as a user (password grant); keeps the token in ~/.config/permiso/ (0600)");
  std::string username;
  bool password_stdin = false;
  login->add_option("-u,--username", username, "user name")->required();
  login->add_flag("--password-stdin", password_stdin,
                  "read the password from stdin (else PERMISO_PASSWORD, else a prompt)");
  auto* logout = app.add_subcommand("logout", "End the saved session on the server and forget it");

  auto* token = app.add_subcommand("token", "Get a client-credentials token for a service client");
  std::string client_id;
  bool secret_stdin = false;
  std::vector<std::string> token_scopes;
  bool export_flag = false;
  token->add_option("--client-id", client_id, "client id (env PERMISO_CLIENT_ID)");
  token->add_flag("--client-secret-stdin", secret_stdin, "read the secret from stdin (else PERMISO_CLIENT_SECRET)");
  token->add_option("-s,--scope", token_scopes, "scope to request (repeatable; default: all of the client's)");
  token->add_flag("--export", export_flag, "print `export PERMISO_TOKEN=...` for eval in a shell");

  // ---- clients ----
  auto* clients = app.add_subcommand("clients", "Service clients (admin:clients)");
  clients->require_subcommand(1);
  auto* c_create = clients->add_subcommand("create", "Register a client; prints its secret once");
  auto* c_list = clients->add_subcommand("list", "List clients");
  auto* c_show = clients->add_subcommand("show", "Show one client");
  auto* c_update = clients->add_subcommand("update", "Change a client's fields or scopes");
  auto* c_rotate = clients->add_subcommand("rotate-secret", "Issue a new secret; prints it once");
  auto* c_delete = clients->add_subcommand("delete", "Delete a client (its tokens stop working)");
  std::string cid, cname, cdesc;
  std::vector<std::string> cscopes;
  std::optional<int> clifetime, crpm, cgrace;
  std::optional<bool> ctrusted, cactive;
  int page = 1, per_page = 20;
  c_create->add_option("--name", cname, "display name")->required();
  c_create->add_option("--id", cid, "client id (generated when absent)");
  c_create->add_option("--description", cdesc, "description");
  c_create->add_option("-s,--scope", cscopes, "scope to grant (repeatable)");
  c_create->add_option("--lifetime", clifetime, "access-token lifetime in seconds (300-86400)");
  c_create->add_option("--trusted", ctrusted, "true or false");
  c_create->add_option("--rate-limit-per-minute", crpm, "token requests per minute");
  for (auto* c : {c_list}) {
    c->add_option("--page", page, "page (from 1)");
    c->add_option("--per-page", per_page, "items per page");
  }
  for (auto* c : {c_show, c_update, c_rotate, c_delete}) c->add_option("client_id", cid, "client id")->required();
  c_update->add_option("--name", cname, "display name");
  c_update->add_option("--description", cdesc, "description");
  c_update->add_option("-s,--scope", cscopes, "replace the scopes (repeatable)");
  c_update->add_option("--lifetime", clifetime, "access-token lifetime in seconds (300-86400)");
  c_update->add_option("--trusted", ctrusted, "true or false");
  c_update->add_option("--active", cactive, "true or false");
  c_update->add_option("--rate-limit-per-minute", crpm, "token requests per minute");
  c_rotate->add_option("--grace", cgrace, "seconds the old secret keeps working (0-86400)");

  // ---- users ----
  auto* users = app.add_subcommand("users", "Users (admin:users)");
  users->require_subcommand(1);
  auto* u_create = users->add_subcommand("create", "Create a user (password from stdin or PERMISO_PASSWORD)");
  auto* u_list = users->add_subcommand("list", "List users");
  auto* u_show = users->add_subcommand("show", "Show one user");
  auto* u_disable = users->add_subcommand("disable", "Disable a user (ends their sessions)");
  auto* u_roles = users->add_subcommand("roles", "Show a user's roles, or replace them with --role");
  std::string uid, uname, uemail, usearch;
  std::vector<std::string> uroles;
  bool upw_stdin = false;
  std::optional<bool> uactive;
  u_create->add_option("--username", uname, "user name")->required();
  u_create->add_option("--email", uemail, "e-mail address")->required();
  u_create->add_flag("--password-stdin", upw_stdin, "read the password from stdin (else PERMISO_PASSWORD)");
  u_create->add_option("-r,--role", uroles, "role (repeatable; default: user)");
  u_list->add_option("--search", usearch, "substring of name or e-mail");
  u_list->add_option("--active", uactive, "true or false");
  u_list->add_option("--page", page, "page (from 1)");
  u_list->add_option("--per-page", per_page, "items per page");
  for (auto* c : {u_show, u_disable, u_roles}) c->add_option("user_id", uid, "numeric user id")->required();
  u_roles->add_option("-r,--role", uroles, "replace the roles (repeatable)");

  // ---- scopes, roles, revoke, introspect, decode, keys, audit ----
  auto* scopes = app.add_subcommand("scopes", "List scopes");
  auto* roles = app.add_subcommand("roles", "List roles and their scopes");
  auto* revoke = app.add_subcommand("revoke", "Revoke an access or refresh token");
  auto* introspect = app.add_subcommand("introspect", "Ask the server whether a token is active (RFC 7662)");
  auto* decode = app.add_subcommand("decode", "Decode a JWT locally: header, claims, expiry (signature NOT verified)");
  std::string tok;
  for (auto* c : {revoke, introspect, decode})
    c->add_option("token", tok, "the token, or - to read it from stdin")->required();
  auto* keys = app.add_subcommand("keys", "Signing keys (admin:system)");
  keys->require_subcommand(1);
  auto* k_list = keys->add_subcommand("list", "List signing keys");
  auto* k_rotate = keys->add_subcommand("rotate", "Create a new signing key (published before it signs)");
  auto* audit = app.add_subcommand("audit", "Query the audit trail (admin:audit)");
  std::string actor, action, since, until, outcome;
  int limit = 50;
  audit->add_option("--actor", actor, "who acted (user name or client id)");
  audit->add_option("--action", action, "e.g. auth.login, client.create, token.issue");
  audit->add_option("--outcome", outcome, "success, failure or denied");
  audit->add_option("--since", since, "from (ISO 8601 UTC, e.g. 2026-01-31T12:00:00Z, or Unix seconds)");
  audit->add_option("--until", until, "to (same forms as --since)");
  audit->add_option("--limit", limit, "at most this many events (1-1000)")->check(CLI::Range(1, 1000));

  for (auto* sub : app.get_subcommands({})) {
    sub->footer(kExitCodes);
    for (auto* s2 : sub->get_subcommands({})) s2->footer(kExitCodes);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return kUsage;
  }

  Ctl ctl(g);
  json::value out;

  // ---- login, logout, token, decode: no saved session needed ----
  if (login->parsed()) {
    std::optional<std::string> pw;
    if (password_stdin)
      pw = read_stdin_line();
    else if (const char* env = std::getenv("PERMISO_PASSWORD"); env != nullptr)
      pw = std::string(env);
    else
      pw = prompt_hidden("Password for " + username + ": ");
    if (!pw || pw->empty())
      return fail(kUsage, "error: no password: use --password-stdin, PERMISO_PASSWORD or a terminal");
    AuthClient client(ctl.options());
    auto s = client.login(username, *pw);
    if (!s) {
      if (s.error().code == AuthClientErrc::Authentication) {
        return fail(kAuth, "error: login failed: " + s.error().message + "\n  hint: check the user name and password");
      }
      return report(s.error(), ctl.url());
    }
    SavedLogin l;
    l.url = ctl.url();
    l.username = username;
    l.access_token = s->access_token;
    l.refresh_token = s->refresh_token;
    l.session_id = s->session_id;
    l.scope = s->scope;
    l.expires_at = std::chrono::duration_cast<std::chrono::seconds>(s->expires_at.time_since_epoch()).count();
    if (auto err = save_login(l); !err.empty()) return fail(kUsage, "error: " + err);
    if (ctl.json_out()) {
      ctl.print(json::object{{"username", username},
                             {"url", l.url},
                             {"scope", l.scope},
                             {"expires_at", l.expires_at},
                             {"credentials", credentials_path().string()}},
                [] { return std::string(); });
    } else {
      std::cout << "Logged in to " << l.url << " as " << username << " (token expires "
                << relative_time(l.expires_at, now_s()) << "); saved in " << credentials_path().string() << "\n";
    }
    return kOk;
  }

  if (logout->parsed()) {
    if (!ctl.saved()) return fail(kOk, "not logged in; nothing to do");
    auto rc = ctl.call("POST", "/api/v1/auth/logout", "", out);
    forget_login();
    if (rc != kOk && rc != kAuth) return rc;
    std::cout << "Logged out; " << credentials_path().string() << " removed\n";
    return kOk;
  }

  if (token->parsed()) {
    if (client_id.empty()) {
      if (const char* env = std::getenv("PERMISO_CLIENT_ID"); env != nullptr) client_id = env;
    }
    std::optional<std::string> secret;
    if (secret_stdin)
      secret = read_stdin_line();
    else if (const char* env = std::getenv("PERMISO_CLIENT_SECRET"); env != nullptr)
      secret = std::string(env);
    if (client_id.empty() || !secret || secret->empty()) {
      return fail(kUsage,
                  "error: token needs --client-id (or PERMISO_CLIENT_ID) and a secret on stdin "
                  "(--client-secret-stdin) or in PERMISO_CLIENT_SECRET");
    }
    auto o = ctl.options();
    o.client_id = client_id;
    o.client_secret = *secret;
    AuthClient client(o);
    auto t = client.service_token(token_scopes);
    if (!t) return report(t.error(), ctl.url());
    const auto expires = std::chrono::duration_cast<std::chrono::seconds>(t->expires_at.time_since_epoch()).count();
    if (export_flag) {
      std::cout << "export PERMISO_TOKEN='" << t->access_token << "'\n";
    } else if (ctl.json_out()) {
      std::cout << pretty(json::object{
          {"access_token", t->access_token}, {"token_type", "Bearer"}, {"scope", t->scope}, {"expires_at", expires}});
    } else {
      std::cout << t->access_token << "\n";
    }
    return kOk;
  }

  if (decode->parsed()) {
    auto t = token_argument(tok);
    if (!t) return fail(kUsage, "error: no token on stdin");
    auto d = decode_jwt(*t);
    if (!d) return fail(kConflict, "error: not a JWT (expected three base64url parts separated by dots)");
    if (ctl.json_out()) {
      std::cout << pretty(json::object{{"header", d->header}, {"claims", d->claims}, {"verified", false}});
      return kOk;
    }
    std::cout << "Header:\n" << pretty(d->header) << "Claims:\n" << pretty(d->claims);
    const auto& c = d->claims.get_object();
    const auto now = now_s();
    for (const auto* name : {"iat", "nbf", "exp"}) {
      if (const auto* v = c.if_contains(name); v && v->is_int64()) {
        std::cout << name << ": " << relative_time(v->get_int64(), now);
        if (std::string_view(name) == "exp" && v->get_int64() <= now) std::cout << " (expired)";
        std::cout << "\n";
      }
    }
    std::cout << "Signature: NOT verified (decode only reads the token; `permisoctl introspect` asks the server)\n";
    return kOk;
  }

  // ---- everything else calls the API with the saved login ----
  int rc = kOk;
  if (c_create->parsed()) {
    json::object body{{"name", cname}, {"scope_ids", json::value_from(cscopes)}};
    if (!cid.empty()) body["client_id"] = cid;
    if (!cdesc.empty()) body["description"] = cdesc;
    if (clifetime) body["access_token_lifetime"] = *clifetime;
    if (ctrusted) body["is_trusted"] = *ctrusted;
    if (crpm) body["rate_limit_per_minute"] = *crpm;
    rc = ctl.call("POST", "/api/v1/service-clients", json::serialize(body), out);
    if (rc == kOk) ctl.print(out, [&] { return client_with_secret(out); });
  } else if (c_list->parsed()) {
    rc = ctl.call("GET",
                  "/api/v1/service-clients?page=" + std::to_string(page) + "&per_page=" + std::to_string(per_page), "",
                  out);
    if (rc == kOk) ctl.print(out, [&] { return table(list_of(out, "clients"), kClientColumns); });
  } else if (c_show->parsed()) {
    rc = ctl.call("GET", "/api/v1/service-clients/" + url_encode(cid), "", out, "see `permisoctl clients list`");
    if (rc == kOk) ctl.print(out, [&] { return object_fields(out); });
  } else if (c_update->parsed()) {
    json::object body;
    if (!cname.empty()) body["name"] = cname;
    if (!cdesc.empty()) body["description"] = cdesc;
    if (!cscopes.empty()) body["scope_ids"] = json::value_from(cscopes);
    if (clifetime) body["access_token_lifetime"] = *clifetime;
    if (ctrusted) body["is_trusted"] = *ctrusted;
    if (cactive) body["is_active"] = *cactive;
    if (crpm) body["rate_limit_per_minute"] = *crpm;
    if (body.empty())
      return fail(kUsage,
                  "error: nothing to update: give at least one of --name, --description, "
                  "--scope, --lifetime, --trusted, --active, --rate-limit-per-minute");
    rc = ctl.call("PUT", "/api/v1/service-clients/" + url_encode(cid), json::serialize(body), out,
                  "see `permisoctl clients list`");
    if (rc == kOk) ctl.print(out, [&] { return object_fields(out); });
  } else if (c_rotate->parsed()) {
    std::string body = cgrace ? json::serialize(json::object{{"grace_period_seconds", *cgrace}}) : "";
    rc = ctl.call("POST", "/api/v1/service-clients/" + url_encode(cid) + "/rotate-secret", body, out,
                  "see `permisoctl clients list`");
    if (rc == kOk) ctl.print(out, [&] { return client_with_secret(out); });
  } else if (c_delete->parsed()) {
    rc = ctl.call("DELETE", "/api/v1/service-clients/" + url_encode(cid), "", out, "see `permisoctl clients list`");
    if (rc == kOk) ctl.print(out, [&] { return "Deleted client " + cid + "\n"; });
  } else if (u_create->parsed()) {
    std::optional<std::string> pw;
    if (upw_stdin)
      pw = read_stdin_line();
    else if (const char* env = std::getenv("PERMISO_PASSWORD"); env != nullptr)
      pw = std::string(env);
    if (!pw || pw->empty()) return fail(kUsage, "error: no password: use --password-stdin or PERMISO_PASSWORD");
    json::object body{{"username", uname}, {"email", uemail}, {"password", *pw}};
    if (!uroles.empty()) body["role_ids"] = json::value_from(uroles);
    rc = ctl.call("POST", "/api/v1/users", json::serialize(body), out);
    if (rc == kOk) ctl.print(out, [&] { return object_fields(out); });
  } else if (u_list->parsed()) {
    std::string q = "?page=" + std::to_string(page) + "&per_page=" + std::to_string(per_page);
    if (!usearch.empty()) q += "&search=" + url_encode(usearch);
    if (uactive) q += std::string("&is_active=") + (*uactive ? "true" : "false");
    rc = ctl.call("GET", "/api/v1/users" + q, "", out);
    if (rc == kOk) ctl.print(out, [&] { return table(list_of(out, "users"), kUserColumns); });
  } else if (u_show->parsed()) {
    rc = ctl.call("GET", "/api/v1/users/" + url_encode(uid), "", out, "see `permisoctl users list`");
    if (rc == kOk) ctl.print(out, [&] { return object_fields(out); });
  } else if (u_disable->parsed()) {
    rc = ctl.call("PUT", "/api/v1/users/" + url_encode(uid), "{\"is_active\":false}", out,
                  "see `permisoctl users list`");
    if (rc == kOk) ctl.print(out, [&] { return "Disabled user " + uid + " (their sessions ended)\n"; });
  } else if (u_roles->parsed()) {
    if (uroles.empty()) {
      rc = ctl.call("GET", "/api/v1/users/" + url_encode(uid), "", out, "see `permisoctl users list`");
    } else {
      rc = ctl.call("PUT", "/api/v1/users/" + url_encode(uid) + "/roles", "{\"role_ids\":" + join_list(uroles) + "}",
                    out, "see `permisoctl users list`");
    }
    if (rc == kOk) {
      const json::value roles_v =
          out.is_object() && out.get_object().contains("roles") ? out.at("roles") : json::array{};
      ctl.print(roles_v, [&] {
        return table(list_of(roles_v, "roles"), {{"ID", "id"}, {"ROLE", "name"}, {"DESCRIPTION", "description"}});
      });
    }
  } else if (scopes->parsed()) {
    rc = ctl.call("GET", "/api/v1/roles/scopes", "", out);
    if (rc == kOk)
      ctl.print(out, [&] {
        return table(list_of(out, "scopes"), {{"ID", "id"}, {"SCOPE", "name"}, {"DESCRIPTION", "description"}});
      });
  } else if (roles->parsed()) {
    rc = ctl.call("GET", "/api/v1/roles", "", out);
    if (rc == kOk)
      ctl.print(out, [&] {
        return table(list_of(out, "roles"), {{"ID", "id"}, {"ROLE", "name"}, {"SCOPES", "scopes"}});
      });
  } else if (revoke->parsed() || introspect->parsed()) {
    auto t = token_argument(tok);
    if (!t || t->empty()) return fail(kUsage, "error: no token given");
    const std::string body = json::serialize(json::object{{"token", *t}});
    if (revoke->parsed()) {
      rc = ctl.call("POST", "/api/v1/auth/revoke", body, out);
      if (rc == kOk)
        ctl.print(out, [] { return std::string("Revoked (the server answers the same for unknown tokens)\n"); });
    } else {
      rc = ctl.call("POST", "/api/v1/auth/introspect", body, out);
      if (rc == kOk) {
        ctl.print(out, [&] {
          std::string s = object_fields(out);
          if (const auto* e = out.get_object().if_contains("exp"); e && e->is_int64()) {
            s += "expires: " + relative_time(e->get_int64(), now_s()) + "\n";
          }
          return s;
        });
      }
    }
  } else if (k_list->parsed()) {
    rc = ctl.call("GET", "/api/v1/admin/keys", "", out);
    if (rc == kOk) {
      ctl.print(out, [&] {
        return table(list_of(out, "keys"), {{"KID", "kid"},
                                            {"ALG", "alg"},
                                            {"STATE", "state"},
                                            {"SIGNING", "signing"},
                                            {"CREATED", "created_at"},
                                            {"ACTIVATES", "activate_at"},
                                            {"RETIRES", "retire_after"}});
      });
    }
  } else if (k_rotate->parsed()) {
    rc = ctl.call("POST", "/api/v1/admin/keys/rotate", "", out);
    if (rc == kOk) {
      ctl.print(out, [&] {
        const auto* k = out.get_object().if_contains("key");
        return "New signing key (published now, signs from its activate_at):\n" +
               (k != nullptr && k->is_object() ? fields(k->get_object()) : pretty(out));
      });
    }
  } else if (audit->parsed()) {
    std::string q = "?limit=" + std::to_string(limit);
    for (const auto& [name, value] :
         {std::pair{"actor", &actor}, std::pair{"action", &action}, std::pair{"outcome", &outcome},
          std::pair{"since", &since}, std::pair{"until", &until}}) {
      if (!value->empty()) q += std::string("&") + name + "=" + url_encode(*value);
    }
    rc = ctl.call("GET", "/api/v1/admin/audit" + q, "", out);
    if (rc == kOk) {
      ctl.print(out, [&] {
        return table(list_of(out, "events"), {{"TIME", "timestamp"},
                                              {"ACTOR", "actor"},
                                              {"ACTION", "action"},
                                              {"TARGET", "target"},
                                              {"OUTCOME", "outcome"},
                                              {"IP", "ip"}});
      });
    }
  }
  return rc;
}
