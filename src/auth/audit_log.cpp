// See audit_log.hpp.
#include "auth/audit_log.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

namespace permiso::auth {

storage::AuditEvent audit_event(const Origin& origin, std::string_view action, std::string_view outcome,
                                std::string_view actor, std::string_view actor_type, std::string_view target) {
  storage::AuditEvent e;
  e.action = std::string(action);
  e.outcome = std::string(outcome);
  e.actor = actor.empty() ? std::string("anonymous") : std::string(actor);
  e.actor_type = actor.empty() ? std::string("anonymous") : std::string(actor_type);
  e.target = std::string(target);
  e.ip = std::string(origin.ip);
  e.request_id = std::string(origin.request_id);
  e.trace_id = std::string(origin.trace_id);
  return e;
}

storage::AuditEvent change_event(const Origin& origin, const Principal& caller, std::string_view action,
                                 std::string_view target) {
  return audit_event(origin, action, "success", caller.actor(), caller.actor_type(), target);
}
namespace {
constexpr std::size_t kBatch = 500;
constexpr auto kMaxDelay = std::chrono::milliseconds(100);  // longest an event waits unwritten
}  // namespace

AuditLog::AuditLog(storage::Storage& storage, const Clock& clock, std::size_t capacity, StoredListener on_stored)
    : storage_(storage), clock_(clock), capacity_(capacity), on_stored_(std::move(on_stored)), thread_([this] {
        run();
      }) {}

storage::StorageResult<AuditPurge> purge_old_audit(storage::Storage& storage, std::int64_t now,
                                                   std::int64_t retention_days, std::int64_t batch, int max_batches) {
  AuditPurge out;
  if (retention_days <= 0) return out;
  const std::int64_t before = now - retention_days * 86'400;
  for (int i = 0; i < max_batches; ++i) {
    auto purged = storage.purge_audit_before(before, batch);
    if (!purged) return purged.error();
    out.purged += *purged;
    if (*purged < batch) return out;
  }
  out.more = true;
  return out;
}

AuditLog::~AuditLog() {
  stop();
}

void AuditLog::record(storage::AuditEvent event) {
  if (event.ts == 0) {
    event.ts = clock_.now_seconds();
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      dropped_.fetch_add(1);
      return;
    }
    if (queue_.size() >= capacity_) {
      queue_.pop_front();
      ++written_seq_;  // accounted for, so flush() does not wait for it
      dropped_.fetch_add(1);
    }
    queue_.push_back(std::move(event));
    ++enqueued_seq_;
    // Waking the writer costs a futex call per event; on the token hot path it would be a
    // large share of the request. The writer wakes itself every kMaxDelay instead, and is
    // woken early only when a full batch is waiting.
    if (queue_.size() < kBatch) return;
  }
  wake_.notify_one();
}

bool AuditLog::flush(int timeout_ms) {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = enqueued_seq_;
  flush_requested_ = true;
  wake_.notify_one();
  return flushed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return written_seq_ >= target; });
}

void AuditLog::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void AuditLog::run() {
  int backoff_ms = 100;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, kMaxDelay, [&] { return stopping_ || queue_.size() >= kBatch || flush_requested_; });
    flush_requested_ = false;
    if (queue_.empty()) {
      if (stopping_) return;  // stopping and drained
      continue;
    }
    // The batch leaves the queue while it is written, so producers never touch it.
    const auto n = static_cast<std::ptrdiff_t>(std::min(queue_.size(), kBatch));
    std::vector<storage::AuditEvent> batch(std::make_move_iterator(queue_.begin()),
                                           std::make_move_iterator(queue_.begin() + n));
    queue_.erase(queue_.begin(), queue_.begin() + n);
    lock.unlock();
    auto status = storage_.append_audit(batch);
    if (status && on_stored_) on_stored_(batch);
    lock.lock();
    if (status) {
      written_seq_ += batch.size();
      written_.fetch_add(batch.size());
      flushed_.notify_all();
      backoff_ms = 100;
      continue;
    }
    spdlog::warn("audit: storage refused a batch of {} events ({}); retrying in {} ms", batch.size(),
                 storage::to_string(status.error()), backoff_ms);
    // Put the batch back in front, oldest first, keeping within capacity.
    std::size_t room = capacity_ > queue_.size() ? capacity_ - queue_.size() : 0;
    std::size_t lost = batch.size() > room ? batch.size() - room : 0;
    queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(lost)),
                  std::make_move_iterator(batch.end()));
    if (stopping_) {
      // Shutting down with storage down: the events are lost; count them.
      lost += queue_.size();
      queue_.clear();
    }
    if (lost > 0) {
      dropped_.fetch_add(lost);
      written_seq_ += lost;
      flushed_.notify_all();
    }
    if (stopping_) {
      return;
    }
    wake_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
    backoff_ms = std::min(backoff_ms * 2, 5000);
  }
}

std::size_t AuditLog::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace permiso::auth
