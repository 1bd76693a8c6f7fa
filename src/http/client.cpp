// The HTTP client on Beast/Asio and OpenSSL. Each pooled connection owns a private
// io_context, so a call is a short run() of that context on the caller's thread; one deadline
// (the tcp_stream expiry) bounds connect, TLS handshake, write and read, and name resolution
// waits on a detached getaddrinfo so a stuck resolver cannot hold a caller past it either.
#include "http/client.hpp"

#include "common/ascii.hpp"
#include "http/trace_context.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <netdb.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace permiso::http {

std::string_view to_string(ClientError e) {
  switch (e) {
    case ClientError::InvalidUrl:
      return "invalid_url";
    case ClientError::Resolve:
      return "resolve";
    case ClientError::Connect:
      return "connect";
    case ClientError::Tls:
      return "tls";
    case ClientError::Timeout:
      return "timeout";
    case ClientError::Io:
      return "io";
    case ClientError::ResponseTooLarge:
      return "response_too_large";
    case ClientError::Cancelled:
      return "cancelled";
  }
  return "unknown";
}

std::optional<std::string_view> ClientResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) { return a == ascii_lower(b); })) {
      return std::string_view(v);
    }
  }
  return std::nullopt;
}

std::string form_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// A pooled connection idle longer than this is dropped rather than reused: servers close
// idle connections after their own timeout (ours: 60 s) and a reuse racing that close fails.
constexpr std::chrono::seconds kMaxIdle{30};

struct Target {
  bool https = false;
  std::string host;  // without brackets for IPv6
  bool host_is_ip = false;
  std::uint16_t port = 0;
  std::string host_header;  // host[:port] as sent in Host
  std::string target;       // path?query
  std::string origin;       // pool key: scheme://host:port
};

Result<Target, ClientError> parse_target(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return ClientError::InvalidUrl;
  const auto& u = *parsed;
  Target t;
  if (u.scheme_id() == boost::urls::scheme::https) {
    t.https = true;
  } else if (u.scheme_id() != boost::urls::scheme::http) {
    return ClientError::InvalidUrl;
  }
  // Credentials in URLs end up in logs; nothing here sends them.
  if (!u.has_authority() || u.has_userinfo()) return ClientError::InvalidUrl;
  switch (u.host_type()) {
    case boost::urls::host_type::name: {
      t.host = u.host_name();
      if (t.host.empty() || t.host.find_first_of(std::string_view("\0 /\\", 4)) != std::string::npos) {
        return ClientError::InvalidUrl;
      }
      lower_ascii_in_place(t.host);
      break;
    }
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      t.host = u.host_address();
      t.host_is_ip = true;
      break;
    default:
      return ClientError::InvalidUrl;
  }
  const std::uint16_t default_port = t.https ? 443 : 80;
  if (u.has_port()) {
    if (u.port().empty()) {
      t.port = default_port;
    } else {
      // port_number() wraps values past 65535: read the digits ourselves.
      const std::string_view digits = u.port();
      if (digits.size() > 5) return ClientError::InvalidUrl;
      unsigned long value = 0;
      for (char c : digits) value = value * 10 + static_cast<unsigned long>(c - '0');
      if (value == 0 || value > 65535) return ClientError::InvalidUrl;
      t.port = static_cast<std::uint16_t>(value);
    }
  } else {
    t.port = default_port;
  }
  const bool v6 = u.host_type() == boost::urls::host_type::ipv6;
  const std::string bracketed = v6 ? "[" + t.host + "]" : t.host;
  t.host_header = t.port == default_port ? bracketed : bracketed + ":" + std::to_string(t.port);
  t.target = u.encoded_path().empty() ? std::string("/") : std::string(u.encoded_path());
  if (t.target.front() != '/') return ClientError::InvalidUrl;
  if (u.has_query()) {
    t.target += '?';
    t.target += u.encoded_query();
  }
  t.origin = std::string(t.https ? "https://" : "http://") + bracketed + ":" + std::to_string(t.port);
  return t;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return std::isalnum(c) != 0 || std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr;
  });
}

bool is_field_value(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

struct ResolveState {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  int rc = 0;
  std::vector<tcp::endpoint> endpoints;
};

/// getaddrinfo on a detached thread: the caller waits until its deadline and no longer; a
/// lookup still running then finishes on its own and frees its state.
Result<std::vector<tcp::endpoint>, ClientError> resolve(const Target& t, SteadyClock::time_point deadline) {
  if (t.host_is_ip) {
    beast::error_code ec;
    auto addr = asio::ip::make_address(t.host, ec);
    if (ec) return ClientError::InvalidUrl;
    return std::vector<tcp::endpoint>{tcp::endpoint(addr, t.port)};
  }
  auto state = std::make_shared<ResolveState>();
  try {
    std::thread([state, host = t.host, port = t.port] {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      hints.ai_flags = AI_NUMERICSERV;
      addrinfo* res = nullptr;
      const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
      std::vector<tcp::endpoint> eps;
      for (addrinfo* ai = res; rc == 0 && ai != nullptr; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof(sockaddr_in6)) {
          continue;
        }
        tcp::endpoint ep;
        std::memcpy(ep.data(), ai->ai_addr, ai->ai_addrlen);
        ep.resize(ai->ai_addrlen);
        eps.push_back(ep);
      }
      if (res != nullptr) ::freeaddrinfo(res);
      std::lock_guard lock(state->mutex);
      state->rc = rc;
      state->endpoints = std::move(eps);
      state->done = true;
      state->cv.notify_all();
    }).detach();
  } catch (const std::system_error&) {
    return ClientError::Resolve;  // no thread for the lookup
  }
  std::unique_lock lock(state->mutex);
  if (!state->cv.wait_until(lock, deadline, [&] { return state->done; })) return ClientError::Timeout;
  if (state->rc != 0 || state->endpoints.empty()) return ClientError::Resolve;
  return std::move(state->endpoints);
}

/// Every connection of one Client, so shutdown() can cut the calls in flight on other threads.
struct Registry {
  std::atomic<bool> cancelled{false};
  std::mutex mutex;
  std::unordered_set<struct Connection*> live;
};

struct Connection {
  explicit Connection(Registry& r) : registry(r) {
    std::lock_guard lock(registry.mutex);
    registry.live.insert(this);
  }
  ~Connection() {
    std::lock_guard lock(registry.mutex);
    registry.live.erase(this);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Registry& registry;
  asio::io_context ioc{1};
  beast::tcp_stream tcp{ioc};                               // plain http
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;  // https (owns its own tcp_stream)
  beast::flat_buffer buffer;
  SteadyClock::time_point idle_since{};

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : tcp; }

  /// Starts one asynchronous operation and runs this connection's context until it is done;
  /// the stream's expiry turns a missed deadline into beast::error::timeout.
  template <class Start>
  beast::error_code run(Start&& start) {
    beast::error_code result = asio::error::would_block;
    ioc.restart();
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    // shutdown() sets the flag before it stops the context: either the flag is seen here or
    // run() returns at once (or early), with the operation left pending and `result` unset.
    if (registry.cancelled.load()) return asio::error::operation_aborted;
    ioc.run();
    if (result == asio::error::would_block) return asio::error::operation_aborted;
    return result;
  }

  /// An idle connection with something to read has been closed by the server (or sent
  /// garbage): either way it cannot carry the next request.
  bool looks_alive() {
    auto& sock = lowest().socket();
    if (!sock.is_open()) return false;
    pollfd p{sock.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
};

struct Failure {
  ClientError error;
  bool write_failed = false;  // the request did not fully go out: the server cannot have acted
  bool no_response = false;   // not one byte came back: a kept-alive connection closed meanwhile
};

}  // namespace

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)), tls(ssl::context::tls_client) {
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
    if (options.verify_tls) {
      tls.set_verify_mode(ssl::verify_peer);
      beast::error_code ec;
      if (!options.ca_file.empty()) {
        tls.load_verify_file(options.ca_file, ec);
        if (ec) throw std::runtime_error("cannot load CA file " + options.ca_file + ": " + ec.message());
      } else {
        tls.set_default_verify_paths(ec);
        if (ec) throw std::runtime_error("cannot load the system trust store: " + ec.message());
      }
    } else {
      tls.set_verify_mode(ssl::verify_none);
    }
  }

  Result<std::unique_ptr<Connection>, ClientError> connect(const Target& t, SteadyClock::time_point deadline);
  Result<ClientResponse, Failure> exchange(Connection& c, bhttp::request<bhttp::string_body>& msg, bool head,
                                           SteadyClock::time_point deadline, bool& keep_alive);
  template <class Stream>
  Result<ClientResponse, Failure> exchange_on(Stream& s, Connection& c, bhttp::request<bhttp::string_body>& msg,
                                              bool head, SteadyClock::time_point deadline, bool& keep_alive);

  std::unique_ptr<Connection> take_idle(const std::string& origin) {
    std::vector<std::unique_ptr<Connection>> stale;  // destroyed outside the lock
    std::unique_ptr<Connection> found;
    {
      std::lock_guard lock(mutex);
      auto it = idle.find(origin);
      if (it == idle.end()) return nullptr;
      auto& list = it->second;
      const auto now = SteadyClock::now();
      while (!list.empty() && !found) {
        auto c = std::move(list.back());
        list.pop_back();
        if (now - c->idle_since < kMaxIdle && c->looks_alive()) {
          found = std::move(c);
        } else {
          stale.push_back(std::move(c));
        }
      }
      if (list.empty()) idle.erase(it);
    }
    return found;
  }

  void put_idle(const std::string& origin, std::unique_ptr<Connection> c) {
    c->idle_since = SteadyClock::now();
    std::lock_guard lock(mutex);
    auto& list = idle[origin];
    if (list.size() < options.max_idle_per_origin) list.push_back(std::move(c));
    if (list.empty()) idle.erase(origin);
  }

  ClientOptions options;
  ssl::context tls;
  Registry registry;
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;
};

Result<std::unique_ptr<Connection>, ClientError> Client::Impl::connect(const Target& t,
                                                                       SteadyClock::time_point deadline) {
  auto endpoints = resolve(t, deadline);
  if (!endpoints) return endpoints.error();
  auto c = std::make_unique<Connection>(registry);
  if (t.https) {
    c->tls.emplace(c->ioc, tls);
    SSL* ssl_handle = c->tls->native_handle();
    if (options.verify_tls) {
      // The certificate must name the host we asked for: a DNS name or an IP address SAN.
      if (t.host_is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), t.host.c_str()) != 1) {
          return ClientError::Tls;
        }
      } else {
        SSL_set_hostflags(ssl_handle, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(ssl_handle, t.host.c_str()) != 1) return ClientError::Tls;
      }
    }
    // SNI carries names only (RFC 6066). SSL_set_tlsext_host_name is a macro with a C cast.
    if (!t.host_is_ip && SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                  const_cast<char*>(t.host.c_str())) != 1) {
      return ClientError::Tls;
    }
  }
  auto& low = c->lowest();
  low.expires_at(deadline);
  auto ec = c->run([&](auto handler) { low.async_connect(*endpoints, std::move(handler)); });
  if (ec && registry.cancelled.load()) return ClientError::Cancelled;
  if (ec) return ec == beast::error::timeout ? ClientError::Timeout : ClientError::Connect;
  beast::error_code ignored;
  low.socket().set_option(tcp::no_delay(true), ignored);
  if (c->tls) {
    ec = c->run([&](auto handler) { c->tls->async_handshake(ssl::stream_base::client, std::move(handler)); });
    if (ec && registry.cancelled.load()) return ClientError::Cancelled;
    if (ec) return ec == beast::error::timeout ? ClientError::Timeout : ClientError::Tls;
  }
  return c;
}

template <class Stream>
Result<ClientResponse, Failure> Client::Impl::exchange_on(Stream& s, Connection& c,
                                                          bhttp::request<bhttp::string_body>& msg, bool head,
                                                          SteadyClock::time_point deadline, bool& keep_alive) {
  keep_alive = false;
  c.lowest().expires_at(deadline);
  auto ec = c.run([&](auto handler) { bhttp::async_write(s, msg, std::move(handler)); });
  if (ec) {
    if (ec == beast::error::timeout) return Failure{ClientError::Timeout};
    return Failure{ClientError::Io, true, true};
  }

  // Interim 1xx answers (other than 101) precede the real one; a few at most.
  for (int interim = 0; interim < 8; ++interim) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(options.max_header_bytes, UINT32_MAX)));
    parser.body_limit(options.max_body_bytes);
    if (head) parser.skip(true);
    ec = c.run([&](auto handler) { bhttp::async_read(s, c.buffer, parser, std::move(handler)); });
    if (ec) {
      if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
        return Failure{ClientError::ResponseTooLarge};
      }
      if (ec == beast::error::timeout) return Failure{ClientError::Timeout};
      const bool nothing = interim == 0 && !parser.got_some() && c.buffer.size() == 0;
      return Failure{ClientError::Io, false, nothing};
    }
    auto& res = parser.get();
    const unsigned status = res.result_int();
    if (status >= 100 && status < 200 && status != 101) continue;
    ClientResponse out;
    out.status = static_cast<int>(status);
    for (const auto& f : res) {
      std::string name(f.name_string());
      lower_ascii_in_place(name);
      out.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    out.body = std::move(res.body());
    keep_alive = res.keep_alive() && !parser.need_eof() && status != 101 && c.buffer.size() == 0;
    return out;
  }
  return Failure{ClientError::Io};
}

Result<ClientResponse, Failure> Client::Impl::exchange(Connection& c, bhttp::request<bhttp::string_body>& msg,
                                                       bool head, SteadyClock::time_point deadline, bool& keep_alive) {
  if (c.tls) return exchange_on(*c.tls, c, msg, head, deadline, keep_alive);
  return exchange_on(c.tcp, c, msg, head, deadline, keep_alive);
}

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Client::~Client() = default;

void Client::shutdown() {
  Registry& r = impl_->registry;
  r.cancelled.store(true);
  std::lock_guard lock(r.mutex);
  for (Connection* c : r.live) c->ioc.stop();  // thread-safe: the owner's run() returns
}

Result<ClientResponse, ClientError> Client::fetch(const ClientRequest& request) {
  if (impl_->registry.cancelled.load()) return ClientError::Cancelled;
  const auto deadline = SteadyClock::now() + request.timeout;
  auto target = parse_target(request.url);
  if (!target) return target.error();
  if (!is_token(request.method)) return ClientError::InvalidUrl;

  bhttp::request<bhttp::string_body> msg;
  msg.version(11);
  const auto verb = bhttp::string_to_verb(request.method);
  if (verb == bhttp::verb::unknown) {
    msg.method_string(request.method);
  } else {
    msg.method(verb);
  }
  msg.target(target->target);
  bool has_host = false;
  bool has_agent = false;
  bool has_trace = false;
  for (const auto& [name, value] : request.headers) {
    // A CR/LF in a header would let a caller's input split the request.
    if (!is_token(name) || !is_field_value(value)) return ClientError::InvalidUrl;
    has_host = has_host || iequals_ascii(name, "host");
    has_agent = has_agent || iequals_ascii(name, "user-agent");
    has_trace = has_trace || iequals_ascii(name, kTraceparentHeader);
  }
  if (!has_host) msg.set(bhttp::field::host, target->host_header);
  if (!has_agent && !impl_->options.user_agent.empty()) msg.set(bhttp::field::user_agent, impl_->options.user_agent);
  // A call made outside any traced request starts its own trace, so the server's logs and
  // spans of it still share one id (the caller passes its own traceparent to join its trace).
  if (!has_trace) msg.set(kTraceparentHeader, start_trace().traceparent());
  for (const auto& [name, value] : request.headers) msg.insert(name, value);
  msg.body() = request.body;
  const bool head = msg.method() == bhttp::verb::head;
  const bool idempotent = head || msg.method() == bhttp::verb::get || msg.method() == bhttp::verb::put ||
                          msg.method() == bhttp::verb::delete_ || msg.method() == bhttp::verb::options;
  if (!request.body.empty() || msg.method() == bhttp::verb::post || msg.method() == bhttp::verb::put ||
      msg.method() == bhttp::verb::patch) {
    msg.prepare_payload();
  }
  msg.keep_alive(impl_->options.max_idle_per_origin > 0);

  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> conn = attempt == 0 ? impl_->take_idle(target->origin) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      auto fresh = impl_->connect(*target, deadline);
      if (!fresh) return fresh.error();
      conn = std::move(*fresh);
    }
    bool keep_alive = false;
    auto res = impl_->exchange(*conn, msg, head, deadline, keep_alive);
    if (res) {
      if (keep_alive) impl_->put_idle(target->origin, std::move(conn));
      return std::move(*res);
    }
    const auto failure = res.error();
    if (impl_->registry.cancelled.load()) return ClientError::Cancelled;
    // A kept-alive connection the server closed meanwhile: once more on a fresh one. A
    // request that went out but got no answer is repeated only when repeating is harmless.
    const bool retry = reused && (failure.write_failed || (failure.no_response && idempotent));
    if (!retry) return failure.error;
  }
  return ClientError::Io;
}

}  // namespace permiso::http
