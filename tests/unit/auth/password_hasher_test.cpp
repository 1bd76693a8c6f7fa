// Argon2id hashing: PHC format, verification, rehash detection.
#include "auth/password_hasher.hpp"

#include <gtest/gtest.h>

namespace permiso::auth {
namespace {

// Small parameters keep the test fast; production uses the OWASP defaults.
const Argon2Params kFast{.memory_kib = 1024, .iterations = 1, .parallelism = 1};

TEST(PasswordHasher, HashIsArgon2idPhcStringWithItsParameters) {
  PasswordHasher hasher(kFast);
  auto h = hasher.hash("Correct-horse-1");
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$m=1024,t=1,p=1$")) << *h;
}

TEST(PasswordHasher, SamePasswordHashesDifferentlyEachTime) {
  PasswordHasher hasher(kFast);
  EXPECT_NE(*hasher.hash("Correct-horse-1"), *hasher.hash("Correct-horse-1"));
}

TEST(PasswordHasher, VerifiesTheRightPasswordAndRefusesOthers) {
  PasswordHasher hasher(kFast);
  const auto h = *hasher.hash("Correct-horse-1");
  EXPECT_TRUE(hasher.verify(h, "Correct-horse-1"));
  auto wrong = hasher.verify(h, "correct-horse-1");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), PasswordStatus::Mismatch);
}

TEST(PasswordHasher, MalformedHashIsAnErrorNotACrash) {
  PasswordHasher hasher(kFast);
  for (const char* bad : {"", "plaintext", "$argon2i$v=19$m=1024,t=1,p=1$xx$yy", "$argon2id$garbage"}) {
    auto r = hasher.verify(bad, "x");
    ASSERT_FALSE(r) << bad;
  }
}

TEST(PasswordHasher, DetectsHashesMadeWithOtherParameters) {
  PasswordHasher fast(kFast);
  PasswordHasher stronger(Argon2Params{.memory_kib = 2048, .iterations = 1, .parallelism = 1});
  const auto h = *fast.hash("Correct-horse-1");
  EXPECT_FALSE(fast.needs_rehash(h));
  EXPECT_TRUE(stronger.needs_rehash(h));
  // A hash made with older parameters still verifies under the new hasher.
  EXPECT_TRUE(stronger.verify(h, "Correct-horse-1"));
}

TEST(PasswordHasher, DummyHashIsAValidHashThatMatchesNoOrdinaryPassword) {
  PasswordHasher hasher(kFast);
  const auto& d = hasher.dummy_hash();
  ASSERT_FALSE(d.empty());
  auto r = hasher.verify(d, "Correct-horse-1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), PasswordStatus::Mismatch);
}

}  // namespace
}  // namespace permiso::auth
