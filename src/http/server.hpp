// The HTTP/1.1 server both services run: keep-alive, wire limits and timeouts, graceful stop,
// and the middleware every response passes through (request id, security headers, CORS,
// access log, metrics). Beast and Asio stay inside server.cpp.
#pragma once

#include "http/http.hpp"
#include "http/websocket.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::http {

class Registry;

struct CorsConfig {
  /// Exact origins ("https://app.example.com"); no wildcards, since credentials are allowed.
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_methods = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  std::vector<std::string> allowed_headers = {"Authorization",   "Content-Type", "X-Request-ID",
                                              "Idempotency-Key", "traceparent",  "tracestate"};
  std::vector<std::string> exposed_headers = {"X-Request-ID", "Retry-After", "Link", "WWW-Authenticate"};
  std::chrono::seconds max_age{600};
};

/// The server's own TLS (deployments without a proxy in front).
struct TlsConfig {
  std::string cert_file;  // PEM: the server certificate, then its intermediates
  std::string key_file;   // PEM: its private key
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;               // 0: ephemeral, see Server::port()
  unsigned threads = 0;                 // 0: std::thread::hardware_concurrency()
  std::size_t body_limit = 64 * 1024;   // larger bodies: 413 payload_too_large
  std::size_t header_limit = 8 * 1024;  // larger headers: 431
  /// From a connection's first byte (or its acceptance) to the end of the headers: slowloris bound.
  std::chrono::milliseconds header_timeout{10'000};
  /// Reading the body once the headers are in.
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  /// A kept-alive connection waiting for its next request.
  std::chrono::milliseconds idle_timeout{60'000};
  /// A handler that never calls its Reply is answered 503 {"error":"timeout"} after this.
  std::chrono::milliseconds handler_timeout{30'000};
  /// stop(): how long in-flight requests may still take before connections are cut.
  std::chrono::milliseconds shutdown_grace{10'000};
  /// stop(): how long a kept-alive connection waiting for its next request stays open (within
  /// the grace). A proxy may be sending a request on it at that moment, and one it has sent is
  /// never retried elsewhere when not idempotent (nginx, for a POST): a close at once drops it.
  /// Meanwhile a request that arrives is served with Connection: close, and a proxy that opens
  /// a new connection finds the listener closed and marks this server down (nginx max_fails),
  /// so the close at the end finds nobody sending. Keep it below the proxy's fail_timeout.
  std::chrono::milliseconds idle_drain{1'000};
  /// Open connections beyond this are closed on accept (file descriptors are finite).
  std::size_t max_connections = 16'384;
  /// Peers (exact IP addresses) whose X-Forwarded-For is believed, e.g. the local nginx.
  std::vector<std::string> trusted_proxies;
  /// Serve HTTPS (TLS 1.2 and 1.3, forward-secret AEAD suites) instead of plain HTTP. The
  /// Server's constructor throws when the files cannot be loaded or do not match.
  std::optional<TlsConfig> tls;
  CorsConfig cors;
  /// WebSocket routes (Router::add_websocket). Their Origin must be in cors.allowed_origins
  /// or match the Host (browsers send Origin; other clients may omit it).
  WebSocketLimits websocket;
};

/// One line of the access log. Views are valid only during the hook call.
struct AccessLogEntry {
  std::string_view method;
  std::string_view path;   // raw path, without the query (which may carry secrets)
  std::string_view route;  // the router pattern, or "unmatched"/"invalid"/"preflight"
  int status = 0;
  std::chrono::microseconds duration{0};
  std::size_t bytes = 0;  // response body bytes
  std::string_view request_id;
  std::string_view remote_ip;
  std::string_view user_agent;
  std::string_view trace_id;                      // 32 hex: the caller's trace, or one this server started
  std::string_view span_id;                       // 16 hex: this request's span
  std::string_view parent_span_id;                // 16 hex: the caller's span; empty when the trace started here
  bool sampled = true;                            // the trace's sampled flag
  std::chrono::system_clock::time_point started;  // when the request was read (wall clock, for exported spans)
};

struct ServerHooks {
  std::function<void(const AccessLogEntry&)> access_log;
  /// Handler exceptions, handler timeouts, accept failures. Default: stderr.
  std::function<void(std::string_view)> error_log;
  /// When set, the server records http_requests_total{route,method,status},
  /// http_request_duration_seconds{route}, http_requests_in_flight and websocket_connections_open.
  Registry* metrics = nullptr;
  /// Runs on the I/O thread after routing, before the handler: a returned response is
  /// sent instead (e.g. 429 from a per-IP API limit). Must be cheap and never block.
  std::function<std::optional<Response>(const Request&, std::string_view route)> admit;
};

/// Typical wiring in main():
///   http::Router router;  http::Registry metrics;
///   router.add_sync("GET", "/api/v1/users/{id}", [&](http::Request& r) { ... });
///   router.add("POST", "/api/v1/auth/token", http::on_pool(pool, token_handler));
///   http::add_metrics_route(router, metrics);  http::add_health_route(...);  http::add_ready_route(...);
///   http::Server server(config, router, {.access_log = log_hook, .error_log = {}, .metrics = &metrics});
///   std::thread signals([&] { wait_for_sigterm(); server.stop(); });
///   server.run();
class Server {
 public:
  /// Binds and listens immediately (throws std::runtime_error when it cannot: a start-up
  /// failure). `router` and `hooks.metrics` must outlive the server.
  Server(ServerConfig config, Router& router, ServerHooks hooks = {});
  /// Cuts any connection still open. Stop worker pools that hold Replies first or not:
  /// a Reply called after destruction is ignored.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The bound port (the real one when the config said 0).
  [[nodiscard]] std::uint16_t port() const;
  /// Serves on `threads` threads (the caller's included) until stop() has drained.
  void run();
  /// Thread-safe, idempotent, returns at once: stops accepting, closes idle connections,
  /// lets in-flight requests finish (their responses carry Connection: close), and cuts
  /// whatever remains after the grace period.
  void stop();

  struct Impl;  // defined in server.cpp; public only so its connection types can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace permiso::http
