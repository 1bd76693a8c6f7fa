// Fernet against the specification's published vectors (github.com/fernet/spec: generate.json,
// verify.json, invalid.json), transcribed as the facts they are, and round trips.
#include "secrets/fernet.hpp"

#include <gtest/gtest.h>

#include <string>

namespace permiso::secrets {
namespace {

constexpr std::string_view kSpecKey = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
// 1985-10-26T01:20:00-07:00, the vectors' "now".
constexpr std::int64_t kSpecNow = 499162800;
constexpr std::string_view kSpecToken =
    "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";

FernetKey spec_key() {
  return FernetKey::parse(kSpecKey).value();
}

std::string spec_iv() {
  std::string iv;
  for (char i = 0; i < 16; ++i) iv.push_back(i);
  return iv;
}

TEST(FernetTest, GeneratesTheSpecificationsToken) {
  EXPECT_EQ(spec_key().encrypt_with_iv("hello", kSpecNow, spec_iv()), kSpecToken);
}

TEST(FernetTest, VerifiesTheSpecificationsToken) {
  auto plain = spec_key().decrypt(kSpecToken, kSpecNow + 1, 60);
  ASSERT_TRUE(plain) << to_string(plain.error());
  EXPECT_EQ(*plain, "hello");
}

struct InvalidVector {
  const char* desc;
  const char* token;
  std::int64_t now;
  FernetError expected;
};

class FernetInvalidTest : public ::testing::TestWithParam<InvalidVector> {};

TEST_P(FernetInvalidTest, IsRefusedForItsReason) {
  const auto& v = GetParam();
  auto plain = spec_key().decrypt(v.token, v.now, 60);
  ASSERT_FALSE(plain) << v.desc;
  EXPECT_EQ(plain.error(), v.expected) << v.desc << ": " << to_string(plain.error());
}

INSTANTIATE_TEST_SUITE_P(
    SpecInvalidJson, FernetInvalidTest,
    ::testing::Values(
        InvalidVector{
            "incorrect mac",
            "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykQUFBQUFBQUFBQQ==",
            kSpecNow + 1, FernetError::BadSignature},
        InvalidVector{"too short", "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPA==", kSpecNow + 1,
                      FernetError::Malformed},
        InvalidVector{
            "invalid base64",
            "%%%%%%%%%%%%%AECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==",
            kSpecNow + 1, FernetError::Malformed},
        InvalidVector{
            "payload size not multiple of block size",
            "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPOm73QeoCk9uGib28Xe5vz6oxq5nmxbx_v7mrfyudzUm",
            kSpecNow + 1, FernetError::Malformed},
        InvalidVector{
            "payload padding error",
            "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0ODz4LEpdELGQAad7aNEHbf-JkLPIpuiYRLQ3RtXatOYREu2FWke6CnJNYIbkuKNqOhw==",
            kSpecNow + 1, FernetError::BadPadding},
        InvalidVector{
            "far-future TS (unacceptable clock skew)",
            "gAAAAAAdwStRAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAnja1xKYyhd-Y6mSkTOyTGJmw2Xc2a6kBd-iX9b_qXQcw==",
            kSpecNow + 1, FernetError::FromTheFuture},
        InvalidVector{
            "expired TTL",
            "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==",
            kSpecNow + 91, FernetError::Expired},
        InvalidVector{
            "incorrect IV (causes padding error)",
            "gAAAAAAdwJ6xBQECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAkLhFLHpGtDBRLRTZeUfWgHSv49TF2AUEZ1TIvcZjK1zQ==",
            kSpecNow + 1, FernetError::BadPadding}));

TEST(FernetTest, RoundTripsAnyValueWithAFreshIv) {
  const auto key = FernetKey::generate();
  const std::string secret = "p@ss:w/rd with spaces, ünïcode and \n a newline";
  const auto a = key.encrypt(secret, kSpecNow);
  const auto b = key.encrypt(secret, kSpecNow);
  EXPECT_NE(a, b);  // a fresh IV each time
  EXPECT_EQ(key.decrypt(a, kSpecNow).value(), secret);
  EXPECT_EQ(key.decrypt(b, kSpecNow + 86400 * 365).value(), secret);  // no TTL: stored secrets do not expire
}

TEST(FernetTest, AnotherKeyCannotDecrypt) {
  const auto token = FernetKey::generate().encrypt("value", kSpecNow);
  auto plain = FernetKey::generate().decrypt(token, kSpecNow);
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error(), FernetError::BadSignature);
}

TEST(FernetTest, KeysReadBackAndBadKeysAreRefused) {
  const auto key = FernetKey::generate();
  EXPECT_EQ(key.encoded().size(), 44U);
  EXPECT_EQ(FernetKey::parse(key.encoded()).value().encoded(), key.encoded());
  EXPECT_EQ(FernetKey::parse(spec_key().encoded()).value().encoded(), kSpecKey);
  for (std::string_view bad :
       {"", "short", "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4",
        "cw_0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4=", "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4e4="}) {
    const bool unpadded_but_valid = bad == "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4";
    EXPECT_EQ(static_cast<bool>(FernetKey::parse(bad)), unpadded_but_valid) << bad;
  }
}

TEST(FernetTest, EveryFlippedByteIsRefused) {
  const auto key = spec_key();
  const std::string token(kSpecToken);
  for (std::size_t i = 0; i + 2 < token.size(); ++i) {  // the last two characters are padding
    std::string changed = token;
    changed[i] = changed[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(key.decrypt(changed, kSpecNow)) << "position " << i;
  }
}

}  // namespace
}  // namespace permiso::secrets
