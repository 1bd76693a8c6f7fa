// The error table of permiso-auth (src/auth/errors.cpp) against the table in docs/api.md:
// each reason has its status, its wire code, and the headers its answer needs.
#include "auth/errors.hpp"
#include "auth/handlers/failure_response.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

namespace permiso::auth {
namespace {

TEST(AuthErrorTable, EachReasonHasItsStatusAndCode) {
  const std::vector<std::tuple<AuthError, int, std::string>> table = {
      {AuthError::InvalidRequest, 400, "invalid_request"},
      {AuthError::UnsupportedGrantType, 400, "unsupported_grant_type"},
      {AuthError::InvalidScope, 400, "invalid_scope"},
      {AuthError::InvalidGrant, 400, "invalid_grant"},
      {AuthError::InvalidClient, 401, "invalid_client"},
      {AuthError::InvalidToken, 401, "invalid_token"},
      {AuthError::InsufficientScope, 403, "insufficient_scope"},
      {AuthError::AccountDisabled, 403, "account_disabled"},
      {AuthError::ClientDisabled, 403, "client_disabled"},
      {AuthError::Forbidden, 403, "forbidden"},
      {AuthError::NotFound, 404, "not_found"},
      {AuthError::Conflict, 409, "conflict"},
      {AuthError::PayloadTooLarge, 413, "payload_too_large"},
      {AuthError::ValidationError, 422, "validation_error"},
      {AuthError::AccountLocked, 423, "account_locked"},
      {AuthError::RateLimited, 429, "rate_limited"},
      {AuthError::Unavailable, 503, "service_unavailable"},
      {AuthError::Internal, 500, "internal_error"},
  };
  for (const auto& [reason, status, code] : table) {
    EXPECT_EQ(http_status(reason), status) << code;
    EXPECT_EQ(wire_code(reason), code);
  }
  EXPECT_EQ(http_status(AuthError::InvalidGrant, true), 401);  // the seed's endpoints
}

bool has_header(const http::Response& res, const std::string& name) {
  return std::any_of(res.headers.begin(), res.headers.end(), [&](const auto& h) { return h.first == name; });
}

TEST(AuthErrorTable, UnavailableAndRateLimitedSayWhenToRetry) {
  const http::Request req;
  for (const auto reason : {AuthError::Unavailable, AuthError::RateLimited}) {
    const auto res = to_response(req, Failure(reason, "later"));
    EXPECT_TRUE(has_header(res, "Retry-After")) << wire_code(reason);
  }
  EXPECT_FALSE(has_header(to_response(req, Failure(AuthError::Internal, "bug")), "Retry-After"));
  EXPECT_TRUE(has_header(to_response(req, Failure(AuthError::InvalidToken, "expired")), "WWW-Authenticate"));
}

}  // namespace
}  // namespace permiso::auth
