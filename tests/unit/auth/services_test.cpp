// The auth domain's services, assembled as the server assembles them (AuthServices over a
// real SQLite database in a temp dir, a manual clock): the rules the handlers rely on.
#include "auth/services.hpp"
#include "auth/bootstrap.hpp"
#include "auth/client_cache.hpp"
#include "auth/client_secrets.hpp"
#include "auth/password_hasher.hpp"
#include "auth/revocation_list.hpp"
#include "faulty_storage.hpp"
#include "jose/key_store.hpp"
#include "ratelimit/memory_limiter.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace permiso::auth {
namespace {

constexpr const char* kPassword = "Alice!password1";

class AuthServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("permiso-services-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    storage_ = std::move(*storage::open_storage("sqlite://" + (dir_ / "t.db").string()));
    ASSERT_TRUE(bootstrap(*storage_, hasher_, clock_, "root", std::string("Adm1n!password")));
    keys_ = std::move(*jose::KeyStore::open_or_create(dir_ / "keys", jose::Algorithm::ES256, clock_));
    faulty_ = std::make_unique<fakes::FaultyStorage>(*storage_);
    audit_ = std::make_unique<AuditLog>(*faulty_, clock_);
    AuthSettings settings;
    settings.issuer = "https://auth.test";
    settings.lockout_threshold = 3;
    settings.lockout_seconds = 600;
    settings.login_rate = RateRule{1000, 60};
    deps_ = std::make_unique<AuthDeps>(
        AuthDeps{settings, *faulty_, *keys_, limiter_, *audit_, clients_, revocations_, hasher_, secrets_, clock_, {}});
    services_ = std::make_unique<AuthServices>(*deps_);
  }
  void TearDown() override {
    audit_->stop();
    services_.reset();
    faulty_.reset();
    storage_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::int64_t register_user(const std::string& name) const {
    ProfilePatch profile;
    profile.email = name + "@example.test";
    auto user = services_->users.register_user(NewUser{name, kPassword, profile, {}}, origin_);
    EXPECT_TRUE(user) << (user ? "" : user.error().description);
    return user ? user->user.id : 0;
  }
  void use_limits(RateRule login_rate, std::int64_t lockout_threshold) {
    deps_->settings.login_rate = login_rate;
    deps_->settings.lockout_threshold = lockout_threshold;
    services_ = std::make_unique<AuthServices>(*deps_);
  }
  AuthResult<UserGrant> login(const std::string& name, const std::string& password = kPassword) const {
    return services_->grants.password(LoginAttempt{name, password, ""}, origin_);
  }
  static ClientPatch named(std::string name) {
    ClientPatch patch;
    patch.name = std::move(name);
    return patch;
  }
  static Principal admin_with(std::vector<std::string> scopes) {
    Principal p;
    p.subject = "1";
    p.type = "access";
    p.user_id = 1;
    p.username = "root";
    p.scopes = std::move(scopes);
    return p;
  }

  std::filesystem::path dir_;
  ManualClock clock_{1'800'000'000};
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<fakes::FaultyStorage> faulty_;  // what the services use: storage_ with injectable outages
  std::unique_ptr<jose::KeyStore> keys_;
  PasswordHasher hasher_{Argon2Params{.memory_kib = 1024, .iterations = 1, .parallelism = 1}};
  ClientSecrets secrets_{std::string(32, 'p')};
  ratelimit::MemoryRateLimiter limiter_{clock_};
  std::unique_ptr<AuditLog> audit_;
  ClientCache clients_;
  RevocationList revocations_;
  std::unique_ptr<AuthDeps> deps_;
  std::unique_ptr<AuthServices> services_;
  Origin origin_{"192.0.2.7", "req-1", "services-test"};
};

TEST_F(AuthServicesTest, ALoginIssuesATokenBoundToANewSessionAndARefreshToken) {
  const auto id = register_user("alice");
  auto grant = login("Alice");  // names are case-insensitive
  ASSERT_TRUE(grant) << grant.error().description;
  EXPECT_FALSE(grant->refresh_token.empty());
  auto principal = services_->tokens.verify(grant->access.access_token);
  ASSERT_TRUE(principal);
  EXPECT_EQ(principal->user_id, id);
  EXPECT_EQ(principal->session_id, grant->session_id);
  EXPECT_EQ(principal->scopes, (std::vector<std::string>{"account:read", "market:data", "trade:read"}));
  auto sessions = services_->sessions.live(id);
  ASSERT_TRUE(sessions);
  ASSERT_EQ(sessions->size(), 1U);
  EXPECT_EQ((*sessions)[0].ip, "192.0.2.7");
}

TEST_F(AuthServicesTest, TheThirdWrongPasswordLocksTheAccountUntilTheLockoutEnds) {
  register_user("alice");
  for (int i = 0; i < 3; ++i) {
    auto wrong = login("alice", "wrong-password");
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, AuthError::InvalidGrant);
    EXPECT_TRUE(wrong.error().grant_error_is_401);
  }
  auto locked = login("alice");
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code, AuthError::AccountLocked);
  EXPECT_TRUE(locked.error().extra.contains("locked_until"));
  clock_.advance(601);
  EXPECT_TRUE(login("alice"));
}

// RATE_LIMIT_LOGIN counts failed sign-ins per (IP, username): a user's correct sign-ins never
// use it up, and a correct one forgives the failures before it.
TEST_F(AuthServicesTest, OnlyFailedLoginsCountAgainstTheLoginLimit) {
  use_limits(RateRule{3, 60}, 100);
  register_user("alice");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(login("alice")) << "correct sign-in " << i + 1;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 2; ++i) EXPECT_EQ(login("alice", "wrong-password").error().code, AuthError::InvalidGrant);
    ASSERT_TRUE(login("alice")) << "round " << round;
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login("alice", "wrong-password").error().code, AuthError::InvalidGrant);
  auto limited = login("alice");  // three failures in the minute: even the right password waits
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().code, AuthError::RateLimited);
  EXPECT_EQ(login("nobody", "wrong-password").error().code, AuthError::InvalidGrant) << "another name, its own bucket";
  clock_.advance(20);  // one token back
  EXPECT_TRUE(login("alice"));
}

TEST_F(AuthServicesTest, AnUnknownUserIsTheSameRefusalAsAWrongPassword) {
  auto unknown = login("nobody");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, AuthError::InvalidGrant);
  EXPECT_EQ(unknown.error().description, "Invalid username or password.");
}

TEST_F(AuthServicesTest, ARotatedRefreshTokenPresentedAgainEndsTheWholeFamilyAndItsSession) {
  register_user("alice");
  auto first = login("alice");
  ASSERT_TRUE(first);
  auto second = services_->grants.refresh(first->refresh_token, origin_);
  ASSERT_TRUE(second) << second.error().description;
  EXPECT_EQ(second->session_id, first->session_id);
  EXPECT_NE(second->refresh_token, first->refresh_token);

  auto reused = services_->grants.refresh(first->refresh_token, origin_);
  ASSERT_FALSE(reused);
  EXPECT_EQ(reused.error().description, "The refresh token was already used.");
  EXPECT_FALSE(services_->grants.refresh(second->refresh_token, origin_));
  EXPECT_FALSE(services_->tokens.verify(second->access.access_token));  // the session's revocation
}

// Observability (issue 17): what /metrics reports of the domain, counted where it happens.
TEST_F(AuthServicesTest, TokensAreCountedByGrantAndTheAlgorithmThatSignedThem) {
  const auto alice = register_user("alice");
  ASSERT_TRUE(services_->client_admin.create("svc-count", named("count"), {}, admin_with({"admin:clients"}), origin_));
  auto client = clients_.find("svc-count");
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(services_->grants.client_credentials(*client, "", origin_));
  auto grant = login("alice");
  ASSERT_TRUE(grant);
  ASSERT_TRUE(services_->grants.refresh(grant->refresh_token, origin_));
  storage::AuthorizationCode code;
  code.user_id = alice;
  code.client_id = std::string(kFirstPartyClient);
  ASSERT_TRUE(services_->grants.authorization_code(code, origin_));
  ASSERT_FALSE(services_->grants.client_credentials(*client, "admin:system", origin_));  // refused: not counted

  const auto& c = services_->counters;
  const auto es256 = jose::Algorithm::ES256;  // the fixture's key
  EXPECT_EQ(c.tokens_issued(GrantType::ClientCredentials, es256), 3U);
  EXPECT_EQ(c.tokens_issued(GrantType::Password, es256), 1U);
  EXPECT_EQ(c.tokens_issued(GrantType::RefreshToken, es256), 1U);
  EXPECT_EQ(c.tokens_issued(GrantType::AuthorizationCode, es256), 1U);
  EXPECT_EQ(c.tokens_issued(GrantType::ClientCredentials, jose::Algorithm::HS256), 0U);
}

TEST_F(AuthServicesTest, RefreshRotationsAndReuseDetectionsAreCounted) {
  register_user("alice");
  auto first = login("alice");
  ASSERT_TRUE(first);
  auto second = services_->grants.refresh(first->refresh_token, origin_);
  ASSERT_TRUE(second);
  EXPECT_EQ(services_->counters.refresh_rotations(), 1U);
  EXPECT_EQ(services_->counters.refresh_reuses(), 0U);

  ASSERT_FALSE(services_->grants.refresh(first->refresh_token, origin_));   // reuse: the family ends
  ASSERT_FALSE(services_->grants.refresh(second->refresh_token, origin_));  // revoked, not a reuse
  ASSERT_FALSE(services_->grants.refresh("no-such-token", origin_));
  EXPECT_EQ(services_->counters.refresh_rotations(), 1U);
  EXPECT_EQ(services_->counters.refresh_reuses(), 1U);
}

TEST_F(AuthServicesTest, SignInsAreCountedByOutcomeAndALockoutOnce) {
  register_user("alice");
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(login("alice", "wrong-password"));  // the third locks (threshold 3)
  ASSERT_FALSE(login("alice"));                                                // locked
  ASSERT_FALSE(login("nobody"));
  ASSERT_FALSE(login("alice", ""));
  clock_.advance(601);
  ASSERT_TRUE(login("alice"));
  const auto& c = services_->counters;
  EXPECT_EQ(c.logins(LoginOutcome::InvalidCredentials), 4U);
  EXPECT_EQ(c.logins(LoginOutcome::Locked), 1U);
  EXPECT_EQ(c.logins(LoginOutcome::InvalidRequest), 1U);
  EXPECT_EQ(c.logins(LoginOutcome::Success), 1U);
  EXPECT_EQ(c.lockouts(), 1U);

  faulty_->fail("get_user_by_username");
  ASSERT_FALSE(login("alice"));
  faulty_->heal();
  EXPECT_EQ(c.logins(LoginOutcome::Error), 1U);
  use_limits(RateRule{1, 60}, 100);  // fresh services, fresh counters
  ASSERT_FALSE(login("alice", "wrong-password"));
  ASSERT_FALSE(login("alice", "wrong-password"));
  EXPECT_EQ(services_->counters.logins(LoginOutcome::RateLimited), 1U);
}

// Contract: 503 when storage is unreachable. A refresh whose reads fail part-way answers 503
// with Retry-After, not invalid_grant, and leaves the token usable once storage is back.
TEST_F(AuthServicesTest, ARefreshDuringAStorageOutageIs503AndDoesNotSpendTheToken) {
  register_user("alice");
  auto grant = login("alice");
  ASSERT_TRUE(grant);
  for (const char* operation :
       {"get_refresh_token_by_hash", "get_session", "get_user", "user_roles", "rotate_refresh_token"}) {
    faulty_->fail(operation);
    auto refused = services_->grants.refresh(grant->refresh_token, origin_);
    faulty_->heal();
    ASSERT_FALSE(refused) << operation;
    EXPECT_EQ(refused.error().code, AuthError::Unavailable) << operation << ": " << refused.error().description;
    EXPECT_GT(refused.error().retry_after_s, 0) << operation;
  }
  auto refreshed = services_->grants.refresh(grant->refresh_token, origin_);
  ASSERT_TRUE(refreshed) << refreshed.error().description;
}

TEST_F(AuthServicesTest, AnotherUsersSessionIsNotFoundAndOnesOwnEnds) {
  const auto alice = register_user("alice");
  const auto bob = register_user("bob");
  auto grant = login("alice");
  ASSERT_TRUE(grant);
  Principal bob_caller = admin_with({});
  bob_caller.user_id = bob;
  auto foreign = services_->sessions.end_own(bob_caller, grant->session_id, origin_);
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->code, AuthError::NotFound);

  auto alice_caller = *services_->tokens.verify(grant->access.access_token);
  EXPECT_FALSE(services_->sessions.end_own(alice_caller, grant->session_id, origin_));
  EXPECT_TRUE(services_->sessions.live(alice)->empty());
  EXPECT_FALSE(services_->tokens.verify(grant->access.access_token));
}

TEST_F(AuthServicesTest, ACallerGrantsOnlyTheAdminScopesItHolds) {
  const auto alice = register_user("alice");
  auto escalation = services_->users.set_roles(alice, {"admin"}, admin_with({"admin:users"}), origin_);
  ASSERT_FALSE(escalation);
  EXPECT_EQ(escalation.error().code, AuthError::InsufficientScope);
  auto trader = services_->users.set_roles(alice, {"trader"}, admin_with({"admin:users"}), origin_);
  ASSERT_TRUE(trader);
  ASSERT_EQ(trader->roles.size(), 1U);
  EXPECT_EQ(trader->roles[0].name, "trader");
  auto unknown = services_->users.set_roles(alice, {"no-such-role"}, admin_with({"admin:users"}), origin_);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, AuthError::ValidationError);
}

TEST_F(AuthServicesTest, DisablingAUserEndsTheirSessionsAndLogins) {
  const auto alice = register_user("alice");
  auto grant = login("alice");
  ASSERT_TRUE(grant);
  AccountPatch patch;
  patch.flags.is_active = false;
  ASSERT_TRUE(services_->users.update(alice, patch, admin_with({"admin:users"}), origin_));
  EXPECT_FALSE(services_->tokens.verify(grant->access.access_token));
  EXPECT_FALSE(services_->grants.refresh(grant->refresh_token, origin_));
  auto again = login("alice");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, AuthError::AccountDisabled);
}

TEST_F(AuthServicesTest, ARotatedClientSecretStillWorksForItsGraceOnly) {
  auto created =
      services_->client_admin.create("svc-grace", named("grace"), {}, admin_with({"admin:clients"}), origin_);
  ASSERT_TRUE(created) << created.error().description;
  const ClientCredentials old_secret{"svc-grace", *created->secret};
  EXPECT_TRUE(services_->clients.authenticate(old_secret, origin_));

  auto rotated = services_->client_admin.rotate_secret("svc-grace", 60, admin_with({"admin:clients"}), origin_);
  ASSERT_TRUE(rotated);
  EXPECT_TRUE(services_->clients.authenticate({"svc-grace", *rotated->secret}, origin_));
  EXPECT_TRUE(services_->clients.authenticate(old_secret, origin_));
  clock_.advance(61);
  auto expired = services_->clients.authenticate(old_secret, origin_);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, AuthError::InvalidClient);
}

TEST_F(AuthServicesTest, AClientAuthenticationCountsOneCacheLookup) {
  auto created =
      services_->client_admin.create("svc-counted", named("counted"), {}, admin_with({"admin:clients"}), origin_);
  ASSERT_TRUE(created) << created.error().description;
  const auto hits = clients_.hits();
  const auto misses = clients_.misses();
  // As the token endpoint does it: the check for a storage read first, then the lookup.
  EXPECT_FALSE(services_->clients.needs_load("svc-counted"));
  EXPECT_TRUE(services_->clients.authenticate({"svc-counted", *created->secret}, origin_));
  EXPECT_EQ(clients_.hits(), hits + 1);
  EXPECT_EQ(clients_.misses(), misses);
  EXPECT_TRUE(services_->clients.needs_load("svc-unknown"));
  EXPECT_FALSE(services_->clients.authenticate({"svc-unknown", "whatever-secret"}, origin_));
  EXPECT_EQ(clients_.hits(), hits + 1);
  EXPECT_EQ(clients_.misses(), misses + 1);
}

// RFC 6749 §2.1: a public client cannot keep a secret, so it is given none and never
// authenticates as a client (no client_credentials); one made public loses its secret.
TEST_F(AuthServicesTest, APublicClientHasNoSecretAndCannotAuthenticate) {
  auto settings = named("spa");
  settings.client_type = "public";
  auto created = services_->client_admin.create("spa-public", settings, {}, admin_with({"admin:clients"}), origin_);
  ASSERT_TRUE(created) << created.error().description;
  EXPECT_FALSE(created->secret);
  EXPECT_TRUE(created->view.client.secret_hash.empty());
  EXPECT_FALSE(services_->clients.authenticate({"spa-public", ""}, origin_));
  auto rotated = services_->client_admin.rotate_secret("spa-public", 0, admin_with({"admin:clients"}), origin_);
  ASSERT_FALSE(rotated);
  EXPECT_EQ(rotated.error().code, AuthError::ValidationError);

  auto confidential =
      services_->client_admin.create("svc-turns-public", named("c"), {}, admin_with({"admin:clients"}), origin_);
  ASSERT_TRUE(confidential && confidential->secret);
  ClientPatch to_public;
  to_public.client_type = "public";
  ASSERT_TRUE(services_->client_admin.update("svc-turns-public", to_public, std::nullopt, admin_with({"admin:clients"}),
                                             origin_));
  EXPECT_FALSE(services_->clients.authenticate({"svc-turns-public", *confidential->secret}, origin_));
}

TEST_F(AuthServicesTest, ADeletedClientsTokensStopVerifyingAtOnce) {
  ASSERT_TRUE(services_->client_admin.create("svc-gone", named("gone"), {}, admin_with({"admin:clients"}), origin_));
  auto cached = clients_.find("svc-gone");  // creation put it in the cache
  ASSERT_TRUE(cached);
  auto issued = services_->grants.client_credentials(*cached, "", origin_);
  ASSERT_TRUE(issued);
  ASSERT_TRUE(services_->tokens.verify(issued->access_token));
  EXPECT_FALSE(services_->client_admin.remove("svc-gone", admin_with({"admin:clients"}), origin_));
  EXPECT_FALSE(services_->tokens.verify(issued->access_token));
}

TEST_F(AuthServicesTest, RevokingAnAccessTokenIsIgnoredForAnotherCallersToken) {
  register_user("alice");
  const auto bob = register_user("bob");
  auto grant = login("alice");
  ASSERT_TRUE(grant);
  Principal bob_caller = admin_with({});
  bob_caller.subject = std::to_string(bob);
  bob_caller.user_id = bob;
  EXPECT_FALSE(services_->revocation.revoke(bob_caller, grant->access.access_token, origin_));
  EXPECT_TRUE(services_->tokens.verify(grant->access.access_token));  // not bob's to revoke

  EXPECT_FALSE(services_->revocation.revoke(admin_with({"admin:system"}), grant->access.access_token, origin_));
  EXPECT_FALSE(services_->tokens.verify(grant->access.access_token));
  EXPECT_TRUE(services_->revocation.introspect(grant->refresh_token).refresh);
}

}  // namespace
}  // namespace permiso::auth
