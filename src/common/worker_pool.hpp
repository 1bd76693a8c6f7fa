// A fixed set of threads draining a bounded queue: CPU-heavy work (password hashing) runs
// here so it never blocks the I/O threads, and a full queue is refused instead of growing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace permiso {

class WorkerPool {
 public:
  /// `threads` == 0 means std::thread::hardware_concurrency() (at least 1).
  /// `queue_capacity` bounds the tasks waiting (not counting those running); at least 1.
  /// `nice` (0–19) lowers the workers' scheduling priority: under a flood of password hashes
  /// the I/O threads of this process and of services beside it still get the cores first.
  WorkerPool(std::size_t threads, std::size_t queue_capacity, int nice = 0);
  /// Runs every task already accepted, then joins the threads.
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `task`; false when the queue is full or the pool is shutting down. Callers
  /// answer 503 on false so a flood of one kind of work cannot starve the rest.
  /// Exceptions escaping a task are swallowed (a task must report its own errors).
  [[nodiscard]] bool try_submit(std::function<void()> task);

  /// Stops accepting, drains the queue and joins. Idempotent; not callable from a task.
  void shutdown();

  [[nodiscard]] std::size_t queued() const;
  /// Tasks refused because the queue was full (not those refused while shutting down): each a
  /// 503 its caller answered. Read by /metrics.
  [[nodiscard]] std::uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t thread_count() const { return threads_.size(); }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }

 private:
  void work();

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> rejected_{0};
  std::vector<std::thread> threads_;
};

}  // namespace permiso
