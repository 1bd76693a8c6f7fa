// See counters.hpp.
#include "auth/counters.hpp"

namespace permiso::auth {

std::string_view to_string(GrantType g) {
  switch (g) {
    case GrantType::ClientCredentials:
      return "client_credentials";
    case GrantType::Password:
      return "password";
    case GrantType::RefreshToken:
      return "refresh_token";
    case GrantType::AuthorizationCode:
      return "authorization_code";
  }
  return "unknown";
}

std::string_view to_string(LoginOutcome o) {
  switch (o) {
    case LoginOutcome::Success:
      return "success";
    case LoginOutcome::InvalidCredentials:
      return "invalid_credentials";
    case LoginOutcome::Locked:
      return "locked";
    case LoginOutcome::Disabled:
      return "disabled";
    case LoginOutcome::RateLimited:
      return "rate_limited";
    case LoginOutcome::InvalidRequest:
      return "invalid_request";
    case LoginOutcome::Error:
      return "error";
  }
  return "unknown";
}

}  // namespace permiso::auth
