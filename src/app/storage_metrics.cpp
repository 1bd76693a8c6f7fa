// See storage_metrics.hpp.
#include "app/storage_metrics.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <utility>
#include <vector>

namespace permiso::app {

namespace {

/// SQLite answers a point read in tens of microseconds; a PostgreSQL round trip takes a
/// millisecond or more; a storage that is failing waits for its timeouts (seconds).
std::vector<double> storage_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

}  // namespace

storage::StorageTimer storage_latency_timer(http::Registry& metrics) {
  auto& family =
      metrics.histogram("permiso_storage_seconds", "Storage call latency by operation.", {"op"}, storage_buckets());
  using Slots = std::array<std::atomic<http::Histogram*>, storage::kStorageOpCount>;
  auto slots = std::make_shared<Slots>();  // value-initialised: every slot null
  return [&family, slots](storage::StorageOp op, std::chrono::nanoseconds took) {
    auto& slot = (*slots)[static_cast<std::size_t>(op)];
    auto* histogram = slot.load(std::memory_order_acquire);
    if (histogram == nullptr) {
      // Two first calls racing both resolve the same child: the family returns one per label.
      histogram = &family.with({storage::to_string(op)});
      slot.store(histogram, std::memory_order_release);
    }
    histogram->observe(std::chrono::duration<double>(took).count());
  };
}

std::unique_ptr<storage::Storage> timed_storage(std::unique_ptr<storage::Storage> inner, http::Registry& metrics) {
  return storage::timed_storage(std::move(inner), storage_latency_timer(metrics));
}

}  // namespace permiso::app
