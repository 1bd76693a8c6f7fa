// The authorization code grant's domain: PKCE (RFC 7636's own vector), redirect URI rules,
// the dashboard's public client, and codes that are single-use, short-lived and bound to
// their client, redirect URI and challenge, against a real SQLite database.
#include "auth/authorization.hpp"
#include "auth/bootstrap.hpp"
#include "auth/handlers/oauth_handlers.hpp"
#include "auth/handlers/sign_in_page.hpp"
#include "auth/pkce.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace permiso::auth {
namespace {

constexpr std::string_view kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";  // RFC 7636 appendix B
constexpr std::string_view kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const std::string kRedirect = "https://trading.example.com/auth/callback";

TEST(Pkce, MatchesTheRfcVectorAndNothingElse) {
  EXPECT_EQ(pkce::s256(kVerifier), kChallenge);
  EXPECT_TRUE(pkce::verifies(kVerifier, kChallenge));
  EXPECT_FALSE(pkce::verifies("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", kChallenge));
  EXPECT_FALSE(pkce::verifies(kChallenge, kChallenge)) << "the challenge is not its own verifier";
}

TEST(Pkce, VerifiersAndChallengesHaveTheirShape) {
  EXPECT_TRUE(pkce::valid_verifier(std::string(43, 'a')));
  EXPECT_TRUE(pkce::valid_verifier(std::string(128, '~')));
  EXPECT_FALSE(pkce::valid_verifier(std::string(42, 'a')));
  EXPECT_FALSE(pkce::valid_verifier(std::string(129, 'a')));
  EXPECT_FALSE(pkce::valid_verifier(std::string(42, 'a') + "+"));
  EXPECT_TRUE(pkce::valid_challenge(kChallenge));
  EXPECT_FALSE(pkce::valid_challenge(std::string(kChallenge) + "="));
  EXPECT_FALSE(pkce::valid_challenge("plain-challenge"));
}

TEST(RedirectUris, HttpsOrLoopbackWithoutFragment) {
  EXPECT_EQ(redirect_uri_problem(kRedirect), "");
  EXPECT_EQ(redirect_uri_problem("http://127.0.0.1:5173/cb"), "");
  EXPECT_EQ(redirect_uri_problem("http://localhost/cb"), "");
  EXPECT_NE(redirect_uri_problem("http://trading.example.com/cb"), "");
  EXPECT_NE(redirect_uri_problem("https://trading.example.com/cb#x"), "");
  EXPECT_NE(redirect_uri_problem("/auth/callback"), "");
  EXPECT_NE(redirect_uri_problem("javascript:alert(1)"), "");
  EXPECT_NE(redirect_uri_problem(""), "");
}

TEST(RedirectUris, AnswersAreAppendedEncoded) {
  EXPECT_EQ(redirect_with(kRedirect, {{"code", "a b"}, {"state", "x&y=z"}}), kRedirect + "?code=a%20b&state=x%26y%3Dz");
  EXPECT_EQ(redirect_with("https://a.example/cb?tenant=1", {{"code", "c"}}), "https://a.example/cb?tenant=1&code=c");
}

class AuthorizationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("permiso-authz-test-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    auto opened = storage::open_storage("sqlite://" + (dir_ / "t.db").string());
    ASSERT_TRUE(opened) << storage::to_string(opened.error());
    storage_ = std::move(*opened);
    ASSERT_TRUE(bootstrap(*storage_, hasher_, clock_, "admin", std::string("Adm1n!password")));
    ASSERT_TRUE(ensure_dashboard_client(*storage_, clock_, {kRedirect}));
    user_id_ = storage_->get_user_by_username("admin")->id;
    service_ = std::make_unique<AuthorizationService>(settings_, *storage_, clock_);
  }
  void TearDown() override {
    service_.reset();
    storage_.reset();
    std::filesystem::remove_all(dir_);
  }

  static AuthorizeRequest request() {
    return {"code", "dashboard", kRedirect, "st4te", "", std::string(kChallenge), "S256"};
  }
  static CodeExchange exchange(std::string code) {
    return {std::move(code), "dashboard", kRedirect, std::string(kVerifier)};
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::Storage> storage_;
  ManualClock clock_{1'700'000'000};
  PasswordHasher hasher_{Argon2Params{.memory_kib = 1024, .iterations = 1, .parallelism = 1}};
  AuthSettings settings_;
  std::int64_t user_id_ = 0;
  std::unique_ptr<AuthorizationService> service_;
};

TEST_F(AuthorizationTest, TheDashboardIsAPublicClientWithExactlyTheConfiguredRedirects) {
  auto c = storage_->get_client("dashboard");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->client_type, "public");
  EXPECT_TRUE(c->secret_hash.empty());
  EXPECT_EQ(redirect_uris_of(*c), std::vector<std::string>{kRedirect});
  EXPECT_FALSE(*ensure_dashboard_client(*storage_, clock_, {kRedirect})) << "unchanged: nothing written";

  // A confidential dashboard from before becomes public and loses its secret.
  c->client_type = "confidential";
  c->secret_hash = "hmac-sha256$00";
  ASSERT_TRUE(storage_->update_client(*c, std::nullopt));
  EXPECT_TRUE(*ensure_dashboard_client(*storage_, clock_, {kRedirect, "http://localhost:5173/auth/callback"}));
  c = storage_->get_client("dashboard");
  EXPECT_EQ(c->client_type, "public");
  EXPECT_TRUE(c->secret_hash.empty());
  EXPECT_EQ(redirect_uris_of(*c).size(), 2U);
}

TEST_F(AuthorizationTest, UnknownClientsAndRedirectsAreNeverRedirectedTo) {
  auto r = request();
  r.client_id = "nobody";
  auto out = service_->check(r);
  ASSERT_FALSE(out);
  EXPECT_FALSE(out.error().redirectable);

  r = request();
  r.redirect_uri = kRedirect + "/";  // a prefix match is no match
  out = service_->check(r);
  ASSERT_FALSE(out);
  EXPECT_FALSE(out.error().redirectable);
}

TEST_F(AuthorizationTest, RequestErrorsGoBackToTheClient) {
  auto r = request();
  r.code_challenge_method = "plain";
  auto out = service_->check(r);
  ASSERT_FALSE(out);
  EXPECT_TRUE(out.error().redirectable);
  EXPECT_EQ(out.error().error, "invalid_request");

  r = request();
  r.code_challenge.clear();
  EXPECT_EQ(service_->check(r).error().error, "invalid_request");
  r = request();
  r.response_type = "token";
  EXPECT_EQ(service_->check(r).error().error, "unsupported_response_type");
  EXPECT_TRUE(service_->check(request()));
}

TEST_F(AuthorizationTest, ACodeIsRedeemedOnceWithItsVerifier) {
  auto code = service_->issue_code(request(), user_id_);
  ASSERT_TRUE(code);
  auto redeemed = service_->redeem(exchange(*code));
  ASSERT_TRUE(redeemed) << redeemed.error().description;
  EXPECT_EQ(redeemed->user_id, user_id_);
  EXPECT_EQ(redeemed->client_id, "dashboard");
  auto again = service_->redeem(exchange(*code));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, AuthError::InvalidGrant);
}

TEST_F(AuthorizationTest, AWrongVerifierClientOrRedirectSpendsTheCode) {
  for (int i = 0; i < 3; ++i) {
    auto code = service_->issue_code(request(), user_id_);
    ASSERT_TRUE(code);
    auto bad = exchange(*code);
    if (i == 0) bad.code_verifier = std::string(43, 'x');
    if (i == 1) bad.client_id = "other";
    if (i == 2) bad.redirect_uri = "https://evil.example/cb";
    auto out = service_->redeem(bad);
    ASSERT_FALSE(out) << i;
    EXPECT_EQ(out.error().code, AuthError::InvalidGrant) << i;
    EXPECT_FALSE(service_->redeem(exchange(*code))) << "spent by the failed attempt " << i;
  }
}

TEST_F(AuthorizationTest, AClientDisabledAfterTheSignInGetsNoTokens) {
  auto code = service_->issue_code(request(), user_id_);
  ASSERT_TRUE(code);
  auto c = storage_->get_client("dashboard");
  c->is_active = false;
  ASSERT_TRUE(storage_->update_client(*c, std::nullopt));
  auto out = service_->redeem(exchange(*code));
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, AuthError::InvalidGrant);
}

TEST_F(AuthorizationTest, CodesExpireAfterTheirLifetimeAndArePurged) {
  auto code = service_->issue_code(request(), user_id_);
  ASSERT_TRUE(code);
  clock_.advance(settings_.authorization_code_ttl_s);
  auto out = service_->redeem(exchange(*code));
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().description.find("expired"), std::string::npos);

  auto stale = service_->issue_code(request(), user_id_);
  ASSERT_TRUE(stale);
  EXPECT_EQ(*storage_->purge_expired_authorization_codes(clock_.now_seconds()), 0);
  clock_.advance(61);
  EXPECT_EQ(*storage_->purge_expired_authorization_codes(clock_.now_seconds()), 1);
}

TEST(SignInPage, EscapesWhatItShowsAndCarries) {
  EXPECT_EQ(html_escape(R"(<script>"x" & 'y'</script>)"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;");
  SignInForm form;
  form.request.state = R"("><script>alert(1)</script>)";
  form.client_name = "<b>App</b>";
  form.username = R"(a"b)";
  form.error = "<img src=x onerror=alert(1)>";
  const auto page = sign_in_page(401, form);
  EXPECT_EQ(page.status, 401);
  EXPECT_EQ(page.body.find("<script"), std::string::npos);
  EXPECT_EQ(page.body.find("<img"), std::string::npos);
  EXPECT_EQ(page.body.find("<b>App"), std::string::npos);
  EXPECT_NE(page.body.find(R"(value="a&quot;b")"), std::string::npos);
  EXPECT_NE(page.body.find(R"(role="alert")"), std::string::npos);
}

TEST(AuthSettings, CodesLiveAtMostAMinute) {
  EXPECT_LE(AuthSettings{}.authorization_code_ttl_s, 60);
}

}  // namespace
}  // namespace permiso::auth
