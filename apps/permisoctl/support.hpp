// permisoctl's plumbing: exit codes, where the login is kept (0600 under the XDG config dir),
// JSON pretty-printing and tables, and the local (unverified) JWT decoder.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace permisoctl {

/// The documented exit codes (also in `permisoctl --help`).
inline constexpr int kOk = 0;
inline constexpr int kUsage = 1;        // bad arguments or missing local input
inline constexpr int kAuth = 2;         // not logged in, bad credentials, expired session, missing scope (401/403)
inline constexpr int kNotFound = 3;     // 404
inline constexpr int kConflict = 4;     // 409 conflict, 400/422 validation, 413, 423 locked
inline constexpr int kUnavailable = 5;  // cannot reach the server, 5xx, 429 rate limited, malformed answer

/// The saved login: $XDG_CONFIG_HOME/permiso/credentials.json (else ~/.config/permiso/).
struct SavedLogin {
  std::string url;
  std::string username;
  std::string access_token;
  std::string refresh_token;
  std::string session_id;
  std::string scope;
  std::int64_t expires_at = 0;  // Unix seconds
};
std::filesystem::path config_dir();
std::filesystem::path credentials_path();
std::optional<SavedLogin> load_login();
/// Writes atomically (temp file + rename), directory 0700, file 0600. Empty string on
/// success, else what went wrong.
std::string save_login(const SavedLogin& login);
bool forget_login();

/// Two-space indented JSON.
std::string pretty(const boost::json::value& v);
/// A scalar as table text: strings bare, null as "-", arrays of strings/objects' names joined.
std::string cell(const boost::json::value* v);
/// Aligned columns; `columns` are (header, key) pairs read from each object.
std::string table(const boost::json::array& rows, const std::vector<std::pair<std::string, std::string>>& columns);
/// key: value lines for one object (nested values in compact JSON).
std::string fields(const boost::json::object& o);

/// "in 59 minutes", "3 hours ago".
std::string relative_time(std::int64_t when, std::int64_t now);

struct DecodedJwt {
  boost::json::value header;
  boost::json::value claims;
};
/// Splits and base64url-decodes a compact JWS; no signature check. nullopt when malformed.
std::optional<DecodedJwt> decode_jwt(std::string_view token);

}  // namespace permisoctl
