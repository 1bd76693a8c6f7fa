// What every permiso-auth handler is handed (AuthContext), and the small pieces they share:
// the caller's bearer token, the request's origin for the audit trail, refusals as HTTP
// answers, no-store JSON and typed reads of a JSON body.
#pragma once

#include "auth/audit_log.hpp"
#include "auth/errors.hpp"
#include "auth/handlers/failure_response.hpp"
#include "auth/principal.hpp"
#include "auth/services.hpp"
#include "http/http.hpp"
#include "storage/storage.hpp"

#include <boost/json/object.hpp>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso {
class WorkerPool;
}

namespace permiso::auth {

/// What the composition root hands every handler group; built before the routes, complete.
struct AuthContext {
  AuthServices& services;
  WorkerPool& blocking;  // storage calls and Argon2: never on I/O threads
  /// True once the server starts draining: long-polls (the revocation feed) answer at once
  /// instead of holding a worker past the shutdown grace.
  const std::atomic<bool>& draining;

  [[nodiscard]] const AuthDeps& deps() const { return services.deps; }
};

/// Verifies `Authorization: Bearer <token>`: signature with the server's own keys, claims,
/// and the revocation list (token and session). No database round trip.
/// Failure: InvalidToken (401, with WWW-Authenticate).
AuthResult<Principal> authenticate(const AuthContext& ctx, const http::Request& req);

/// The request's address, id and user agent, for the audit trail and sessions.
Origin origin_of(const http::Request& req);

/// JSON with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
http::Response no_store_json(int status, const boost::json::object& body);

/// Typed reads of a JSON request body; the first type error becomes a 422 naming the field.
class JsonBody {
 public:
  explicit JsonBody(boost::json::object o) : o_(std::move(o)) {}
  /// Parses the request body (400 invalid_request when it is not a JSON object).
  static AuthResult<JsonBody> parse(const http::Request& req);

  [[nodiscard]] bool has(std::string_view key) const { return o_.contains(key); }
  [[nodiscard]] bool is_null(std::string_view key) const;
  std::optional<std::string> str(std::string_view key);
  std::optional<bool> boolean(std::string_view key);
  std::optional<std::int64_t> integer(std::string_view key);
  /// An array of strings or integers, rendered as strings (e.g. scope names or ids).
  std::optional<std::vector<std::string>> list(std::string_view key);
  [[nodiscard]] const std::optional<Failure>& error() const { return error_; }
  [[nodiscard]] const boost::json::object& object() const { return o_; }

 private:
  void type_error(std::string_view key, std::string_view expected);
  boost::json::object o_;
  std::optional<Failure> error_;
};

/// The refusal of an update whose body was refused with `f`: a missing resource (404, or 503
/// while storage is down) is still answered first, as if it had been fetched before the body
/// was read. Only this error path fetches it; a valid update reads the resource once.
template <class T>
Failure missing_first(const AuthResult<T>& existing, Failure f) {
  return existing ? std::move(f) : existing.error();
}

/// A route handler that runs `fn(ctx, req)` on the worker pool (503 at once when it is full):
/// every handler that touches storage or Argon2 is registered through this.
http::Handler on_blocking_pool(AuthContext& ctx, http::Response (*fn)(AuthContext&, http::Request&));

}  // namespace permiso::auth
