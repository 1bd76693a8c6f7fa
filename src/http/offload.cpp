// offload / on_pool: the request stays valid inside the task because the server keeps it
// alive for as long as the Reply that the task holds.
#include "http/offload.hpp"

#include <atomic>
#include <exception>
#include <memory>
#include <string>

namespace permiso::http {
namespace {

/// A Reply that forwards only its first call: a task that answered and then threw must not
/// answer twice.
Reply once(Reply reply) {
  auto called = std::make_shared<std::atomic<bool>>(false);
  return [called, reply = std::move(reply)](Response res) {
    if (!called->exchange(true)) reply(std::move(res));
  };
}

}  // namespace

void offload(WorkerPool& pool, Request& req, Reply reply, PoolTask task, std::chrono::seconds retry_after) {
  Request* r = &req;
  auto answer = once(std::move(reply));
  const bool queued = pool.try_submit([r, answer, task = std::move(task)] {
    try {
      task(*r, answer);
    } catch (const std::exception&) {
      answer(error_response(*r, 500, "internal_error", "An internal error occurred."));
    }
  });
  if (!queued) {
    auto res = error_response(req, 503, "temporarily_unavailable", "The server is busy; retry shortly.");
    res.set_header("Retry-After", std::to_string(retry_after.count()));
    answer(std::move(res));
  }
}

Handler on_pool(WorkerPool& pool, SyncHandler handler, std::chrono::seconds retry_after) {
  auto shared = std::make_shared<SyncHandler>(std::move(handler));
  return [&pool, shared, retry_after](Request& req, Reply reply) {
    offload(
        pool, req, std::move(reply), [shared](Request& r, const Reply& answer) { answer((*shared)(r)); }, retry_after);
  };
}

}  // namespace permiso::http
