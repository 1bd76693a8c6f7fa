// The authorization code grant for public clients (RFC 6749 §4.1 with PKCE, RFC 7636; the
// browser profile of RFC 9700): checking an authorization request, issuing a single-use code
// once the person has signed in, and redeeming it at the token endpoint. The sign-in itself
// is Grants::sign_in, the same lockout and limits as the password grant.
#pragma once

#include "auth/context.hpp"
#include "auth/errors.hpp"
#include "common/result.hpp"
#include "storage/storage.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace permiso::auth {

/// An authorization request's parameters, as presented.
struct AuthorizeRequest {
  std::string response_type;
  std::string client_id;
  std::string redirect_uri;
  std::string state;
  std::string scope;
  std::string code_challenge;
  std::string code_challenge_method;
};

/// A request that may proceed to sign-in.
struct AuthorizeTarget {
  std::string client_id;
  std::string client_name;
  std::string redirect_uri;
};

/// Why a request is refused. A redirectable refusal goes back to the client's redirect URI
/// (§4.1.2.1); the others are shown to the person and never redirected: with an unknown
/// client or redirect URI, a redirect could send the browser anywhere.
struct AuthorizeRefusal {
  bool redirectable = false;
  std::string error;  // invalid_request, unauthorized_client, unsupported_response_type, …
  std::string description;
};

[[noreturn]] inline void throw_exception_from_error(const AuthorizeRefusal& r, const boost::source_location&) {
  throw BadResultAccess("unexpected authorization refusal: " + r.error);
}

/// The token request that redeems a code.
struct CodeExchange {
  std::string code;
  std::string client_id;
  std::string redirect_uri;
  std::string code_verifier;
};

/// The redirect URIs of a client (its JSON array text); malformed text gives none.
[[nodiscard]] std::vector<std::string> redirect_uris_of(const storage::ServiceClient& client);
/// Whether `uri` may be registered as a redirect URI: absolute https, or http to a loopback
/// host (RFC 8252 §7.3), no fragment, at most 2000 characters. Empty when it may; else why not.
[[nodiscard]] std::string redirect_uri_problem(std::string_view uri);

class AuthorizationService {
 public:
  AuthorizationService(const AuthSettings& settings, storage::Storage& storage, const Clock& clock);

  /// Reads the client: worker pool only.
  [[nodiscard]] Result<AuthorizeTarget, AuthorizeRefusal> check(const AuthorizeRequest& request) const;
  /// A new code for `user_id`, bound to the request's client, redirect URI and challenge.
  [[nodiscard]] AuthResult<std::string> issue_code(const AuthorizeRequest& request, std::int64_t user_id) const;
  /// Takes the code (it is spent whatever the outcome) and checks that it is unexpired and
  /// was issued to this client, for this redirect URI, with this verifier's challenge.
  [[nodiscard]] AuthResult<storage::AuthorizationCode> redeem(const CodeExchange& exchange) const;

 private:
  const AuthSettings& settings_;
  storage::Storage& storage_;
  const Clock& clock_;
};

}  // namespace permiso::auth
