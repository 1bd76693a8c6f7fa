// WorkerPool: one mutex-protected deque; contention is negligible next to the work it runs
// (argon2 hashes take tens of milliseconds).
#include "common/worker_pool.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

namespace permiso {

WorkerPool::WorkerPool(std::size_t threads, std::size_t queue_capacity, int nice)
    : capacity_(std::max<std::size_t>(queue_capacity, 1)) {
  if (threads == 0) threads = std::max(1U, std::thread::hardware_concurrency());
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, nice] {
      // Linux schedules threads, so a thread's own nice value is its tid's. Raising it needs
      // no privilege; failing to leaves the worker at the process's priority, which is safe.
      if (nice > 0) (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice);
      work();
    });
  }
}

WorkerPool::~WorkerPool() {
  shutdown();
}

bool WorkerPool::try_submit(std::function<void()> task) {
  if (!task) return false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    if (queue_.size() >= capacity_) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(task));
  }
  ready_.notify_one();
  return true;
}

void WorkerPool::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::size_t WorkerPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void WorkerPool::work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      task();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a task owns its error reporting
    }
  }
}

}  // namespace permiso
