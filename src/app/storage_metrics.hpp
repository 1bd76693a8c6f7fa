// permiso_storage_seconds{op}: the latency of each Storage call, recorded by the timing
// decorator (storage/timed_storage.hpp) that the composition root puts around the storage.
#pragma once

#include "http/metrics.hpp"
#include "storage/timed_storage.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace permiso::app {

/// Bucket bounds for storage latency: SQLite answers a point read in tens of microseconds, a
/// PostgreSQL round trip takes a millisecond or more, a failing database waits for its timeouts.
[[nodiscard]] std::vector<double> storage_latency_buckets();

/// A timer observing into `family`, one histogram per value of `Op` (an enum of `Count`
/// values numbered from 0, labelled by its `to_string`). A histogram is resolved on its op's
/// first call and kept, so a call costs an array index and the histogram's atomic adds, no map
/// lookup; ops never called have no series. `family` must outlive the timer.
template <class Op, std::size_t Count>
[[nodiscard]] std::function<void(Op, std::chrono::nanoseconds)> latency_by_op(http::HistogramFamily& family) {
  using Slots = std::array<std::atomic<http::Histogram*>, Count>;
  auto slots = std::make_shared<Slots>();  // value-initialised: every slot null
  return [&family, slots](Op op, std::chrono::nanoseconds took) {
    auto& slot = (*slots)[static_cast<std::size_t>(op)];
    auto* histogram = slot.load(std::memory_order_acquire);
    if (histogram == nullptr) {
      // Two first calls racing both resolve the same child: the family returns one per label.
      histogram = &family.with({to_string(op)});
      slot.store(histogram, std::memory_order_release);
    }
    histogram->observe(std::chrono::duration<double>(took).count());
  };
}

/// Registers permiso_storage_seconds (label `op`, one of storage::StorageOp's names) in
/// `metrics` and returns the timer that observes it (latency_by_op). `metrics` must outlive it.
[[nodiscard]] storage::StorageTimer storage_latency_timer(http::Registry& metrics);

/// `inner` behind the timing decorator, recording into `metrics`.
[[nodiscard]] std::unique_ptr<storage::Storage> timed_storage(std::unique_ptr<storage::Storage> inner,
                                                              http::Registry& metrics);

}  // namespace permiso::app
