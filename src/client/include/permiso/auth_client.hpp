// libpermiso-client: how a C++ service gets and uses Permiso tokens. Client-credentials tokens
// cached per scope set and renewed ahead of expiry, one token request however many threads ask
// (single flight), retries with backoff and jitter, an optional Redis cache shared by a fleet
// of workers, a user-login mode (password grant + refresh token), and authenticated requests
// whose failures come back as typed errors — never as a silent 401.
//
// Installed as headers + libpermiso-client + find_package(permiso-client) (target
// permiso::client) + pkg-config (permiso-client). Needs only the Boost headers at compile time.
#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace permiso {

/// Why a call failed. Closed list; one place (auth_client.cpp) maps HTTP answers onto it.
enum class AuthClientErrc {
  InvalidArgument,    // bad options or arguments (e.g. not an http(s) URL); fix the call
  NotLoggedIn,        // user mode without login() or a restored session
  Authentication,     // 401: bad client credentials, bad password, dead refresh token, or a
                      // token still refused after one forced refresh
  TokenRevoked,       // 401 reason "revoked": the token was revoked on purpose. It is dropped
                      // from the cache (and from Redis) and the call is not retried; the next
                      // call gets a fresh token
  Forbidden,          // 403 other than a missing scope: account_disabled, client_disabled
  InsufficientScope,  // 403 insufficient_scope; missing_scopes says which
  InvalidScope,       // 400 invalid_scope: asked for a scope the client does not hold
  RateLimited,        // 429 beyond what the retry policy waits; retry_after says how long
  Unavailable,        // network error, timeout or 5xx after the retries
  Protocol,           // the server answered something that is not the documented shape
};
[[nodiscard]] std::string_view to_string(AuthClientErrc e);

struct AuthClientError {
  AuthClientErrc code = AuthClientErrc::Protocol;
  std::string message;                       // human text: what happened and what to do
  int http_status = 0;                       // 0 when no HTTP answer was received
  std::string error;                         // the server's "error" code, e.g. "invalid_client"
  std::vector<std::string> missing_scopes;   // InsufficientScope
  std::vector<std::string> required_scopes;  // InsufficientScope, when the server says
  std::chrono::seconds retry_after{0};       // RateLimited / Unavailable with Retry-After
  std::string body;                          // the raw answer, for diagnostics
};

/// Thrown only by Result::value() on a failed result (a bug in the caller, not a data path).
class AuthClientException : public std::runtime_error {
 public:
  explicit AuthClientException(AuthClientError e)
      : std::runtime_error(std::string(to_string(e.code)) + ": " + e.message), error_(std::move(e)) {}
  [[nodiscard]] const AuthClientError& error() const { return error_; }

 private:
  AuthClientError error_;
};

[[noreturn]] inline void throw_exception_from_error(const AuthClientError& e, const boost::source_location&) {
  throw AuthClientException(e);
}

template <class T>
using ClientResult = boost::system::result<T, AuthClientError>;

struct RetryPolicy {
  int max_attempts = 4;  // first try included
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  /// A 429 whose Retry-After is longer than this is returned as RateLimited at once.
  std::chrono::seconds max_retry_after{30};
};

struct AuthClientOptions {
  std::string auth_url;   // e.g. http://127.0.0.1:8000 (no /api/v1)
  std::string client_id;  // client-credentials mode when set
  std::string client_secret;
  /// Renew a cached token this long before it expires.
  std::chrono::seconds renew_margin{60};
  std::chrono::milliseconds timeout{5000};  // per HTTP exchange
  RetryPolicy retry;
  /// Optional shared cache: redis://[[user]:password@]host[:port][/db]. Key
  /// service_token:{client_id}:{scopes sorted, joined by one space}, TTL expiry − margin.
  /// A Redis that is down is skipped (the server is asked instead).
  std::string redis_url;
  std::chrono::milliseconds redis_timeout{200};
  bool verify_tls = true;
  std::string ca_file;  // extra PEM trust anchor for HTTPS
  /// Injected time and sleep, so tests control expiry and see the waits. Defaults: the
  /// system clock and std::this_thread::sleep_for.
  std::function<std::chrono::system_clock::time_point()> now;
  std::function<void(std::chrono::milliseconds)> sleep;
};

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpResponse {
  int status = 0;
  std::vector<HttpHeader> headers;  // names lower-case
  std::string body;
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

struct Token {
  std::string access_token;
  std::string scope;  // space-separated, as granted
  std::chrono::system_clock::time_point expires_at;
};

/// A user login (password grant); the refresh token renews it.
struct UserSession {
  std::string access_token;
  std::string refresh_token;
  std::string scope;
  std::string session_id;
  std::chrono::system_clock::time_point expires_at;
};

/// Thread-safe: share one instance across the threads of a service.
class AuthClient {
 public:
  /// Throws std::invalid_argument for a malformed redis_url and std::runtime_error when
  /// ca_file cannot be loaded (start-up failures); nothing else throws.
  explicit AuthClient(AuthClientOptions options);
  ~AuthClient();
  AuthClient(const AuthClient&) = delete;
  AuthClient& operator=(const AuthClient&) = delete;

  /// A client-credentials token for exactly this scope set (order and duplicates do not
  /// matter; empty: every scope of the client). Served from the cache while it has more than
  /// renew_margin left; concurrent callers for one scope set share one token request.
  /// force_refresh asks the server again (joining a request already in flight).
  [[nodiscard]] ClientResult<Token> service_token(const std::vector<std::string>& scopes = {},
                                                  bool force_refresh = false);

  /// User mode: password grant. Keeps the session; user_token() renews it by refresh token.
  [[nodiscard]] ClientResult<UserSession> login(const std::string& username, const std::string& password,
                                                const std::vector<std::string>& scopes = {});
  /// Installs a session saved earlier (e.g. by permisoctl login).
  void set_session(UserSession session);
  [[nodiscard]] std::optional<UserSession> session() const;
  /// The user's access token, renewed through the refresh token when near expiry (single flight).
  [[nodiscard]] ClientResult<UserSession> user_session(bool force_refresh = false);

  /// An authenticated request: the service token for `scopes` (client-credentials mode) or the
  /// user's token, as `Authorization: Bearer`. A 401 forces one token refresh and one retry; a
  /// second 401 is Authentication. A 401 saying the token was revoked is TokenRevoked at once:
  /// a revocation is deliberate, so the token is dropped rather than silently replaced. 403 insufficient_scope, 429
  /// past the policy and 5xx after retries (idempotent methods only) are errors; any other answer is returned as is.
  [[nodiscard]] ClientResult<HttpResponse> request(std::string_view method, const std::string& url,
                                                   const std::vector<std::string>& scopes = {},
                                                   const std::string& body = {}, std::vector<HttpHeader> headers = {});

  /// One HTTP exchange with the same transport, retries and error mapping but no token
  /// (e.g. JWKS, health, or a caller-supplied Authorization header).
  [[nodiscard]] ClientResult<HttpResponse> raw(std::string_view method, const std::string& url,
                                               const std::string& body = {}, std::vector<HttpHeader> headers = {});

  /// Drops cached tokens (memory only; Redis entries expire by TTL).
  void clear_cache();

  /// How many token requests this instance sent to the server (tests, metrics).
  [[nodiscard]] std::uint64_t token_requests() const;

  /// The cache key for a scope set: scopes sorted, deduplicated, joined by one space.
  [[nodiscard]] static std::string scope_key(const std::vector<std::string>& scopes);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace permiso
