// See storage_metrics.hpp.
#include "app/storage_metrics.hpp"

#include <utility>

namespace permiso::app {

std::vector<double> storage_latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

storage::StorageTimer storage_latency_timer(http::Registry& metrics) {
  auto& family = metrics.histogram("permiso_storage_seconds", "Storage call latency by operation.", {"op"},
                                   storage_latency_buckets());
  return latency_by_op<storage::StorageOp, storage::kStorageOpCount>(family);
}

std::unique_ptr<storage::Storage> timed_storage(std::unique_ptr<storage::Storage> inner, http::Registry& metrics) {
  return storage::timed_storage(std::move(inner), storage_latency_timer(metrics));
}

}  // namespace permiso::app
