// The error table of permiso-auth; see errors.hpp.
#include "auth/errors.hpp"

#include "storage/storage.hpp"

#include <boost/json/value.hpp>

namespace permiso::auth {

std::string_view wire_code(AuthError e) {
  switch (e) {
    case AuthError::InvalidRequest:
      return "invalid_request";
    case AuthError::UnsupportedGrantType:
      return "unsupported_grant_type";
    case AuthError::InvalidScope:
      return "invalid_scope";
    case AuthError::InvalidGrant:
      return "invalid_grant";
    case AuthError::InvalidClient:
      return "invalid_client";
    case AuthError::InvalidToken:
      return "invalid_token";
    case AuthError::InsufficientScope:
      return "insufficient_scope";
    case AuthError::AccountDisabled:
      return "account_disabled";
    case AuthError::ClientDisabled:
      return "client_disabled";
    case AuthError::Forbidden:
      return "forbidden";
    case AuthError::NotFound:
      return "not_found";
    case AuthError::Conflict:
      return "conflict";
    case AuthError::PayloadTooLarge:
      return "payload_too_large";
    case AuthError::ValidationError:
      return "validation_error";
    case AuthError::AccountLocked:
      return "account_locked";
    case AuthError::RateLimited:
      return "rate_limited";
    case AuthError::Unavailable:
      return "service_unavailable";
    case AuthError::Internal:
      return "internal_error";
  }
  return "internal_error";
}

std::string_view to_string(AuthError e) {
  return wire_code(e);
}

int http_status(AuthError e, bool grant_error_is_401) {
  switch (e) {
    case AuthError::InvalidRequest:
    case AuthError::UnsupportedGrantType:
    case AuthError::InvalidScope:
      return 400;
    case AuthError::InvalidGrant:
      return grant_error_is_401 ? 401 : 400;
    case AuthError::InvalidClient:
    case AuthError::InvalidToken:
      return 401;
    case AuthError::InsufficientScope:
    case AuthError::AccountDisabled:
    case AuthError::ClientDisabled:
    case AuthError::Forbidden:
      return 403;
    case AuthError::NotFound:
      return 404;
    case AuthError::Conflict:
      return 409;
    case AuthError::PayloadTooLarge:
      return 413;
    case AuthError::ValidationError:
      return 422;
    case AuthError::AccountLocked:
      return 423;
    case AuthError::RateLimited:
      return 429;
    case AuthError::Unavailable:
      return 503;
    case AuthError::Internal:
      return 500;
  }
  return 500;
}

Failure storage_failure(const storage::StorageFailure& f) {
  switch (f.code) {
    case storage::StorageError::Unavailable: {
      Failure out(AuthError::Unavailable, "Storage is unavailable; try again shortly.");
      out.retry_after_s = 2;
      return out;
    }
    case storage::StorageError::NotFound:
      return Failure(AuthError::NotFound, "No such resource.");
    case storage::StorageError::Conflict: {
      Failure out(AuthError::Conflict, f.field.empty() ? std::string("A unique value is already taken.")
                                                       : "The " + f.field + " is already taken.");
      if (!f.field.empty()) out.with("field", boost::json::value(f.field));
      return out;
    }
    case storage::StorageError::Invalid: {
      Failure out(AuthError::ValidationError, f.field.empty()
                                                  ? std::string("A value refers to something that does not exist.")
                                                  : "The " + f.field + " refers to something that does not exist.");
      if (!f.field.empty()) out.with("field", boost::json::value(f.field));
      return out;
    }
    case storage::StorageError::Internal:
    case storage::StorageError::SchemaTooNew:  // refused at start-up; never reaches a request
      break;
  }
  return Failure(AuthError::Internal, "An internal error occurred.");
}

Failure validation_failure(std::string_view field, std::string_view why) {
  Failure f(AuthError::ValidationError, std::string(field) + ": " + std::string(why));
  f.with("field", boost::json::value(field));
  return f;
}

}  // namespace permiso::auth
