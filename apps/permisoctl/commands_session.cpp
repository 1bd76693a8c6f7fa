// login, logout and token: the commands that make or end a session rather than use one.
#include "commands.hpp"

#include <chrono>
#include <cstdlib>
#include <iostream>

namespace permisoctl {
namespace {

using permiso::AuthClient;
using permiso::AuthClientErrc;

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

class SessionCommands final : public CommandGroup {
 public:
  explicit SessionCommands(CLI::App& app) {
    login_ =
        app.add_subcommand("login", "Log in as a user (password grant); keeps the token in ~/.config/permiso/ (0600)");
    login_->add_option("-u,--username", username_, "user name")->required();
    login_->add_flag("--password-stdin", password_stdin_,
                     "read the password from stdin (else PERMISO_PASSWORD, else a prompt)");
    logout_ = app.add_subcommand("logout", "End the saved session on the server and forget it");
    token_ = app.add_subcommand("token", "Get a client-credentials token for a service client");
    token_->add_option("--client-id", client_id_, "client id (env PERMISO_CLIENT_ID)");
    token_->add_flag("--client-secret-stdin", secret_stdin_, "read the secret from stdin (else PERMISO_CLIENT_SECRET)");
    token_->add_option("-s,--scope", scopes_, "scope to request (repeatable; default: all of the client's)");
    token_->add_flag("--export", export_, "print `export PERMISO_TOKEN=...` for eval in a shell");
  }

  std::optional<int> run(Ctl& ctl) override {
    if (login_->parsed()) return login(ctl);
    if (logout_->parsed()) return logout(ctl);
    if (token_->parsed()) return token(ctl);
    return std::nullopt;
  }

 private:
  [[nodiscard]] std::optional<std::string> password() const {
    if (password_stdin_) return read_stdin_line();
    if (const char* env = std::getenv("PERMISO_PASSWORD"); env != nullptr) return std::string(env);
    return prompt_hidden("Password for " + username_ + ": ");
  }

  int login(Ctl& ctl) const {
    const auto pw = password();
    if (!pw || pw->empty()) {
      return fail(kUsage, "error: no password: use --password-stdin, PERMISO_PASSWORD or a terminal");
    }
    AuthClient client(ctl.options());
    auto s = client.login(username_, *pw);
    if (!s) {
      if (s.error().code == AuthClientErrc::Authentication) {
        return fail(kAuth, "error: login failed: " + s.error().message + "\n  hint: check the user name and password");
      }
      return report(s.error(), ctl.url());
    }
    const SavedLogin l{
        ctl.url(), username_, s->access_token, s->refresh_token, s->session_id, s->scope, unix_seconds(s->expires_at)};
    if (auto err = save_login(l); !err.empty()) return fail(kUsage, "error: " + err);
    print_login(ctl, l);
    return kOk;
  }

  void print_login(const Ctl& ctl, const SavedLogin& l) const {
    if (ctl.json_out()) {
      ctl.print(json::object{{"username", username_},
                             {"url", l.url},
                             {"scope", l.scope},
                             {"expires_at", l.expires_at},
                             {"credentials", credentials_path().string()}},
                [] { return std::string(); });
      return;
    }
    std::cout << "Logged in to " << l.url << " as " << username_ << " (token expires "
              << relative_time(l.expires_at, now_s()) << "); saved in " << credentials_path().string() << "\n";
  }

  static int logout(Ctl& ctl) {
    if (!ctl.saved()) return fail(kOk, "not logged in; nothing to do");
    json::value out;
    auto rc = ctl.call("POST", "/api/v1/auth/logout", "", out);
    forget_login();
    if (rc != kOk && rc != kAuth) return rc;
    std::cout << "Logged out; " << credentials_path().string() << " removed\n";
    return kOk;
  }

  int token(Ctl& ctl) {
    if (client_id_.empty()) {
      if (const char* env = std::getenv("PERMISO_CLIENT_ID"); env != nullptr) client_id_ = env;
    }
    std::optional<std::string> secret;
    if (secret_stdin_) {
      secret = read_stdin_line();
    } else if (const char* env = std::getenv("PERMISO_CLIENT_SECRET"); env != nullptr) {
      secret = std::string(env);
    }
    if (client_id_.empty() || !secret || secret->empty()) {
      return fail(kUsage,
                  "error: token needs --client-id (or PERMISO_CLIENT_ID) and a secret on stdin "
                  "(--client-secret-stdin) or in PERMISO_CLIENT_SECRET");
    }
    auto o = ctl.options();
    o.client_id = client_id_;
    o.client_secret = *secret;
    AuthClient client(o);
    auto t = client.service_token(scopes_);
    if (!t) return report(t.error(), ctl.url());
    if (export_) {
      std::cout << "export PERMISO_TOKEN='" << t->access_token << "'\n";
    } else if (ctl.json_out()) {
      std::cout << pretty(json::object{{"access_token", t->access_token},
                                       {"token_type", "Bearer"},
                                       {"scope", t->scope},
                                       {"expires_at", unix_seconds(t->expires_at)}});
    } else {
      std::cout << t->access_token << "\n";
    }
    return kOk;
  }

  CLI::App* login_ = nullptr;
  CLI::App* logout_ = nullptr;
  CLI::App* token_ = nullptr;
  std::string username_;
  bool password_stdin_ = false;
  std::string client_id_;
  bool secret_stdin_ = false;
  std::vector<std::string> scopes_;
  bool export_ = false;
};

}  // namespace

std::unique_ptr<CommandGroup> session_commands(CLI::App& app) {
  return std::make_unique<SessionCommands>(app);
}

}  // namespace permisoctl
