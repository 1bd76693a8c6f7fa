// Every service client with its scopes, held in memory so the token endpoint authenticates
// a client without a database round trip. Reads are lock-free snapshot loads; changes
// (rare, admin-driven) copy the map, one at a time. Other replicas converge by reload() and by
// refresh() on a change notice.
#pragma once

#include "storage/storage.hpp"

#include <atomic>
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
  /// Loads every client from storage, replacing the snapshot.
  storage::StorageStatus reload(storage::ClientReader& storage);
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
  void update_locked(const std::function<void(Map&)>& change);
  void erase_locked(std::string_view client_id);

  std::atomic<std::shared_ptr<const Map>> snapshot_{std::make_shared<const Map>()};
  // Held across the storage read as well as the copy-on-write: a reload or refresh that read
  // storage before a change committed must not store its stale view after the change's own
  // refresh (the last refresh to store is then always the last to have read).
  std::mutex write_mutex_;
  std::atomic<std::uint64_t> generation_{0};  // bumped by every write, under write_mutex_
  mutable std::mutex missing_mutex_;
  std::unordered_map<std::string, std::int64_t, Hash, std::equal_to<>> missing_;  // id -> until
  mutable std::atomic<std::uint64_t> hits_{0};
  mutable std::atomic<std::uint64_t> misses_{0};
};

}  // namespace permiso::auth
