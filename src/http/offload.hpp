// Runs a synchronous handler on a WorkerPool instead of an I/O thread (for blocking or
// CPU-heavy work such as password hashing); a full pool answers 503 at once.
#pragma once

#include "common/worker_pool.hpp"
#include "http/http.hpp"

#include <chrono>

namespace permiso::http {

/// The handler runs on `pool`; when its queue is full the client gets 503
/// `temporarily_unavailable` with `Retry-After`, so one flood (e.g. logins) cannot queue
/// without bound in front of cheap requests. Exceptions become 500 `internal_error`.
/// `pool` must outlive the router.
[[nodiscard]] Handler on_pool(WorkerPool& pool, SyncHandler handler,
                              std::chrono::seconds retry_after = std::chrono::seconds(1));

}  // namespace permiso::http
