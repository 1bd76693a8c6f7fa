// Signing-key rotation timeline and persistence of development keys.
#include "jose/key_store.hpp"
#include "jose/jwt.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

namespace permiso::jose {
namespace {
namespace fs = std::filesystem;

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("permiso-keys-" + std::to_string(std::random_device{}()));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::set<std::string> jwks_kids(const KeyStore& ks) {
    std::set<std::string> out;
    const auto jwks = ks.jwks();
    for (const auto& k : jwks.at("keys").as_array()) out.emplace(k.at("kid").as_string());
    return out;
  }

  fs::path dir_;
  ManualClock clock_{1'700'000'000};
};

TEST_F(KeyStoreTest, FirstStartGeneratesPrivateFilesAndRestartReloadsThem) {
  auto ks = KeyStore::open_or_create(dir_, Algorithm::ES256, clock_);
  ASSERT_TRUE(ks);
  const auto kid = (*ks)->current().kid();
  EXPECT_EQ(fs::status(dir_).permissions() & fs::perms::all, fs::perms::owner_all);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.status().permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write)
        << entry.path();
  }
  auto again = KeyStore::open_or_create(dir_, Algorithm::ES256, clock_);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->current().kid(), kid);
  EXPECT_EQ(jwks_kids(**again), std::set<std::string>{kid});
}

TEST_F(KeyStoreTest, RotationPublishesFirstThenSignsThenRetires) {
  auto ks = std::move(*KeyStore::open_or_create(dir_, Algorithm::RS256, clock_));
  const auto old_kid = ks->current().kid();
  const auto t0 = clock_.now_seconds();
  auto info = ks->rotate(t0, /*publish_delay_s=*/60, /*max_token_lifetime_s=*/600);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->state, KeyState::Pending);
  // Published at once, but the old key keeps signing during the delay.
  EXPECT_EQ(jwks_kids(*ks), (std::set<std::string>{old_kid, info->kid}));
  EXPECT_EQ(ks->current().kid(), old_kid);

  clock_.set(t0 + 60);
  ks->tick(clock_.now_seconds());
  EXPECT_EQ(ks->current().kid(), info->kid);
  EXPECT_EQ(jwks_kids(*ks), (std::set<std::string>{old_kid, info->kid}));  // old tokens live on

  clock_.set(t0 + 60 + 601);
  ks->tick(clock_.now_seconds());
  EXPECT_EQ(jwks_kids(*ks), std::set<std::string>{info->kid});

  // The rotation survived a restart.
  auto reopened = KeyStore::open_or_create(dir_, Algorithm::RS256, clock_);
  ASSERT_TRUE(reopened);
  EXPECT_EQ((*reopened)->current().kid(), info->kid);
}

TEST_F(KeyStoreTest, ZeroDelaySignsWithTheNewKeyImmediately) {
  auto ks = std::move(*KeyStore::open_or_create(dir_, Algorithm::EdDSA, clock_));
  auto info = ks->rotate(clock_.now_seconds(), 0, 600);
  ASSERT_TRUE(info);
  EXPECT_EQ(ks->current().kid(), info->kid);
}

TEST_F(KeyStoreTest, TokensSignedBeforeRotationStillVerify) {
  auto ks = std::move(*KeyStore::open_or_create(dir_, Algorithm::ES256, clock_));
  const auto now = clock_.now_seconds();
  boost::json::object claims{{"iat", now}, {"exp", now + 600}};
  const auto before = sign_jwt(ks->current(), claims);
  ASSERT_TRUE(ks->rotate(now, 0, 600));
  VerifyPolicy policy;
  policy.algorithms = {Algorithm::ES256};
  Verifier verifier(policy, clock_);
  verifier.set_keys(ks->verification_keys());
  EXPECT_TRUE(verifier.verify(before));
  EXPECT_TRUE(verifier.verify(sign_jwt(ks->current(), claims)));
}

TEST_F(KeyStoreTest, ChangedAlgorithmAddsAnActiveKeyOfTheNewAlgorithm) {
  ASSERT_TRUE(KeyStore::open_or_create(dir_, Algorithm::RS256, clock_));
  auto ks = KeyStore::open_or_create(dir_, Algorithm::EdDSA, clock_);
  ASSERT_TRUE(ks);
  EXPECT_EQ((*ks)->current().algorithm(), Algorithm::EdDSA);
  EXPECT_EQ((*ks)->list().size(), 2U);
}

TEST_F(KeyStoreTest, HmacStoreKeepsItsKidAcrossInstancesAndPublishesNoKeys) {
  const std::string secret(48, 's');
  auto a = KeyStore::from_hmac_secret(secret, clock_);
  auto b = KeyStore::from_hmac_secret(secret, clock_);
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*a)->current().kid(), (*b)->current().kid());
  EXPECT_TRUE((*a)->jwks().at("keys").as_array().empty());
  EXPECT_EQ(KeyStore::from_hmac_secret("short", clock_).error(), KeyError::SecretTooShort);
}

TEST_F(KeyStoreTest, PemFilesPublishEveryKeyAndSignWithTheFirst) {
  fs::create_directories(dir_);
  const auto current = *SigningKey::generate(Algorithm::RS256);
  const auto previous = *SigningKey::generate(Algorithm::RS256);
  std::ofstream(dir_ / "current.pem") << current.private_pem();
  std::ofstream(dir_ / "previous.pem") << previous.private_pem();
  auto ks = KeyStore::from_pem_files(Algorithm::RS256, {dir_ / "current.pem", dir_ / "previous.pem"}, clock_);
  ASSERT_TRUE(ks);
  EXPECT_EQ((*ks)->current().kid(), current.kid());
  EXPECT_EQ(jwks_kids(**ks), (std::set<std::string>{current.kid(), previous.kid()}));
  EXPECT_FALSE((*ks)->rotatable());  // rotated by configuration, never by the API
  EXPECT_EQ(KeyStore::from_pem_files(Algorithm::ES256, {dir_ / "current.pem"}, clock_).error(), KeyError::WrongKeyType);
  EXPECT_EQ(KeyStore::from_pem_files(Algorithm::RS256, {dir_ / "missing.pem"}, clock_).error(), KeyError::Io);
}

TEST_F(KeyStoreTest, PemTextFromASecretStoreActsAsTheFilesDo) {
  const auto current = *SigningKey::generate(Algorithm::ES256);
  const auto previous = *SigningKey::generate(Algorithm::ES256);
  auto ks = KeyStore::from_pem_text(Algorithm::ES256, current.private_pem() + "\n" + previous.private_pem(), clock_);
  ASSERT_TRUE(ks);
  EXPECT_EQ((*ks)->current().kid(), current.kid());
  EXPECT_EQ(jwks_kids(**ks), (std::set<std::string>{current.kid(), previous.kid()}));
  EXPECT_EQ(KeyStore::from_pem_text(Algorithm::ES256, "no PEM here", clock_).error(), KeyError::Io);
  EXPECT_FALSE(KeyStore::from_pem_text(Algorithm::ES256, "-----BEGIN PRIVATE KEY-----\nAAAA\n", clock_));
}

TEST_F(KeyStoreTest, OnlyTheDirectoryStoreIsRotatableByTheApi) {
  EXPECT_TRUE((*KeyStore::open_or_create(dir_, Algorithm::ES256, clock_))->rotatable());
  EXPECT_FALSE((*KeyStore::from_hmac_secret(std::string(32, 'k'), clock_))->rotatable());
}

TEST_F(KeyStoreTest, StatesFollowTheTimelineAndDroppedKeysLeaveTheDisk) {
  auto ks = std::move(*KeyStore::open_or_create(dir_, Algorithm::ES256, clock_));
  const auto t0 = clock_.now_seconds();
  const auto old_kid = ks->current().kid();
  auto info = ks->rotate(t0, 60, 600);
  ASSERT_TRUE(info);
  auto state_of = [&](const std::string& kid) {
    for (const auto& k : ks->list()) {
      if (k.kid == kid) return std::optional<KeyState>(k.state);
    }
    return std::optional<KeyState>();
  };
  EXPECT_EQ(state_of(info->kid), KeyState::Pending);
  EXPECT_EQ(state_of(old_kid), KeyState::Active);  // still signs until the new key activates
  EXPECT_EQ(ks->verification_keys().size(), 2U);

  clock_.set(t0 + 59);
  ks->tick(clock_.now_seconds());
  EXPECT_EQ(ks->current().kid(), old_kid);
  clock_.set(t0 + 60);
  ks->tick(clock_.now_seconds());
  EXPECT_EQ(state_of(info->kid), KeyState::Active);
  EXPECT_EQ(state_of(old_kid), KeyState::Retired);
  EXPECT_TRUE(fs::exists(dir_ / ("key-" + old_kid + ".pem")));

  clock_.set(t0 + 60 + 600);
  ks->tick(clock_.now_seconds());
  EXPECT_EQ(state_of(old_kid), KeyState::Retired);  // retire_after is inclusive
  clock_.set(t0 + 60 + 601);
  ks->tick(clock_.now_seconds());
  EXPECT_FALSE(state_of(old_kid));
  EXPECT_FALSE(fs::exists(dir_ / ("key-" + old_kid + ".pem")));
  EXPECT_EQ(ks->verification_keys().size(), 1U);
}

TEST_F(KeyStoreTest, ListenerHearsEveryChangeOfThePublishedSet) {
  auto ks = std::move(*KeyStore::open_or_create(dir_, Algorithm::EdDSA, clock_));
  std::vector<std::size_t> sizes;
  ks->on_change([&](std::vector<VerificationKey> keys) { sizes.push_back(keys.size()); });
  ASSERT_TRUE(ks->rotate(clock_.now_seconds(), 0, 10));
  clock_.advance(11);
  ks->tick(clock_.now_seconds());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 2, 1}));
}

TEST_F(KeyStoreTest, DamagedMetadataIsAStartUpErrorNotACrash) {
  ASSERT_TRUE(KeyStore::open_or_create(dir_, Algorithm::ES256, clock_));
  for (const std::string& bad :
       {std::string("not json"), std::string("[]"), std::string(R"({"keys":{}})"),
        std::string(R"({"keys":[{"kid":"../x","alg":"ES256","created_at":1,"activate_at":1}]})"),
        std::string(R"({"keys":[{"kid":"k","alg":"none","created_at":1,"activate_at":1}]})"),
        std::string(R"({"keys":[{"kid":"k","alg":"ES256","created_at":"1","activate_at":1}]})"),
        std::string(R"({"keys":[{"kid":"missing","alg":"ES256","created_at":1,"activate_at":1}]})")}) {
    std::ofstream(dir_ / "keys.json", std::ios::trunc) << bad;
    auto ks = KeyStore::open_or_create(dir_, Algorithm::ES256, clock_);
    ASSERT_FALSE(ks) << bad;
    EXPECT_EQ(ks.error(), KeyError::Io) << bad;
  }
}

TEST_F(KeyStoreTest, ConcurrentSigningDuringRotationAlwaysUsesAPublishedKey) {
  auto ks = std::move(*KeyStore::open_or_create(dir_, Algorithm::ES256, clock_));
  std::atomic<bool> stop{false};
  std::atomic<int> signed_count{0};
  std::thread signer([&] {
    const auto now = clock_.now_seconds();
    while (!stop.load()) {
      (void)sign_jwt(ks->current(), boost::json::object{{"iat", now}, {"exp", now + 60}});
      ++signed_count;
    }
  });
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ks->rotate(clock_.now_seconds(), 0, 60));
  while (signed_count.load() < 10) std::this_thread::yield();
  stop = true;
  signer.join();
  EXPECT_EQ(ks->list().size(), 4U);
}

}  // namespace
}  // namespace permiso::jose
