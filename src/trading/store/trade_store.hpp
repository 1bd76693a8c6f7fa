// mt5-api's durable store: accounts (with the principal → login binding), positions, orders,
// deals, idempotency records and the ticket sequence, on SQLite or PostgreSQL (tables mt5_*,
// migrations in mt5_schema_migrations, so it can share a database with permiso-auth).
// Writes go through one group-commit writer thread: many commit requests per transaction,
// every completion called after the COMMIT, a full queue refused at once (never a hang).
#pragma once

#include "common/clock.hpp"
#include "storage/sql.hpp"
#include "storage/storage.hpp"
#include "trading/broker.hpp"
#include "trading/model.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace permiso::trading {

using storage::StorageError;
using storage::StorageFailure;
template <class T>
using StoreResult = storage::StorageResult<T>;
using StoreStatus = storage::StorageStatus;

/// A principal's account: Caller::account_key → MT5 login, bound once.
struct AccountBinding {
  std::string account_key;
  Login login = 0;
};

/// The answer an idempotent request produced, kept 24 h (TradeStoreOptions::idempotency_ttl).
struct IdempotencyRecord {
  std::string caller;           // Caller::account_key
  std::string key;              // Idempotency-Key / client_order_id
  std::string fingerprint;      // digest of the request body
  int status = 0;               // HTTP status of the stored answer
  std::string body;             // JSON text
  std::int64_t created_at = 0;  // Unix seconds (the store's Clock)
};

/// One unit of the group commit. All of it is written in one transaction, or none of it:
/// - `binding` already bound (this key or this login) → Conflict, field "account_key";
/// - `idempotency` key already recorded (unexpired) for that caller → Conflict, field
///   "idempotency_key"; an expired record is replaced.
/// A refused request writes nothing; the others of its batch still commit.
struct CommitRequest {
  Changes changes;
  std::optional<AccountBinding> binding;
  std::optional<IdempotencyRecord> idempotency;
  /// Called once, after the batch's COMMIT (success) or its failure (Unavailable, …), on the
  /// writer thread; inline in submit() when the request is refused at once. Keep it cheap.
  std::function<void(StoreStatus)> done;
  /// Set by submit(): when the request was queued (TradeStoreOp::CommitWait).
  std::chrono::steady_clock::time_point submitted{};
};

/// What the store's latency is observed by (mt5_store_seconds{op}).
enum class TradeStoreOp : std::uint8_t {
  Commit,      // one group-commit transaction, retries included, failed or not
  CommitWait,  // one acknowledged request, from submit() to its durable answer
  Load,
  ClosedPositions,
  Position,
  Deals,
  FindIdempotency,
  FindBinding,
  RecentIdempotencyKeys,
  Purge,  // one chunk
};
inline constexpr std::size_t kTradeStoreOpCount = 10;
static_assert(static_cast<std::size_t>(TradeStoreOp::Purge) + 1 == kTradeStoreOpCount);
/// The op's label: "commit", "commit_wait", "closed_positions", …
[[nodiscard]] std::string_view to_string(TradeStoreOp op);
/// Called after each timed operation, from the thread that ran it; must be thread-safe and cheap.
using TradeStoreTimer = std::function<void(TradeStoreOp, std::chrono::nanoseconds)>;

/// What load() finds: everything the broker must restore, and every account binding.
struct StoredState {
  BrokerState broker;
  std::vector<AccountBinding> bindings;
};

struct TradeStoreOptions {
  /// Pool, connect/acquire/statement timeouts. Defaults to SQLite synchronous=FULL: an
  /// acknowledged trade survives a power loss too (one fsync per group commit).
  storage::StorageOptions storage = [] {
    storage::StorageOptions o;
    o.sqlite_full_sync = true;
    return o;
  }();
  std::size_t queue_capacity = 16384;  // commit requests waiting; beyond: Unavailable at once
  std::size_t max_batch = 1024;        // commit requests per transaction
  std::int64_t idempotency_ttl_seconds = 24 * 3600;
  std::int64_t purge_interval_seconds = 600;  // how often the writer deletes expired records
  /// After a failed batch (database down), requests are refused at once for this long
  /// instead of each waiting for a connect attempt; then the writer tries again.
  int retry_after_ms = 250;
  bool migrate = true;    // apply the mt5_* migrations on open
  TradeStoreTimer timer;  // latency by operation; empty: not timed
};

class TradeStore {
 public:
  /// `url` as storage::open_db (sqlite:///…, postgresql://…). Unavailable when the database
  /// cannot be reached. `clock` (idempotency created_at and expiry) must outlive the store.
  static StoreResult<std::unique_ptr<TradeStore>> open(std::string_view url, const Clock& clock,
                                                       TradeStoreOptions options = {});
  /// The mt5_* schema's migration plan for the database at `url`, found without changing it
  /// (storage::plan_migrations); SchemaTooNew when the database is newer than this binary.
  static StoreResult<storage::MigrationPlan> plan_migrations(std::string_view url,
                                                             const storage::StorageOptions& options = {});
  /// Applies the pending mt5_* migrations by the path open() takes (same transaction and
  /// advisory lock); the plan it carried out.
  static StoreResult<storage::MigrationPlan> migrate(std::string_view url, const storage::StorageOptions& options = {});
  /// The mt5_* schema as migrations, in version order, recorded in kMigrationTable under the
  /// advisory lock kMigrationLock (a test builds an earlier version from a prefix of them).
  static const std::vector<storage::Migration>& migrations();
  static constexpr std::string_view kMigrationTable = "mt5_schema_migrations";
  static constexpr std::int64_t kMigrationLock = 7051002;  // permiso-auth uses 7051001
  /// Stops the writer after it has committed (or failed) every accepted request.
  ~TradeStore();
  TradeStore(const TradeStore&) = delete;
  TradeStore& operator=(const TradeStore&) = delete;

  /// Queues `request` for the next group commit. False (and `done(Unavailable)` called inline)
  /// when the queue is full, the writer is backing off after a database failure, or the store
  /// is closing. Never blocks on the database.
  bool submit(CommitRequest request);

  /// What the broker restores, as last committed: every account, open position and pending
  /// order, the newest `recent_history` closed positions, historical orders and deals of each
  /// account, the Out deals of every open position (its realised profit), the ticket
  /// sequence, and the bindings. Reads the database; the rest of the history stays there.
  [[nodiscard]] StoreResult<StoredState> load(std::size_t recent_history = kAllHistory);
  static constexpr std::size_t kAllHistory = std::numeric_limits<std::size_t>::max();

  // ---- history queries (database reads; open state is served from the broker's memory) ----
  /// Closed positions of `login`, newest ticket first, tickets below `before` (cursor).
  [[nodiscard]] StoreResult<std::vector<Position>> closed_positions(Login login, std::string_view symbol,
                                                                    std::optional<Ticket> before, std::size_t limit);
  /// One position (open or closed) of `login`; nullopt when it has no such ticket.
  [[nodiscard]] StoreResult<std::optional<Position>> position(Login login, Ticket ticket);
  /// Deals of `login` with from_msc <= time < to_msc, after `after` in (time, ticket) order if
  /// given, oldest first, at most `limit`.
  [[nodiscard]] StoreResult<std::vector<Deal>> deals(Login login, TimeMs from_msc, TimeMs to_msc,
                                                     std::optional<DealCursor> after, std::size_t limit);
  /// The unexpired record of (caller, key), if any.
  [[nodiscard]] StoreResult<std::optional<IdempotencyRecord>> find_idempotency(std::string_view caller,
                                                                               std::string_view key);
  /// The login bound to `account_key`, if any (a replica finds the accounts another one opened).
  [[nodiscard]] StoreResult<std::optional<Login>> find_binding(std::string_view account_key);
  /// The unexpired records' (caller, key, created_at), newest first, at most `limit` (no
  /// fingerprint or body): the service's index of keys in use.
  [[nodiscard]] StoreResult<std::vector<IdempotencyRecord>> recent_idempotency_keys(std::size_t limit);
  /// Deletes records older than the TTL (in chunks of kPurgeChunk); returns how many. The
  /// writer purges every purge_interval_seconds, a chunk between batches.
  StoreResult<std::int64_t> purge_expired();
  static constexpr std::int64_t kPurgeChunk = 5000;  // records per DELETE

  /// Forgets the per-row step sequences used to drop stale Changes (see Changes::sequence);
  /// call after broker.restore(), whose sequence may start again from the beginning.
  void reset_row_versions();

  struct Stats {
    std::uint64_t committed = 0;  // requests committed
    std::uint64_t failed = 0;     // requests refused or failed
    std::uint64_t batches = 0;    // transactions committed
    std::size_t queued = 0;       // requests waiting now
  };
  [[nodiscard]] Stats stats() const;
  [[nodiscard]] std::string_view backend() const;  // "sqlite" or "postgresql"

 private:
  struct Versions;
  TradeStore(std::unique_ptr<storage::Db> db, const Clock& clock, TradeStoreOptions options);
  void run();
  void write_batch(std::vector<CommitRequest>& batch);
  void acknowledge(std::vector<CommitRequest>& batch, const std::vector<std::optional<StorageFailure>>& refused);
  void maybe_purge();
  StoreResult<std::int64_t> purge_chunk();

  std::unique_ptr<storage::Db> db_;
  const Clock& clock_;
  const TradeStoreOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<CommitRequest> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point refuse_until_{};

  std::unique_ptr<Versions> versions_;  // writer thread only (and reset_row_versions, locked)
  std::mutex versions_mu_;
  std::int64_t last_purge_ = 0;  // writer thread only
  bool purge_more_ = false;      // writer thread only

  std::atomic<std::uint64_t> committed_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::thread writer_;
};

}  // namespace permiso::trading
