// The HTTP server as every service configures it: its settings from the service's [server]
// configuration, and the standard hooks (access log, error log, metrics, the per-address API
// limit).
#pragma once

#include "http/metrics.hpp"
#include "http/server.hpp"
#include "ratelimit/memory_limiter.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace permiso::app {

/// The [server] settings of a service's configuration. AuthConfig and GatewayConfig carry the
/// same fields under the same names; a service without `handler_timeout_s` keeps the
/// server's default.
template <class Config>
http::ServerConfig server_config(const Config& cfg) {
  http::ServerConfig s;
  s.host = cfg.host;
  s.port = static_cast<std::uint16_t>(cfg.port);
  s.threads = static_cast<unsigned>(cfg.threads);
  s.body_limit = static_cast<std::size_t>(cfg.body_limit_bytes);
  s.header_limit = static_cast<std::size_t>(cfg.header_limit_bytes);
  s.header_timeout = std::chrono::seconds(cfg.header_timeout_s);
  s.read_timeout = std::chrono::seconds(cfg.read_timeout_s);
  s.idle_timeout = std::chrono::seconds(cfg.idle_timeout_s);
  if constexpr (requires { cfg.handler_timeout_s; }) s.handler_timeout = std::chrono::seconds(cfg.handler_timeout_s);
  s.shutdown_grace = std::chrono::seconds(cfg.shutdown_grace_s);
  s.max_connections = static_cast<std::size_t>(cfg.max_connections);
  s.trusted_proxies = cfg.trusted_proxies;
  if (!cfg.tls_cert_file.empty()) s.tls = http::TlsConfig{cfg.tls_cert_file, cfg.tls_key_file};
  s.cors.allowed_origins = cfg.allowed_origins;
  return s;
}

/// Access log and error log through spdlog, request metrics into `metrics`, and, when the
/// OTEL_* variables ask for it, each request's server span exported over OTLP/HTTP JSON (see
/// http/span_exporter.hpp; its counters go into `metrics` too).
http::ServerHooks standard_hooks(http::Registry& metrics);

/// Adds the per-address limit on `/api/…` routes (RATE_LIMIT_API) to `hooks`: 429
/// `rate_limited` with Retry-After beyond `rate`. The limiter is in memory, so admission
/// costs no I/O on the I/O thread. A rate of 0 requests admits everything (no hook).
/// `limiter` must outlive the server.
void limit_api_per_address(http::ServerHooks& hooks, ratelimit::MemoryRateLimiter& limiter, ratelimit::Rate rate);

/// File descriptors kept beside the connections: listeners, database and Redis connections,
/// log and audit files, the JWKS and feed clients.
inline constexpr std::size_t kReservedFileDescriptors = 512;

/// How many connections fit under an open-files limit of `limit`, at most `wanted`.
[[nodiscard]] std::size_t connections_within(std::uint64_t limit, std::size_t wanted);

/// Raises this process's soft open-files limit towards `wanted` connections plus the reserve
/// (never beyond the hard limit) and returns how many connections the limit now allows, at most
/// `wanted`.
std::size_t fit_open_files_limit(std::size_t wanted);

/// Serves `document` (the service's OpenAPI JSON) at GET /openapi.json, after every other
/// route is registered, and checks that it describes exactly the router's routes. False, after
/// logging each difference, when it does not: the build is inconsistent and must not serve.
[[nodiscard]] bool serve_api_document(http::Router& router, std::string_view document);

/// The server, listening; nullptr (after logging why) when it cannot bind its address. Raises
/// the process's open-files limit to what `config.max_connections` needs (up to the hard
/// limit) and, if the hard limit is lower, lowers max_connections to fit, with a warning:
/// otherwise accept() would fail with EMFILE long before the configured bound.
std::unique_ptr<http::Server> listen(http::ServerConfig config, http::Router& router, http::ServerHooks hooks);

}  // namespace permiso::app
