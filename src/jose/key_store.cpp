// See key_store.hpp.
#include "jose/key_store.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace permiso::jose {
namespace fs = std::filesystem;

namespace {

std::optional<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_private_file(const fs::path& p, std::string_view data) {
  const fs::path tmp = p.string() + ".tmp";
  {
    // Create with 0600 before writing a byte, so the secret is never world-readable.
    const mode_t old = ::umask(077);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ::umask(old);
    if (!out) return false;
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return false;
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
  std::error_code ec;
  fs::rename(tmp, p, ec);
  return !ec;
}

std::string key_file_name(const KeyInfo& info) {
  return "key-" + info.kid + (info.algorithm == Algorithm::HS256 ? ".secret" : ".pem");
}

std::optional<std::int64_t> as_int(const boost::json::value* v) {
  if (v == nullptr || !v->is_int64()) return std::nullopt;
  return v->as_int64();
}

// keys.json: {"keys":[{"kid","alg","created_at","activate_at","retire_after"|null}, ...]}.
std::optional<std::vector<KeyInfo>> parse_metadata(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* keys = v.as_object().if_contains("keys");
  if (keys == nullptr || !keys->is_array()) return std::nullopt;
  std::vector<KeyInfo> out;
  for (const auto& item : keys->as_array()) {
    if (!item.is_object()) return std::nullopt;
    const auto& o = item.as_object();
    const auto* kid = o.if_contains("kid");
    const auto* alg = o.if_contains("alg");
    if (kid == nullptr || !kid->is_string() || alg == nullptr || !alg->is_string()) return std::nullopt;
    // The kid names a file: refuse anything that could leave the directory.
    const std::string_view k = kid->as_string();
    if (k.empty() || k.find_first_of("/\\") != std::string_view::npos || k.starts_with('.')) {
      return std::nullopt;
    }
    KeyInfo info;
    info.kid = std::string(k);
    auto a = algorithm_from_string(alg->as_string());
    auto created = as_int(o.if_contains("created_at"));
    auto activate = as_int(o.if_contains("activate_at"));
    if (!a || !created || !activate) return std::nullopt;
    info.algorithm = *a;
    info.created_at = *created;
    info.activate_at = *activate;
    if (const auto* r = o.if_contains("retire_after"); r != nullptr && !r->is_null()) {
      auto retire = as_int(r);
      if (!retire) return std::nullopt;
      info.retire_after = *retire;
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace

std::string_view to_string(KeyState s) {
  switch (s) {
    case KeyState::Pending:
      return "pending";
    case KeyState::Active:
      return "active";
    case KeyState::Retired:
      return "retired";
  }
  return "unknown";
}

Result<std::unique_ptr<KeyStore>, KeyError> KeyStore::open_or_create(const fs::path& dir, Algorithm alg,
                                                                     const Clock& clock) {
  std::unique_ptr<KeyStore> store(new KeyStore(alg, clock));
  store->dir_ = dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::permissions(dir, fs::perms::owner_all, ec);
  const auto now = clock.now_seconds();

  if (auto meta = read_file(dir / "keys.json")) {
    auto infos = parse_metadata(*meta);
    if (!infos) return KeyError::Io;  // a damaged key directory is a start-up failure, not a reset
    for (const auto& info : *infos) {
      auto material = read_file(dir / key_file_name(info));
      if (!material) return KeyError::Io;
      auto key = info.algorithm == Algorithm::HS256 ? SigningKey::from_hmac_secret(*material)
                                                    : SigningKey::from_pem(info.algorithm, *material);
      if (!key) return key.error();
      store->entries_.push_back({info, key->with_kid(info.kid)});
    }
  }
  std::lock_guard lock(store->mutex_);
  // The configured algorithm decides what signs: a store made for another algorithm gets
  // a new active key, and the old ones retire like any rotation would retire them.
  const bool has_current_alg = std::any_of(store->entries_.begin(), store->entries_.end(), [&](const Entry& e) {
    return e.info.algorithm == alg && !e.info.retire_after;
  });
  if (!has_current_alg) {
    auto key = SigningKey::generate(alg);
    if (!key) return key.error();
    for (auto& e : store->entries_) {
      if (!e.info.retire_after) e.info.retire_after = now + 86400;
    }
    KeyInfo info{key->kid(), alg, KeyState::Active, now, now, std::nullopt};
    store->entries_.push_back({info, *key});
    if (auto r = store->persist_locked(); !r) return r.error();
  }
  store->publish_locked();
  return store;
}

Result<std::unique_ptr<KeyStore>, KeyError> KeyStore::from_hmac_secret(std::string_view secret, const Clock& clock) {
  auto key = SigningKey::from_hmac_secret(secret);
  if (!key) return key.error();
  std::unique_ptr<KeyStore> store(new KeyStore(Algorithm::HS256, clock));
  const auto now = clock.now_seconds();
  std::lock_guard lock(store->mutex_);
  store->entries_.push_back({KeyInfo{key->kid(), Algorithm::HS256, KeyState::Active, now, now, std::nullopt}, *key});
  store->publish_locked();
  return store;
}

Result<std::unique_ptr<KeyStore>, KeyError> KeyStore::from_pem_files(Algorithm alg, const std::vector<fs::path>& files,
                                                                     const Clock& clock) {
  std::vector<std::string> pems;
  for (const auto& file : files) {
    auto pem = read_file(file);
    if (!pem) return KeyError::Io;
    pems.push_back(std::move(*pem));
  }
  return from_pems(alg, pems, clock);
}

Result<std::unique_ptr<KeyStore>, KeyError> KeyStore::from_pem_text(Algorithm alg, std::string_view pem,
                                                                    const Clock& clock) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  std::vector<std::string> pems;
  for (auto at = pem.find(kBegin); at != std::string_view::npos;) {
    const auto next = pem.find(kBegin, at + kBegin.size());
    pems.emplace_back(pem.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at));
    at = next;
  }
  return from_pems(alg, pems, clock);
}

Result<std::unique_ptr<KeyStore>, KeyError> KeyStore::from_pems(Algorithm alg, const std::vector<std::string>& pems,
                                                                const Clock& clock) {
  if (pems.empty()) return KeyError::Io;
  std::unique_ptr<KeyStore> store(new KeyStore(alg, clock));
  const auto now = clock.now_seconds();
  std::lock_guard lock(store->mutex_);
  for (std::size_t i = 0; i < pems.size(); ++i) {
    auto key = SigningKey::from_pem(alg, pems[i]);
    if (!key) return key.error();
    KeyInfo info{key->kid(), alg, KeyState::Active, now, now, std::nullopt};
    // Only the first file signs; the others are still-valid predecessors, published
    // until an operator removes them from the configuration.
    if (i > 0) info.retire_after = INT64_MAX;
    store->entries_.push_back({info, *key});
  }
  store->publish_locked();
  return store;
}

SigningKey KeyStore::current() const {
  return *snapshot_.load()->signing;
}

std::vector<VerificationKey> KeyStore::verification_keys() const {
  return snapshot_.load()->published;
}

boost::json::object KeyStore::jwks() const {
  return snapshot_.load()->jwks;
}

std::vector<KeyInfo> KeyStore::list() const {
  std::lock_guard lock(mutex_);
  std::vector<KeyInfo> out;
  for (const auto& e : entries_) out.push_back(e.info);
  return out;
}

void KeyStore::publish_locked() {
  const auto now = clock_.now_seconds();
  auto snap = std::make_shared<Snapshot>();
  // The signer: the newest key whose activation has come and that is not retired.
  Entry* signer = nullptr;
  boost::json::array keys;
  for (auto& e : entries_) {
    if (e.info.retire_after) {
      e.info.state = KeyState::Retired;
    } else if (e.info.activate_at > now) {
      e.info.state = KeyState::Pending;
    } else {
      e.info.state = KeyState::Active;
      if (signer == nullptr || e.info.activate_at >= signer->info.activate_at) signer = &e;
    }
    snap->published.push_back(e.key);
    if (!e.key.is_symmetric()) keys.push_back(e.key.public_jwk());
  }
  if (signer == nullptr) {
    // Every key is pending or retired (clock skew, or a delay longer than a retirement):
    // keep signing with the newest retired-but-published key rather than failing.
    for (auto& e : entries_) {
      if (e.info.state == KeyState::Retired && (signer == nullptr || e.info.created_at >= signer->info.created_at)) {
        signer = &e;
      }
    }
    if (signer != nullptr) signer->info.state = KeyState::Active;  // it still signs
  }
  if (signer == nullptr && !entries_.empty()) signer = &entries_.front();
  snap->signing = signer->key;
  snap->jwks["keys"] = std::move(keys);
  // Keys that are no longer the signer but still active (an older active one after a
  // promotion) are retired by rotate(); nothing else changes state here.
  snapshot_.store(std::move(snap));
  if (listener_) listener_(snapshot_.load()->published);
}

Result<void, KeyError> KeyStore::persist_locked() const {
  if (!dir_) return {};
  boost::json::array keys;
  for (const auto& e : entries_) {
    const std::string material = e.key.is_symmetric() ? e.key.secret() : e.key.private_pem();
    if (!write_private_file(*dir_ / key_file_name(e.info), material)) return KeyError::Io;
    boost::json::object o;
    o["kid"] = e.info.kid;
    o["alg"] = to_string(e.info.algorithm);
    o["created_at"] = e.info.created_at;
    o["activate_at"] = e.info.activate_at;
    if (e.info.retire_after) {
      o["retire_after"] = *e.info.retire_after;
    } else {
      o["retire_after"] = nullptr;
    }
    keys.push_back(std::move(o));
  }
  boost::json::object meta;
  meta["keys"] = std::move(keys);
  if (!write_private_file(*dir_ / "keys.json", boost::json::serialize(meta))) return KeyError::Io;
  return {};
}

Result<KeyInfo, KeyError> KeyStore::rotate(std::int64_t now, std::int64_t publish_delay_s,
                                           std::int64_t max_token_lifetime_s) {
  auto key = SigningKey::generate(algorithm_);
  if (!key) return key.error();
  std::lock_guard lock(mutex_);
  const std::int64_t activate_at = now + std::max<std::int64_t>(0, publish_delay_s);
  for (auto& e : entries_) {
    if (!e.info.retire_after) {
      // It keeps signing until the new key activates; its tokens live max lifetime more.
      e.info.retire_after = activate_at + max_token_lifetime_s;
      e.info.activate_at = std::min(e.info.activate_at, now);
    }
  }
  KeyInfo info{key->kid(), algorithm_, KeyState::Pending, now, activate_at, std::nullopt};
  entries_.push_back({info, *key});
  if (auto r = persist_locked(); !r) return r.error();
  publish_locked();
  // publish_locked() marks retired keys Retired; until the new key activates, the newest
  // retired key keeps signing (see the fallback there).
  return entries_.back().info;
}

void KeyStore::tick(std::int64_t now) {
  std::lock_guard lock(mutex_);
  bool changed = false;
  const auto before = entries_.size();
  const auto signer_kid = snapshot_.load()->signing->kid();
  std::vector<KeyInfo> dropped;
  std::erase_if(entries_, [&](const Entry& e) {
    // Never the key that signs now, whatever its timestamps say.
    const bool drop = e.info.retire_after && *e.info.retire_after < now && e.info.kid != signer_kid;
    if (drop) dropped.push_back(e.info);
    return drop;
  });
  changed = entries_.size() != before;
  if (dir_) {
    for (const auto& info : dropped) {
      std::error_code ec;
      fs::remove(*dir_ / key_file_name(info), ec);  // a retired private key has no use left
    }
  }
  for (const auto& e : entries_) {
    if (e.info.state == KeyState::Pending && e.info.activate_at <= now) changed = true;
  }
  if (changed) {
    (void)persist_locked();
    publish_locked();
  }
}

void KeyStore::on_change(std::function<void(std::vector<VerificationKey>)> listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
  if (listener_) listener_(snapshot_.load()->published);
}

}  // namespace permiso::jose
