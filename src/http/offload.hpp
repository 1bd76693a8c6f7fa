// Runs handler work on a WorkerPool instead of an I/O thread (blocking storage calls, broker
// calls, password hashing). The one place that decides how a full pool and a throwing task
// are answered, so every service words them the same.
#pragma once

#include "common/worker_pool.hpp"
#include "http/http.hpp"

#include <chrono>
#include <functional>

namespace permiso::http {

/// Work that answers through `reply` (at most once; later calls are dropped). It may answer
/// after it returns, from another thread.
using PoolTask = std::function<void(Request&, const Reply&)>;

/// Runs `task` on `pool`. When the pool's queue is full the client gets 503
/// `temporarily_unavailable` with `Retry-After` at once, so one flood (e.g. logins) cannot
/// queue without bound in front of cheap requests. A task that throws before answering is
/// 500 `internal_error`. `req` stays valid in the task: the server keeps it alive for as long
/// as the Reply is held.
void offload(WorkerPool& pool, Request& req, Reply reply, PoolTask task,
             std::chrono::seconds retry_after = std::chrono::seconds(1));

/// A route handler that runs the synchronous `handler` through offload(). `pool` must outlive
/// the router.
[[nodiscard]] Handler on_pool(WorkerPool& pool, SyncHandler handler,
                              std::chrono::seconds retry_after = std::chrono::seconds(1));

}  // namespace permiso::http
