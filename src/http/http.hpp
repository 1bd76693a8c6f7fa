// The HTTP vocabulary shared by both services: plain request/response values and a
// handler signature that keeps Beast and Asio out of every handler translation unit.
#pragma once

#include "http/trace_context.hpp"

#include <boost/json/fwd.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace permiso::http {

/// One parsed request. Header names are stored lower-case.
struct Request {
  std::string method;                                           // "GET", "POST", ... (upper-case)
  std::string target;                                           // raw request target, e.g. "/api/v1/users?page=2"
  std::string path;                                             // percent-decoded path without the query
  std::vector<std::pair<std::string, std::string>> query;       // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;     // lower-case names
  std::map<std::string, std::string, std::less<>> path_params;  // "{id}" captures from the router
  std::string body;
  std::string remote_ip;           // peer address, or the client address a trusted proxy reported
  std::string request_id;          // X-Request-ID from the client when well-formed, else generated
  TraceContext trace;              // the caller's trace (a valid traceparent) or a new one; our span
  bool via_trusted_proxy = false;  // the peer is a trusted proxy: its X-Forwarded-* are believed
  bool tls = false;                // arrived over TLS this server terminated

  /// First header with this (case-insensitive) name.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
  /// First query parameter with this name.
  [[nodiscard]] std::optional<std::string_view> query_param(std::string_view name) const;
  /// A router capture; empty when absent.
  [[nodiscard]] std::string_view param(std::string_view name) const;
};

/// The value of the cookie `name` from the Cookie header(s) (RFC 6265 §5.4: "a=b; c=d");
/// nullopt when absent.
[[nodiscard]] std::optional<std::string_view> cookie(const Request& req, std::string_view name);

/// How the client addressed this service: "https://api.example.com:8443". The scheme and
/// authority come from X-Forwarded-Proto/-Host when a trusted proxy sent them, else from
/// the connection (https when this server terminated TLS) and the Host header. A malformed value is never echoed:
/// "localhost" stands in.
[[nodiscard]] std::string public_base_url(const Request& req);
/// The host[:port] part of public_base_url.
[[nodiscard]] std::string public_authority(const Request& req);

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;

  Response& set_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

/// A JSON answer.
Response json_response(int status, const boost::json::value& body);
/// The same for an object, serialised as it is: through the overload above it would first be
/// copied whole into a value (every key and string, a token's included).
Response json_response(int status, const boost::json::object& body);
/// The contract's error shape: {"error", "error_description", "request_id", ...extra}.
Response error_response(const Request& req, int status, std::string_view error, std::string_view description,
                        const boost::json::object* extra = nullptr);

/// Completes a request. Call exactly once, from any thread; the server hands the
/// response back to the connection's own executor.
using Reply = std::function<void(Response)>;
/// An asynchronous handler: may finish inline or later (e.g. after work on a worker pool).
using Handler = std::function<void(Request&, Reply)>;
/// Most handlers are synchronous and cheap.
using SyncHandler = std::function<Response(Request&)>;

struct WebSocketAccept;  // http/websocket.hpp
/// The same alias as in http/websocket.hpp (include that header to write one).
using WebSocketHandler = std::function<std::variant<Response, WebSocketAccept>(Request&)>;

/// Routes "METHOD /path/{param}/..." patterns to handlers. Literal segments win over
/// captures; an unknown path is 404 `not_found`, a known path with another method 405.
/// Add every route before Server::run(): matching is lock-free and assumes no writers.
class Router {
 public:
  void add(std::string_view method, std::string_view pattern, Handler handler);
  void add_sync(std::string_view method, std::string_view pattern, SyncHandler handler);
  /// A WebSocket endpoint (GET): an upgrade request runs `handler`; a plain GET to the same
  /// path is answered 426 upgrade_required, other methods 405.
  void add_websocket(std::string_view pattern, WebSocketHandler handler);

  struct Match {
    const Handler* handler = nullptr;
    const WebSocketHandler* websocket = nullptr;  // set for add_websocket routes
    std::string pattern;                          // the route pattern, for metrics labels
    bool method_not_allowed = false;
    std::string allowed_methods;  // for the Allow header on 405
  };
  /// Finds the handler for req.method/req.path and fills req.path_params.
  [[nodiscard]] Match match(Request& req) const;

  struct RouteName {
    std::string method;   // upper case; a WebSocket endpoint is "GET"
    std::string pattern;  // "/api/v1/trades/{id}"
  };
  /// Every route, in the order added (the API document is checked against it).
  [[nodiscard]] std::vector<RouteName> routes() const;

 private:
  /// Deeper patterns are refused by add() and deeper paths match nothing (capture ranks are
  /// bit masks).
  static constexpr std::size_t kMaxSegments = 64;

  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" marks a capture
    std::string pattern;
    Handler handler;
    std::shared_ptr<WebSocketHandler> websocket;  // shared_ptr: the type is incomplete here
  };
  /// Transparent, so a request's path is looked up without building a string.
  struct PathHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view path) const { return std::hash<std::string_view>{}(path); }
  };
  std::vector<Route> routes_;
  /// The routes without captures by their exact pattern (indices into routes_, in the order
  /// added): such a route is the most specific match there is, so the usual request (a fixed
  /// path) is found without trying every route.
  std::unordered_map<std::string, std::vector<std::size_t>, PathHash, std::equal_to<>> literal_routes_;
};

}  // namespace permiso::http
