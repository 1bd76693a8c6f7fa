// JWS/JWT against the RFC example vectors, and every refusal of the verification policy.
#include "jose/crypto.hpp"
#include "jose/jwt.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace permiso::jose {
namespace {

std::string b64d(std::string_view s) { return *base64url_decode(s); }

// RFC 7515 Appendix A.1: HS256.
constexpr std::string_view kA1Key =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
constexpr std::string_view kA1Input =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr std::string_view kA1Signature = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

TEST(Rfc7515, A1Hs256SignatureMatchesTheExample) {
  auto key = SigningKey::from_hmac_secret(b64d(kA1Key));
  ASSERT_TRUE(key);
  EXPECT_EQ(base64url_encode(key->sign(kA1Input)), kA1Signature);
  EXPECT_TRUE(key->verify(kA1Input, b64d(kA1Signature)));
}

// RFC 7515 Appendix A.3: ES256 (ECDSA signatures are randomised: verify the example).
TEST(Rfc7515, A3Es256ExampleVerifies) {
  auto key = SigningKey::from_public_jwk(boost::json::parse(R"({"kty":"EC","crv":"P-256",
      "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
      "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})").as_object());
  ASSERT_TRUE(key);
  const std::string input =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  const std::string sig = b64d(
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q");
  EXPECT_TRUE(key->verify(input, sig));
  EXPECT_FALSE(key->verify(input + "x", sig));
}

SigningKey ed25519_from_seed(std::string_view seed) {
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return *SigningKey::from_pem(Algorithm::EdDSA, pem);
}

// RFC 8037 Appendix A.1–A.5: Ed25519 key, thumbprint, deterministic signature.
TEST(Rfc8037, Ed25519ThumbprintAndSignatureMatchTheExample) {
  const auto key = ed25519_from_seed(b64d("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"));
  EXPECT_EQ(key.public_jwk().at("x").as_string(), "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
  EXPECT_EQ(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  EXPECT_EQ(base64url_encode(key.sign(input)),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
}

TEST(Base64Url, RoundTripsAndRefusesNonCanonicalText) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(*base64url_decode(base64url_encode(s)), s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("Zg=="));   // padding
  EXPECT_FALSE(base64url_decode("Zm+v"));   // standard alphabet
  EXPECT_FALSE(base64url_decode("Z"));      // impossible length
  EXPECT_FALSE(base64url_decode("Zh"));     // non-zero trailing bits
}

TEST(Crypto, ConstantTimeEqualAndHexAndRandomness) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_NE(random_token(16), random_token(16));
  EXPECT_EQ(random_token(32).size(), 43U);
}

class VerifierTest : public ::testing::TestWithParam<Algorithm> {
 protected:
  static constexpr std::int64_t kNow = 1'700'000'000;

  void SetUp() override {
    key_ = *SigningKey::generate(GetParam());
    VerifyPolicy policy;
    policy.algorithms = {GetParam()};
    policy.issuer = "https://auth.example";
    policy.audience = "permiso";
    policy.typ = "at+jwt";
    policy.leeway_s = 30;
    verifier_ = std::make_unique<Verifier>(policy, clock_);
    verifier_->set_keys({key_});
  }

  boost::json::object claims() const {
    return {{"iss", "https://auth.example"}, {"aud", "permiso"}, {"sub", "42"},
            {"iat", kNow}, {"nbf", kNow}, {"exp", kNow + 600}, {"jti", "j1"}};
  }

  // Re-signs a token with an arbitrary header (for forged-header cases).
  std::string with_header(const boost::json::object& header, const boost::json::object& c,
                          const SigningKey& signer) const {
    std::string t = base64url_encode(boost::json::serialize(header)) + "." +
                    base64url_encode(boost::json::serialize(c));
    return t + "." + base64url_encode(signer.sign(t));
  }

  ManualClock clock_{kNow};
  SigningKey key_ = *SigningKey::generate(Algorithm::HS256);
  std::unique_ptr<Verifier> verifier_;
};

TEST_P(VerifierTest, SignedTokenVerifiesWithItsClaims) {
  const auto token = sign_jwt(key_, claims());
  auto v = verifier_->verify(token);
  ASSERT_TRUE(v) << to_string(v.error());
  EXPECT_EQ(v->claims.at("sub").as_string(), "42");
  EXPECT_EQ(v->header.at("typ").as_string(), "at+jwt");
  EXPECT_EQ(v->header.at("kid").as_string(), key_.kid());
  EXPECT_EQ(v->header.at("alg").as_string(), to_string(GetParam()));
}

TEST_P(VerifierTest, ExpiryAndNotBeforeHonourTheLeeway) {
  const auto token = sign_jwt(key_, claims());
  clock_.set(kNow + 600 + 30);
  EXPECT_TRUE(verifier_->verify(token));
  clock_.set(kNow + 600 + 31);
  EXPECT_EQ(verifier_->verify(token).error(), JwtStatus::Expired);
  clock_.set(kNow - 31);
  EXPECT_EQ(verifier_->verify(token).error(), JwtStatus::NotYetValid);
}

TEST_P(VerifierTest, WrongIssuerAudienceOrTypeIsRefused) {
  auto c = claims();
  c["iss"] = "https://evil.example";
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::IssuerMismatch);
  c = claims();
  c["aud"] = boost::json::array{"other", "permiso"};
  EXPECT_TRUE(verifier_->verify(sign_jwt(key_, c)));
  c["aud"] = "other";
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::AudienceMismatch);
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, claims(), "JWT")).error(), JwtStatus::TypeMismatch);
}

TEST_P(VerifierTest, MissingExpOrIatIsRefused) {
  auto c = claims();
  c.erase("exp");
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::MissingClaim);
  c = claims();
  c["iat"] = "yesterday";
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::MissingClaim);
}

TEST_P(VerifierTest, TamperedPayloadOrSignatureIsRefused) {
  const auto token = sign_jwt(key_, claims());
  auto c = claims();
  c["sub"] = "1";
  const auto dot1 = token.find('.');
  const auto dot2 = token.rfind('.');
  const std::string forged = token.substr(0, dot1 + 1) + base64url_encode(boost::json::serialize(c)) +
                             token.substr(dot2);
  EXPECT_EQ(verifier_->verify(forged).error(), JwtStatus::BadSignature);
  std::string bad_sig = token;
  bad_sig.back() = bad_sig.back() == 'A' ? 'Q' : 'A';
  EXPECT_FALSE(verifier_->verify(bad_sig));
}

TEST_P(VerifierTest, ForeignKeyWithTheSameKidIsRefused) {
  const auto foreign = SigningKey::generate(GetParam())->with_kid(key_.kid());
  EXPECT_EQ(verifier_->verify(sign_jwt(foreign, claims())).error(), JwtStatus::BadSignature);
}

TEST_P(VerifierTest, UnknownOrMissingKidIsRefused) {
  const auto other = *SigningKey::generate(GetParam());
  EXPECT_EQ(verifier_->verify(sign_jwt(other, claims())).error(), JwtStatus::UnknownKid);
  boost::json::object h{{"alg", to_string(GetParam())}, {"typ", "at+jwt"}};
  EXPECT_EQ(verifier_->verify(with_header(h, claims(), key_)).error(), JwtStatus::UnknownKid);
}

TEST_P(VerifierTest, AlgNoneAndUntrustedHeadersAreRefused) {
  boost::json::object none{{"alg", "none"}, {"typ", "at+jwt"}, {"kid", key_.kid()}};
  const auto unsigned_token = base64url_encode(boost::json::serialize(none)) + "." +
                              base64url_encode(boost::json::serialize(claims())) + ".";
  EXPECT_EQ(verifier_->verify(unsigned_token).error(), JwtStatus::UnsupportedAlgorithm);
  for (const char* h : {"crit", "jku", "x5u", "jwk", "x5c"}) {
    boost::json::object header{{"alg", to_string(GetParam())}, {"typ", "at+jwt"}, {"kid", key_.kid()}};
    header[h] = "https://evil.example/keys";
    EXPECT_EQ(verifier_->verify(with_header(header, claims(), key_)).error(), JwtStatus::ForbiddenHeader) << h;
  }
}

TEST_P(VerifierTest, GarbageIsMalformedNeverACrash) {
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", "a.b.c", "a.b", "a.b.c.d", "!!!.###.$$$",
                                 "eyJhbGciOiJIUzI1NiJ9.W10.", "W10.e30.", "bnVsbA.e30.",
                                 "eyJhbGciOjF9.e30.AA", std::string(20000, 'a')}) {
    auto r = verifier_->verify(bad);
    EXPECT_FALSE(r) << bad.substr(0, 40);
  }
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, VerifierTest,
                         ::testing::Values(Algorithm::HS256, Algorithm::RS256, Algorithm::ES256,
                                           Algorithm::EdDSA),
                         [](const ::testing::TestParamInfo<Algorithm>& p) { return std::string(to_string(p.param)); });

TEST(Verifier, HmacTokenKeyedWithTheRsaPublicKeyIsRefused) {
  // The classic HS/RS confusion: an attacker signs HS256 with the server's public key.
  ManualClock clock(1'700'000'000);
  const auto rsa = *SigningKey::generate(Algorithm::RS256);
  VerifyPolicy policy;
  policy.algorithms = {Algorithm::RS256, Algorithm::HS256};
  Verifier verifier(policy, clock);
  verifier.set_keys({rsa});
  const auto public_pem = boost::json::serialize(rsa.public_jwk());
  const auto hmac = SigningKey::from_hmac_secret(public_pem)->with_kid(rsa.kid());
  boost::json::object c{{"iat", 1'700'000'000}, {"exp", 1'700'000'600}};
  EXPECT_EQ(verifier.verify(sign_jwt(hmac, c)).error(), JwtStatus::AlgorithmKeyMismatch);
}

TEST(Verifier, AlgorithmOutsideTheAllowListIsRefused) {
  ManualClock clock(1'700'000'000);
  const auto es = *SigningKey::generate(Algorithm::ES256);
  VerifyPolicy policy;
  policy.algorithms = {Algorithm::RS256};
  Verifier verifier(policy, clock);
  verifier.set_keys({es});
  boost::json::object c{{"iat", 1'700'000'000}, {"exp", 1'700'000'600}};
  EXPECT_EQ(verifier.verify(sign_jwt(es, c)).error(), JwtStatus::UnsupportedAlgorithm);
}

TEST(Keys, HmacSecretsShorterThan256BitsAreRefusedAndNeverPublished) {
  EXPECT_EQ(SigningKey::from_hmac_secret(std::string(31, 'x')).error(), KeyError::SecretTooShort);
  const auto k = *SigningKey::from_hmac_secret(std::string(32, 'x'));
  EXPECT_TRUE(k.public_jwk().empty());
  EXPECT_EQ(k.kid().find(std::string(8, 'x')), std::string::npos);
}

TEST(Keys, PemRoundTripKeepsTheKidAndTypeMustFitTheAlgorithm) {
  const auto rsa = *SigningKey::generate(Algorithm::RS256);
  const auto again = SigningKey::from_pem(Algorithm::RS256, rsa.private_pem());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->kid(), rsa.kid());
  EXPECT_EQ(SigningKey::from_pem(Algorithm::ES256, rsa.private_pem()).error(), KeyError::WrongKeyType);
  EXPECT_EQ(SigningKey::from_pem(Algorithm::RS256, "not a pem").error(), KeyError::InvalidPem);
}

TEST(Keys, JwksPublishesOnlyPublicPartsAndParsesBack) {
  for (auto alg : {Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA}) {
    const auto key = *SigningKey::generate(alg);
    const auto jwk = key.public_jwk();
    for (const char* priv : {"d", "p", "q", "dp", "dq", "qi", "k"}) EXPECT_FALSE(jwk.contains(priv));
    boost::json::object jwks{{"keys", boost::json::array{jwk, boost::json::object{{"kty", "oct"}, {"k", "AAAA"}}}}};
    const auto parsed = parse_jwks(jwks);
    ASSERT_EQ(parsed.size(), 1U);
    EXPECT_EQ(parsed[0].kid(), key.kid());
    EXPECT_FALSE(parsed[0].can_sign());
    EXPECT_TRUE(parsed[0].verify("input", key.sign("input")));
  }
}

}  // namespace
}  // namespace permiso::jose
