// A bounded cache of verified tokens, so a busy client does not pay a signature check per
// request. Keyed by the token's SHA-256 (collision resistant: a forged token cannot land on
// another's entry; the token itself is not kept). An entry lives until the token expires,
// until revocation evicts it, or until capacity pushes it out. Sharded: a lookup takes one
// shared lock on one of 32 shards.
#pragma once

#include "resource/principal.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace permiso::resource {

class TokenCache {
 public:
  /// At most `capacity` entries in total (0: caching off).
  explicit TokenCache(std::size_t capacity);

  /// The cache key of a token (32 raw bytes).
  [[nodiscard]] static std::string key_of(std::string_view token);

  /// The principal while `now` <= the entry's valid_until; null when absent or past it.
  [[nodiscard]] std::shared_ptr<const Principal> find(const std::string& key, std::int64_t now) const;
  void insert(const std::string& key, std::shared_ptr<const Principal> principal, std::int64_t valid_until,
              std::int64_t now);
  /// Removes every entry whose principal matches; returns how many.
  std::size_t evict_if(const std::function<bool(const Principal&)>& match);
  /// Removes entries past their validity; returns how many.
  std::size_t purge(std::int64_t now);

  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] std::uint64_t hits() const;
  [[nodiscard]] std::uint64_t misses() const;

 private:
  struct KeyHash {
    // The key is already a uniform digest: its first bytes are the hash.
    std::size_t operator()(const std::string& k) const {
      std::size_t h = 0;
      std::memcpy(&h, k.data(), std::min(sizeof h, k.size()));
      return h;
    }
  };
  struct Entry {
    std::shared_ptr<const Principal> principal;
    std::int64_t valid_until = 0;
  };
  static constexpr std::size_t kShards = 32;
  struct alignas(64) Shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string, Entry, KeyHash> entries;
    std::int64_t last_sweep = 0;
    // Per shard, so the hot path never bounces one counter between cores.
    mutable std::atomic<std::uint64_t> hits{0};
    mutable std::atomic<std::uint64_t> misses{0};
  };
  static std::size_t shard_index(const std::string& key) {
    return key.size() > 8 ? static_cast<unsigned char>(key[8]) % kShards : 0;
  }

  std::size_t per_shard_capacity_;
  std::array<Shard, kShards> shards_;
};

}  // namespace permiso::resource
