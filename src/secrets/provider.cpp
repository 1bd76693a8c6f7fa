// See provider.hpp.
#include "secrets/provider.hpp"

#include "http/client.hpp"
#include "secrets/fernet.hpp"
#include "secrets/remote.hpp"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <iterator>

namespace permiso::secrets {
namespace {

constexpr std::size_t kMaxSecretFile = 64 * 1024;

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// A value given two ways at once is a mistake the operator must resolve, not a guess.
SecretError both_set(std::string_view name, std::string_view suffix) {
  return {std::string(name) + std::string(suffix),
          "set " + std::string(name) + " or " + std::string(name) + std::string(suffix) + ", not both"};
}

class EnvSecrets final : public SecretProvider {
 public:
  explicit EnvSecrets(EnvLookup env) : env_(std::move(env)) {}
  [[nodiscard]] std::string_view kind() const override { return "env"; }
  [[nodiscard]] SecretValue get(std::string_view name) const override { return env_(name); }

 private:
  EnvLookup env_;
};

class FileSecrets final : public SecretProvider {
 public:
  explicit FileSecrets(EnvLookup env) : env_(std::move(env)) {}
  [[nodiscard]] std::string_view kind() const override { return "file"; }
  [[nodiscard]] SecretValue get(std::string_view name) const override {
    const std::string field = std::string(name) + "_FILE";
    auto path = env_(field);
    if (!path || path->empty()) return env_(name);
    if (env_(name)) return both_set(name, "_FILE");
    return read_secret_file(*path, field);
  }

 private:
  EnvLookup env_;
};

class EncryptedSecrets final : public SecretProvider {
 public:
  EncryptedSecrets(EnvLookup env, FernetKey key) : env_(std::move(env)), key_(std::move(key)) {}
  [[nodiscard]] std::string_view kind() const override { return "encrypted"; }
  [[nodiscard]] SecretValue get(std::string_view name) const override {
    const std::string field = std::string(name) + "_ENCRYPTED";
    auto token = env_(field);
    if (!token || token->empty()) return env_(name);
    if (env_(name)) return both_set(name, "_ENCRYPTED");
    auto plain = key_.decrypt(*token, now_seconds());
    if (!plain) {
      return SecretError{field, "cannot decrypt with ENCRYPTION_KEY: " + std::string(to_string(plain.error()))};
    }
    return std::optional<std::string>(std::move(*plain));
  }

 private:
  EnvLookup env_;
  FernetKey key_;
};

}  // namespace

std::string url_encoded(std::string_view secret) {
  return http::form_encode(secret);
}

SecretValue read_secret_file(const std::string& path, std::string_view field) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return SecretError{std::string(field), "cannot read " + path};
  if (!S_ISREG(st.st_mode)) return SecretError{std::string(field), path + " is not a regular file"};
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return SecretError{std::string(field), path + " is writable by other users (chmod go-w)"};
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxSecretFile) {
    return SecretError{std::string(field), path + " is larger than 64 KiB"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return SecretError{std::string(field), "cannot read " + path};
  std::string value((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (value.ends_with("\r\n")) {
    value.resize(value.size() - 2);
  } else if (value.ends_with('\n')) {
    value.pop_back();
  }
  return std::optional<std::string>(std::move(value));
}

Result<std::unique_ptr<SecretProvider>, SecretError> make_provider(const EnvLookup& env) {
  const std::string kind = env("SECRETS_PROVIDER").value_or("");
  if (kind.empty() || kind == "env") return std::unique_ptr<SecretProvider>(std::make_unique<EnvSecrets>(env));
  if (kind == "file") return std::unique_ptr<SecretProvider>(std::make_unique<FileSecrets>(env));
  if (kind == "encrypted") {
    auto text = env("ENCRYPTION_KEY");
    if (!text || text->empty()) return SecretError{"ENCRYPTION_KEY", "SECRETS_PROVIDER=encrypted needs it"};
    auto key = FernetKey::parse(*text);
    OPENSSL_cleanse(text->data(), text->size());
    if (!key) return SecretError{"ENCRYPTION_KEY", std::string(to_string(key.error()))};
    return std::unique_ptr<SecretProvider>(std::make_unique<EncryptedSecrets>(env, std::move(*key)));
  }
  if (kind == "aws") return make_aws_provider(env);
  if (kind == "azure") return make_azure_provider(env);
  return SecretError{"SECRETS_PROVIDER", "must be env, file, encrypted, aws or azure, got '" + kind + "'"};
}

}  // namespace permiso::secrets
