// on_pool: the Request stays valid inside the task because the server keeps it alive for as
// long as the Reply that the task holds.
#include "http/offload.hpp"

#include <exception>
#include <memory>
#include <string>

namespace permiso::http {

Handler on_pool(WorkerPool& pool, SyncHandler handler, std::chrono::seconds retry_after) {
  auto shared = std::make_shared<SyncHandler>(std::move(handler));
  return [&pool, shared, retry_after](Request& req, Reply reply) {
    Request* r = &req;
    const bool queued = pool.try_submit([shared, r, reply] {
      Response res;
      try {
        res = (*shared)(*r);
      } catch (const std::exception&) {
        res = error_response(*r, 500, "internal_error", "An internal error occurred.");
      }
      reply(std::move(res));
    });
    if (!queued) {
      auto res = error_response(req, 503, "temporarily_unavailable", "The server is busy; retry shortly.");
      res.set_header("Retry-After", std::to_string(retry_after.count()));
      reply(std::move(res));
    }
  };
}

}  // namespace permiso::http
