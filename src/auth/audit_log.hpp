// The audit trail writer: security events are queued in memory and appended to storage in
// batches by one background thread, so recording an event never puts a database round trip
// on a request's path (token issuance in particular).
#pragma once

#include "auth/principal.hpp"
#include "common/clock.hpp"
#include "storage/storage.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace permiso::auth {

/// Where a request came from, as the audit trail and sessions record it. Views into the
/// request: valid for the call it is passed to (the hot path copies nothing it does not keep).
struct Origin {
  std::string_view ip;
  std::string_view request_id;
  std::string_view user_agent;
  std::string_view trace_id{};  // the request's W3C trace id
};

/// An audit event with the origin's IP, request id and trace id filled in; an empty actor is
/// "anonymous".
storage::AuditEvent audit_event(const Origin& origin, std::string_view action, std::string_view outcome,
                                std::string_view actor, std::string_view actor_type, std::string_view target = {});

/// A successful change `caller` made (user, role, scope, client, key administration).
storage::AuditEvent change_event(const Origin& origin, const Principal& caller, std::string_view action,
                                 std::string_view target);

/// What a purge of old audit events did: how many went, and whether more are due (the purge
/// stopped at its batch budget).
struct AuditPurge {
  std::int64_t purged = 0;
  bool more = false;
};

/// Deletes audit events older than `retention_days` (0: none), oldest first, in transactions
/// of `batch` rows, at most `max_batches` of them per call so the caller stays responsive and
/// writers are never held up for long.
storage::StorageResult<AuditPurge> purge_old_audit(storage::Storage& storage, std::int64_t now,
                                                   std::int64_t retention_days, std::int64_t batch = 1000,
                                                   int max_batches = 20);

class AuditLog {
 public:
  /// `capacity` bounds the events waiting while storage is down; beyond it the oldest are
  /// dropped and counted (a bounded queue beats an out-of-memory crash of the auth server).
  /// Called by the writer thread with each batch once storage has it (the SIEM export).
  using StoredListener = std::function<void(const std::vector<storage::AuditEvent>&)>;

  static constexpr std::size_t kDefaultCapacity = 100'000;

  AuditLog(storage::Storage& storage, const Clock& clock, std::size_t capacity = kDefaultCapacity,
           StoredListener on_stored = {});
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  /// Non-blocking. Fills `ts` when zero.
  void record(storage::AuditEvent event);
  /// Blocks until every event recorded before the call has been written (or `timeout_ms`
  /// passed); true when written. For tests, admin reads and shutdown.
  bool flush(int timeout_ms = 5000);
  /// Flushes what it can and stops the writer thread. Idempotent.
  void stop();

  [[nodiscard]] std::uint64_t dropped() const { return dropped_.load(); }
  /// Events recorded and not yet written (the writer's backlog).
  [[nodiscard]] std::size_t pending() const;
  [[nodiscard]] std::uint64_t written() const { return written_.load(); }

 private:
  void run();

  storage::Storage& storage_;
  const Clock& clock_;
  const std::size_t capacity_;
  const StoredListener on_stored_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::deque<storage::AuditEvent> queue_;
  std::uint64_t enqueued_seq_ = 0;  // events ever accepted
  std::uint64_t written_seq_ = 0;   // events written or dropped
  bool stopping_ = false;
  bool flush_requested_ = false;
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> written_{0};
  std::thread thread_;
};

}  // namespace permiso::auth
