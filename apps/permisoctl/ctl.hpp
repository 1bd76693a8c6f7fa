// What every permisoctl command shares: the global options, the session with permiso-auth
// (Ctl: the saved login, authenticated API calls, JSON or table output), failures turned into
// the documented exit codes with a hint, and small helpers for reading input and rendering.
#pragma once

#include "permiso/auth_client.hpp"
#include "support.hpp"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace permisoctl {

namespace json = boost::json;

inline constexpr const char* kDefaultUrl = "http://127.0.0.1:8000";
extern const char* const kExitCodes;  // the footer of every --help

std::int64_t now_s();
/// Prints "permisoctl: <message>" on stderr; returns `code`.
int fail(int code, const std::string& message);
std::string url_encode(std::string_view in);
/// Reads one line from stdin (secrets are never taken from argv: other users see argv).
std::optional<std::string> read_stdin_line();
std::optional<std::string> prompt_hidden(const std::string& prompt);
/// The token argument, or a line of stdin for "-".
std::optional<std::string> token_argument(const std::string& arg);

struct Global {
  std::string url;
  std::string output = "table";
  int timeout_s = 10;
};

/// Reports a client-library failure with a hint; returns the exit code.
int report(const permiso::AuthClientError& e, const std::string& url);

class Ctl {
 public:
  /// The server URL: --url, else PERMISO_URL, else the saved login's, else the default.
  explicit Ctl(Global g);

  [[nodiscard]] bool json_out() const { return g_.output == "json"; }
  [[nodiscard]] const std::string& url() const { return g_.url; }

  permiso::AuthClientOptions options() const;

  /// A user-mode client with the saved login; the session is saved back if it was renewed.
  permiso::AuthClient& user_client();

  void save_session_if_renewed();

  /// One authenticated API call. On success `out` holds the parsed JSON; else the exit code.
  int call(std::string_view method, const std::string& path, const std::string& body, json::value& out,
           const std::string& what = {});

  /// One API call whose answer is printed: the JSON (--output json) or `render(answer)`.
  /// The exit code.
  int show(std::string_view method, const std::string& path, const std::string& body,
           const std::function<std::string(const json::value&)>& render, const std::string& what = {});

  /// Prints JSON (--output json) or the table/fields rendering.
  void print(const json::value& v, const std::function<std::string()>& as_table) const;

  std::optional<SavedLogin>& saved() { return saved_; }

 private:
  Global g_;
  std::optional<SavedLogin> saved_;
  std::unique_ptr<permiso::AuthClient> user_;
};

const json::array& list_of(const json::value& v, std::string_view key);
std::string object_fields(const json::value& v);
std::string join_list(const std::vector<std::string>& v);
extern const std::vector<std::pair<std::string, std::string>> kClientColumns;
extern const std::vector<std::pair<std::string, std::string>> kUserColumns;
/// Rendering of an answer that carries a one-time secret (create, rotate-secret).
std::string client_with_secret(const json::value& v);

/// A group of subcommands (e.g. `clients ...`): registered on the app when made, run when one
/// of them was parsed.
class CommandGroup {
 public:
  virtual ~CommandGroup() = default;
  /// The exit code of the group's parsed subcommand; nullopt when none of them was parsed.
  virtual std::optional<int> run(Ctl& ctl) = 0;
};

}  // namespace permisoctl
