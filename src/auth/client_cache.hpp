// Every service client with its scopes, held in memory so the token endpoint authenticates
// a client without a database round trip. Reads are lock-free snapshot loads. The map is split
// into kShards shards by hash of the client id, each its own immutable snapshot: a change
// (rare, admin-driven) copies the one shard that holds the client, one change at a time.
//
// Other replicas converge through the client change feed in storage (client_changes): every
// storage write to a client appends its id in the same transaction, and catch_up() re-reads
// just the ids after its cursor. A full read of every client (reload()) happens at start-up, on
// an "every client" change (a scope renamed or deleted) and when the cursor has fallen behind
// what the feed's purge removed. A change notice ("client:<id>") still refreshes one client at
// once; the feed is what makes a missed notice harmless.
#pragma once

#include "storage/storage.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace permiso::auth {

struct CachedClient {
  storage::ServiceClient client;
  std::vector<std::string> scopes;       // names
  std::vector<std::string> allowed_ips;  // parsed from client.allowed_ips; empty: any
};

class ClientCache {
 public:
  /// Shards of the map; a single-client change copies about 1/kShards of the clients.
  static constexpr std::size_t kShards = 64;
  /// Changes read from the feed per storage round trip.
  static constexpr std::int64_t kFeedPage = 1000;

  ClientCache();

  /// Loads every client from storage, replacing every shard, and sets the feed cursor to the
  /// newest change seq read *before* the full read: a change committing in between is applied
  /// again by the next catch_up (harmless), never skipped.
  storage::StorageStatus reload(storage::ClientReader& storage);
  /// Applies the client change feed after the cursor, a page at a time: refreshes each changed
  /// id (dropping it when storage no longer has it). A full reload instead when the cache was
  /// never loaded, on an "every client" change, or when the feed's purge removed changes the
  /// cursor had not reached. On a failure the cursor stays where it was (re-applying is safe).
  storage::StorageStatus catch_up(storage::ClientReader& storage);
  /// Hot path: no lock, no allocation. Counts a hit or a miss (one relaxed atomic add).
  [[nodiscard]] std::shared_ptr<const CachedClient> find(std::string_view client_id) const;
  /// The same question without counting it: a check before the lookup that will count.
  [[nodiscard]] bool contains(std::string_view client_id) const;
  /// find() calls that found the client in memory, and those that did not.
  [[nodiscard]] std::uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  /// Re-reads one client (after a change); drops it when storage no longer has it.
  storage::StorageStatus refresh(storage::ClientReader& storage, std::string_view client_id);
  /// On the request path, for an id the cache lacks: reads it without waiting for a reload or
  /// a change in progress, and keeps what it read only if nothing was written meanwhile (else
  /// the writer's view stands). False when storage has no such client.
  storage::StorageResult<bool> load_missing(storage::ClientReader& storage, std::string_view client_id);
  void erase(std::string_view client_id);
  [[nodiscard]] std::size_t size() const;

  /// The last feed seq applied (0 before the first reload).
  [[nodiscard]] std::int64_t feed_cursor() const { return cursor_.load(std::memory_order_relaxed); }
  /// Full reads of every client so far (start-up included).
  [[nodiscard]] std::uint64_t full_reloads() const { return full_reloads_.load(std::memory_order_relaxed); }
  /// Which shard holds `client_id`.
  [[nodiscard]] static std::size_t shard_of(std::string_view client_id);
  /// The current snapshot of one shard, as an identity: a change replaces the snapshot of its
  /// own shard only (for tests and diagnostics).
  [[nodiscard]] std::shared_ptr<const void> shard_snapshot(std::size_t shard) const;

  /// Negative cache for ids storage did not know recently, so a flood of unknown client ids
  /// cannot turn into a flood of database lookups. Bounded; entries live `ttl_s`.
  [[nodiscard]] bool recently_missing(std::string_view client_id, std::int64_t now) const;
  void mark_missing(std::string_view client_id, std::int64_t now, std::int64_t ttl_s = 5);

  /// The strings of a JSON array column (allowed IPs, redirect URIs); other items are skipped
  /// and malformed text gives none.
  static std::vector<std::string> json_strings(std::string_view json_array);

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::shared_ptr<const CachedClient>, Hash, std::equal_to<>>;
  static storage::StorageResult<std::shared_ptr<const CachedClient>> read_entry(storage::ClientReader& storage,
                                                                                std::string_view client_id);
  [[nodiscard]] const std::atomic<std::shared_ptr<const Map>>& shard(std::string_view client_id) const;
  /// Copies the shard holding `client_id`, applies `change` to the copy and publishes it.
  void update_locked(std::string_view client_id, const std::function<void(Map&)>& change);
  void erase_locked(std::string_view client_id);
  /// Under feed_mutex_.
  storage::StorageStatus reload_locked(storage::ClientReader& storage);
  /// Under feed_mutex_: the changes of one page applied; false when a full reload is due.
  storage::StorageResult<bool> apply_changes_locked(storage::ClientReader& storage,
                                                    const std::vector<storage::ClientChange>& changes);

  std::array<std::atomic<std::shared_ptr<const Map>>, kShards> shards_;
  // Held across the storage read as well as the copy-on-write: a reload or refresh that read
  // storage before a change committed must not store its stale view after the change's own
  // refresh (the last refresh to store is then always the last to have read).
  std::mutex write_mutex_;
  std::atomic<std::uint64_t> generation_{0};  // bumped by every write, under write_mutex_
  // Serialises reload and catch_up (the maintenance thread and the change-notice thread both
  // run them) and guards the cursor's meaning: taken before write_mutex_, never after.
  std::mutex feed_mutex_;
  bool loaded_ = false;                  // under feed_mutex_: a reload has succeeded
  std::atomic<std::int64_t> cursor_{0};  // written under feed_mutex_
  std::atomic<std::uint64_t> full_reloads_{0};
  mutable std::mutex missing_mutex_;
  std::unordered_map<std::string, std::int64_t, Hash, std::equal_to<>> missing_;  // id -> until
  mutable std::atomic<std::uint64_t> hits_{0};
  mutable std::atomic<std::uint64_t> misses_{0};
};

}  // namespace permiso::auth
