// See server_setup.hpp.
#include "app/server_setup.hpp"

#include "log/log.hpp"

#include <spdlog/spdlog.h>

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

std::unique_ptr<http::Server> listen(http::ServerConfig config, http::Router& router, http::ServerHooks hooks) {
  try {
    return std::make_unique<http::Server>(std::move(config), router, std::move(hooks));
  } catch (const std::exception& ex) {
    spdlog::critical("cannot listen: {}", ex.what());
    return nullptr;
  }
}

}  // namespace permiso::app
