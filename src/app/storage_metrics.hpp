// permiso_storage_seconds{op}: the latency of each Storage call, recorded by the timing
// decorator (storage/timed_storage.hpp) that the composition root puts around the storage.
#pragma once

#include "http/metrics.hpp"
#include "storage/timed_storage.hpp"

#include <memory>

namespace permiso::app {

/// Registers permiso_storage_seconds (label `op`, one of storage::StorageOp's names) in
/// `metrics` and returns the timer that observes it. A histogram is resolved on its op's first
/// call and kept, so a call costs an array index and the histogram's atomic adds, no map
/// lookup; ops never called have no series. `metrics` must outlive the timer.
[[nodiscard]] storage::StorageTimer storage_latency_timer(http::Registry& metrics);

/// `inner` behind the timing decorator, recording into `metrics`.
[[nodiscard]] std::unique_ptr<storage::Storage> timed_storage(std::unique_ptr<storage::Storage> inner,
                                                              http::Registry& metrics);

}  // namespace permiso::app
