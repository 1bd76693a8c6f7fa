// Server implementation on Boost.Beast/Asio with C++20 coroutines: one coroutine per
// connection, running on that connection's strand; an upgraded connection becomes a
// WebSocket in the same coroutine. All Beast/Asio templates of the server live here.
#include "http/server.hpp"

#include "common/ascii.hpp"
#include "http/body.hpp"
#include "http/corked_stream.hpp"
#include "http/metrics.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace permiso::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
// A connection's executor, sockets, timers and coroutines name its strand's concrete type:
// with Asio's defaults (any_io_executor) every read, write and resumption went through a
// type-erased executor (a virtual prefer, copy and destroy per operation).
using Executor = asio::strand<asio::io_context::executor_type>;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;
template <class T>
using Task = asio::awaitable<T, Executor>;
constexpr asio::use_awaitable_t<Executor> kUseTask{};
// Plain sockets, not beast::tcp_stream: its timeouts arm and cancel a reactor timer around
// every read and write; IoDeadline keeps the same bounds at a fraction of the cost.
using PlainStream = Socket;
using TlsStream = beast::ssl_stream<Socket>;
template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

// The headers every answer carries, whatever its route: one block, not a header each.
constexpr std::string_view kSecurityHeaders =
    "X-Frame-Options: DENY\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-XSS-Protection: 1; mode=block\r\n"
    "Referrer-Policy: strict-origin-when-cross-origin\r\n";

// Answers to pipelined requests held back to go out in one write: at most this many bytes.
constexpr std::size_t kMaxHeldBackBytes = std::size_t{64} * 1024;
// WebSocket frames queued for a peer gathered to go out in one write: at most this many bytes
// (about a hundred quotes; per connection, on top of the queue's bound).
constexpr std::size_t kMaxGatheredFrameBytes = std::size_t{16} * 1024;

// Room for a typical request's fields (browsers send about a dozen) before the vector grows.
constexpr std::size_t kUsualFieldCount = 16;

// The first read on an idle connection only needs to see that a request has started.
constexpr std::size_t kFirstReadChunk = 4096;
// After an error answer we read and discard what the client is still sending, so closing
// does not reset the connection before the client has read our answer.
// Bounded in bytes and time, so an endless upload cannot hold the connection.
constexpr std::size_t kMaxDrainBytes = std::size_t{16} * 1024 * 1024;
constexpr std::chrono::milliseconds kMaxDrainTime{2000};

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
}

/// A fresh X-Request-ID: 32 hex digits, from the same per-thread generator as trace ids.
std::string random_request_id() {
  std::string out(32, '0');
  random_hex(out);
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

std::string_view trim_blanks(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return value;
}

/// Beast's HTTP/1.1 parser writing straight into a Request: the method, target, fields
/// (names lower-cased) and body land where the handler reads them. Beast's own request_parser
/// built a beast::http::fields first (an allocation per field), copied afterwards.
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  RequestParser(Request& req, std::uint32_t header_limit, std::uint64_t body_limit) : req_(req) {
    this->header_limit(header_limit);
    this->body_limit(body_limit);
  }

  /// A Transfer-Encoding other than exactly "chunked", or given twice: the parser would take
  /// the body as empty where a proxy in front may not (RFC 9112 §6.1 wants a 400), so the
  /// request is refused and the connection closed rather than framed by a guess.
  [[nodiscard]] bool ambiguous_framing() const { return ambiguous_framing_; }
  [[nodiscard]] int http_version() const { return version_; }

 private:
  void on_request_impl(bhttp::verb, beast::string_view method, beast::string_view target, int version,
                       beast::error_code&) override {
    req_.method.assign(method.data(), method.size());
    req_.target.assign(target.data(), target.size());
    version_ = version;
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(bhttp::field field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    const std::string_view text(value.data(), value.size());
    if (field == bhttp::field::transfer_encoding) {
      ambiguous_framing_ = ambiguous_framing_ || saw_transfer_encoding_ || !iequals_ascii(trim_blanks(text), "chunked");
      saw_transfer_encoding_ = true;
    }
    std::string lower(name.data(), name.size());
    lower_ascii_in_place(lower);
    req_.headers.emplace_back(std::move(lower), text);
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, beast::error_code&) override {
    // Within the body limit: the base class refused a longer Content-Length already.
    if (content_length) req_.body.reserve(static_cast<std::size_t>(*content_length));
  }
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    req_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    req_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  Request& req_;
  int version_ = 11;
  bool saw_transfer_encoding_ = false;
  bool ambiguous_framing_ = false;
};

/// RFC 6455 §4.2.1 as Beast's websocket::is_upgrade reads it, from our Request.
bool is_websocket_upgrade(const Request& req, int version) {
  if (version < 11 || req.method != "GET") return false;
  const auto connection = req.header("connection");
  const auto upgrade = req.header("upgrade");
  return connection && upgrade && bhttp::token_list(*connection).exists("upgrade") &&
         bhttp::token_list(*upgrade).exists("websocket");
}

/// The upgrade request again as Beast's message, for its WebSocket handshake (rare path).
bhttp::request<bhttp::empty_body> beast_request(const Request& req, int version) {
  bhttp::request<bhttp::empty_body> msg;
  msg.method_string(req.method);
  msg.target(req.target);
  msg.version(static_cast<unsigned>(version));
  for (const auto& [name, value] : req.headers) msg.insert(name, value);
  return msg;
}

std::string_view method_label(std::string_view m) {
  for (std::string_view known : {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}) {
    if (m == known) return known;
  }
  return "OTHER";  // bounded cardinality whatever clients send
}

bool safe_header_value(std::string_view v) {
  return v.find_first_of("\r\n") == std::string_view::npos;
}

/// RFC 9110 5.1: a field name is a token.
bool header_name_token(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

/// Lets a Reply outlive the server: posting happens under the mutex, and the server
/// flips `alive` before its io_context goes away.
struct Lifeline {
  std::mutex mutex;
  bool alive = true;
};

/// What the server, a WebSocket peer and a Reply see of a connection, whatever its stream
/// (plain TCP or TLS): the strand to post to, and the calls made on that strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session() = default;
  virtual ~Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  virtual Executor executor() = 0;
  /// On the strand: the server is stopping.
  virtual void on_stop() = 0;
  /// On the strand: frames were queued on the peer.
  virtual void ws_kick() = 0;
  [[nodiscard]] virtual std::chrono::milliseconds ws_close_limit() const = 0;
  /// On the strand: close the WebSocket with this code and reason within `limit`.
  virtual void ws_request_close(std::uint16_t code, std::string_view reason, std::chrono::milliseconds limit) = 0;
  /// On the strand: a handler answered request `seq`.
  virtual void on_reply(std::uint64_t seq, Response res) = 0;
};

/// A WebSocket peer as its handler sees it. The outgoing queue lives here, under a mutex,
/// so send() from any thread never touches the stream; the session's writer (on the strand)
/// pops from it. Bounded in frames and bytes: over the bound the peer is closed, never grown.
/// Frames are held by shared reference: a fan-out's frame is one allocation however many
/// peers queue it (1,000 subscribers a few hundred frames behind held 1,000 copies of each).
class WsPeer final : public WebSocketPeer {
 public:
  WsPeer(std::weak_ptr<Session> session, std::shared_ptr<Lifeline> lifeline, std::string request_id,
         const WebSocketLimits& limits)
      : session_(std::move(session)),
        lifeline_(std::move(lifeline)),
        request_id_(std::move(request_id)),
        max_messages_(limits.max_queued_messages),
        max_bytes_(limits.max_queued_bytes) {}

  bool send(std::string text) override { return send_shared(std::make_shared<const std::string>(std::move(text))); }
  bool send_shared(std::shared_ptr<const std::string> text) override;
  void close(std::uint16_t code, std::string reason) override;
  [[nodiscard]] bool is_open() const override {
    std::lock_guard lock(mutex_);
    return open_;
  }
  [[nodiscard]] bool cut_as_slow_consumer() const override {
    std::lock_guard lock(mutex_);
    return slow_;
  }
  [[nodiscard]] const std::string& request_id() const override { return request_id_; }

  // The session's side (strand).
  /// The next frame to write, and whether more are queued behind it; none (and the next
  /// send() posts a new kick) when empty or closed.
  std::shared_ptr<const std::string> pop(bool& more) {
    std::lock_guard lock(mutex_);
    if (!open_ || queue_.empty()) {
      kick_posted_ = false;
      more = false;
      return nullptr;
    }
    auto next = std::move(queue_.front());
    queue_.pop_front();
    more = !queue_.empty();
    queued_bytes_ -= next->size();
    in_flight_bytes_ = next->size();
    return next;
  }
  void written() {
    std::lock_guard lock(mutex_);
    in_flight_bytes_ = 0;
  }
  /// No more frames: queued ones are dropped at once.
  void shut() {
    std::lock_guard lock(mutex_);
    open_ = false;
    queue_.clear();
    queued_bytes_ = 0;
  }

 private:
  template <class F>
  void post(F&& f);

  std::weak_ptr<Session> session_;
  std::shared_ptr<Lifeline> lifeline_;
  std::string request_id_;
  std::size_t max_messages_;
  std::size_t max_bytes_;
  mutable std::mutex mutex_;
  bool open_ = true;
  bool slow_ = false;  // closed by send() for falling behind
  bool kick_posted_ = false;
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t in_flight_bytes_ = 0;  // the frame being written still holds its memory
};

}  // namespace

struct Server::Impl {
  Impl(ServerConfig c, Router& r, ServerHooks h);
  ~Impl();

  void log_error(std::string_view msg) const {
    if (hooks.error_log) {
      hooks.error_log(msg);
    } else {
      std::fprintf(stderr, "permiso-http: %.*s\n", static_cast<int>(msg.size()), msg.data());
    }
  }
  asio::awaitable<void> accept_loop();
  /// Registers and starts one accepted connection (over a TLS stream when `tls` is given).
  template <class Stream, class... Tls>
  void start_connection(Socket socket, Tls&... tls);
  void stop();
  void session_closed(std::uint64_t id);
  /// Sets req.remote_ip and req.via_trusted_proxy from the peer and X-Forwarded-For.
  void identify_client(const std::string& peer, Request& req) const;

  ServerConfig config;
  Router& router;
  ServerHooks hooks;

  /// The admission hook (e.g. rate limits) in front of every routed handler.
  std::optional<Response> admit(const Request& req, std::string_view route) const {
    if (!hooks.admit) return std::nullopt;
    return hooks.admit(req, route);
  }
  unsigned thread_count = 1;
  std::shared_ptr<Lifeline> lifeline = std::make_shared<Lifeline>();
  std::atomic<bool> stopping{false};
  std::atomic<bool> destroying{false};
  std::uint16_t bound_port = 0;
  std::vector<asio::ip::address> trusted;
  /// Set when the server terminates TLS itself (ServerConfig::tls).
  std::optional<asio::ssl::context> tls_context;

  std::mutex sessions_mutex;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::uint64_t next_session_id = 0;

  CounterFamily* requests_total = nullptr;
  HistogramFamily* request_duration = nullptr;
  Gauge* in_flight = nullptr;
  Gauge* websockets_open = nullptr;

  // Declared last so they are destroyed first: ~io_context destroys the connections still
  // queued in it, and their destructors use the members above.
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::strand<asio::io_context::executor_type> control;
  asio::steady_timer grace_timer;
};

namespace {

/// IoDeadline's step: no deadline is set closer than this.
Clock::duration shortest_io_timeout(const ServerConfig& c) {
  return std::min({c.header_timeout, c.read_timeout, c.write_timeout, c.idle_timeout});
}

/// A connection's I/O deadline: what beast::tcp_stream's expires_after/expires_at gave, at
/// the cost of a store per request. tcp_stream armed and cancelled a reactor timer around every
/// read and write (the reactor's mutex, a timer-heap update and a completion each); here one
/// timer per connection wakes at the deadline or after `step` at the latest, and looks. Every
/// deadline is set at least `step` ahead (step is the shortest configured timeout), so a new
/// one almost never falls before the armed wake-up and the timer is re-armed about once per
/// `step`, not per operation. `expire` runs on the connection's strand when the deadline has
/// passed; it answers whether it cut the connection (false: no I/O is waiting, check again).
class IoDeadline {
 public:
  IoDeadline(const Executor& executor, Clock::duration step)
      : timer_(executor), step_(std::max<Clock::duration>(step, std::chrono::milliseconds(1))) {}

  /// Before the first deadline: the owner whose end cancels the watch, and what to do then.
  void start(std::weak_ptr<void> owner, std::function<bool()> expire) {
    owner_ = std::move(owner);
    expire_ = std::move(expire);
  }
  void expires_at(Clock::time_point deadline) {
    deadline_ = deadline;
    if (!armed_ || deadline < wake_) arm(std::min(deadline, Clock::now() + step_));
  }
  void expires_after(Clock::duration limit) { expires_at(Clock::now() + limit); }
  /// No deadline from here on (a WebSocket keeps its own; a connection closing).
  void cancel() {
    deadline_ = Clock::time_point::max();
    timer_.cancel();
    armed_ = false;
  }

 private:
  void arm(Clock::time_point wake) {
    armed_ = true;
    wake_ = wake;
    timer_.expires_at(wake);  // cancels the wait armed before, if any
    timer_.async_wait([this, owner = owner_](beast::error_code ec) {
      if (ec) return;  // re-armed earlier, or the connection is going away
      if (auto alive = owner.lock()) woke();
    });
  }
  void woke() {
    armed_ = false;
    if (deadline_ == Clock::time_point::max()) return;
    const auto now = Clock::now();
    if (now >= deadline_ && expire_()) {
      deadline_ = Clock::time_point::max();
      return;
    }
    arm(now >= deadline_ ? now + step_ : std::min(deadline_, now + step_));
  }

  Timer timer_;
  Clock::duration step_;
  std::weak_ptr<void> owner_;
  std::function<bool()> expire_;
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point wake_{};
  bool armed_ = false;
};

/// One connection over `Stream`: a TCP socket, or beast::ssl_stream over it when the server
/// terminates TLS itself. Everything after the handshake is the same code.
template <class Stream>
class Connection final : public Session {
 public:
  /// `tls` is the server's TLS context for an ssl_stream, nothing for a plain one.
  template <class... Tls>
  Connection(Server::Impl& srv, Socket socket, std::uint64_t id, Tls&... tls)
      : srv_(srv),
        executor_(socket.get_executor()),
        stream_(std::move(socket), tls...),
        buffer_(srv.config.header_limit + srv.config.body_limit + 65536),
        reply_timer_(stream_.get_executor()),
        deadline_(stream_.get_executor(), shortest_io_timeout(srv.config)),
        id_(id) {
    beast::error_code ec;
    auto ep = this->socket().remote_endpoint(ec);
    if (!ec) {
      auto addr = ep.address();
      if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
        addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
      }
      peer_ip_ = addr.to_string();
    }
  }
  ~Connection() override { srv_.session_closed(id_); }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Not stream_'s: the stream moves into the WebSocket on an upgrade.
  Executor executor() override { return executor_; }
  /// The connection's coroutine; `self` (a parameter, so it lives in the coroutine frame)
  /// keeps the session alive from the spawn on, wherever and whenever it starts.
  static Task<void> run(std::shared_ptr<Connection> self) { return self->serve(std::move(self)); }

  void on_stop() override {
    stopping_ = true;
    if (state_ == State::Websocket) {
      ws_request_close(websocket::close_code::going_away, "going away",
                       std::min(srv_.config.write_timeout, srv_.config.shutdown_grace));
    } else if (state_ == State::Idle) {
      close_idle_after(std::min(srv_.config.idle_drain, srv_.config.shutdown_grace));
    }
  }

  /// Lame duck (ServerConfig::idle_drain): the idle connection closes after `limit` unless a
  /// request arrives first (serve() then answers it with Connection: close, and the handler
  /// timer it sets cancels this one).
  void close_idle_after(std::chrono::milliseconds limit) {
    reply_timer_.expires_after(limit);
    reply_timer_.async_wait([weak = weak_from_this(), this](beast::error_code ec) {
      auto alive = weak.lock();
      if (ec || !alive || state_ != State::Idle) return;
      beast::error_code ignored;
      socket().cancel(ignored);
    });
  }

  void ws_kick() override {
    if (!ws_ || ws_writing_ || ws_done_) return;
    ws_writing_ = true;
    asio::co_spawn(executor_, ws_write_loop(), asio::detached);
  }

  /// A close handshake (or the frame still being written before it) not done within the
  /// write timeout is cut: a peer that stopped reading cannot hold the connection.
  [[nodiscard]] std::chrono::milliseconds ws_close_limit() const override { return srv_.config.write_timeout; }

  /// On the strand: send a close frame (after the frame being written, if any), drop what is
  /// queued, and cut the connection if the close has not completed within `limit`.
  void ws_request_close(std::uint16_t code, std::string_view reason, std::chrono::milliseconds limit) override {
    if (!ws_ || !ws_peer_ || ws_closing_ || ws_done_) return;
    ws_closing_ = true;
    ws_peer_->shut();
    // RFC 6455 5.5: a control frame payload is at most 125 bytes, 2 of them the code.
    ws_close_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason.substr(0, 123));
    reply_timer_.expires_after(limit);
    reply_timer_.async_wait([self = self_ptr()](beast::error_code ec) {
      if (!ec) self->ws_cut();
    });
    if (!ws_writing_) {
      ws_writing_ = true;
      asio::co_spawn(executor_, ws_write_loop(), asio::detached);
    }
  }

  void on_reply(std::uint64_t seq, Response res) override {
    if (seq != seq_ || answered_ || state_ != State::Handling) return;  // late, after a timeout
    answered_ = true;
    response_ = std::move(res);
    reply_timer_.cancel();
  }

 private:
  enum class State { Idle, Reading, Handling, Writing, Websocket };

  Task<bool> write(Response res, const Request& req, bool keep_alive, std::string_view route, Clock::time_point started,
                   bool preflight, bool counts_in_flight);
  /// Writes the answers write() held back; before any wait for the peer or a handler.
  Task<bool> send_held_back();
  /// Metrics and access log of one answer.
  void record(int status, std::size_t bytes, const Request& req, std::string_view route, Clock::time_point started,
              bool counts_in_flight) const;
  [[nodiscard]] bool ws_origin_allowed(const Request& req) const;
  Task<void> run_websocket(const bhttp::request<bhttp::empty_body>& msg, WebSocketAccept accept,
                           std::shared_ptr<Request> req, std::string route, Clock::time_point started);
  Task<void> ws_write_loop();
  /// Timeouts, size limit and handshake headers of the new WebSocket; returns the timeouts.
  websocket::stream_base::timeout ws_configure(const Request& req, const WebSocketAccept& accept);
  /// Hands the peer to the route's on_open (closing on a throw, or when stopping).
  void ws_open(WebSocketAccept& accept, WebSocketCallbacks& callbacks, const std::string& route, const Request& req);
  /// Reads messages into on_message until the connection ends.
  Task<void> ws_read_loop(const WebSocketCallbacks& callbacks, const std::string& route, const Request& req);
  void ws_cut() {
    beast::error_code ignored;
    if (ws_) beast::get_lowest_layer(*ws_).close(ignored);
  }
  Task<void> serve(std::shared_ptr<Connection> self);
  /// TLS only: the server's side of the handshake. False when it failed (then closed).
  Task<bool> handshake();
  std::shared_ptr<Connection> self_ptr() { return std::static_pointer_cast<Connection>(shared_from_this()); }
  /// The TCP socket under the stream (the stream itself when it is plain).
  Socket& socket() { return beast::get_lowest_layer(stream_); }
  /// IoDeadline's expiry: cuts the connection when a read or write is waiting on it (as
  /// tcp_stream did); a handler at work or a WebSocket is not this deadline's to cut.
  bool cut_on_deadline() {
    if (state_ == State::Handling || state_ == State::Websocket) return false;
    deadline_cut_ = true;
    beast::error_code ignored;
    socket().close(ignored);
    return true;
  }

  /// What one parsed request gets: an answer now, a handler to run, or a WebSocket upgrade.
  struct Decision {
    enum class Kind { Respond, Dispatch, Upgrade };
    Kind kind = Kind::Respond;
    Response response;  // for respond
    std::string route;  // the metrics label
    bool preflight = false;
    const Handler* handler = nullptr;          // for dispatch
    std::optional<WebSocketAccept> ws_accept;  // for upgrade
  };
  /// The request-handling step, without I/O: target checks, CORS preflight, routing,
  /// admission and the WebSocket handler's verdict.
  Decision decide(Request& req, int http_version) const;
  void decide_upgrade(Request& req, const WebSocketHandler& handler, Decision& d) const;
  /// What the connection knows of a request: its id (the client's when well-formed), whether
  /// it came over TLS, and who sent it (behind a trusted proxy, the proxy's word).
  void identify(Request& req) const {
    auto id = req.header("x-request-id");
    req.request_id = id && valid_request_id(*id) ? std::string(*id) : random_request_id();
    req.trace = continue_trace(req.header(kTraceparentHeader));
    req.tls = kIsTls<Stream>;
    srv_.identify_client(peer_ip_, req);
  }
  /// Runs the handler; an inline answer (AnsweringFor) is in response_ when it returns.
  void start_handler(const Handler& handler, const std::shared_ptr<Request>& req, const std::string& route);
  /// The handler's answer, or 503 when it did not answer in time.
  Response take_reply(const Request& req, const std::string& route);
  void close_stream();
  /// Parses what is already in buffer_; need_more is not an error.
  beast::error_code parse_buffered(RequestParser& parser);
  struct ReadResult {
    beast::error_code ec;
    bool peer_gone = false;  // the 100 Continue could not be written: nothing to answer
  };
  /// Reads the rest of a request that was not whole in the buffer.
  Task<ReadResult> read_rest(RequestParser& parser, const Request& req, Clock::time_point header_deadline);
  /// The answer to a request that could not be read, or none when the client is gone.
  std::optional<Response> read_error_response(const beast::error_code& ec, const Request& req) const;
  void finalize(Response& res, const Request& req, bool preflight) const;
  Task<void> drain_and_close();
  /// What is known of a request that could not be read whole: its head, when that was.
  void keep_partial_request(Request& req, const RequestParser& parser) const;

  Server::Impl& srv_;
  Executor executor_;
  Stream stream_;
  beast::flat_buffer buffer_;
  Timer reply_timer_;
  IoDeadline deadline_;
  bool deadline_cut_ = false;  // a read or write ran out of time (the socket is closed)
  std::uint64_t id_;
  std::string peer_ip_;
  State state_ = State::Idle;
  bool stopping_ = false;
  std::uint64_t seq_ = 0;
  bool answered_ = false;
  /// Answers to pipelined requests not yet written (write()); sent before anything waits.
  std::string pending_;
  std::optional<Response> response_;
  struct MetricChildren {
    std::string route;
    std::string_view method;  // one of method_label()'s literals
    int status = 0;
    Counter* requests = nullptr;
    Histogram* duration = nullptr;
  };
  mutable MetricChildren metric_children_;  // record()'s cache of the last answer's children

  // WebSocket mode, after an upgrade (strand only). reply_timer_ bounds the close.
  std::optional<websocket::stream<CorkedStream<Stream>>> ws_;
  std::shared_ptr<WsPeer> ws_peer_;
  std::optional<websocket::close_reason> ws_close_;  // a close the writer is to send
  bool ws_writing_ = false;
  bool ws_closing_ = false;
  bool ws_done_ = false;
};

template <class F>
void WsPeer::post(F&& f) {
  std::lock_guard lock(lifeline_->mutex);
  if (!lifeline_->alive) return;
  auto s = session_.lock();
  if (!s) return;
  asio::post(s->executor(), [s, fn = std::forward<F>(f)]() mutable { fn(*s); });
}

bool WsPeer::send_shared(std::shared_ptr<const std::string> text) {
  std::unique_lock lock(mutex_);
  if (!open_) return false;
  if (queue_.size() >= max_messages_ || queued_bytes_ + in_flight_bytes_ + text->size() > max_bytes_) {
    // A consumer this far behind only costs memory: cut it rather than buffer more.
    open_ = false;
    slow_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    lock.unlock();
    post([](Session& s) {
      s.ws_request_close(websocket::close_code::policy_error, "slow consumer", s.ws_close_limit());
    });
    return false;
  }
  queued_bytes_ += text->size();
  queue_.push_back(std::move(text));
  if (kick_posted_) return true;
  kick_posted_ = true;
  lock.unlock();
  post([](Session& s) { s.ws_kick(); });
  return true;
}

void WsPeer::close(std::uint16_t code, std::string reason) {
  post([code, r = std::move(reason)](Session& s) { s.ws_request_close(code, r, s.ws_close_limit()); });
}

/// The session whose handler this thread is running, if any (set around the handler call).
thread_local const Session* t_answering = nullptr;

/// Marks this thread as running `session`'s handler for the guard's lifetime. Held across no
/// co_await, so the marker never follows a coroutine to another thread.
class AnsweringFor {
 public:
  explicit AnsweringFor(const Session* session) : previous_(std::exchange(t_answering, session)) {}
  ~AnsweringFor() { t_answering = previous_; }
  AnsweringFor(const AnsweringFor&) = delete;
  AnsweringFor& operator=(const AnsweringFor&) = delete;

 private:
  const Session* previous_;
};

/// Shared by the copies of one Reply: the first call wins.
struct ReplyState {
  ReplyState(std::weak_ptr<Session> s, const Session* o) : session(std::move(s)), owner(o) {}

  std::weak_ptr<Session> session;
  const Session* owner;  // compared with t_answering, never dereferenced from here
  std::shared_ptr<Lifeline> lifeline;
  std::uint64_t seq = 0;
  std::shared_ptr<Request> request;  // the handler's Request& stays valid while a Reply lives
  std::atomic<bool> called{false};

  void deliver(Response res) {
    if (called.exchange(true)) return;
    if (t_answering == owner) {
      // The handler is answering before it returns (the usual case): this thread is inside
      // the session's own call on its strand, so the answer is taken at once, with no trip
      // through the scheduler's queue, no wakeup of another thread and no reply timer.
      if (auto s = session.lock()) s->on_reply(seq, std::move(res));
      return;
    }
    // From another thread: the session is locked under the lifeline, so its last reference
    // is never dropped here once the server is being destroyed.
    std::lock_guard lock(lifeline->mutex);
    if (!lifeline->alive) return;
    auto s = session.lock();
    if (!s) return;
    asio::post(s->executor(), [s, seq = seq, r = std::move(res)]() mutable { s->on_reply(seq, std::move(r)); });
  }
};

template <class Stream>
void Connection<Stream>::keep_partial_request(Request& req, const RequestParser& parser) const {
  if (!parser.is_header_done()) {  // a head cut short: none of it is believed
    req.method.clear();
    req.target.clear();
    req.headers.clear();
  }
  req.body.clear();
  identify(req);
}

template <class Stream>
void Connection<Stream>::finalize(Response& res, const Request& req, bool preflight) const {
  const auto& cors = srv_.config.cors;
  auto& h = res.headers;
  // Handler headers with CR/LF would split the response, a name that is not a token would
  // corrupt it, and the framing headers are the server's to write: drop them.
  h.erase(std::remove_if(h.begin(), h.end(),
                         [](const auto& kv) {
                           return !header_name_token(kv.first) || !safe_header_value(kv.second) ||
                                  iequals_ascii(kv.first, "content-length") ||
                                  iequals_ascii(kv.first, "transfer-encoding") || iequals_ascii(kv.first, "connection");
                         }),
          h.end());
  auto has = [&](std::string_view name) {
    return std::any_of(h.begin(), h.end(), [&](const auto& kv) { return iequals_ascii(kv.first, name); });
  };
  // X-Request-ID and kSecurityHeaders are written straight into the head by write().
  if (res.content_type.rfind("application/json", 0) == 0 && !has("Cache-Control")) {
    h.emplace_back("Cache-Control", "no-store");
  }
  if (!cors.allowed_origins.empty()) {
    // Always, so a shared cache never replays one origin's answer to another.
    h.emplace_back("Vary", "Origin");
  }
  if (auto origin = req.header("origin"); origin && !cors.allowed_origins.empty()) {
    const bool allowed =
        std::find(cors.allowed_origins.begin(), cors.allowed_origins.end(), *origin) != cors.allowed_origins.end();
    if (allowed) {
      h.emplace_back("Access-Control-Allow-Origin", std::string(*origin));
      h.emplace_back("Access-Control-Allow-Credentials", "true");
      if (preflight) {
        h.emplace_back("Access-Control-Allow-Methods", join(cors.allowed_methods));
        h.emplace_back("Access-Control-Allow-Headers", join(cors.allowed_headers));
        h.emplace_back("Access-Control-Max-Age", std::to_string(cors.max_age.count()));
      } else if (!cors.exposed_headers.empty()) {
        h.emplace_back("Access-Control-Expose-Headers", join(cors.exposed_headers));
      }
    }
  }
}

template <class Stream>
Task<bool> Connection<Stream>::write(Response res, const Request& req, bool keep_alive, std::string_view route,
                                     Clock::time_point started, bool preflight, bool counts_in_flight) {
  finalize(res, req, preflight);
  if (res.status < 100 || res.status > 599) {
    srv_.log_error("handler for " + std::string(route) + " answered status " + std::to_string(res.status) +
                   " (request_id " + req.request_id + ")");
    res = error_response(req, 500, "internal_error", "An internal error occurred.");
    finalize(res, req, preflight);
  }
  const int status = res.status;
  const bool no_body = status == 204 || status == 304 || status < 200;
  if (no_body) res.body.clear();
  const std::size_t bytes = res.body.size();

  // The head is written by hand into one buffer and sent with the body in one gather write:
  // the answer is plain HTTP/1.1, and building it through Beast's fields and serializer cost
  // more than the rest of the response path (an allocation per header, nested buffer views).
  // finalize() has already dropped unsafe names and values; the framing headers are ours.
  std::string head;
  head.reserve(kSecurityHeaders.size() + 192 + res.content_type.size());
  head += "HTTP/1.1 ";
  head += std::to_string(status);
  head += ' ';
  head += bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  head += "\r\n";
  if (!no_body && !res.content_type.empty()) {
    head += "Content-Type: ";
    head += res.content_type;
    head += "\r\n";
  }
  for (const auto& [k, v] : res.headers) {
    head += k;
    head += ": ";
    head += v;
    head += "\r\n";
  }
  head += "X-Request-ID: ";
  head += req.request_id;
  head += "\r\n";
  head += kSecurityHeaders;
  if (!no_body) {
    head += "Content-Length: ";
    head += std::to_string(bytes);
    head += "\r\n";
  }
  if (!keep_alive) head += "Connection: close\r\n";
  head += "\r\n";

  // Recorded before the write: latency is the server's, not a slow reader's, and a client
  // that has seen the response also sees it counted.
  record(status, bytes, req, route, started, counts_in_flight);

  // The next request is already here (pipelined): its answer goes out with this one, in one
  // write instead of one each, unless too much is held back already.
  if (keep_alive && buffer_.size() > 0 && pending_.size() + head.size() + bytes <= kMaxHeldBackBytes) {
    pending_ += head;
    pending_ += res.body;
    co_return true;
  }
  state_ = State::Writing;
  beast::error_code ec;
  deadline_.expires_after(srv_.config.write_timeout);
  const std::array<asio::const_buffer, 3> buffers{asio::buffer(pending_), asio::buffer(head), asio::buffer(res.body)};
  co_await asio::async_write(stream_, buffers, asio::redirect_error(kUseTask, ec));
  pending_.clear();
  co_return !ec;
}

template <class Stream>
Task<bool> Connection<Stream>::send_held_back() {
  if (pending_.empty()) co_return true;
  state_ = State::Writing;
  beast::error_code ec;
  deadline_.expires_after(srv_.config.write_timeout);
  co_await asio::async_write(stream_, asio::buffer(pending_), asio::redirect_error(kUseTask, ec));
  pending_.clear();
  co_return !ec;
}

template <class Stream>
void Connection<Stream>::record(int status, std::size_t bytes, const Request& req, std::string_view route,
                                Clock::time_point started, bool counts_in_flight) const {
  const auto elapsed = Clock::now() - started;
  const auto path = std::string_view(req.target).substr(0, std::string_view(req.target).find('?'));
  if (srv_.requests_total != nullptr) {
    // A connection mostly repeats one request: its children are looked up once, not per
    // answer (they live as long as their family).
    auto& m = metric_children_;
    const auto method = method_label(req.method);
    if (m.requests == nullptr || m.route != route || m.method != method || m.status != status) {
      if (m.route != route || m.duration == nullptr) {
        m.route = std::string(route);
        m.duration = &srv_.request_duration->with({route});
      }
      m.method = method;
      m.status = status;
      m.requests = &srv_.requests_total->with({route, method, std::to_string(status)});
    }
    m.requests->inc();
    m.duration->observe(std::chrono::duration<double>(elapsed).count());
  }
  if (srv_.hooks.access_log) {
    AccessLogEntry e;
    e.method = req.method;
    e.path = path;
    e.route = route;
    e.status = status;
    e.duration = std::chrono::duration_cast<std::chrono::microseconds>(elapsed);
    e.bytes = bytes;
    e.request_id = req.request_id;
    e.remote_ip = req.remote_ip;
    e.user_agent = req.header("user-agent").value_or("");
    e.trace_id = req.trace.trace_id_hex();
    e.span_id = req.trace.span_id_hex();
    e.parent_span_id = req.trace.parent_id_hex();
    e.sampled = req.trace.sampled();
    e.started =
        std::chrono::system_clock::now() - std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed);
    try {
      srv_.hooks.access_log(e);
    } catch (const std::exception& ex) {
      srv_.log_error(std::string("access log hook threw: ") + ex.what());
    }
  }
  if (counts_in_flight && srv_.in_flight != nullptr) srv_.in_flight->dec();
}

template <class Stream>
bool Connection<Stream>::ws_origin_allowed(const Request& req) const {
  // Browsers let any page open a WebSocket anywhere, with its cookies: the Origin check is
  // the only thing between an upgrade and cross-site WebSocket hijacking.
  auto origin = req.header("origin");
  if (!origin) return true;  // not a browser
  const auto& allowed = srv_.config.cors.allowed_origins;
  if (std::find(allowed.begin(), allowed.end(), *origin) != allowed.end()) return true;
  // Same origin: the page came from the address the client used (behind a trusted proxy,
  // the one the proxy reports), scheme included.
  return iequals_ascii(*origin, public_base_url(req));
}

template <class Stream>
Task<void> Connection<Stream>::ws_write_loop() {
  auto self = shared_from_this();
  beast::error_code ec;
  // Frames with more queued behind them are gathered (corked), and the last one takes them all
  // out in one write: a burst to a peer is one system call, not one a frame.
  auto& gather = ws_->next_layer();
  while (!ws_done_) {
    if (ws_close_) {
      auto reason = *ws_close_;
      ws_close_.reset();
      gather.cork(false);  // the close frame takes whatever was gathered out before it
      co_await ws_->async_close(reason, asio::redirect_error(kUseTask, ec));
      break;
    }
    bool more = false;
    auto next = ws_peer_->pop(more);
    if (!next) break;
    gather.cork(more);
    ws_->text(true);
    co_await ws_->async_write(asio::buffer(*next), asio::redirect_error(kUseTask, ec));
    ws_peer_->written();
    if (ec) {
      ws_peer_->shut();
      ws_cut();
      break;
    }
  }
  // Never left corked: the next write (a later frame, a pong, the close) sends what was gathered.
  gather.cork(false);
  ws_writing_ = false;
}

// on_close runs once however the connection ends, even when the server is destroyed with
// run_websocket suspended (its frame is destroyed then, and with it this guard).
struct WsCloseOnce {
  Server::Impl& srv;
  std::function<void()>* on_close = nullptr;
  WsCloseOnce(Server::Impl& s, std::function<void()>* f) : srv(s), on_close(f) {
    if (srv.websockets_open != nullptr) srv.websockets_open->inc();
  }
  ~WsCloseOnce() { fire(); }
  WsCloseOnce(const WsCloseOnce&) = delete;
  WsCloseOnce& operator=(const WsCloseOnce&) = delete;
  void fire() {
    if (on_close == nullptr) return;
    auto* slot = std::exchange(on_close, nullptr);
    if (srv.websockets_open != nullptr) srv.websockets_open->dec();
    if (!*slot) return;
    auto fn = std::move(*slot);
    *slot = nullptr;
    try {
      fn();
    } catch (const std::exception& ex) {
      srv.log_error(std::string("websocket on_close threw: ") + ex.what());
    } catch (...) {
      srv.log_error("websocket on_close threw");
    }
  }
};

template <class Stream>
websocket::stream_base::timeout Connection<Stream>::ws_configure(const Request& req, const WebSocketAccept& accept) {
  const auto& cfg = srv_.config;
  auto& ws = *ws_;
  // The WebSocket's own timeouts replace the HTTP ones from here on.
  deadline_.cancel();
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::min(cfg.write_timeout, cfg.header_timeout);
  timeouts.idle_timeout = cfg.websocket.idle_timeout;
  timeouts.keep_alive_pings = true;
  ws.set_option(timeouts);
  ws.read_message_max(cfg.websocket.max_message_bytes);
  ws.set_option(websocket::stream_base::decorator(
      [id = req.request_id, protocol = accept.subprotocol](websocket::response_type& res) {
        res.set("X-Request-ID", id);
        res.set(bhttp::field::server, "permiso");
        if (!protocol.empty()) res.set(bhttp::field::sec_websocket_protocol, protocol);
      }));
  return timeouts;
}

template <class Stream>
void Connection<Stream>::ws_open(WebSocketAccept& accept, WebSocketCallbacks& callbacks, const std::string& route,
                                 const Request& req) {
  try {
    if (accept.on_open) callbacks = accept.on_open(ws_peer_);
  } catch (const std::exception& ex) {
    srv_.log_error("websocket on_open for " + route + " threw: " + ex.what() + " (request_id " + req.request_id + ")");
    ws_request_close(websocket::close_code::internal_error, "internal error", ws_close_limit());
  }
  if (stopping_) {
    ws_request_close(websocket::close_code::going_away, "going away",
                     std::min(srv_.config.write_timeout, srv_.config.shutdown_grace));
  }
}

template <class Stream>
Task<void> Connection<Stream>::ws_read_loop(const WebSocketCallbacks& callbacks, const std::string& route,
                                            const Request& req) {
  auto& ws = *ws_;
  beast::error_code ec;
  beast::flat_buffer buffer;  // bounded by read_message_max
  for (;;) {
    co_await ws.async_read(buffer, asio::redirect_error(kUseTask, ec));
    if (ec) break;  // closed by either side, too big (1009 sent), bad UTF-8 (1007), timeout, cut
    if (!ws.got_text()) {
      ws_request_close(websocket::close_code::unknown_data, "text frames only", ws_close_limit());
    } else if (!ws_closing_ && callbacks.on_message) {
      const auto data = buffer.data();
      try {
        callbacks.on_message(std::string_view(static_cast<const char*>(data.data()), data.size()));
      } catch (const std::exception& ex) {
        srv_.log_error("websocket on_message for " + route + " threw: " + ex.what() + " (request_id " + req.request_id +
                       ")");
        ws_request_close(websocket::close_code::internal_error, "internal error", ws_close_limit());
      }
    }
    buffer.consume(buffer.size());
  }
}

template <class Stream>
Task<void> Connection<Stream>::run_websocket(const bhttp::request<bhttp::empty_body>& msg, WebSocketAccept accept,
                                             std::shared_ptr<Request> req, std::string route,
                                             Clock::time_point started) {
  auto self = shared_from_this();
  ws_.emplace(kMaxGatheredFrameBytes, std::move(stream_));
  auto timeouts = ws_configure(*req, accept);

  beast::error_code ec;
  co_await ws_->async_accept(msg, asio::redirect_error(kUseTask, ec));
  if (ec) {
    // Beast has answered the bad handshake (400/426) itself.
    record(400, 0, *req, route, started, true);
    ws_cut();
    co_return;
  }
  record(101, 0, *req, route, started, true);
  // Beast bounds the closing handshake by the same timeout: a peer that never answers our
  // close frame (server stop, slow consumer) is cut after a short wait, not the HTTP one.
  timeouts.handshake_timeout =
      std::min<std::chrono::steady_clock::duration>(timeouts.handshake_timeout, std::chrono::seconds(2));
  ws_->set_option(timeouts);

  ws_peer_ = std::make_shared<WsPeer>(weak_from_this(), srv_.lifeline, req->request_id, srv_.config.websocket);
  state_ = State::Websocket;
  WebSocketCallbacks callbacks;
  WsCloseOnce close_once{srv_, &callbacks.on_close};
  ws_open(accept, callbacks, route, *req);
  co_await ws_read_loop(callbacks, route, *req);
  ws_done_ = true;
  ws_peer_->shut();
  reply_timer_.cancel();
  ws_cut();  // a writer still suspended completes with an error and lets go of the session
  close_once.fire();
}

template <class Stream>
Task<void> Connection<Stream>::drain_and_close() {
  beast::error_code ec;
  // Half-closing under TLS would truncate the record stream: there the peer reads our answer
  // (framed by Content-Length) and then sees the close.
  if constexpr (!kIsTls<Stream>) socket().shutdown(tcp::socket::shutdown_send, ec);
  std::size_t drained = 0;
  deadline_.expires_after(std::min<std::chrono::milliseconds>(kMaxDrainTime, srv_.config.read_timeout));
  std::array<char, 8192> sink{};
  while (!ec && drained < kMaxDrainBytes) {
    drained += co_await stream_.async_read_some(asio::buffer(sink), asio::redirect_error(kUseTask, ec));
  }
  deadline_.cancel();
  socket().close(ec);
}

template <class Stream>
typename Connection<Stream>::Decision Connection<Stream>::decide(Request& req, int http_version) const {
  Decision d;
  if (!parse_target(req)) {
    d.route = "invalid";
    d.response = error_response(req, 400, "bad_request", "The request target is malformed.");
    return d;
  }
  if (req.method == "OPTIONS" && req.header("origin") && req.header("access-control-request-method")) {
    d.route = "preflight";
    d.preflight = true;
    d.response.status = 204;
    d.response.content_type.clear();
    return d;
  }
  auto match = srv_.router.match(req);
  if (match.handler == nullptr) {
    if (match.method_not_allowed) {
      d.route = std::move(match.pattern);
      d.response = error_response(req, 405, "method_not_allowed", "Method " + req.method + " is not allowed here.");
      d.response.set_header("Allow", match.allowed_methods);
    } else {
      d.route = "unmatched";
      d.response = error_response(req, 404, "not_found", "No resource at this path.");
    }
    return d;
  }
  if (auto refused = srv_.admit(req, match.pattern)) {
    d.route = std::move(match.pattern);
    d.response = std::move(*refused);
    return d;
  }
  d.route = std::move(match.pattern);
  if (match.websocket != nullptr && is_websocket_upgrade(req, http_version)) {
    decide_upgrade(req, *match.websocket, d);
  } else {
    d.kind = Decision::Kind::Dispatch;
    d.handler = match.handler;
  }
  return d;
}

template <class Stream>
void Connection<Stream>::decide_upgrade(Request& req, const WebSocketHandler& handler, Decision& d) const {
  if (!ws_origin_allowed(req)) {
    d.response = error_response(req, 403, "forbidden", "This origin may not open a WebSocket here.");
    return;
  }
  try {
    auto outcome = handler(req);
    if (auto* accepted = std::get_if<WebSocketAccept>(&outcome)) {
      if (accepted->on_open) {
        d.kind = Decision::Kind::Upgrade;
        d.ws_accept = std::move(*accepted);
        return;
      }
      d.response = error_response(req, 500, "internal_error", "An internal error occurred.");
    } else {
      d.response = std::move(std::get<Response>(outcome));
    }
  } catch (const std::exception& ex) {
    srv_.log_error("websocket handler for " + d.route + " threw: " + ex.what() + " (request_id " + req.request_id +
                   ")");
    d.response = error_response(req, 500, "internal_error", "An internal error occurred.");
  }
}

template <class Stream>
void Connection<Stream>::start_handler(const Handler& handler, const std::shared_ptr<Request>& req,
                                       const std::string& route) {
  ++seq_;
  answered_ = false;
  response_.reset();
  state_ = State::Handling;
  auto reply_state = std::make_shared<ReplyState>(weak_from_this(), this);
  reply_state->lifeline = srv_.lifeline;
  reply_state->seq = seq_;
  reply_state->request = req;
  Reply reply = [reply_state](Response r) { reply_state->deliver(std::move(r)); };
  const AnsweringFor answering(this);
  std::optional<Response> failure;
  try {
    handler(*req, reply);
  } catch (const std::exception& ex) {
    srv_.log_error("handler for " + route + " threw: " + ex.what() + " (request_id " + req->request_id + ")");
    failure = error_response(*req, 500, "internal_error", "An internal error occurred.");
  } catch (...) {
    srv_.log_error("handler for " + route + " threw a non-exception (request_id " + req->request_id + ")");
    failure = error_response(*req, 500, "internal_error", "An internal error occurred.");
  }
  if (failure) reply_state->deliver(std::move(*failure));  // ignored if it replied first
}

template <class Stream>
Response Connection<Stream>::take_reply(const Request& req, const std::string& route) {
  if (answered_ && response_) {
    Response res = std::move(*response_);
    response_.reset();
    return res;
  }
  answered_ = true;  // a late Reply is now ignored
  srv_.log_error("handler for " + route + " timed out (request_id " + req.request_id + ")");
  return error_response(req, 503, "timeout", "The request took too long to process.");
}

template <class Stream>
void Connection<Stream>::close_stream() {
  beast::error_code ignored;
  deadline_.cancel();
  socket().shutdown(tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
}

template <class Stream>
beast::error_code Connection<Stream>::parse_buffered(RequestParser& parser) {
  // Fast path: a request already whole in the buffer (the usual case: it arrived in one
  // segment) is parsed right here, without two asynchronous reads that would complete at
  // once but still arm a timer, queue a completion and resume this coroutine each.
  beast::error_code ec;
  parser.eager(true);
  while (!parser.is_done() && buffer_.size() > 0) {
    const auto used = parser.put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == bhttp::error::need_more) return {};
    if (ec || used == 0) break;
  }
  return ec;
}

template <class Stream>
Task<typename Connection<Stream>::ReadResult> Connection<Stream>::read_rest(RequestParser& parser, const Request& req,
                                                                            Clock::time_point header_deadline) {
  const auto& cfg = srv_.config;
  ReadResult r;
  if (!parser.is_header_done()) {
    deadline_.expires_at(header_deadline);
    co_await bhttp::async_read_header(stream_, buffer_, parser, asio::redirect_error(kUseTask, r.ec));
  }
  if (r.ec || parser.is_done()) co_return r;
  // The body is still to come: a client waiting for 100 Continue gets it first.
  if (auto expect = req.header("expect"); expect && iequals_ascii(*expect, "100-continue")) {
    bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
    deadline_.expires_after(cfg.write_timeout);
    co_await bhttp::async_write(stream_, cont, asio::redirect_error(kUseTask, r.ec));
    if (r.ec) {
      r.peer_gone = true;
      co_return r;
    }
  }
  deadline_.expires_after(cfg.read_timeout);
  co_await bhttp::async_read(stream_, buffer_, parser, asio::redirect_error(kUseTask, r.ec));
  co_return r;
}

template <class Stream>
std::optional<Response> Connection<Stream>::read_error_response(const beast::error_code& ec, const Request& req) const {
  if (ec == bhttp::error::header_limit) {
    return error_response(req, 431, "request_header_fields_too_large", "The request headers are too large.");
  }
  if (ec == bhttp::error::body_limit) {
    return error_response(req, 413, "payload_too_large",
                          "The request body exceeds " + std::to_string(srv_.config.body_limit) + " bytes.");
  }
  if (deadline_cut_ || ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
      ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
      ec == bhttp::error::partial_message) {
    return std::nullopt;  // the client is gone or too slow: nothing to answer
  }
  return error_response(req, 400, "bad_request", "The request is not valid HTTP/1.1.");
}

// The connection loop: read one request, decide what it gets, dispatch or upgrade, write.
// The common request (whole in the buffer, answered inline through AnsweringFor) costs no
// asynchronous step but the first read and the one gather write.
template <class Stream>
Task<bool> Connection<Stream>::handshake() {
  // Within the header timeout: a client that stalls in the handshake is a slowloris too. A
  // failed handshake (plain HTTP, an old protocol version) just closes.
  beast::error_code ec;
  deadline_.expires_after(srv_.config.header_timeout);
  co_await stream_.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(kUseTask, ec));
  if (ec) close_stream();
  co_return !ec;
}

template <class Stream>
Task<void> Connection<Stream>::serve([[maybe_unused]] std::shared_ptr<Connection> self) {
  const auto& cfg = srv_.config;
  const auto header_limit = static_cast<std::uint32_t>(std::min<std::size_t>(cfg.header_limit, UINT32_MAX));
  beast::error_code ec;
  bool first = true;
  bool cut = false;  // closed for a protocol error: answer sent, drain the rest
  deadline_.start(weak_from_this(), [this] { return cut_on_deadline(); });
  if constexpr (kIsTls<Stream>) {
    if (!co_await handshake()) co_return;
  }
  for (;;) {
    // Wait for the next request to start. A fresh connection gets the header timeout for
    // it (a silent connection is a slowloris too); a kept-alive one gets the idle timeout.
    Clock::time_point header_deadline = Clock::now() + cfg.header_timeout;
    if (buffer_.size() == 0) {
      // Nothing is held back here (write() holds back only while a request is buffered), but
      // an answer held back across this wait would never reach a peer waiting for it.
      if (!co_await send_held_back()) break;
      state_ = State::Idle;
      // Stopping since the last answer went out (kept alive): the same lame duck as on_stop's.
      if (stopping_) close_idle_after(std::min(cfg.idle_drain, cfg.shutdown_grace));
      if (first) {
        deadline_.expires_at(header_deadline);
      } else {
        deadline_.expires_after(cfg.idle_timeout);
      }
      auto n = co_await stream_.async_read_some(buffer_.prepare(kFirstReadChunk), asio::redirect_error(kUseTask, ec));
      if (ec) break;  // idle/first-byte timeout, peer closed, or stop()
      buffer_.commit(n);
      if (!first) header_deadline = Clock::now() + cfg.header_timeout;
    }
    first = false;
    state_ = State::Reading;
    const auto started = Clock::now();

    // One request at a time: pipelined requests wait in buffer_ (bounded by its max size)
    // or in the kernel, and answers go out in order.
    auto req = std::make_shared<Request>();
    req->headers.reserve(kUsualFieldCount);
    RequestParser parser(*req, header_limit, cfg.body_limit);
    ec = parse_buffered(parser);
    if (!ec && !parser.is_done()) {
      if (!co_await send_held_back()) break;
      state_ = State::Reading;
      auto read = co_await read_rest(parser, *req, header_deadline);
      if (read.peer_gone) break;
      ec = read.ec;
    }
    if (ec) {
      keep_partial_request(*req, parser);
      auto res = read_error_response(ec, *req);
      if (!res) break;
      co_await write(std::move(*res), *req, false, "invalid", started, false, false);
      cut = true;
      break;
    }

    if (parser.ambiguous_framing()) {
      keep_partial_request(*req, parser);
      co_await write(error_response(*req, 400, "bad_request", "Transfer-Encoding must be chunked alone."), *req, false,
                     "invalid", started, false, false);
      cut = true;
      break;
    }
    identify(*req);
    const bool keep_alive = parser.keep_alive();
    if (srv_.in_flight != nullptr) srv_.in_flight->inc();
    Decision d = decide(*req, parser.http_version());
    if (d.kind == Decision::Kind::Dispatch) {
      start_handler(*d.handler, req, d.route);
      if (!answered_) {
        // A failed send leaves the socket broken: the answer's write fails too, after record().
        (void)co_await send_held_back();
        state_ = State::Handling;
        reply_timer_.expires_after(cfg.handler_timeout);
        beast::error_code timer_ec;
        co_await reply_timer_.async_wait(asio::redirect_error(kUseTask, timer_ec));
      }
      d.response = take_reply(*req, d.route);
    } else if (d.kind == Decision::Kind::Upgrade) {
      if (!stopping_ && co_await send_held_back()) {
        co_await run_websocket(beast_request(*req, parser.http_version()), std::move(*d.ws_accept), req,
                               std::move(d.route), started);
        co_return;
      }
      d.response = error_response(*req, 503, "shutting_down", "The server is shutting down.");
    }
    // What the answer tells the peer decides: a stop that begins while it is written leaves
    // the connection kept alive, for the idle drain, not closed under a peer told otherwise.
    const bool keep_open = keep_alive && !stopping_;
    const bool ok = co_await write(std::move(d.response), *req, keep_open, d.route, started, d.preflight, true);
    if (!ok || !keep_open) break;
  }

  if (cut) {
    co_await drain_and_close();
  } else {
    close_stream();
  }
}

// TLS 1.2 suites: ECDHE key exchange and AEAD only (Mozilla's intermediate list); TLS 1.3's
// suites are all of that kind already.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

asio::ssl::context make_tls_context(const TlsConfig& tls) {
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                  asio::ssl::context::single_dh_use);
  auto* native = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    throw std::runtime_error("TLS: cannot restrict the protocol versions and cipher suites");
  }
  beast::error_code ec;
  ctx.use_certificate_chain_file(tls.cert_file, ec);
  if (ec) throw std::runtime_error("TLS certificate " + tls.cert_file + ": " + ec.message());
  ctx.use_private_key_file(tls.key_file, asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("TLS key " + tls.key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    throw std::runtime_error("TLS key " + tls.key_file + " does not match the certificate " + tls.cert_file);
  }
  return ctx;
}

}  // namespace

// One io_context shared by all threads rather than one per thread: every connection runs on
// its own strand, so when one thread is descheduled or busy with a slow request (an ES256
// signature, a big list) the others take its connections' work. Measured on 2 cores with
// the load generator beside the server (docs/benchmarks.md), one loop per thread did serve
// more requests per second (no cross-thread wakeups) but its p99 was 40-60% higher: a
// connection waits out every stall of its own loop. The per-request costs that made the
// shared loop slow are gone instead: a handler answering at once answers on the strand
// without a post (ReplyState::deliver), and the response is written without Beast's
// serializer (Connection::write).
Server::Impl::Impl(ServerConfig c, Router& r, ServerHooks h)
    : config(std::move(c)),
      router(r),
      hooks(std::move(h)),
      thread_count(config.threads != 0 ? config.threads : std::max(1U, std::thread::hardware_concurrency())),
      ioc(static_cast<int>(thread_count)),
      acceptor(ioc),
      control(asio::make_strand(ioc)),
      grace_timer(control) {
  for (const auto& p : config.trusted_proxies) {
    beast::error_code ec;
    auto addr = asio::ip::make_address(p, ec);
    if (ec) throw std::runtime_error("invalid trusted proxy address: " + p);
    trusted.push_back(addr);
  }
  if (config.tls) tls_context.emplace(make_tls_context(*config.tls));
  beast::error_code ec;
  auto host = config.host == "localhost" ? std::string("127.0.0.1") : config.host;
  auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("invalid listen address: " + config.host);
  tcp::endpoint endpoint(address, config.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + config.host + ":" + std::to_string(config.port) + ": " +
                             ec.message());
  }
  bound_port = acceptor.local_endpoint().port();

  if (hooks.metrics != nullptr) {
    requests_total = &hooks.metrics->counter("http_requests_total", "HTTP requests by route, method and status.",
                                             {"route", "method", "status"});
    request_duration = &hooks.metrics->histogram("http_request_duration_seconds",
                                                 "HTTP request latency by route, in seconds.", {"route"});
    in_flight = &hooks.metrics->gauge("http_requests_in_flight", "HTTP requests being handled.").with({});
    websockets_open = &hooks.metrics->gauge("websocket_connections_open", "Open WebSocket connections.").with({});
  }
  // On the control strand, like stop(): the acceptor is not thread-safe.
  asio::co_spawn(control, accept_loop(), [this](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log_error(std::string("accept loop failed: ") + ex.what());
    }
  });
}

Server::Impl::~Impl() {
  destroying = true;
  {
    std::lock_guard lock(lifeline->mutex);
    lifeline->alive = false;
  }
  ioc.stop();
}

asio::awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    Socket socket(asio::make_strand(ioc));
    beast::error_code ec;
    co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (stopping) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // Usually EMFILE: back off briefly instead of spinning.
      log_error("accept failed: " + ec.message());
      asio::steady_timer backoff(ioc, std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (tls_context) {
      start_connection<TlsStream>(std::move(socket), *tls_context);
    } else {
      start_connection<PlainStream>(std::move(socket));
    }
  }
}

template <class Stream, class... Tls>
void Server::Impl::start_connection(Socket socket, Tls&... tls) {
  std::shared_ptr<Connection<Stream>> connection;
  {
    std::lock_guard lock(sessions_mutex);
    if (sessions.size() >= config.max_connections) {
      beast::error_code ec;
      socket.close(ec);
      return;
    }
    auto id = next_session_id++;
    connection = std::make_shared<Connection<Stream>>(*this, std::move(socket), id, tls...);
    sessions.emplace(id, connection);
  }
  auto executor = connection->executor();
  asio::co_spawn(executor, Connection<Stream>::run(std::move(connection)), [this](const std::exception_ptr& e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log_error(std::string("connection failed: ") + ex.what());
    }
  });
}

void Server::Impl::session_closed(std::uint64_t id) {
  bool drained = false;
  {
    std::lock_guard lock(sessions_mutex);
    sessions.erase(id);
    drained = sessions.empty();
  }
  if (drained && stopping && !destroying) {
    asio::post(control, [this] { grace_timer.cancel(); });
  }
}

void Server::Impl::stop() {
  if (stopping.exchange(true)) return;
  asio::post(control, [this] {
    beast::error_code ec;
    acceptor.close(ec);
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(sessions_mutex);
      for (auto& [id, weak] : sessions) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) {
      asio::post(s->executor(), [s] { s->on_stop(); });
    }
    live.clear();
    grace_timer.expires_after(config.shutdown_grace);
    grace_timer.async_wait([this](beast::error_code wait_ec) {
      if (wait_ec) return;  // drained in time
      std::size_t left = 0;
      {
        std::lock_guard lock(sessions_mutex);
        left = sessions.size();
      }
      if (left > 0) {
        log_error("shutdown grace expired with " + std::to_string(left) + " connection(s) open");
        ioc.stop();
      }
    });
    bool empty = false;
    {
      std::lock_guard lock(sessions_mutex);
      empty = sessions.empty();
    }
    if (empty) grace_timer.cancel();
  });
}

void Server::Impl::identify_client(const std::string& peer, Request& req) const {
  auto is_trusted = [this](const std::string& ip) {
    beast::error_code ec;
    auto addr = asio::ip::make_address(ip, ec);
    return !ec && std::find(trusted.begin(), trusted.end(), addr) != trusted.end();
  };
  req.remote_ip = peer;
  req.via_trusted_proxy = !trusted.empty() && is_trusted(peer);
  if (!req.via_trusted_proxy) return;
  auto xff = req.header("x-forwarded-for");
  if (!xff) return;
  // Walk from the nearest hop outwards; the first address not a trusted proxy is the client.
  std::string_view list = *xff;
  while (!list.empty()) {
    auto comma = list.rfind(',');
    auto item = comma == std::string_view::npos ? list : list.substr(comma + 1);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    beast::error_code ec;
    auto addr = asio::ip::make_address(std::string(item), ec);
    if (ec) break;  // garbage: trust nothing further out
    req.remote_ip = addr.to_string();
    if (std::find(trusted.begin(), trusted.end(), addr) == trusted.end()) break;
  }
}

Server::Server(ServerConfig config, Router& router, ServerHooks hooks)
    : impl_(std::make_unique<Impl>(std::move(config), router, std::move(hooks))) {}

Server::~Server() = default;

std::uint16_t Server::port() const {
  return impl_->bound_port;
}

void Server::run() {
  auto run_loop = [this] {
    for (;;) {
      try {
        impl_->ioc.run();
        return;
      } catch (const std::exception& ex) {
        impl_->log_error(std::string("event loop: ") + ex.what());
      }
    }
  };
  std::vector<std::thread> extra;
  for (unsigned i = 1; i < impl_->thread_count; ++i) extra.emplace_back(run_loop);
  run_loop();
  for (auto& t : extra) t.join();
}

void Server::stop() {
  impl_->stop();
}

}  // namespace permiso::http
