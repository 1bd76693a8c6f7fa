// See server_setup.hpp.
#include "app/server_setup.hpp"

#include "http/openapi.hpp"
#include "log/log.hpp"

#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <string>

namespace permiso::app {

http::ServerHooks standard_hooks(http::Registry& metrics) {
  http::ServerHooks hooks;
  hooks.metrics = &metrics;
  hooks.error_log = [](std::string_view m) { spdlog::error("{}", m); };
  hooks.access_log = [](const http::AccessLogEntry& e) {
    log::write_access(*spdlog::default_logger(), log::AccessLogEntry{e.method, e.path, e.route, e.status, e.duration,
                                                                     e.bytes, e.request_id, e.remote_ip, e.user_agent});
  };
  return hooks;
}

void limit_api_per_address(http::ServerHooks& hooks, ratelimit::MemoryRateLimiter& limiter, ratelimit::Rate rate) {
  if (rate.count == 0) return;
  hooks.admit = [&limiter, rate](const http::Request& req, std::string_view route) -> std::optional<http::Response> {
    if (!route.starts_with("/api/")) return std::nullopt;
    const auto d = limiter.consume("api:" + req.remote_ip, rate);
    if (d.allowed) return std::nullopt;
    auto res = http::error_response(req, 429, "rate_limited", "Too many requests from this address.");
    res.set_header("Retry-After", std::to_string(d.retry_after_s));
    return res;
  };
}

std::size_t connections_within(std::uint64_t limit, std::size_t wanted) {
  if (limit <= kReservedFileDescriptors) return 1;
  return static_cast<std::size_t>(std::min<std::uint64_t>(limit - kReservedFileDescriptors, wanted));
}

std::size_t fit_open_files_limit(std::size_t wanted) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return wanted;
  const rlim_t needed = wanted + kReservedFileDescriptors;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? needed : std::min(needed, lim.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? wanted : connections_within(lim.rlim_cur, wanted);
}

bool serve_api_document(http::Router& router, std::string_view document) {
  http::add_openapi_route(router, document);
  const auto differences = http::api_document_differences(router, document);
  for (const auto& d : differences) spdlog::critical("the built-in OpenAPI document and the routes differ: {}", d);
  return differences.empty();
}

std::unique_ptr<http::Server> listen(http::ServerConfig config, http::Router& router, http::ServerHooks hooks) {
  const std::size_t fits = fit_open_files_limit(config.max_connections);
  if (fits < config.max_connections) {
    spdlog::warn(
        "the open-files limit allows {} connections, not the configured {}: raise the hard limit "
        "(ulimit -Hn, LimitNOFILE=, --ulimit nofile=) to serve more",
        fits, config.max_connections);
    config.max_connections = fits;
  }
  try {
    return std::make_unique<http::Server>(std::move(config), router, std::move(hooks));
  } catch (const std::exception& ex) {
    spdlog::critical("cannot listen: {}", ex.what());
    return nullptr;
  }
}

}  // namespace permiso::app
