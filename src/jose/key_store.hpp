// The signing keys of a running authorization server, with rotation by overlapping validity:
// a new key is published (pending) before it signs, and a retired key stays published until
// the last token it signed has expired. Signing reads one immutable snapshot, lock-free.
#pragma once

#include "common/clock.hpp"
#include "common/result.hpp"
#include "jose/key.hpp"

#include <boost/json/object.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace permiso::jose {

enum class KeyState { Pending, Active, Retired };
std::string_view to_string(KeyState s);

struct KeyInfo {
  std::string kid;
  Algorithm algorithm = Algorithm::HS256;
  KeyState state = KeyState::Active;
  std::int64_t created_at = 0;
  std::int64_t activate_at = 0;              // when it signs (Pending until then)
  std::optional<std::int64_t> retire_after;  // dropped from the JWKS after this
};

class KeyStore {
 public:
  /// Development keys: loads the key set persisted under `dir`, or generates one
  /// (files mode 0600 in a 0700 directory). A changed algorithm adds a new active key.
  static Result<std::unique_ptr<KeyStore>, KeyError> open_or_create(const std::filesystem::path& dir, Algorithm alg,
                                                                    const Clock& clock);
  /// A shared HS256 secret (JWT_SECRET_KEY): the same key on every replica and restart.
  static Result<std::unique_ptr<KeyStore>, KeyError> from_hmac_secret(std::string_view secret, const Clock& clock);
  /// PEM private keys (staging/production); the first signs, the others stay published.
  static Result<std::unique_ptr<KeyStore>, KeyError> from_pem_files(Algorithm alg,
                                                                    const std::vector<std::filesystem::path>& files,
                                                                    const Clock& clock);
  /// The same from PEM text (JWT_PRIVATE_KEY from a secret store): every PEM block a key,
  /// the first signing.
  static Result<std::unique_ptr<KeyStore>, KeyError> from_pem_text(Algorithm alg, std::string_view pem,
                                                                   const Clock& clock);

  /// The key that signs now. Hot path: an atomic snapshot load, no lock.
  [[nodiscard]] SigningKey current() const;
  [[nodiscard]] Algorithm algorithm() const { return algorithm_; }
  /// Every published key, pending ones included (verifiers must accept them once active).
  [[nodiscard]] std::vector<VerificationKey> verification_keys() const;
  /// RFC 7517 JWK Set of the published asymmetric keys.
  [[nodiscard]] boost::json::object jwks() const;
  [[nodiscard]] std::vector<KeyInfo> list() const;

  /// Adds a key that starts signing at now + publish_delay_s; the active key then retires
  /// and stays published until that moment + max_token_lifetime_s. Persisted when the
  /// store has a directory.
  Result<KeyInfo, KeyError> rotate(std::int64_t now, std::int64_t publish_delay_s, std::int64_t max_token_lifetime_s);
  /// Whether rotate() may generate keys here: only a store persisted in a directory (the
  /// development store). Keys from files or a shared secret are rotated by configuration,
  /// or replicas and verifiers would disagree about the key set.
  [[nodiscard]] bool rotatable() const { return dir_.has_value(); }

  /// Promotes due pending keys, drops retired keys past retire_after. Cheap when nothing is due.
  void tick(std::int64_t now);

  /// Called with the new verification keys whenever the published set changes.
  void on_change(std::function<void(std::vector<VerificationKey>)> listener);

 private:
  static Result<std::unique_ptr<KeyStore>, KeyError> from_pems(Algorithm alg, const std::vector<std::string>& pems,
                                                               const Clock& clock);
  struct Entry {
    KeyInfo info;
    SigningKey key;
  };
  struct Snapshot {
    std::optional<SigningKey> signing;
    std::vector<VerificationKey> published;
    boost::json::object jwks;
  };

  KeyStore(Algorithm alg, const Clock& clock) : algorithm_(alg), clock_(clock) {}
  void publish_locked();  // rebuilds the snapshot from entries_; mutex_ held
  Result<void, KeyError> persist_locked() const;

  Algorithm algorithm_;
  const Clock& clock_;
  std::optional<std::filesystem::path> dir_;
  mutable std::mutex mutex_;  // guards entries_ (rotation, ticks); never taken to sign
  std::vector<Entry> entries_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::function<void(std::vector<VerificationKey>)> listener_;
};

}  // namespace permiso::jose
