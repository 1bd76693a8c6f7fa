// The secrets providers: env, file (NAME_FILE with its checks), encrypted (NAME_ENCRYPTED),
// and that no error message carries a value.
#include "secrets/provider.hpp"

#include "secrets/fernet.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace permiso::secrets {
namespace {
namespace fs = std::filesystem;

class ProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("permiso-secrets-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  EnvLookup env() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = vars_.find(std::string(name));
      if (it == vars_.end()) return std::nullopt;
      return it->second;
    };
  }
  std::unique_ptr<SecretProvider> provider() {
    auto p = make_provider(env());
    EXPECT_TRUE(p) << (p ? "" : p.error().field + ": " + p.error().reason);
    return p ? std::move(*p) : nullptr;
  }
  std::string write(const std::string& name, const std::string& content, fs::perms perms = fs::perms::owner_read) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    fs::permissions(path, perms);
    return path.string();
  }
  static std::int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  fs::path dir_;
  std::map<std::string, std::string> vars_;
};

TEST_F(ProviderTest, EnvIsTheDefaultAndReadsTheVariable) {
  vars_["JWT_SECRET_KEY"] = "from-the-environment";
  auto p = provider();
  EXPECT_EQ(p->kind(), "env");
  EXPECT_EQ(p->get("JWT_SECRET_KEY").value(), "from-the-environment");
  EXPECT_FALSE(p->get("REDIS_PASSWORD").value());
}

TEST_F(ProviderTest, FileReadsNameFileAndDropsOneTrailingNewline) {
  vars_["SECRETS_PROVIDER"] = "file";
  vars_["POSTGRES_PASSWORD_FILE"] = write("pg", "s3cret\n");
  vars_["REDIS_PASSWORD_FILE"] = write("redis", "two\r\n\n");
  vars_["MT5_PASSWORD"] = "plain";  // no _FILE: the environment
  auto p = provider();
  EXPECT_EQ(p->kind(), "file");
  EXPECT_EQ(p->get("POSTGRES_PASSWORD").value(), "s3cret");
  EXPECT_EQ(p->get("REDIS_PASSWORD").value(), "two\r\n");
  EXPECT_EQ(p->get("MT5_PASSWORD").value(), "plain");
  EXPECT_FALSE(p->get("JWT_SECRET_KEY").value());
}

TEST_F(ProviderTest, FileRefusesFilesOthersCanWriteMissingFilesAndDirectories) {
  vars_["SECRETS_PROVIDER"] = "file";
  vars_["A_FILE"] = write("a", "value-a", fs::perms::owner_read | fs::perms::others_write);
  vars_["B_FILE"] = (dir_ / "missing").string();
  vars_["C_FILE"] = dir_.string();
  vars_["D_FILE"] = write("d", std::string(64 * 1024 + 1, 'x'));
  auto p = provider();
  for (const char* name : {"A", "B", "C", "D"}) {
    auto v = p->get(name);
    ASSERT_FALSE(v) << name;
    EXPECT_EQ(v.error().field, std::string(name) + "_FILE");
    EXPECT_EQ(v.error().reason.find("value-a"), std::string::npos);
  }
  EXPECT_NE(p->get("A").error().reason.find("writable by other users"), std::string::npos);
}

TEST_F(ProviderTest, AValueGivenTwoWaysIsAnError) {
  vars_["SECRETS_PROVIDER"] = "file";
  vars_["JWT_SECRET_KEY"] = "one";
  vars_["JWT_SECRET_KEY_FILE"] = write("jwt", "two");
  auto v = provider()->get("JWT_SECRET_KEY");
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().field, "JWT_SECRET_KEY_FILE");
}

TEST_F(ProviderTest, EncryptedDecryptsNameEncryptedWithTheKey) {
  const auto key = FernetKey::generate();
  vars_["SECRETS_PROVIDER"] = "encrypted";
  vars_["ENCRYPTION_KEY"] = key.encoded();
  vars_["POSTGRES_PASSWORD_ENCRYPTED"] = key.encrypt("pg-secret", now());
  vars_["LOG_LEVEL"] = "INFO";
  auto p = provider();
  EXPECT_EQ(p->kind(), "encrypted");
  EXPECT_EQ(p->get("POSTGRES_PASSWORD").value(), "pg-secret");
  EXPECT_EQ(p->get("LOG_LEVEL").value(), "INFO");
}

TEST_F(ProviderTest, EncryptedRefusesAnotherKeysTokenAndAMissingKey) {
  vars_["SECRETS_PROVIDER"] = "encrypted";
  auto missing = make_provider(env());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().field, "ENCRYPTION_KEY");
  vars_["ENCRYPTION_KEY"] = "not-a-key";
  ASSERT_FALSE(make_provider(env()));

  vars_["ENCRYPTION_KEY"] = FernetKey::generate().encoded();
  vars_["JWT_SECRET_KEY_ENCRYPTED"] = FernetKey::generate().encrypt("the-value", now());
  auto v = provider()->get("JWT_SECRET_KEY");
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().field, "JWT_SECRET_KEY_ENCRYPTED");
  EXPECT_NE(v.error().reason.find("signature"), std::string::npos);
}

TEST_F(ProviderTest, UnknownProviderIsNamed) {
  vars_["SECRETS_PROVIDER"] = "vault";
  auto p = make_provider(env());
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().field, "SECRETS_PROVIDER");
}

}  // namespace
}  // namespace permiso::secrets
