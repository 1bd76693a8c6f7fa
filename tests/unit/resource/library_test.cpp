// The pure parts of the resource library: claims to principal, JOSE statuses to failures,
// the verified-token cache, the RFC 6750 responses and guards, and the HS256 development
// profile (no auth server at all).
#include "fake_auth_server.hpp"

#include "http/client.hpp"
#include "resource/authenticator.hpp"
#include "resource/guard.hpp"
#include "resource/token_cache.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace permiso::resource {
namespace {

using testing::service_claims;
using testing::user_claims;

// ---- principal ----

TEST(PrincipalFromClaims, UserClaimsBecomeAPrincipal) {
  auto p = principal_from_claims(user_claims(1000, "j", "s", " trade:read  market:data "));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->scopes, (std::vector<std::string>{"trade:read", "market:data"}));
  EXPECT_EQ(p->account_key(), "user:42");
  EXPECT_EQ(p->expires_at, 1000 + 3600);
  EXPECT_FALSE(p->is_service());
}

TEST(PrincipalFromClaims, ServiceAccountKeyIsTheClient) {
  auto p = principal_from_claims(service_claims(1000, "j", "svc-1", "", true));
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->scopes.empty());
  EXPECT_TRUE(p->is_trusted);
  EXPECT_EQ(p->account_key(), "client:svc-1");
}

TEST(PrincipalFromClaims, UsersAreNeverTrustedClients) {
  auto claims = user_claims(1000, "j", "s");
  claims["is_trusted"] = true;
  EXPECT_FALSE(principal_from_claims(claims)->is_trusted);
}

TEST(PrincipalFromClaims, MissingIdentityOrUnknownTypeIsRefused) {
  auto claims = user_claims(1000, "j", "s");
  claims.erase("jti");
  EXPECT_EQ(principal_from_claims(claims).error(), AuthFailure::Malformed);
  claims = user_claims(1000, "j", "s");
  claims["sub"] = 42;  // a number is not a subject
  EXPECT_EQ(principal_from_claims(claims).error(), AuthFailure::Malformed);
  claims = user_claims(1000, "j", "s");
  claims["type"] = "refresh";
  EXPECT_EQ(principal_from_claims(claims).error(), AuthFailure::WrongType);
  claims.erase("type");
  EXPECT_EQ(principal_from_claims(claims).error(), AuthFailure::WrongType);
}

TEST(PrincipalAccountKey, UserAndClientKeysNeverCollide) {
  Principal user;
  user.token_type = "access";
  user.subject = "svc";
  Principal client;
  client.token_type = "service";
  client.subject = "svc";
  client.client_id = "svc";
  EXPECT_NE(user.account_key(), client.account_key());
}

// ---- failures ----

TEST(AuthFailureMapping, EveryJoseStatusHasAFailureAndEveryFailureADescription) {
  using jose::JwtStatus;
  EXPECT_EQ(from_jwt_status(JwtStatus::Malformed), AuthFailure::Malformed);
  EXPECT_EQ(from_jwt_status(JwtStatus::ForbiddenHeader), AuthFailure::Malformed);
  EXPECT_EQ(from_jwt_status(JwtStatus::MissingClaim), AuthFailure::Malformed);
  EXPECT_EQ(from_jwt_status(JwtStatus::UnsupportedAlgorithm), AuthFailure::UnsupportedAlgorithm);
  EXPECT_EQ(from_jwt_status(JwtStatus::AlgorithmKeyMismatch), AuthFailure::UnsupportedAlgorithm);
  EXPECT_EQ(from_jwt_status(JwtStatus::UnknownKid), AuthFailure::UnknownKey);
  EXPECT_EQ(from_jwt_status(JwtStatus::BadSignature), AuthFailure::BadSignature);
  EXPECT_EQ(from_jwt_status(JwtStatus::Expired), AuthFailure::Expired);
  EXPECT_EQ(from_jwt_status(JwtStatus::NotYetValid), AuthFailure::NotYetValid);
  EXPECT_EQ(from_jwt_status(JwtStatus::IssuerMismatch), AuthFailure::WrongIssuer);
  EXPECT_EQ(from_jwt_status(JwtStatus::AudienceMismatch), AuthFailure::WrongAudience);
  EXPECT_EQ(from_jwt_status(JwtStatus::TypeMismatch), AuthFailure::WrongType);
  std::set<std::string_view> names;
  for (int f = 0; f <= static_cast<int>(AuthFailure::KeysUnavailable); ++f) {
    const auto failure = static_cast<AuthFailure>(f);
    names.insert(to_string(failure));
    const auto text = describe(failure);
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.find('"'), std::string_view::npos);  // safe inside a quoted header value
    EXPECT_EQ(text.find('\\'), std::string_view::npos);
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(AuthFailure::KeysUnavailable) + 1);
}

// ---- token cache ----

std::shared_ptr<const Principal> principal(std::string jti, std::string sid = {}) {
  auto p = std::make_shared<Principal>();
  p->jti = std::move(jti);
  p->session_id = std::move(sid);
  return p;
}

TEST(TokenCache, FindsWhatWasInsertedUntilItsValidityEnds) {
  TokenCache cache(100);
  const auto key = TokenCache::key_of("token-a");
  EXPECT_EQ(key.size(), 32U);
  EXPECT_NE(key, TokenCache::key_of("token-b"));
  auto p = principal("a");
  cache.insert(key, p, 2000, 1000);
  EXPECT_EQ(cache.find(key, 1500), p);
  EXPECT_EQ(cache.find(key, 2000), p);
  EXPECT_EQ(cache.find(key, 2001), nullptr);
  EXPECT_EQ(cache.find(TokenCache::key_of("token-b"), 1500), nullptr);
  EXPECT_EQ(cache.hits(), 2U);
  EXPECT_EQ(cache.misses(), 2U);
  EXPECT_EQ(cache.purge(2001), 1U);
  EXPECT_EQ(cache.size(), 0U);
}

TEST(TokenCache, EvictsByPrincipal) {
  TokenCache cache(100);
  cache.insert(TokenCache::key_of("1"), principal("j1", "s1"), 2000, 1000);
  cache.insert(TokenCache::key_of("2"), principal("j2", "s1"), 2000, 1000);
  cache.insert(TokenCache::key_of("3"), principal("j3", "s2"), 2000, 1000);
  EXPECT_EQ(cache.evict_if([](const Principal& p) { return p.session_id == "s1"; }), 2U);
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_NE(cache.find(TokenCache::key_of("3"), 1000), nullptr);
}

TEST(TokenCache, IsBoundedAndPrefersDroppingExpiredEntries) {
  TokenCache cache(64);
  for (int i = 0; i < 1000; ++i) cache.insert(TokenCache::key_of(std::to_string(i)), principal("j"), 1100, 1000);
  EXPECT_LE(cache.size(), 64U);
  // Later, with every entry expired, new inserts replace the expired ones.
  for (int i = 0; i < 1000; ++i)
    cache.insert(TokenCache::key_of("new" + std::to_string(i)), principal("n"), 5000, 2000);
  EXPECT_EQ(cache.purge(2000), 0U);  // nothing expired is left
  EXPECT_LE(cache.size(), 64U);
}

TEST(TokenCache, ZeroCapacityCachesNothing) {
  TokenCache cache(0);
  cache.insert(TokenCache::key_of("t"), principal("j"), 2000, 1000);
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(cache.find(TokenCache::key_of("t"), 1000), nullptr);
}

TEST(TokenCache, ConcurrentReadersAndWriters) {
  TokenCache cache(1000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        const auto key = TokenCache::key_of(std::to_string(t) + ":" + std::to_string(i % 300));
        if (!cache.find(key, 1000)) cache.insert(key, principal("j" + std::to_string(i)), 2000, 1000);
        if (i % 500 == 0) cache.evict_if([](const Principal& p) { return p.jti == "j0"; });
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(cache.size(), 1000U + 32U);
}

// ---- RFC 6750 responses ----

std::string header(const http::Response& res, std::string_view name) {
  for (const auto& [k, v] : res.headers) {
    if (k == name) return v;
  }
  return {};
}

http::Request request() {
  http::Request req;
  req.request_id = "req-123";
  return req;
}

TEST(Unauthorized, InvalidTokenNamesTheErrorInChallengeAndBody) {
  const auto res = unauthorized(request(), AuthFailure::Expired);
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(header(res, "WWW-Authenticate"),
            "Bearer realm=\"permiso\", error=\"invalid_token\", error_description=\"The access token expired.\"");
  const auto body = boost::json::parse(res.body).as_object();
  EXPECT_EQ(body.at("error"), "invalid_token");
  EXPECT_EQ(body.at("error_description"), "The access token expired.");
  EXPECT_EQ(body.at("request_id"), "req-123");
}

TEST(Unauthorized, AMissingTokenGetsTheInvalidTokenChallengeAsTheContractSays) {
  const auto res = unauthorized(request(), AuthFailure::MissingToken);
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(header(res, "WWW-Authenticate").rfind("Bearer realm=\"permiso\", error=\"invalid_token\"", 0), 0u);
  EXPECT_EQ(boost::json::parse(res.body).as_object().at("error"), "invalid_token");
}

TEST(Unauthorized, KeysUnavailableIsTheServersFault) {
  const auto res = unauthorized(request(), AuthFailure::KeysUnavailable);
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(header(res, "Retry-After"), "1");
  EXPECT_EQ(boost::json::parse(res.body).as_object().at("error"), "temporarily_unavailable");
}

TEST(InsufficientScope, ListsRequiredAndMissingScopes) {
  const auto res = insufficient_scope(request(), {"trade:read", "trade:open"}, {"trade:open"});
  EXPECT_EQ(res.status, 403);
  EXPECT_EQ(header(res, "WWW-Authenticate"),
            "Bearer realm=\"permiso\", error=\"insufficient_scope\", scope=\"trade:read trade:open\"");
  const auto body = boost::json::parse(res.body).as_object();
  EXPECT_EQ(body.at("error"), "insufficient_scope");
  EXPECT_EQ(body.at("required_scopes"), (boost::json::array{"trade:read", "trade:open"}));
  EXPECT_EQ(body.at("missing_scopes"), (boost::json::array{"trade:open"}));
  EXPECT_EQ(body.at("request_id"), "req-123");
  EXPECT_NE(body.at("error_description").as_string().find("trade:open"), std::string::npos);
}

// ---- the HS256 development profile: no auth server, guards ----

class Hs256Profile : public ::testing::Test {
 protected:
  static constexpr const char* kSecret = "development-secret-of-32-bytes!!";

  ResourceConfig config() const {
    ResourceConfig c;
    c.issuer = testing::FakeAuthServer::kIssuer;
    c.algorithms = {jose::Algorithm::HS256};
    c.hs256_secret = kSecret;
    c.follow_revocations = false;
    return c;
  }
  std::string token(const std::string& scope, const std::string& secret = kSecret) const {
    return jose::sign_jwt(*jose::SigningKey::from_hmac_secret(secret),
                          user_claims(clock.now_seconds(), "j", "s", scope));
  }
  http::Request with_token(const std::string& t) const {
    http::Request req = request();
    req.headers.emplace_back("authorization", "Bearer " + t);
    return req;
  }

  ManualClock clock{1'700'000'000};
  http::Client client;
};

TEST_F(Hs256Profile, ReadyAtOnceAndVerifiesWithTheSharedSecret) {
  Authenticator auth(config(), clock, client);
  EXPECT_TRUE(auth.ready());  // nothing to fetch
  EXPECT_TRUE(auth.authenticate(token("trade:read")));
  EXPECT_EQ(auth.authenticate(token("trade:read", "another-secret-of-at-least-32-bytes")).error(),
            AuthFailure::UnknownKey);
  // An asymmetric token when only HS256 is allowed.
  const auto es = *jose::SigningKey::generate(jose::Algorithm::ES256);
  EXPECT_EQ(auth.authenticate(jose::sign_jwt(es, user_claims(clock.now_seconds(), "j", "s"))).error(),
            AuthFailure::UnsupportedAlgorithm);
}

TEST_F(Hs256Profile, AnotherSecretWithTheSameKidFailsTheSignature) {
  Authenticator auth(config(), clock, client);
  const auto ours = *jose::SigningKey::from_hmac_secret(kSecret);
  const auto theirs = jose::SigningKey::from_hmac_secret("another-secret-of-at-least-32-bytes")->with_kid(ours.kid());
  EXPECT_EQ(auth.authenticate(jose::sign_jwt(theirs, user_claims(clock.now_seconds(), "j", "s"))).error(),
            AuthFailure::BadSignature);
}

TEST_F(Hs256Profile, RequireScopesNeedsEveryScope) {
  Authenticator auth(config(), clock, client);
  const auto req = with_token(token("trade:read market:data"));
  EXPECT_TRUE(require_scopes(auth, req, {"trade:read", "market:data"}));
  auto refused = require_scopes(auth, req, {"trade:read", "trade:open", "trade:close"});
  ASSERT_FALSE(refused);
  const auto body = boost::json::parse(refused.error().body).as_object();
  EXPECT_EQ(body.at("missing_scopes"), (boost::json::array{"trade:open", "trade:close"}));
  EXPECT_EQ(body.at("required_scopes"), (boost::json::array{"trade:read", "trade:open", "trade:close"}));
}

TEST_F(Hs256Profile, RequireAnyScopeNeedsOne) {
  Authenticator auth(config(), clock, client);
  EXPECT_TRUE(require_any_scope(auth, with_token(token("market:data")), {"trade:read", "market:data"}));
  auto refused = require_any_scope(auth, with_token(token("account:read")), {"trade:read", "market:data"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status, 403);
  const auto body = boost::json::parse(refused.error().body).as_object();
  EXPECT_EQ(body.at("missing_scopes"), (boost::json::array{"trade:read", "market:data"}));
  EXPECT_NE(body.at("error_description").as_string().find("one of"), std::string::npos);
}

TEST_F(Hs256Profile, GuardsTurnFailuresInto401) {
  Authenticator auth(config(), clock, client);
  auto expired_claims = user_claims(clock.now_seconds() - 7200, "j", "s");
  const auto expired = jose::sign_jwt(*jose::SigningKey::from_hmac_secret(kSecret), expired_claims);
  auto refused = require_scopes(auth, with_token(expired), {"trade:read"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status, 401);
  EXPECT_NE(header(refused.error(), "WWW-Authenticate").find("error=\"invalid_token\""), std::string::npos);
  auto anonymous = require_scopes(auth, request(), {"trade:read"});
  ASSERT_FALSE(anonymous);
  EXPECT_NE(header(anonymous.error(), "WWW-Authenticate").find("error=\"invalid_token\""), std::string::npos);
}

}  // namespace
}  // namespace permiso::resource
