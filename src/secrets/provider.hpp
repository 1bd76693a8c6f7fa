// Where secrets come from: one interface, chosen by SECRETS_PROVIDER, asked for every secret
// either service reads (signing keys, the pepper, database and Redis passwords, client
// secrets, the broker password). The seed's SecretsManager, with its providers:
//
//   env        NAME from the environment (the default).
//   file       NAME_FILE names a file holding the value (Docker and Kubernetes secrets); the
//              file must be a regular file no other user can write. Else NAME.
//   encrypted  NAME_ENCRYPTED holds a Fernet token made with ENCRYPTION_KEY (`permiso-auth
//              secrets encrypt`). Else NAME.
//   aws, azure AWS Secrets Manager, Azure Key Vault (secrets/remote.hpp). Else NAME.
//
// A value never appears in an error: errors name the secret and say what is wrong with it.
#pragma once

#include "common/result.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace permiso::secrets {

/// Reads one environment variable (the process environment, or a map in tests).
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

struct SecretError {
  std::string field;   // the variable to fix: NAME_FILE, NAME_ENCRYPTED, ENCRYPTION_KEY, …
  std::string reason;  // never the value
};
[[noreturn]] inline void throw_exception_from_error(const SecretError& e, const boost::source_location&) {
  throw ::permiso::BadResultAccess("secret " + e.field + ": " + e.reason);
}

/// A secret's value, or nullopt when it is not set anywhere the provider looks.
using SecretValue = Result<std::optional<std::string>, SecretError>;

class SecretProvider {
 public:
  virtual ~SecretProvider() = default;
  /// "env", "file", "encrypted", "aws" or "azure".
  [[nodiscard]] virtual std::string_view kind() const = 0;
  /// The current value of secret `name` (read again on every call: callers cache).
  [[nodiscard]] virtual SecretValue get(std::string_view name) const = 0;
};

/// The provider SECRETS_PROVIDER names (default env), configured from `env`.
Result<std::unique_ptr<SecretProvider>, SecretError> make_provider(const EnvLookup& env);

/// A secret made safe inside a URL's userinfo (RFC 3986 percent-encoding of all but the
/// unreserved characters): the URL templates put passwords there.
std::string url_encoded(std::string_view secret);

/// Reads a secret file: regular, at most 64 KiB, writable by its owner only; one trailing
/// newline ("\n" or "\r\n") dropped, as `echo value > file` leaves one.
SecretValue read_secret_file(const std::string& path, std::string_view field);

}  // namespace permiso::secrets
