// Every service client with its scopes, held in memory so the token endpoint authenticates
// a client without a database round trip. Reads are lock-free snapshot loads; changes
// (rare, admin-driven) copy the map. Other replicas converge by reload().
#pragma once

#include "storage/storage.hpp"

#include <atomic>
#include <memory>
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
  storage::StorageStatus reload(storage::Storage& storage);
  /// Hot path: no lock, no allocation.
  [[nodiscard]] std::shared_ptr<const CachedClient> find(std::string_view client_id) const;
  /// Re-reads one client (after a change); drops it when storage no longer has it.
  storage::StorageStatus refresh(storage::Storage& storage, std::string_view client_id);
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
  void update(const std::function<void(Map&)>& change);

  std::atomic<std::shared_ptr<const Map>> snapshot_{std::make_shared<const Map>()};
  std::mutex write_mutex_;  // serialises copy-on-write updates
  mutable std::mutex missing_mutex_;
  std::unordered_map<std::string, std::int64_t, Hash, std::equal_to<>> missing_;  // id -> until
};

}  // namespace permiso::auth
