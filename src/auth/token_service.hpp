// Access tokens: RFC 9068 JWTs signed with the key store's current key, and their
// verification against the server's own keys and the revocation list. The hot paths of
// issuance and verification: no storage call, no lock held across anything slow.
#pragma once

#include "auth/client_cache.hpp"
#include "auth/context.hpp"
#include "auth/errors.hpp"
#include "auth/principal.hpp"
#include "jose/jwt.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::auth {

struct IssuedToken {
  std::string access_token;
  std::string jti;
  std::int64_t expires_in = 0;  // seconds
  std::int64_t expires_at = 0;
  std::string scope;                                   // space-separated, as granted
  jose::Algorithm algorithm = jose::Algorithm::HS256;  // of the key that signed it
};

class TokenService {
 public:
  /// `settings` and the components must outlive the service.
  TokenService(const AuthSettings& settings, jose::KeyStore& keys, const RevocationList& revocations,
               const ClientCache& clients, const Clock& clock);

  /// A user's access token (type "access") bound to a session.
  [[nodiscard]] IssuedToken issue_user_token(const storage::User& user, const std::vector<std::string>& scopes,
                                             const std::vector<std::string>& roles, std::string_view session_id,
                                             std::string_view client_id) const;
  /// A service client's token (type "service"); its lifetime is the client's own.
  [[nodiscard]] IssuedToken issue_service_token(const CachedClient& client,
                                                const std::vector<std::string>& scopes) const;

  /// Signature, claims and revocation: InvalidToken with a reason on any failure.
  [[nodiscard]] AuthResult<Principal> verify(std::string_view token) const;

  /// Call after the key store rotated or promoted keys.
  void refresh_keys();

  /// A new opaque refresh token (256 bits) and the hash storage keeps of it.
  static std::string new_refresh_token();
  static std::string hash_refresh_token(std::string_view token);

 private:
  const AuthSettings& settings_;
  jose::KeyStore& keys_;
  const RevocationList& revocations_;
  const ClientCache& clients_;
  const Clock& clock_;
  jose::Verifier verifier_;
};

}  // namespace permiso::auth
