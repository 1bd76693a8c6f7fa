// Client secrets: generation, keyed hashing, constant-time matching.
#include "auth/client_secrets.hpp"

#include <gtest/gtest.h>

#include <set>

namespace permiso::auth {
namespace {

TEST(ClientSecrets, GeneratedSecretsAre256BitBase64UrlAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto s = ClientSecrets::generate();
    EXPECT_EQ(s.size(), 43U);
    EXPECT_EQ(s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 100U);
}

TEST(ClientSecrets, HashIsHmacSha256UnderThePepper) {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  ClientSecrets secrets("Jefe");
  EXPECT_EQ(secrets.hash("what do ya want for nothing?"),
            "hmac-sha256$5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(ClientSecrets, MatchesOnlyTheRightSecretUnderTheRightPepper) {
  ClientSecrets a("pepper-a");
  ClientSecrets b("pepper-b");
  const auto secret = ClientSecrets::generate();
  const auto stored = a.hash(secret);
  EXPECT_TRUE(a.matches(secret, stored));
  EXPECT_FALSE(a.matches(secret + "x", stored));
  EXPECT_FALSE(a.matches("", stored));
  EXPECT_FALSE(b.matches(secret, stored));
  EXPECT_FALSE(a.matches(secret, ""));
  EXPECT_FALSE(a.matches(secret, stored.substr(0, stored.size() - 1)));
}

}  // namespace
}  // namespace permiso::auth
