// Small pieces every permiso-auth handler uses: storage failures as HTTP failures, audit
// events stamped with the request, ISO 8601 times, and no-store JSON answers.
#pragma once

#include "auth/errors.hpp"
#include "http/http.hpp"
#include "storage/storage.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::auth {

class AuthContext;

/// Unavailable → 503, NotFound → 404, Conflict → 409 (naming the field), Invalid → 422,
/// Internal → 500.
Failure storage_failure(const storage::StorageFailure& f);

/// An audit event with the request's IP and id filled in.
storage::AuditEvent audit_event(const http::Request& req, std::string_view action, std::string_view outcome,
                                std::string_view actor, std::string_view actor_type, std::string_view target = {});

/// "2026-11-24T08:00:00Z".
std::string iso8601(std::int64_t unix_seconds);

/// JSON with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
http::Response no_store_json(int status, const boost::json::object& body);

/// Ends sessions: their refresh tokens die, and their access tokens through a "sid:"
/// revocation (storage, for every replica, and this replica's list at once).
std::optional<Failure> end_sessions(AuthContext& ctx, const std::vector<std::string>& ids, std::string_view reason);

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

/// A route handler that runs `fn(ctx, req)` on the worker pool (503 at once when it is full):
/// every handler that touches storage or Argon2 is registered through this.
http::Handler on_blocking_pool(AuthContext& ctx, http::Response (*fn)(AuthContext&, http::Request&));

/// Publishes a change to other replicas (no-op without Redis).
void notify(AuthContext& ctx, std::string_view event);

/// 422 validation_error naming `field`.
Failure validation_failure(std::string_view field, std::string_view why);

}  // namespace permiso::auth
