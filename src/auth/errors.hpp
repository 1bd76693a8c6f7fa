// The closed list of reasons permiso-auth refuses a request, and the one table that maps
// each to its HTTP status and wire error code (contract: "Errors, everywhere"). The HTTP
// answer itself is built by the handlers (handlers/failure_response.hpp).
#pragma once

#include "common/result.hpp"

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace permiso::storage {
struct StorageFailure;
}

namespace permiso::auth {

enum class AuthError {
  InvalidRequest,        // 400 invalid_request: malformed OAuth request
  UnsupportedGrantType,  // 400 unsupported_grant_type
  InvalidScope,          // 400 invalid_scope: a requested scope is not allowed
  InvalidGrant,          // 400 on /auth/token (RFC 6749), 401 on the seed's endpoints
  InvalidClient,         // 401 invalid_client: unknown client or wrong secret
  InvalidToken,          // 401 invalid_token, with WWW-Authenticate
  InsufficientScope,     // 403 insufficient_scope
  AccountDisabled,       // 403 account_disabled
  ClientDisabled,        // 403 client_disabled
  Forbidden,             // 403 forbidden: authenticated but not allowed (e.g. other user)
  NotFound,              // 404 not_found
  Conflict,              // 409 conflict
  PayloadTooLarge,       // 413 payload_too_large
  ValidationError,       // 422 validation_error
  AccountLocked,         // 423 account_locked
  RateLimited,           // 429 rate_limited, with Retry-After
  Unavailable,           // 503 service_unavailable: storage unreachable
  Internal,              // 500 internal_error: a bug, never a client's fault
};

std::string_view to_string(AuthError e);
PERMISO_RESULT_ERROR(AuthError)

/// A refusal with the details its answer needs.
struct Failure {
  AuthError code = AuthError::Internal;
  std::string description;
  boost::json::object extra;  // e.g. {"field": "email"}, {"locked_until": ...}
  int retry_after_s = 0;      // RateLimited
  /// OAuth endpoints of the seed answer invalid_grant with 401; RFC 6749's token endpoint 400.
  bool grant_error_is_401 = false;

  Failure() = default;
  Failure(AuthError c, std::string desc) : code(c), description(std::move(desc)) {}
  Failure& with(std::string_view key, boost::json::value v) {
    extra[key] = std::move(v);
    return *this;
  }
};

/// Storage failures as refusals: Unavailable → 503 (Retry-After 2), NotFound → 404,
/// Conflict → 409 (naming the field), Invalid → 422, Internal → 500.
Failure storage_failure(const storage::StorageFailure& f);

/// 422 validation_error naming `field`.
Failure validation_failure(std::string_view field, std::string_view why);

/// HTTP status for an error code (the table).
int http_status(AuthError e, bool grant_error_is_401 = false);
/// Wire error code for an error ("invalid_grant", "conflict", ...).
std::string_view wire_code(AuthError e);

template <class T>
using AuthResult = Result<T, Failure>;

/// `view(item)` of every item, in order; the first failure is the answer.
template <class T, class View>
auto views_of(std::vector<T> items, View view)
    -> AuthResult<std::vector<typename std::invoke_result_t<View, T&&>::value_type>> {
  std::vector<typename std::invoke_result_t<View, T&&>::value_type> out;
  out.reserve(items.size());
  for (auto& item : items) {
    auto v = view(std::move(item));
    if (!v) return v.error();
    out.push_back(std::move(*v));
  }
  return out;
}

}  // namespace permiso::auth

namespace permiso::auth {
[[noreturn]] inline void throw_exception_from_error(const Failure& f, const boost::source_location&) {
  throw ::permiso::BadResultAccess("unexpected auth failure: " + std::string(to_string(f.code)) + ": " + f.description);
}
}  // namespace permiso::auth
