// Request accessors, JSON/error responses and the pattern router (no Beast/Asio here).
#include "http/http.hpp"

#include "common/ascii.hpp"
#include "http/websocket.hpp"

#include <boost/container/small_vector.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <stdexcept>

namespace permiso::http {
namespace {

/// A request path's segments, without copying them: most paths have a handful.
using PathSegments = boost::container::small_vector<std::string_view, 8>;

PathSegments path_segments(std::string_view path) {
  PathSegments out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return out;
  for (;;) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

/// A route pattern's segments, kept by the route.
std::vector<std::string> split_path(std::string_view path) {
  const auto segs = path_segments(path);
  return {segs.begin(), segs.end()};
}

bool is_capture(std::string_view seg) {
  return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}

/// A host[:port] fit to be echoed into URLs: letters, digits and the punctuation of names,
/// IPv4 and bracketed IPv6 addresses. Anything else could inject into a document.
bool clean_authority(std::string_view host) {
  return !host.empty() && host.size() <= 255 && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

/// A proxy may append to a forwarded list ("https, http"): the first entry is the client's.
std::string_view first_forwarded(std::string_view value) {
  value = value.substr(0, value.find(','));
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  return value;
}

}  // namespace

std::optional<std::string_view> cookie(const Request& req, std::string_view name) {
  for (const auto& [key, value] : req.headers) {
    if (key != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const auto end = rest.find(';');
      std::string_view pair = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals_ascii(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view Request::param(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string_view() : std::string_view(it->second);
}

std::string public_authority(const Request& req) {
  if (req.via_trusted_proxy) {
    if (auto host = req.header("x-forwarded-host"); host && clean_authority(first_forwarded(*host))) {
      return std::string(first_forwarded(*host));
    }
  }
  const auto host = req.header("host").value_or("");
  return clean_authority(host) ? std::string(host) : std::string("localhost");
}

std::string public_base_url(const Request& req) {
  std::string_view scheme = req.tls ? "https" : "http";
  if (req.via_trusted_proxy) {
    if (auto proto = req.header("x-forwarded-proto")) {
      const auto first = first_forwarded(*proto);
      scheme = iequals_ascii(first, "https") ? "https" : "http";
    }
  }
  return std::string(scheme) + "://" + public_authority(req);
}

namespace {
template <class Json>
Response serialized(int status, const Json& body) {
  Response res;
  res.status = status;
  res.content_type = "application/json";
  res.body = boost::json::serialize(body);
  return res;
}
}  // namespace

Response json_response(int status, const boost::json::value& body) {
  return serialized(status, body);
}
Response json_response(int status, const boost::json::object& body) {
  return serialized(status, body);
}

Response error_response(const Request& req, int status, std::string_view error, std::string_view description,
                        const boost::json::object* extra) {
  boost::json::object body;
  body["error"] = error;
  body["error_description"] = description;
  body["request_id"] = req.request_id;
  if (extra != nullptr) {
    for (const auto& [k, v] : *extra) {
      if (!body.contains(k)) body[k] = v;
    }
  }
  return json_response(status, body);
}

void Router::add(std::string_view method, std::string_view pattern, Handler handler) {
  Route r;
  r.method.reserve(method.size());
  for (char c : method) r.method.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  r.segments = split_path(pattern);
  if (r.segments.size() > kMaxSegments) {
    throw std::invalid_argument("a route has at most " + std::to_string(kMaxSegments) +
                                " segments: " + std::string(pattern));
  }
  r.pattern = std::string(pattern);
  r.handler = std::move(handler);
  if (std::none_of(r.segments.begin(), r.segments.end(), is_capture)) {
    literal_routes_[r.pattern].push_back(routes_.size());
  }
  routes_.push_back(std::move(r));
}

void Router::add_sync(std::string_view method, std::string_view pattern, SyncHandler handler) {
  add(method, pattern, [h = std::move(handler)](Request& req, Reply reply) { reply(h(req)); });
}

void Router::add_websocket(std::string_view pattern, WebSocketHandler handler) {
  // The plain-GET answer; the server runs `websocket` instead when the request is an upgrade.
  add("GET", pattern, [](Request& req, Reply reply) {
    auto res = error_response(req, 426, "upgrade_required", "This endpoint speaks WebSocket only.");
    res.set_header("Upgrade", "websocket");
    res.set_header("Sec-WebSocket-Version", "13");
    reply(std::move(res));
  });
  routes_.back().websocket = std::make_shared<WebSocketHandler>(std::move(handler));
}

std::vector<Router::RouteName> Router::routes() const {
  std::vector<RouteName> out;
  out.reserve(routes_.size());
  for (const auto& r : routes_) out.push_back({r.method, r.pattern});
  return out;
}

namespace {

/// Which segments of a matching route are captures, the first segment in the highest bit:
/// a smaller rank is a more specific route ("/users/me" before "/users/{id}"), since a
/// literal in an earlier segment beats a capture there. nullopt: the route does not match.
std::optional<std::uint64_t> capture_rank(const std::vector<std::string>& route, const PathSegments& segs) {
  if (route.size() != segs.size()) return std::nullopt;
  std::uint64_t rank = 0;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    rank <<= 1U;
    if (is_capture(route[i])) {
      if (segs[i].empty()) return std::nullopt;
      rank |= 1U;
    } else if (route[i] != segs[i]) {
      return std::nullopt;
    }
  }
  return rank;
}

}  // namespace

Router::Match Router::match(Request& req) const {
  Match m;
  if (auto literal = literal_routes_.find(req.path); literal != literal_routes_.end()) {
    for (const auto index : literal->second) {
      const auto& r = routes_[index];
      if (r.method != req.method) continue;
      m.handler = &r.handler;
      m.websocket = r.websocket.get();
      m.pattern = r.pattern;
      req.path_params.clear();
      return m;
    }
  }
  const auto segs = path_segments(req.path);
  if (segs.size() > kMaxSegments) return m;  // no route is that deep: 404
  const Route* best = nullptr;
  std::uint64_t best_rank = 0;
  const Route* best_any_method = nullptr;
  std::uint64_t best_any_rank = 0;
  for (const auto& r : routes_) {
    const auto rank = capture_rank(r.segments, segs);
    if (!rank) continue;
    if (best_any_method == nullptr || *rank < best_any_rank) {
      best_any_method = &r;
      best_any_rank = *rank;
    }
    if (r.method == req.method && (best == nullptr || *rank < best_rank)) {
      best = &r;
      best_rank = *rank;
    }
  }

  if (best == nullptr) {
    if (best_any_method == nullptr) return m;  // 404
    // 405 only for the most specific path shape, so "/users/me" does not advertise
    // the methods of "/users/{id}".
    std::vector<std::string_view> allowed;
    for (const auto& r : routes_) {
      if (capture_rank(r.segments, segs) == best_any_rank &&
          std::find(allowed.begin(), allowed.end(), r.method) == allowed.end()) {
        allowed.push_back(r.method);
      }
    }
    m.method_not_allowed = true;
    m.pattern = best_any_method->pattern;
    for (const auto& a : allowed) {
      if (!m.allowed_methods.empty()) m.allowed_methods += ", ";
      m.allowed_methods += a;
    }
    return m;
  }
  m.handler = &best->handler;
  m.websocket = best->websocket.get();
  m.pattern = best->pattern;
  req.path_params.clear();
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if ((best_rank >> (segs.size() - 1 - i) & 1U) != 0) {
      const auto& s = best->segments[i];
      req.path_params[s.substr(1, s.size() - 2)] = segs[i];
    }
  }
  return m;
}

}  // namespace permiso::http
