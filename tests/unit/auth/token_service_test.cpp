// Access tokens: RFC 9068 claims and header, verification, revocation by jti and session,
// deleted clients, and the algorithm allow-list.
#include "auth/token_service.hpp"
#include "auth/client_cache.hpp"
#include "auth/revocation_list.hpp"
#include "jose/crypto.hpp"
#include "jose/key_store.hpp"
#include "storage/storage.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace permiso::auth {
namespace {

boost::json::object decode_part(const std::string& token, int index) {
  std::size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  const auto end = token.find('.', start);
  return boost::json::parse(*jose::base64url_decode(token.substr(start, end - start))).as_object();
}

class TokenServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("permiso-ts-" + std::to_string(std::random_device{}()));
    storage_ = std::move(*storage::open_storage("sqlite://" + (dir_ / "t.db").string()));
    keys_ = std::move(*jose::KeyStore::open_or_create(dir_ / "keys", jose::Algorithm::ES256, clock_));
    settings_.issuer = "https://auth.test";
    settings_.audience = "permiso";
    settings_.access_token_ttl_s = 900;
    tokens_ = std::make_unique<TokenService>(settings_, *keys_, revocations_, clients_, clock_);

    storage::ServiceClient c;
    c.client_id = "svc-a";
    c.name = "a";
    c.secret_hash = "x";
    c.access_token_lifetime = 600;
    c.is_trusted = true;
    ASSERT_TRUE(storage_->create_client(c, {}));
    ASSERT_TRUE(clients_.reload(*storage_));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  storage::User user() const {
    storage::User u;
    u.id = 42;
    u.username = "alice";
    return u;
  }

  std::filesystem::path dir_;
  ManualClock clock_{1'800'000'000};
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<jose::KeyStore> keys_;
  AuthSettings settings_;
  ClientCache clients_;
  RevocationList revocations_;
  std::unique_ptr<TokenService> tokens_;
};

TEST_F(TokenServiceTest, UserTokenCarriesRfc9068HeaderAndClaims) {
  const auto issued =
      tokens_->issue_user_token(user(), {"trade:read", "account:read"}, {"trader"}, "sess-1", "permiso");
  const auto header = decode_part(issued.access_token, 0);
  EXPECT_EQ(header.at("typ").as_string(), "at+jwt");
  EXPECT_EQ(header.at("alg").as_string(), "ES256");
  EXPECT_EQ(header.at("kid").as_string(), keys_->current().kid());
  const auto claims = decode_part(issued.access_token, 1);
  EXPECT_EQ(claims.at("iss").as_string(), "https://auth.test");
  EXPECT_EQ(claims.at("sub").as_string(), "42");
  EXPECT_EQ(claims.at("aud").as_string(), "permiso");
  EXPECT_EQ(claims.at("exp").as_int64(), clock_.now_seconds() + 900);
  EXPECT_EQ(claims.at("iat").as_int64(), clock_.now_seconds());
  EXPECT_EQ(claims.at("nbf").as_int64(), clock_.now_seconds());
  EXPECT_EQ(claims.at("jti").as_string(), issued.jti);
  EXPECT_EQ(claims.at("scope").as_string(), "trade:read account:read");
  EXPECT_EQ(claims.at("type").as_string(), "access");
  EXPECT_EQ(claims.at("username").as_string(), "alice");
  EXPECT_EQ(claims.at("sid").as_string(), "sess-1");
  EXPECT_EQ(claims.at("roles").as_array().size(), 1U);
}

TEST_F(TokenServiceTest, VerifiedUserTokenGivesThePrincipal) {
  const auto issued = tokens_->issue_user_token(user(), {"trade:read"}, {"trader"}, "sess-1", "permiso");
  auto p = tokens_->verify(issued.access_token);
  ASSERT_TRUE(p) << p.error().description;
  EXPECT_EQ(*p->user_id, 42);
  EXPECT_EQ(p->session_id, "sess-1");
  EXPECT_TRUE(p->has_scope("trade:read"));
  EXPECT_FALSE(p->has_scope("trade:open"));
  EXPECT_EQ(p->roles, std::vector<std::string>{"trader"});
}

TEST_F(TokenServiceTest, ServiceTokenUsesTheClientsLifetimeAndTrust) {
  const auto client = clients_.find("svc-a");
  const auto issued = tokens_->issue_service_token(*client, {"trade:read"});
  EXPECT_EQ(issued.expires_in, 600);
  const auto claims = decode_part(issued.access_token, 1);
  EXPECT_EQ(claims.at("type").as_string(), "service");
  EXPECT_EQ(claims.at("sub").as_string(), "svc-a");
  EXPECT_TRUE(claims.at("is_trusted").as_bool());
  auto p = tokens_->verify(issued.access_token);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->is_user());
  EXPECT_TRUE(p->is_trusted);
}

TEST_F(TokenServiceTest, JtisAreUniquePerToken) {
  const auto client = clients_.find("svc-a");
  EXPECT_NE(tokens_->issue_service_token(*client, {}).jti, tokens_->issue_service_token(*client, {}).jti);
}

TEST_F(TokenServiceTest, ExpiredTokenIsRefused) {
  const auto issued = tokens_->issue_user_token(user(), {}, {}, "s", "permiso");
  clock_.advance(900 + 31);
  auto p = tokens_->verify(issued.access_token);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, AuthError::InvalidToken);
}

TEST_F(TokenServiceTest, RevokedJtiOrEndedSessionIsRefused) {
  const auto a = tokens_->issue_user_token(user(), {}, {}, "s-a", "permiso");
  const auto b = tokens_->issue_user_token(user(), {}, {}, "s-b", "permiso");
  revocations_.add(RevocationList::Kind::Token, a.jti, a.expires_at);
  EXPECT_FALSE(tokens_->verify(a.access_token));
  EXPECT_TRUE(tokens_->verify(b.access_token));
  revocations_.add(RevocationList::Kind::Session, "s-b", b.expires_at);
  EXPECT_FALSE(tokens_->verify(b.access_token));
}

TEST_F(TokenServiceTest, DeletedClientsTokensStopVerifying) {
  const auto issued = tokens_->issue_service_token(*clients_.find("svc-a"), {});
  ASSERT_TRUE(tokens_->verify(issued.access_token));
  clients_.erase("svc-a");
  EXPECT_FALSE(tokens_->verify(issued.access_token));
}

TEST_F(TokenServiceTest, TokensSignedByAForeignKeyOrAlgorithmAreRefused) {
  const auto foreign = *jose::SigningKey::generate(jose::Algorithm::ES256);
  const auto hs = *jose::SigningKey::generate(jose::Algorithm::HS256);
  const boost::json::object claims{{"iss", "https://auth.test"},
                                   {"aud", "permiso"},
                                   {"sub", "42"},
                                   {"type", "access"},
                                   {"jti", "j"},
                                   {"iat", clock_.now_seconds()},
                                   {"exp", clock_.now_seconds() + 60}};
  EXPECT_FALSE(tokens_->verify(jose::sign_jwt(foreign, claims)));
  EXPECT_FALSE(tokens_->verify(jose::sign_jwt(hs.with_kid(keys_->current().kid()), claims)));
}

TEST_F(TokenServiceTest, TokensFromBeforeAKeyRotationStillVerify) {
  const auto before = tokens_->issue_user_token(user(), {}, {}, "s", "permiso");
  ASSERT_TRUE(keys_->rotate(clock_.now_seconds(), 0, 3600));
  tokens_->refresh_keys();
  const auto after = tokens_->issue_user_token(user(), {}, {}, "s", "permiso");
  EXPECT_NE(decode_part(before.access_token, 0).at("kid"), decode_part(after.access_token, 0).at("kid"));
  EXPECT_TRUE(tokens_->verify(before.access_token));
  EXPECT_TRUE(tokens_->verify(after.access_token));
}

TEST_F(TokenServiceTest, RefreshTokensAreRandomAndStoredOnlyAsHashes) {
  const auto t = TokenService::new_refresh_token();
  EXPECT_EQ(t.size(), 43U);
  EXPECT_NE(t, TokenService::new_refresh_token());
  EXPECT_EQ(TokenService::hash_refresh_token(t).size(), 64U);
  EXPECT_EQ(TokenService::hash_refresh_token(t).find(t), std::string::npos);
}

}  // namespace
}  // namespace permiso::auth
