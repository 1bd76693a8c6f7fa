// Every service client with its scopes, held in memory so the token endpoint authenticates
// a client without a database round trip. Reads are lock-free snapshot loads. The clients are
// split into kShards shards by hash of the client id, each its own immutable snapshot: a change
// (rare, admin-driven) copies the one shard that holds the client, one change at a time.
//
// Other replicas converge through the client change feed in storage (client_changes): every
// storage write to a client appends its id in the same transaction, and catch_up() re-reads
// just the ids after its cursor. A full read of every client (reload()) happens at start-up, on
// an "every client" change (a scope renamed or deleted) and when the cursor has fallen behind
// what the feed's purge removed. A change notice ("client:<id>") still refreshes one client at
// once; the feed is what makes a missed notice harmless.
//
// Memory (issue #14): an entry keeps only what the hot paths read (client authentication, the
// client_credentials grant, a service token's check), in one allocation: the secret hashes as
// their 32 bytes, the scope and allowed-IP lists shared by every client with the same ones, the
// id and name in the entry itself; no description, redirect URIs (the authorize endpoint reads
// those from storage), client type or timestamps. A shard is an open-addressing table of entry
// pointers. A full read goes a page at a time, so no vector of every row exists at once.
#pragma once

#include "auth/client_secrets.hpp"
#include "storage/storage.hpp"

#include <boost/smart_ptr/intrusive_ptr.hpp>
#include <boost/smart_ptr/intrusive_ref_counter.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace permiso::auth {

/// A client's scope names and allowed IPs, shared by every cached client that has the same
/// two lists (most clients share them with many others).
struct ClientLists : boost::intrusive_ref_counter<ClientLists, boost::thread_safe_counter> {
  std::vector<std::string> scopes;       // names, as storage orders them
  std::vector<std::string> allowed_ips;  // parsed from the row's JSON array; empty: any
};

/// The row's fields that some hot path reads, under storage::ServiceClient's names.
struct ClientFields {
  std::string_view client_id;  // the text lives in the entry
  std::string_view name;       // no hot path reads it; kept for diagnostics (a few bytes)
  // 32 bits, as the rate limiter counts (a million clients: 12 bytes each is 12 MB).
  std::int32_t access_token_lifetime = 0;   // seconds; the API allows 300 to 86400
  std::uint32_t rate_limit_per_minute = 0;  // 0: unlimited (null or ≤ 0 in storage)
  std::uint32_t rate_limit_per_hour = 0;    // 0: unlimited (null or ≤ 0 in storage)
  SecretHash secret_hash;
  bool is_active = true;
  bool is_trusted = false;
};

/// A rotated-out secret, accepted until `expires_at`.
struct PreviousSecret {
  std::int64_t expires_at = 0;
  SecretHash hash;
};

/// One cached client: immutable, reference-counted, one allocation (its strings and any
/// previous secret follow it in the same block).
class CachedClient {
 public:
  using Ptr = boost::intrusive_ptr<const CachedClient>;

  ClientFields client;
  [[nodiscard]] const std::vector<std::string>& scopes() const { return lists_->scopes; }            // names
  [[nodiscard]] const std::vector<std::string>& allowed_ips() const { return lists_->allowed_ips; }  // empty: any

  /// The entry for `row` with `lists` (shared with other entries, or its own).
  static Ptr make(const storage::ServiceClient& row, boost::intrusive_ptr<const ClientLists> lists);
  /// The entry for `row` with these scope names and its own lists (tests, tools).
  static Ptr make(const storage::ServiceClient& row, std::vector<std::string> scopes);

  /// The previous secret while one is recorded with its end (expired or not), else nullptr.
  [[nodiscard]] const PreviousSecret* previous_secret() const;
  /// Whether `secret` is the client's secret, or its previous one before that expires at `now`.
  [[nodiscard]] bool accepts_secret(const ClientSecrets& secrets, std::string_view secret, std::int64_t now) const;
  /// Whether a request from `ip` may use this client (no list: any address).
  [[nodiscard]] bool allows_ip(std::string_view ip) const;
  /// Whether make(row, lists) would build this very entry: a full read then keeps it.
  [[nodiscard]] bool matches(const storage::ServiceClient& row,
                             const boost::intrusive_ptr<const ClientLists>& lists) const;

  CachedClient(const CachedClient&) = delete;
  CachedClient& operator=(const CachedClient&) = delete;
  CachedClient(CachedClient&&) = delete;
  CachedClient& operator=(CachedClient&&) = delete;
  ~CachedClient() = default;

 private:
  CachedClient(boost::intrusive_ptr<const ClientLists> lists);
  friend void intrusive_ptr_add_ref(const CachedClient* c) noexcept {
    c->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  friend void intrusive_ptr_release(const CachedClient* c) noexcept;

  mutable std::atomic<std::uint32_t> refs_{0};
  bool has_previous_ = false;  // a PreviousSecret starts the block's tail
  boost::intrusive_ptr<const ClientLists> lists_;
};

class ClientCache {
 public:
  /// A client as find() hands it out: it stays valid for its holder after a change replaces it.
  using Entry = CachedClient::Ptr;

  /// Shards of the map; a single-client change copies about 1/kShards of the clients.
  static constexpr std::size_t kShards = 64;
  /// Changes read from the feed per storage round trip.
  static constexpr std::int64_t kFeedPage = 1000;
  /// Clients read per storage round trip in a full read.
  static constexpr std::int64_t kReloadPage = 2000;

  /// `reload_page`: clients per page of a full read (tests use small pages).
  explicit ClientCache(std::int64_t reload_page = kReloadPage);
  ~ClientCache();
  ClientCache(const ClientCache&) = delete;
  ClientCache& operator=(const ClientCache&) = delete;
  ClientCache(ClientCache&&) = delete;
  ClientCache& operator=(ClientCache&&) = delete;

  /// Loads every client from storage, a page at a time, replacing every shard, and sets the
  /// feed cursor to the newest change seq read *before* the first page: a change committing in
  /// between (even between two pages) is applied again by the next catch_up (harmless), never
  /// skipped.
  storage::StorageStatus reload(storage::ClientReader& storage);
  /// Applies the client change feed after the cursor, a page at a time: refreshes each changed
  /// id (dropping it when storage no longer has it). A full reload instead when the cache was
  /// never loaded, on an "every client" change, or when the feed's purge removed changes the
  /// cursor had not reached. On a failure the cursor stays where it was (re-applying is safe).
  storage::StorageStatus catch_up(storage::ClientReader& storage);
  /// Hot path: no lock, no allocation. Counts a hit or a miss (one relaxed atomic add).
  [[nodiscard]] Entry find(std::string_view client_id) const;
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
  /// Distinct (scopes, allowed IPs) lists the clients hold.
  [[nodiscard]] std::size_t shared_lists();
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
  class Table;     // one shard's snapshot: an open-addressing table of entries
  class ListPool;  // the shared lists, under write_mutex_

  static storage::StorageResult<std::optional<storage::ClientWithScopes>> read_row(storage::ClientReader& storage,
                                                                                   std::string_view client_id);
  /// Under write_mutex_: the entry for a row, its lists shared through the pool.
  Entry make_entry_locked(const storage::ServiceClient& row, std::vector<std::string> scopes);
  /// Under write_mutex_: the current entry when it matches the row, else a new one.
  Entry reuse_or_make_locked(const storage::ServiceClient& row, std::vector<std::string> scopes);
  /// Under write_mutex_: publishes `table` as the snapshot of `shard`.
  void publish_locked(std::size_t shard, std::shared_ptr<const Table> table);
  void erase_locked(std::string_view client_id);
  /// Under feed_mutex_.
  storage::StorageStatus reload_locked(storage::ClientReader& storage);
  /// Under feed_mutex_: the changes of one page applied; false when a full reload is due.
  storage::StorageResult<bool> apply_changes_locked(storage::ClientReader& storage,
                                                    const std::vector<storage::ClientChange>& changes);

  const std::int64_t reload_page_;
  std::array<std::atomic<std::shared_ptr<const Table>>, kShards> shards_;
  // Held across the storage read as well as the copy-on-write: a reload or refresh that read
  // storage before a change committed must not store its stale view after the change's own
  // refresh (the last refresh to store is then always the last to have read).
  std::mutex write_mutex_;
  std::unique_ptr<ListPool> lists_;           // under write_mutex_
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
