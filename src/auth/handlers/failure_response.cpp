// See failure_response.hpp.
#include "auth/handlers/failure_response.hpp"

#include <string>

namespace permiso::auth {

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
