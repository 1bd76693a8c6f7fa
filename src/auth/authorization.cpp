// See authorization.hpp.
#include "auth/authorization.hpp"

#include "auth/client_cache.hpp"
#include "auth/pkce.hpp"
#include "auth/token_service.hpp"
#include "jose/crypto.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>

namespace permiso::auth {
namespace {

constexpr std::size_t kMaxRedirectUri = 2000;
constexpr std::size_t kMaxState = 500;

AuthorizeRefusal shown(std::string error, std::string description) {
  return AuthorizeRefusal{false, std::move(error), std::move(description)};
}
AuthorizeRefusal redirected(std::string error, std::string description) {
  return AuthorizeRefusal{true, std::move(error), std::move(description)};
}

bool loopback(std::string_view host) {
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

Failure invalid_grant(std::string description) {
  return Failure(AuthError::InvalidGrant, std::move(description));
}

/// The request's own problems, once its client and redirect URI are known good.
std::optional<AuthorizeRefusal> request_problem(const AuthorizeRequest& r) {
  if (r.response_type != "code") {
    return redirected("unsupported_response_type", "response_type must be code.");
  }
  if (r.code_challenge.empty()) return redirected("invalid_request", "code_challenge is required (PKCE, S256).");
  if (r.code_challenge_method != "S256") {
    return redirected("invalid_request", "code_challenge_method must be S256.");
  }
  if (!pkce::valid_challenge(r.code_challenge)) {
    return redirected("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters).");
  }
  if (r.state.size() > kMaxState) return redirected("invalid_request", "state is too long.");
  return std::nullopt;
}

}  // namespace

std::vector<std::string> redirect_uris_of(const storage::ServiceClient& client) {
  return ClientCache::json_strings(client.redirect_uris);
}

std::string redirect_uri_problem(std::string_view uri) {
  if (uri.empty() || uri.size() > kMaxRedirectUri) return "must be 1 to 2000 characters";
  auto parsed = boost::urls::parse_absolute_uri(uri);
  if (!parsed) return "must be an absolute URI";
  if (parsed->has_fragment()) return "must not have a fragment";
  const auto scheme = parsed->scheme();
  if (scheme == "https" && !parsed->encoded_host().empty()) return {};
  if (scheme == "http" && loopback(parsed->encoded_host())) return {};
  return "must be https, or http to a loopback address";
}

AuthorizationService::AuthorizationService(const AuthSettings& settings, storage::Storage& storage, const Clock& clock)
    : settings_(settings), storage_(storage), clock_(clock) {}

Result<AuthorizeTarget, AuthorizeRefusal> AuthorizationService::check(const AuthorizeRequest& request) const {
  if (request.client_id.empty()) return shown("invalid_request", "client_id is required.");
  auto client = storage_.get_client(request.client_id);
  if (!client) {
    if (client.error().code == storage::StorageError::NotFound) {
      return shown("invalid_client", "This application is not registered.");
    }
    return shown("temporarily_unavailable", "Sign-in is unavailable right now; try again shortly.");
  }
  const auto uris = redirect_uris_of(*client);
  // Exact string comparison (RFC 9700 §2.1): no prefix, pattern or normalisation.
  if (std::find(uris.begin(), uris.end(), request.redirect_uri) == uris.end()) {
    return shown("invalid_request", "The redirect address is not registered for this application.");
  }
  if (!client->is_active) return redirected("unauthorized_client", "This application is disabled.");
  if (client->client_type != "public") {
    return redirected("unauthorized_client", "Only public clients use the authorization code grant here.");
  }
  if (auto problem = request_problem(request)) return *problem;
  return AuthorizeTarget{client->client_id, client->name, request.redirect_uri};
}

AuthResult<std::string> AuthorizationService::issue_code(const AuthorizeRequest& request, std::int64_t user_id) const {
  std::string code = jose::random_token(32);
  const auto now = clock_.now_seconds();
  storage::AuthorizationCode row{TokenService::hash_refresh_token(code),
                                 request.client_id,
                                 request.redirect_uri,
                                 request.code_challenge,
                                 user_id,
                                 request.scope,
                                 now,
                                 now + settings_.authorization_code_ttl_s};
  if (auto r = storage_.insert_authorization_code(row); !r) return storage_failure(r.error());
  return code;
}

AuthResult<storage::AuthorizationCode> AuthorizationService::redeem(const CodeExchange& exchange) const {
  if (exchange.code.empty()) return Failure(AuthError::InvalidRequest, "code is required.");
  if (exchange.code_verifier.empty()) return Failure(AuthError::InvalidRequest, "code_verifier is required.");
  auto code = storage_.take_authorization_code(TokenService::hash_refresh_token(exchange.code));
  if (!code) {
    if (code.error().code == storage::StorageError::NotFound) {
      return invalid_grant("The authorization code is invalid or was already used.");
    }
    return storage_failure(code.error());
  }
  if (code->expires_at <= clock_.now_seconds()) return invalid_grant("The authorization code has expired.");
  if (code->client_id != exchange.client_id) return invalid_grant("The code was issued to another client.");
  if (code->redirect_uri != exchange.redirect_uri) {
    return invalid_grant("redirect_uri differs from the authorization request's.");
  }
  if (!pkce::verifies(exchange.code_verifier, code->code_challenge)) {
    return invalid_grant("code_verifier does not match the code_challenge.");
  }
  // Disabled or deleted within the code's minute: its sign-in does not complete.
  auto client = storage_.get_client(code->client_id);
  if (!client) {
    if (client.error().code != storage::StorageError::NotFound) return storage_failure(client.error());
    return invalid_grant("The client of this code no longer exists.");
  }
  if (!client->is_active) return invalid_grant("The client of this code is disabled.");
  return std::move(*code);
}

}  // namespace permiso::auth
