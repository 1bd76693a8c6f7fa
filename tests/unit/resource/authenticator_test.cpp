// The authenticator against a fake permiso-auth on a loopback port: claims of accepted
// tokens, every refusal, JWKS discovery, refresh on unknown kid (and its rate limit),
// rotation, the verified-token cache, revocations from the feed (and through Redis),
// readiness and recovery.
#include "fake_auth_server.hpp"

#include "http/client.hpp"
#include "jose/crypto.hpp"
#include "redis_server.hpp"
#include "resource/authenticator.hpp"
#include "resource/guard.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace permiso::resource {
namespace {

using namespace std::chrono_literals;
using testing::craft;
using testing::FakeAuthServer;
using testing::service_claims;
using testing::user_claims;

/// Polls `done` until it holds or `limit` passes (a deadline, not a speed assertion).
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

struct Keys {
  jose::SigningKey es256 = *jose::SigningKey::generate(jose::Algorithm::ES256);
  jose::SigningKey es256_next = *jose::SigningKey::generate(jose::Algorithm::ES256);
  jose::SigningKey es256_stranger = *jose::SigningKey::generate(jose::Algorithm::ES256);
  jose::SigningKey rs256 = *jose::SigningKey::generate(jose::Algorithm::RS256);
  jose::SigningKey eddsa = *jose::SigningKey::generate(jose::Algorithm::EdDSA);
};

const Keys& keys() {
  static const Keys k;
  return k;
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override { fake.publish({keys().es256, keys().rs256, keys().eddsa}); }

  void TearDown() override {
    if (!auth) return;
    // A long-poll in flight would hold stop() for its whole wait: end polls until it returns.
    std::atomic<bool> done{false};
    std::thread stopper([&] {
      auth->stop();
      done = true;
    });
    while (!done) {
      fake.release_polls();
      std::this_thread::sleep_for(5ms);
    }
    stopper.join();
    auth.reset();
  }

  ResourceConfig config(std::vector<jose::Algorithm> algorithms = {jose::Algorithm::ES256}) const {
    ResourceConfig c;
    c.auth_url = fake.base_url();
    c.issuer = FakeAuthServer::kIssuer;
    c.algorithms = std::move(algorithms);
    c.client_id = FakeAuthServer::kClientId;
    c.client_secret = FakeAuthServer::kClientSecret;
    c.feed_wait = 1s;
    c.jwks_refresh_interval = 3600s;
    c.unknown_kid_min_interval = 3600s;
    c.unknown_kid_wait = 3000ms;  // generous under sanitizers; a fetch on loopback takes ms
    return c;
  }

  Authenticator& start(ResourceConfig c, bool wait_ready = true) {
    auth = std::make_unique<Authenticator>(std::move(c), clock, client);
    auth->start();
    if (wait_ready) {
      EXPECT_TRUE(eventually([&] { return auth->ready(); }));
    }
    return *auth;
  }

  std::string sign(const jose::SigningKey& key, const boost::json::object& claims, std::string_view typ = "at+jwt") {
    return jose::sign_jwt(key, claims, typ);
  }
  std::string user_token(const std::string& jti = "jti-1", const std::string& sid = "sid-1") {
    return sign(keys().es256, user_claims(clock.now_seconds(), jti, sid));
  }
  boost::json::object header_of(const jose::SigningKey& key) const {
    return boost::json::object{
        {"alg", std::string(jose::to_string(key.algorithm()))}, {"typ", "at+jwt"}, {"kid", key.kid()}};
  }
  AuthFailure refusal(const std::string& token) const {
    auto r = auth->authenticate(token);
    EXPECT_FALSE(r.has_value()) << "accepted a token that should be refused";
    return r ? AuthFailure::Malformed : r.error();
  }

  FakeAuthServer fake;
  ManualClock clock{SystemClock().now_seconds()};
  http::Client client;
  std::unique_ptr<Authenticator> auth;
};

// ---- accepted tokens ----

TEST_F(AuthenticatorTest, ValidUserTokenIsAcceptedWithItsClaims) {
  start(config());
  auto who = auth->authenticate(user_token("jti-u", "sid-u"));
  ASSERT_TRUE(who) << to_string(who.error());
  const Principal& p = **who;
  EXPECT_EQ(p.subject, "42");
  EXPECT_EQ(p.username, "alice");
  EXPECT_EQ(p.client_id, "permiso");
  EXPECT_EQ(p.token_type, "access");
  EXPECT_EQ(p.jti, "jti-u");
  EXPECT_EQ(p.session_id, "sid-u");
  EXPECT_EQ(p.scopes, (std::vector<std::string>{"trade:read", "account:read"}));
  EXPECT_EQ(p.roles, (std::vector<std::string>{"trader", "user"}));
  EXPECT_FALSE(p.is_trusted);
  EXPECT_EQ(p.expires_at, clock.now_seconds() + 3600);
  EXPECT_TRUE(p.has_scope("trade:read"));
  EXPECT_FALSE(p.has_scope("trade:open"));
  EXPECT_EQ(p.account_key(), "user:42");
  EXPECT_GE(fake.metadata_fetches(), 1);  // the JWKS was found through RFC 8414 metadata
}

TEST_F(AuthenticatorTest, ServiceTokenCarriesClientAndTrust) {
  start(config({jose::Algorithm::ES256, jose::Algorithm::RS256, jose::Algorithm::EdDSA}));
  for (const auto* key : {&keys().es256, &keys().rs256, &keys().eddsa}) {
    auto who = auth->authenticate(
        sign(*key, service_claims(clock.now_seconds(), "jti-s-" + key->kid(), "svc-a", "trade:read trade:open", true)));
    ASSERT_TRUE(who) << jose::to_string(key->algorithm()) << ": " << to_string(who.error());
    EXPECT_EQ((*who)->token_type, "service");
    EXPECT_EQ((*who)->client_id, "svc-a");
    EXPECT_TRUE((*who)->is_trusted);
    EXPECT_TRUE((*who)->session_id.empty());
    EXPECT_EQ((*who)->account_key(), "client:svc-a");
  }
}

TEST_F(AuthenticatorTest, LeewayAcceptsSmallClockSkewAndAudienceArrays) {
  start(config());
  const auto now = clock.now_seconds();
  auto claims = user_claims(now, "j-skew", "s");
  claims["exp"] = now - 10;  // within the 30 s leeway
  claims["nbf"] = now + 10;
  claims["aud"] = boost::json::array{"other", "permiso"};
  EXPECT_TRUE(auth->authenticate(sign(keys().es256, claims)));
}

TEST_F(AuthenticatorTest, BearerHeaderIsRead) {
  start(config());
  http::Request req;
  req.headers.emplace_back("authorization", "Bearer " + user_token());
  EXPECT_TRUE(auth->authenticate(req));
  http::Request none;
  ASSERT_FALSE(auth->authenticate(none));
  EXPECT_EQ(auth->authenticate(none).error(), AuthFailure::MissingToken);
  http::Request basic;
  basic.headers.emplace_back("authorization", "Basic YTpi");
  EXPECT_EQ(auth->authenticate(basic).error(), AuthFailure::MissingToken);
  http::Request empty;
  empty.headers.emplace_back("authorization", "Bearer ");
  EXPECT_EQ(auth->authenticate(empty).error(), AuthFailure::Malformed);
}

// ---- refusals ----

TEST_F(AuthenticatorTest, EveryClaimRuleHasItsRefusal) {
  start(config());
  const auto now = clock.now_seconds();
  const auto with = [&](std::string_view name, boost::json::value v) {
    auto c = user_claims(now, "j-" + std::string(name), "s");
    c[name] = std::move(v);
    return sign(keys().es256, c);
  };
  EXPECT_EQ(refusal(with("exp", now - 100)), AuthFailure::Expired);
  EXPECT_EQ(refusal(with("nbf", now + 100)), AuthFailure::NotYetValid);
  EXPECT_EQ(refusal(with("iat", now + 100)), AuthFailure::NotYetValid);
  EXPECT_EQ(refusal(with("iss", "https://evil.example")), AuthFailure::WrongIssuer);
  EXPECT_EQ(refusal(with("aud", "another-api")), AuthFailure::WrongAudience);
  EXPECT_EQ(refusal(with("type", "refresh")), AuthFailure::WrongType);
  EXPECT_EQ(refusal(with("jti", 7)), AuthFailure::Malformed);  // not a string: absent
  EXPECT_EQ(refusal(with("exp", "tomorrow")), AuthFailure::Malformed);
  // An ID token or any JWT that is not RFC 9068 at+jwt.
  EXPECT_EQ(refusal(sign(keys().es256, user_claims(now, "j-typ", "s"), "JWT")), AuthFailure::WrongType);
}

TEST_F(AuthenticatorTest, TokensThatAreNotJwtsAreMalformed) {
  start(config());
  EXPECT_EQ(auth->authenticate("").error(), AuthFailure::MissingToken);
  EXPECT_EQ(refusal("not-a-token"), AuthFailure::Malformed);
  EXPECT_EQ(refusal("a.b.c"), AuthFailure::Malformed);
  EXPECT_EQ(refusal(std::string(20000, 'a')), AuthFailure::Malformed);
}

TEST_F(AuthenticatorTest, AlgorithmOutsideTheAllowListIsRefused) {
  start(config({jose::Algorithm::ES256}));
  const auto now = clock.now_seconds();
  // EdDSA and RS256 keys are published, but only ES256 is allowed.
  EXPECT_EQ(refusal(sign(keys().eddsa, user_claims(now, "j-ed", "s"))), AuthFailure::UnsupportedAlgorithm);
  EXPECT_EQ(refusal(sign(keys().rs256, user_claims(now, "j-rs", "s"))), AuthFailure::UnsupportedAlgorithm);
  // "none": no signature at all.
  boost::json::object none{{"alg", "none"}, {"typ", "at+jwt"}};
  const std::string unsigned_token = jose::base64url_encode(boost::json::serialize(none)) + "." +
                                     jose::base64url_encode(boost::json::serialize(user_claims(now, "j-none", "s"))) +
                                     ".";
  EXPECT_EQ(refusal(unsigned_token), AuthFailure::UnsupportedAlgorithm);
}

TEST_F(AuthenticatorTest, HmacWithThePublicRsaKeyIsRefused) {
  // The classic confusion: HS256 "signed" with the RS256 public key, carrying its kid.
  const auto now = clock.now_seconds();
  auto as_secret = *jose::SigningKey::from_hmac_secret(keys().rs256.public_pem());
  boost::json::object header{{"alg", "HS256"}, {"typ", "at+jwt"}, {"kid", keys().rs256.kid()}};
  const std::string forged = craft(as_secret, header, user_claims(now, "j-conf", "s"));

  start(config({jose::Algorithm::RS256}));
  EXPECT_EQ(refusal(forged), AuthFailure::UnsupportedAlgorithm);
  TearDown();

  // Even with HS256 allowed (its own secret), the RSA key never verifies an HMAC.
  auto c = config({jose::Algorithm::RS256, jose::Algorithm::HS256});
  c.hs256_secret = std::string(32, 'k');
  start(c);
  EXPECT_EQ(refusal(forged), AuthFailure::UnsupportedAlgorithm);
  EXPECT_TRUE(auth->authenticate(sign(keys().rs256, user_claims(now, "j-rs-ok", "s"))));
  EXPECT_TRUE(
      auth->authenticate(sign(*jose::SigningKey::from_hmac_secret(c.hs256_secret), user_claims(now, "j-hs-ok", "s"))));
}

TEST_F(AuthenticatorTest, ForbiddenHeadersAreNeverTrusted) {
  start(config());
  const auto now = clock.now_seconds();
  for (const char* member : {"crit", "jku", "x5u", "jwk", "x5c"}) {
    auto header = header_of(keys().es256);
    header[member] = std::string_view(member) == "jwk" ? boost::json::value(keys().es256.public_jwk())
                     : std::string_view(member) == "crit" || std::string_view(member) == "x5c"
                         ? boost::json::value(boost::json::array{"exp"})
                         : boost::json::value("https://evil.example/keys");
    EXPECT_EQ(refusal(craft(keys().es256, header, user_claims(now, std::string("j-") + member, "s"))),
              AuthFailure::Malformed)
        << member;
  }
}

TEST_F(AuthenticatorTest, ForgedKidAndUnknownSignerAreRefused) {
  start(config());
  const auto now = clock.now_seconds();
  auto header = header_of(keys().es256_stranger);
  EXPECT_EQ(refusal(craft(keys().es256_stranger, header, user_claims(now, "j-kid", "s"))), AuthFailure::UnknownKey);
  // Another key claiming a published kid: the signature does not verify.
  header["kid"] = keys().es256.kid();
  EXPECT_EQ(refusal(craft(keys().es256_stranger, header, user_claims(now, "j-sig", "s"))), AuthFailure::BadSignature);
  // A token tampered with after signing.
  std::string token = user_token("j-tamper");
  const auto dot = token.find('.');
  auto claims = user_claims(now, "j-tamper", "s");
  claims["scope"] = "admin:system";
  token = token.substr(0, dot + 1) + jose::base64url_encode(boost::json::serialize(claims)) +
          token.substr(token.rfind('.'));
  EXPECT_EQ(refusal(token), AuthFailure::BadSignature);
}

// ---- keys: discovery, unknown kid, rotation, outage ----

TEST_F(AuthenticatorTest, UnknownKidTriggersOneRefreshAndTheRateLimitHoldsUnderABurst) {
  auto c = config();
  c.unknown_kid_wait = 0ms;  // count fetches without waiting on them
  start(c);
  ASSERT_TRUE(eventually([&] { return fake.jwks_fetches() == 1; }));
  const auto now = clock.now_seconds();
  std::vector<std::thread> threads;
  std::atomic<int> unknown{0};
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto header = header_of(keys().es256_stranger);
        header["kid"] = "forged-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = auth->authenticate(craft(keys().es256_stranger, header, user_claims(now, "j", "s")));
        if (!r && r.error() == AuthFailure::UnknownKey) ++unknown;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(unknown.load(), 400);
  EXPECT_EQ(auth->stats().unknown_kid_refreshes, 1U);
  // The one refresh reaches the server; no other does.
  ASSERT_TRUE(eventually([&] { return fake.jwks_fetches() == 2 && auth->stats().jwks_fetches == 2; }));
  for (int i = 0; i < 50; ++i) {
    auto header = header_of(keys().es256_stranger);
    header["kid"] = "forged-again-" + std::to_string(i);
    EXPECT_FALSE(auth->authenticate(craft(keys().es256_stranger, header, user_claims(now, "j", "s"))));
  }
  EXPECT_EQ(auth->stats().unknown_kid_refreshes, 1U);
  EXPECT_EQ(auth->stats().jwks_fetches, 2U);
}

TEST_F(AuthenticatorTest, ANewKeyInTheJwksIsPickedUpOnItsFirstToken) {
  start(config());
  fake.publish({keys().es256, keys().es256_next});  // rotation: the next key is published
  auto who = auth->authenticate(sign(keys().es256_next, user_claims(clock.now_seconds(), "j-next", "s")));
  ASSERT_TRUE(who) << to_string(who.error());  // the request waited for the refresh it triggered
  EXPECT_EQ(auth->stats().unknown_kid_refreshes, 1U);
  EXPECT_EQ(auth->stats().keys, 2U);
  EXPECT_TRUE(auth->authenticate(user_token("j-old-key")));  // the previous key still verifies
}

TEST_F(AuthenticatorTest, WithoutWaitingTheRotatedKeyIsAcceptedOnceTheRefreshLands) {
  auto c = config();
  c.unknown_kid_wait = 0ms;
  start(c);
  fake.publish({keys().es256, keys().es256_next});
  const auto token = sign(keys().es256_next, user_claims(clock.now_seconds(), "j-next", "s"));
  (void)auth->authenticate(token);  // refused at once (UnknownKey) but triggers the refresh
  EXPECT_TRUE(eventually([&] { return auth->authenticate(token).has_value(); }));
}

TEST_F(AuthenticatorTest, PeriodicRefreshDropsRetiredKeys) {
  auto c = config();
  c.jwks_refresh_interval = 1s;
  start(c);
  const auto old_token = user_token("j-retired");
  fake.publish({keys().es256_next});
  // Once the refresh lands, a token of the retired key that was never cached is refused.
  EXPECT_TRUE(eventually([&] { return auth->stats().keys == 1 && fake.jwks_fetches() >= 2; }));
  EXPECT_EQ(refusal(old_token), AuthFailure::UnknownKey);
}

TEST_F(AuthenticatorTest, TheJwksUriOfTheMetadataIsFollowed) {
  // A second server publishes the keys; the metadata of the first points at it.
  FakeAuthServer keys_host;
  keys_host.publish({keys().es256_next});
  fake.set_metadata_jwks_uri(keys_host.base_url() + "/.well-known/jwks.json");
  start(config());
  EXPECT_EQ(keys_host.jwks_fetches(), 1);
  EXPECT_EQ(fake.jwks_fetches(), 0);
  EXPECT_TRUE(auth->authenticate(sign(keys().es256_next, user_claims(clock.now_seconds(), "j-host", "s"))));
}

TEST_F(AuthenticatorTest, AnUnreachableJwksUriFallsBackToTheAuthServersOwnPath) {
  fake.set_metadata_jwks_uri("http://127.0.0.1:1/.well-known/jwks.json");  // nothing listens on port 1
  start(config());
  EXPECT_EQ(fake.jwks_fetches(), 1);
  EXPECT_TRUE(auth->authenticate(user_token()));
}

TEST_F(AuthenticatorTest, NotReadyAndKeysUnavailableUntilTheJwksCanBeRead) {
  fake.set_jwks_status(503);
  start(config(), /*wait_ready=*/false);
  ASSERT_TRUE(eventually([&] { return auth->stats().jwks_failures >= 1; }));
  EXPECT_FALSE(auth->ready());
  EXPECT_EQ(auth->authenticate(user_token()).error(), AuthFailure::KeysUnavailable);
  fake.set_jwks_status(200);
  EXPECT_TRUE(eventually([&] { return auth->ready(); }));  // back-off retries, then loads
  EXPECT_TRUE(auth->authenticate(user_token()));
}

// A replica starting beside a long revocation list takes traffic only once it has read the
// whole list, not after its first page: until then a revoked token would pass.
TEST_F(AuthenticatorTest, NotReadyUntilEveryPageOfTheRevocationFeedIsRead) {
  fake.set_feed_page(2);
  std::vector<std::string> jtis;
  for (int i = 0; i < 5; ++i) {
    jtis.push_back("jti-page-" + std::to_string(i));
    fake.revoke_token(jtis.back(), clock.now_seconds() + 3600);
  }
  fake.answer_feed_then_fail(1);  // the first page (2 of 5, more to come), then 503s
  start(config(), /*wait_ready=*/false);
  ASSERT_TRUE(eventually([&] { return fake.feed_requests() >= 3; }));  // the page, then refused retries
  EXPECT_EQ(auth->stats().revocations_applied, 2U);
  EXPECT_FALSE(auth->ready());
  fake.answer_feed_then_fail(-1);
  ASSERT_TRUE(eventually([&] { return auth->ready(); }));
  EXPECT_EQ(auth->stats().revocations_applied, 5U);
  for (const auto& jti : jtis) {
    EXPECT_EQ(auth->authenticate(user_token(jti)).error(), AuthFailure::Revoked) << jti;
  }
}

TEST_F(AuthenticatorTest, AFailedRefreshKeepsTheKeysItHad) {
  auto c = config();
  c.jwks_refresh_interval = 1s;
  start(c);
  fake.set_jwks_status(500);
  ASSERT_TRUE(eventually([&] { return auth->stats().jwks_failures >= 1; }));
  EXPECT_TRUE(auth->authenticate(user_token("j-kept")));
  EXPECT_EQ(auth->stats().keys, 3U);
}

TEST_F(AuthenticatorTest, AnUnreachableAuthServerIsReportedWhileKnownKeysKeepVerifying) {
  auto c = config();
  c.jwks_refresh_interval = 1s;
  start(c);
  EXPECT_TRUE(auth->auth_server_reachable());
  fake.set_jwks_status(500);
  ASSERT_TRUE(eventually([&] { return !auth->auth_server_reachable(); }));
  EXPECT_TRUE(auth->ready());  // still takes traffic: the keys it had verify their tokens
  EXPECT_TRUE(auth->authenticate(user_token("j-while-down")));
  fake.set_jwks_status(200);
  EXPECT_TRUE(eventually([&] { return auth->auth_server_reachable(); }));
}

// ---- the verified-token cache ----

TEST_F(AuthenticatorTest, CacheHitReturnsTheSamePrincipal) {
  start(config());
  const auto token = user_token("j-cache");
  auto first = auth->authenticate(token);
  auto second = auth->authenticate(token);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->get(), second->get());
  const auto st = auth->stats();
  EXPECT_EQ(st.cache_hits, 1U);
  EXPECT_EQ(st.cache_entries, 1U);
}

TEST_F(AuthenticatorTest, ACachedTokenStillExpires) {
  start(config());
  const auto token = user_token("j-exp");
  ASSERT_TRUE(auth->authenticate(token));
  clock.advance(3600 + 31);  // past exp + leeway
  EXPECT_EQ(refusal(token), AuthFailure::Expired);
}

TEST_F(AuthenticatorTest, TheCacheStaysWithinItsCapacity) {
  auto c = config();
  c.cache_capacity = 32;
  start(c);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(auth->authenticate(user_token("j-cap-" + std::to_string(i))));
  EXPECT_LE(auth->stats().cache_entries, 32U);
  EXPECT_GT(auth->stats().cache_entries, 0U);
}

// ---- revocations ----

TEST_F(AuthenticatorTest, ARevokedJtiIsRefusedOnceTheFeedReportsIt) {
  start(config());
  std::atomic<int> notified{0};
  auth->on_revocation([&] { ++notified; });
  const auto revoked = user_token("j-revoked", "sid-a");
  const auto other = user_token("j-other", "sid-a");
  ASSERT_TRUE(auth->authenticate(revoked));  // now cached
  auto principal = *auth->authenticate(revoked);
  EXPECT_FALSE(auth->is_revoked(*principal));
  fake.revoke_token("j-revoked", clock.now_seconds() + 3600);
  EXPECT_TRUE(eventually([&] {
    auto r = auth->authenticate(revoked);
    return !r && r.error() == AuthFailure::Revoked;
  }));
  EXPECT_TRUE(auth->is_revoked(*principal));
  EXPECT_TRUE(eventually([&] { return notified.load() >= 1; }));
  EXPECT_TRUE(auth->authenticate(other));  // same session, other token: unaffected
  EXPECT_EQ(auth->stats().revocations_applied, 1U);
  EXPECT_GE(auth->stats().feed_cursor, 1U);
}

TEST_F(AuthenticatorTest, FeedLagIsMeasuredFromEachNewEntrysRevocationTime) {
  const auto started = clock.now_seconds();
  start(config());
  std::mutex mutex;
  std::vector<double> lags;
  auth->on_feed_lag([&](double seconds) {
    std::lock_guard lock(mutex);
    lags.push_back(seconds);
  });
  clock.advance(10);
  fake.revoke_token("j-3s-ago", started + 3600, started + 7);
  fake.end_session("sid-ahead", started + 3600, started + 15);       // permiso-auth's clock ahead: no negative lag
  fake.revoke_token("j-untimed", started + 3600);                    // an older permiso-auth: applied, not measured
  fake.revoke_token("j-before-start", started + 3600, started - 1);  // history, not lag
  ASSERT_TRUE(eventually([&] { return auth->stats().revocations_applied == 4; }));
  fake.revoke_token("j-3s-ago", started + 3600, started + 7);  // already applied: not measured again
  fake.revoke_token("j-last", started + 3600, started + 9);
  ASSERT_TRUE(eventually([&] { return auth->stats().revocations_applied == 5; }));
  std::lock_guard lock(mutex);
  EXPECT_EQ(lags, (std::vector<double>{3.0, 0.0, 1.0}));
}

TEST_F(AuthenticatorTest, AnEndedSessionRefusesEveryTokenOfIt) {
  start(config());
  const auto a = user_token("j-a", "sid-ended");
  const auto b = user_token("j-b", "sid-ended");
  const auto c = user_token("j-c", "sid-alive");
  ASSERT_TRUE(auth->authenticate(a));
  fake.end_session("sid-ended", clock.now_seconds() + 3600);
  EXPECT_TRUE(eventually([&] { return !auth->authenticate(a); }));
  EXPECT_EQ(refusal(a), AuthFailure::Revoked);
  EXPECT_EQ(refusal(b), AuthFailure::Revoked);  // never seen before: refused on the miss path
  EXPECT_TRUE(auth->authenticate(c));
}

TEST_F(AuthenticatorTest, RevocationsAlreadyInTheFeedApplyBeforeReady) {
  fake.revoke_token("j-early", clock.now_seconds() + 3600);
  start(config());  // ready means the feed was read once
  EXPECT_EQ(refusal(user_token("j-early")), AuthFailure::Revoked);
}

TEST_F(AuthenticatorTest, ExpiredRevocationsArePurged) {
  auto c = config();
  c.purge_interval = 1s;
  start(c);
  fake.revoke_token("j-purge", clock.now_seconds() + 60);
  ASSERT_TRUE(eventually([&] { return auth->stats().revocations_held == 1; }));
  clock.advance(60 + 31 + 1);  // past its expiry and the leeway
  EXPECT_TRUE(eventually([&] { return auth->stats().revocations_held == 0; }));
}

TEST_F(AuthenticatorTest, NotReadyWhileTheFeedCannotBeRead) {
  auto c = config();
  c.client_secret = "wrong-secret";
  start(c, /*wait_ready=*/false);
  // The feed fails and the keys load on threads of their own, in either order: wait for both.
  ASSERT_TRUE(eventually([&] {
    const auto st = auth->stats();
    return st.feed_errors >= 1 && st.keys > 0;
  }));
  EXPECT_FALSE(auth->ready());
  EXPECT_FALSE(auth->auth_server_reachable());
  EXPECT_EQ(fake.feed_requests(), 0);             // no token, no feed request
  EXPECT_TRUE(auth->authenticate(user_token()));  // keys are there: verification works
}

TEST_F(AuthenticatorTest, AServiceTokenRefusedByTheFeedIsReplaced) {
  start(config());
  const int issued = fake.service_tokens_issued();
  fake.forget_service_tokens();
  fake.release_polls();
  ASSERT_TRUE(eventually([&] { return fake.feed_refusals() >= 1 && fake.service_tokens_issued() > issued; }));
  fake.revoke_token("j-after-renewal", clock.now_seconds() + 3600);
  EXPECT_TRUE(eventually([&] { return auth->stats().revocations_applied == 1; }));
}

TEST_F(AuthenticatorTest, TheServiceTokenIsRenewedBeforeItExpires) {
  fake.set_service_token_lifetime(2);  // renewed at 80%: 1.6 s
  start(config());
  EXPECT_TRUE(eventually([&] { return fake.service_tokens_issued() >= 2; }));
  EXPECT_EQ(fake.feed_refusals(), 0);
}

TEST_F(AuthenticatorTest, ConcurrentVerificationAndRevocation) {
  start(config());
  std::vector<std::string> tokens;
  for (int i = 0; i < 20; ++i) tokens.push_back(user_token("j-con-" + std::to_string(i), "s-" + std::to_string(i)));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        for (const auto& tok : tokens) (void)auth->authenticate(tok);
      }
    });
  }
  for (int i = 0; i < 10; ++i) fake.revoke_token("j-con-" + std::to_string(i), clock.now_seconds() + 3600);
  const bool applied = eventually([&] { return auth->stats().revocations_applied == 10; });
  stop = true;
  for (auto& th : threads) th.join();
  ASSERT_TRUE(applied);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(auth->authenticate(tokens[i]).has_value(), i >= 10) << i;
}

// ---- Redis: an immediate re-read on permiso:events ----

TEST_F(AuthenticatorTest, ARedisEventMakesTheFeedReadAtOnce) {
  const auto binary = test::RedisServer::find_binary();
  if (!binary) GTEST_SKIP() << "redis-server is not installed";
  test::RedisServer redis(*binary);
  auto c = config();
  c.redis_url = "redis://127.0.0.1:" + std::to_string(redis.port());
  c.feed_wait = 20s;  // a long-poll that, held, would answer long after the 2 s bound
  start(c);
  const auto token = user_token("j-redis");
  ASSERT_TRUE(auth->authenticate(token));
  fake.set_hold_long_polls(true);
  fake.revoke_token("j-redis", clock.now_seconds() + 3600);
  // Published as permiso-auth does; again until the subscriber has subscribed.
  EXPECT_TRUE(eventually([&] {
    redis.command("PUBLISH", "permiso:events", "revocation");
    std::this_thread::sleep_for(100ms);
    return !auth->authenticate(token);
  }));
  EXPECT_EQ(refusal(token), AuthFailure::Revoked);
  EXPECT_GE(auth->stats().redis_notifications, 1U);
  fake.set_hold_long_polls(false);
}

// ---- guards end to end ----

TEST_F(AuthenticatorTest, GuardsAnswerWithTheRightResponses) {
  start(config());
  http::Request req;
  req.request_id = "rid-1";
  req.headers.emplace_back("authorization", "Bearer " + user_token("j-guard"));
  auto ok = require_scopes(*auth, req, {"trade:read"});
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)->subject, "42");
  auto refused = require_scopes(*auth, req, {"trade:read", "trade:open"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status, 403);
  auto any = require_any_scope(*auth, req, {"market:data", "trade:read"});
  EXPECT_TRUE(any);
  http::Request anonymous;
  auto missing = require_scopes(*auth, anonymous, {"trade:read"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().status, 401);
}

TEST(ResourceConfigValidation, ProblemsNameTheirField) {
  ResourceConfig c;
  auto problems = validate(c);
  const auto mentions = [&](std::string_view field) {
    return std::any_of(problems.begin(), problems.end(), [&](const std::string& p) { return p.starts_with(field); });
  };
  EXPECT_TRUE(mentions("algorithms"));
  EXPECT_TRUE(mentions("issuer"));
  EXPECT_TRUE(mentions("auth_url"));
  EXPECT_TRUE(mentions("client_id"));
  c.algorithms = {jose::Algorithm::HS256};
  c.hs256_secret = "short";
  c.redis_url = "http://not-redis";
  problems = validate(c);
  EXPECT_TRUE(mentions("hs256_secret"));
  EXPECT_TRUE(mentions("redis_url"));
  c.issuer = "i";
  c.hs256_secret = std::string(32, 's');
  c.follow_revocations = false;
  c.redis_url.clear();
  EXPECT_TRUE(validate(c).empty());  // HS256 alone needs no auth server
  ManualClock clock(1000);
  http::Client client;
  c.issuer.clear();
  EXPECT_THROW(Authenticator(c, clock, client), std::invalid_argument);
}

}  // namespace
}  // namespace permiso::resource
