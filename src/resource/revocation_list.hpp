// The in-memory set of revoked access tokens (by jti) and ended sessions (by sid) that every
// verifier consults: permiso-auth's own, and resource servers filled from its revocation
// feed. Verification never asks a database.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace permiso::resource {

class RevocationList {
 public:
  enum class Kind { Token, Session };

  /// Remembers a revocation until `expires_at` (after which the token would be refused
  /// anyway). Idempotent; true when the entry is new.
  bool add(Kind kind, std::string_view id, std::int64_t expires_at);
  /// Hot path: no allocation, one shared lock on one shard (none while the list is empty).
  [[nodiscard]] bool contains(Kind kind, std::string_view id) const;
  /// True when the token's jti or its session was revoked.
  [[nodiscard]] bool is_revoked(std::string_view jti, std::string_view sid) const;
  /// Drops entries whose tokens have expired by `now`; returns how many.
  std::size_t purge(std::int64_t now);
  [[nodiscard]] std::size_t size() const;

  /// The feed cursor this list has applied up to (monotonic).
  [[nodiscard]] std::uint64_t cursor() const;
  void advance_cursor(std::uint64_t seq);

  /// Storage key of a revocation: one table holds both kinds, told apart by prefix.
  static std::string storage_key(Kind kind, std::string_view id);
  /// Inverse of storage_key; false for a key of neither kind.
  static bool parse_storage_key(std::string_view key, Kind& kind, std::string& id);

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::int64_t, Hash, std::equal_to<>>;  // id -> expires_at
  // Sharded so that the verification hot path (shared locks on one shard) rarely contends
  // with the feed writer.
  static constexpr std::size_t kShards = 16;
  struct Shard {
    mutable std::shared_mutex mutex;
    Map tokens;
    Map sessions;
  };
  static std::size_t shard_index(std::string_view id) { return Hash{}(id) % kShards; }

  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> size_{0};
  std::atomic<std::uint64_t> cursor_{0};
};

}  // namespace permiso::resource
