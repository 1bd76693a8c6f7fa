// The one HTTP client of the project (resource servers fetching JWKS and the revocation
// feed, libpermiso-client, permisoctl): HTTP/1.1 and HTTPS (OpenSSL, peer verified), a
// small keep-alive pool per origin, and a deadline on every call. Blocking: call it from a
// background or worker thread, never from a server I/O thread. Beast stays in client.cpp.
#pragma once

#include "common/result.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace permiso::http {

enum class ClientError {
  InvalidUrl,        // not an absolute http:// or https:// URL (or a method/header that cannot be sent)
  Resolve,           // the host name did not resolve
  Connect,           // refused or unreachable
  Tls,               // handshake or certificate verification failed
  Timeout,           // the deadline passed (connect, write or read)
  Io,                // the connection broke mid-exchange
  ResponseTooLarge,  // headers or body over the configured limit
  Cancelled,         // Client::shutdown() cut the call (or it came after)
};
std::string_view to_string(ClientError e);
PERMISO_RESULT_ERROR(ClientError)

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // absolute: http(s)://host[:port]/path?query
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
  /// The whole exchange: resolve, connect, TLS, write, read.
  std::chrono::milliseconds timeout{5000};
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

struct ClientOptions {
  std::size_t max_body_bytes = 8 * 1024 * 1024;
  std::size_t max_header_bytes = 64 * 1024;  // status line and headers together
  std::size_t max_idle_per_origin = 4;       // kept-alive connections reused per scheme://host:port
  std::string user_agent = "permiso-client/0.1";
  bool verify_tls = true;  // false only for tests against self-signed servers
  std::string ca_file{};   // trust anchors (PEM) used instead of the system store; empty: the system store
};

/// Thread-safe: many threads may call fetch() at once.
class Client {
 public:
  /// Throws std::runtime_error when ca_file cannot be loaded (a start-up failure).
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// One request; a stale kept-alive connection is retried once on a fresh one when the
  /// request is idempotent (GET/HEAD/PUT/DELETE) or nothing was sent. A request without a
  /// `traceparent` header gets one of a new trace (W3C Trace Context); pass the caller's to
  /// continue its trace.
  [[nodiscard]] Result<ClientResponse, ClientError> fetch(const ClientRequest& request);

  /// Cuts every call in flight (they return Cancelled at once) and refuses later ones, so a
  /// service can stop without waiting out a long-poll. Thread-safe; irreversible.
  void shutdown();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// application/x-www-form-urlencoded encoding of one component (RFC 3986 unreserved kept).
[[nodiscard]] std::string form_encode(std::string_view in);

}  // namespace permiso::http
