// The error table of permiso-auth; see errors.hpp.
#include "auth/errors.hpp"

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

http::Response to_response(const http::Request& req, const Failure& f) {
  const int status = http_status(f.code, f.grant_error_is_401);
  http::Response res =
      http::error_response(req, status, wire_code(f.code), f.description, f.extra.empty() ? nullptr : &f.extra);
  if (f.code == AuthError::InvalidToken) {
    // RFC 6750 §3: the challenge names the error so clients know to fetch a new token.
    res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\", error_description=\"" + f.description + "\"");
  } else if (f.code == AuthError::InsufficientScope) {
    res.set_header("WWW-Authenticate", "Bearer error=\"insufficient_scope\"");
  } else if (f.code == AuthError::InvalidClient && req.header("authorization") &&
             req.header("authorization")->starts_with("Basic")) {
    // RFC 6749 §5.2: a client that tried Basic auth gets the matching challenge.
    res.set_header("WWW-Authenticate", "Basic realm=\"permiso\"");
  }
  if (f.code == AuthError::RateLimited || f.code == AuthError::Unavailable) {
    res.set_header("Retry-After", std::to_string(f.retry_after_s > 0 ? f.retry_after_s : 1));
  }
  return res;
}

}  // namespace permiso::auth
