// See token_service.hpp.
#include "auth/token_service.hpp"

#include "auth/revocation_list.hpp"
#include "auth/scopes.hpp"
#include "common/json_scratch.hpp"
#include "jose/crypto.hpp"
#include "jose/key_store.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

namespace permiso::auth {
namespace {

jose::VerifyPolicy policy_for(const AuthSettings& settings, const jose::KeyStore& keys) {
  jose::VerifyPolicy p;
  // Only the algorithm this server signs with: a token in any other is not ours.
  p.algorithms = {keys.algorithm()};
  p.issuer = settings.issuer;
  p.audience = settings.audience;
  p.typ = "at+jwt";
  p.leeway_s = settings.leeway_s;
  return p;
}

std::string string_claim(const boost::json::object& claims, std::string_view name) {
  const auto* v = claims.if_contains(name);
  return (v != nullptr && v->is_string()) ? std::string(v->as_string()) : std::string();
}

}  // namespace

TokenService::TokenService(const AuthSettings& settings, jose::KeyStore& keys, const RevocationList& revocations,
                           const ClientCache& clients, const Clock& clock)
    : settings_(settings),
      keys_(keys),
      revocations_(revocations),
      clients_(clients),
      clock_(clock),
      verifier_(policy_for(settings, keys), clock) {
  refresh_keys();
}

void TokenService::refresh_keys() {
  verifier_.set_keys(keys_.verification_keys());
}

IssuedToken TokenService::issue_user_token(const storage::User& user, const std::vector<std::string>& scopes,
                                           const std::vector<std::string>& roles, std::string_view session_id,
                                           std::string_view client_id) const {
  const auto now = clock_.now_seconds();
  IssuedToken out;
  out.jti = jose::unique_id();
  out.expires_in = settings_.access_token_ttl_s;
  out.expires_at = now + out.expires_in;
  out.scope = join_scopes(scopes);
  JsonScratch scratch;  // the claims live until sign_jwt has serialised them
  boost::json::array role_array(scratch.storage());
  for (const auto& r : roles) role_array.emplace_back(r);
  const boost::json::object claims({{"iss", settings_.issuer},
                                    {"sub", std::to_string(user.id)},
                                    {"aud", settings_.audience},
                                    {"exp", out.expires_at},
                                    {"iat", now},
                                    {"nbf", now},
                                    {"jti", out.jti},
                                    {"client_id", client_id},
                                    {"scope", out.scope},
                                    {"type", "access"},
                                    {"username", user.username},
                                    {"roles", std::move(role_array)},
                                    {"sid", session_id}},
                                   scratch.storage());
  const auto key = keys_.current();
  out.algorithm = key.algorithm();
  out.access_token = jose::sign_jwt(key, claims);
  return out;
}

IssuedToken TokenService::issue_service_token(const CachedClient& client,
                                              const std::vector<std::string>& scopes) const {
  const auto now = clock_.now_seconds();
  IssuedToken out;
  out.jti = jose::unique_id();
  out.expires_in =
      client.client.access_token_lifetime > 0 ? client.client.access_token_lifetime : settings_.service_token_ttl_s;
  out.expires_at = now + out.expires_in;
  out.scope = join_scopes(scopes);
  JsonScratch scratch;  // the claims live until sign_jwt has serialised them
  const boost::json::object claims({{"iss", settings_.issuer},
                                    {"sub", client.client.client_id},
                                    {"aud", settings_.audience},
                                    {"exp", out.expires_at},
                                    {"iat", now},
                                    {"nbf", now},
                                    {"jti", out.jti},
                                    {"client_id", client.client.client_id},
                                    {"scope", out.scope},
                                    {"type", "service"},
                                    {"is_trusted", client.client.is_trusted}},
                                   scratch.storage());
  const auto key = keys_.current();
  out.algorithm = key.algorithm();
  out.access_token = jose::sign_jwt(key, claims);
  return out;
}

AuthResult<Principal> TokenService::verify(std::string_view token) const {
  auto verified = verifier_.verify(token);
  if (!verified) {
    return Failure(AuthError::InvalidToken,
                   "The access token is invalid: " + std::string(jose::to_string(verified.error())) + ".");
  }
  const auto& c = verified->claims;
  Principal p;
  p.subject = string_claim(c, "sub");
  p.type = string_claim(c, "type");
  p.client_id = string_claim(c, "client_id");
  p.session_id = string_claim(c, "sid");
  p.jti = string_claim(c, "jti");
  p.username = string_claim(c, "username");
  if (p.jti.empty() || p.subject.empty() || (p.type != "access" && p.type != "service")) {
    return Failure(AuthError::InvalidToken, "The access token lacks required claims.");
  }
  if (revocations_.is_revoked(p.jti, p.session_id)) {
    // `reason` lets a client tell a deliberate revocation (drop the token, do not retry) from
    // an expired or rotated one (fetch a new token and retry).
    return Failure(AuthError::InvalidToken, "The access token has been revoked.").with("reason", "revoked");
  }
  p.scopes = split_scopes(string_claim(c, "scope"));
  if (const auto* roles = c.if_contains("roles"); roles != nullptr && roles->is_array()) {
    for (const auto& r : roles->as_array()) {
      if (r.is_string()) p.roles.emplace_back(r.as_string());
    }
  }
  if (p.type == "access") {
    try {
      p.user_id = std::stoll(p.subject);
    } catch (const std::exception&) {
      return Failure(AuthError::InvalidToken, "The access token has a malformed subject.");
    }
  } else {
    // A deleted or disabled client's tokens stop working at once (the cache is in memory).
    const auto client = clients_.find(p.client_id);
    if (!client || !client->client.is_active) {
      return Failure(AuthError::InvalidToken, "The client of this token is no longer active.");
    }
    if (const auto* t = c.if_contains("is_trusted"); t != nullptr && t->is_bool()) p.is_trusted = t->as_bool();
  }
  if (const auto* v = c.if_contains("iat"); v != nullptr && v->is_int64()) p.issued_at = v->as_int64();
  if (const auto* v = c.if_contains("exp"); v != nullptr && v->is_int64()) p.expires_at = v->as_int64();
  p.token = std::string(token);
  return p;
}

std::string TokenService::new_refresh_token() {
  return jose::random_token(32);
}

std::string TokenService::hash_refresh_token(std::string_view token) {
  return jose::hex(jose::sha256(token));
}

}  // namespace permiso::auth
