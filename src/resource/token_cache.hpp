// A bounded cache of verified tokens, so a busy client does not pay a signature check per
// request. Keyed by the token's SHA-256 (collision resistant: a forged token cannot land on
// another's entry; the token itself is not kept). An entry lives until the token expires,
// until revocation evicts it, or until capacity pushes it out. Sharded: a lookup takes one
// shared lock on one of 32 shards.
#pragma once

#include "resource/principal.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

namespace permiso::resource {

class TokenCache {
 public:
  /// At most `capacity` entries in total (0: caching off).
  explicit TokenCache(std::size_t capacity);

  /// A token's SHA-256, held by value: neither making a key nor storing one allocates.
  using Key = std::array<unsigned char, 32>;

  /// The cache key of a token.
  [[nodiscard]] static Key key_of(std::string_view token);

  /// The principal while `now` <= the entry's valid_until; null when absent or past it.
  [[nodiscard]] std::shared_ptr<const Principal> find(const Key& key, std::int64_t now) const;
  void insert(const Key& key, std::shared_ptr<const Principal> principal, std::int64_t valid_until, std::int64_t now);
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
    std::size_t operator()(const Key& k) const {
      std::size_t h = 0;
      std::memcpy(&h, k.data(), sizeof h);
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
    std::unordered_map<Key, Entry, KeyHash> entries;
    std::int64_t last_sweep = 0;
    // Per shard, so the hot path never bounces one counter between cores.
    mutable std::atomic<std::uint64_t> hits{0};
    mutable std::atomic<std::uint64_t> misses{0};
  };
  // Bytes the bucket hash does not use.
  static std::size_t shard_index(const Key& key) { return key[8] % kShards; }

  std::size_t per_shard_capacity_;
  std::array<Shard, kShards> shards_;
};

}  // namespace permiso::resource
