// WebSocket endpoints of the server, driven by a Beast WebSocket client on loopback: accept
// and echo, refusal by the handler, 426 for plain GETs, Origin check, pushes from other
// threads, the slow-consumer bound, message size limit, stop() closing open sockets, the
// open-connections gauge and on_close exactly once.
#include "http/websocket.hpp"
#include "http/client.hpp"
#include "http/metrics.hpp"
#include "http/server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace permiso::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// How long a test waits for something that must happen (not a timing assertion: a bound
// so a broken build fails instead of hanging).
constexpr auto kWait = 20s;

/// What the server side saw, shared with the test thread.
struct Observed {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::shared_ptr<WebSocketPeer>> peers;
  std::vector<std::string> messages;
  int closes = 0;

  void add_peer(std::shared_ptr<WebSocketPeer> p) {
    std::lock_guard lock(mutex);
    peers.push_back(std::move(p));
    cv.notify_all();
  }
  void closed() {
    std::lock_guard lock(mutex);
    ++closes;
    cv.notify_all();
  }
  std::shared_ptr<WebSocketPeer> wait_peer(std::size_t index = 0) {
    std::unique_lock lock(mutex);
    if (!cv.wait_for(lock, kWait, [&] { return peers.size() > index; })) return nullptr;
    return peers[index];
  }
  bool wait_closes(int n) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, kWait, [&] { return closes >= n; });
  }
  int close_count() {
    std::lock_guard lock(mutex);
    return closes;
  }
};

/// The server with an echo endpoint, an authenticated one and a push-only one.
class WsServer {
 public:
  explicit WsServer(ServerConfig config = {}, Registry* metrics = nullptr) {
    router_.add_websocket("/ws/echo", [this](Request&) -> std::variant<Response, WebSocketAccept> {
      return WebSocketAccept{[this](std::shared_ptr<WebSocketPeer> peer) {
        observed.add_peer(peer);
        WebSocketCallbacks cb;
        cb.on_message = [this, peer](std::string_view text) {
          {
            std::lock_guard lock(observed.mutex);
            observed.messages.emplace_back(text);
          }
          peer->send("echo:" + std::string(text));
        };
        cb.on_close = [this] { observed.closed(); };
        return cb;
      }};
    });
    router_.add_websocket("/ws/private", [this](Request& req) -> std::variant<Response, WebSocketAccept> {
      if (req.header("authorization") != "Bearer good") {
        auto res = error_response(req, 401, "unauthorized", "A valid bearer token is required.");
        res.set_header("WWW-Authenticate", "Bearer");
        return res;
      }
      return WebSocketAccept{[this](std::shared_ptr<WebSocketPeer> peer) {
        observed.add_peer(peer);
        peer->send("welcome");
        WebSocketCallbacks cb;
        cb.on_close = [this] { observed.closed(); };
        return cb;
      }};
    });
    config.host = "127.0.0.1";
    config.port = 0;
    config.threads = 2;
    ServerHooks hooks;
    hooks.metrics = metrics;
    server_ = std::make_unique<Server>(std::move(config), router_, std::move(hooks));
    thread_ = std::thread([this] { server_->run(); });
  }
  ~WsServer() { shutdown(); }
  WsServer(const WsServer&) = delete;
  WsServer& operator=(const WsServer&) = delete;

  void stop() { server_->stop(); }
  /// stop() and wait for run() to return.
  void shutdown() {
    if (!thread_.joinable()) return;
    server_->stop();
    thread_.join();
  }
  [[nodiscard]] std::uint16_t port() const { return server_->port(); }

  Observed observed;

 private:
  Router router_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

/// A blocking Beast WebSocket client.
class WsClient {
 public:
  explicit WsClient(std::uint16_t port) : ws_(ioc_), port_(port) {
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) ++pongs_;
    });
  }
  /// The handshake; false when the server refused (the answer is in response()).
  bool handshake(const std::string& target, std::vector<std::pair<std::string, std::string>> headers = {}) {
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      for (const auto& [k, v] : headers) req.set(k, v);
    }));
    beast::error_code ec;
    ws_.handshake(response_, "127.0.0.1:" + std::to_string(port_), target, ec);
    return !ec;
  }
  void send(const std::string& text) {
    ws_.text(true);
    ws_.write(asio::buffer(text));
  }
  void send_binary(const std::string& data) {
    ws_.binary(true);
    ws_.write(asio::buffer(data));
  }
  /// The next message; nullopt when the connection closed (see close_code()).
  std::optional<std::string> read() {
    beast::flat_buffer buffer;
    beast::error_code ec;
    ws_.read(buffer, ec);
    if (ec) return std::nullopt;
    return beast::buffers_to_string(buffer.data());
  }
  /// Reads until the server closes; its close code (0 when the connection just broke).
  int read_until_closed() {
    for (;;) {
      beast::flat_buffer buffer;
      beast::error_code ec;
      ws_.read(buffer, ec);
      if (ec == websocket::error::closed) return ws_.reason().code;
      if (ec) return 0;
    }
  }
  void close() { ws_.close(websocket::close_code::normal); }
  void ping() { ws_.ping({}); }
  /// Pongs seen by the reads so far.
  [[nodiscard]] int pongs() const { return pongs_; }
  [[nodiscard]] const websocket::response_type& response() const { return response_; }

 private:
  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  websocket::response_type response_;
  std::uint16_t port_;
  int pongs_ = 0;
};

TEST(WebSocket, AcceptsAndEchoes) {
  WsServer server;
  {
    WsClient client(server.port());
    ASSERT_TRUE(client.handshake("/ws/echo"));
    EXPECT_EQ(client.response().result_int(), 101U);
    EXPECT_FALSE(client.response()["X-Request-ID"].empty());
    client.send("hello");
    EXPECT_EQ(client.read().value_or("<closed>"), "echo:hello");
    client.send("second");
    EXPECT_EQ(client.read().value_or("<closed>"), "echo:second");
    auto peer = server.observed.wait_peer();
    ASSERT_NE(peer, nullptr);
    EXPECT_TRUE(peer->is_open());
    EXPECT_EQ(peer->request_id(), std::string(client.response()["X-Request-ID"]));
    client.close();
    ASSERT_TRUE(server.observed.wait_closes(1));
    EXPECT_FALSE(peer->is_open());
    EXPECT_FALSE(peer->send("after close"));
  }
  server.shutdown();
  EXPECT_EQ(server.observed.close_count(), 1);
  std::lock_guard lock(server.observed.mutex);
  EXPECT_EQ(server.observed.messages, (std::vector<std::string>{"hello", "second"}));
}

TEST(WebSocket, HandlerRefusalIsSentAsItsResponse) {
  WsServer server;
  WsClient refused(server.port());
  EXPECT_FALSE(refused.handshake("/ws/private"));
  EXPECT_EQ(refused.response().result_int(), 401U);
  EXPECT_EQ(refused.response()["WWW-Authenticate"], "Bearer");
  auto body = boost::json::parse(refused.response().body()).as_object();
  EXPECT_EQ(body["error"].as_string(), "unauthorized");
  EXPECT_FALSE(body["request_id"].as_string().empty());

  WsClient admitted(server.port());
  ASSERT_TRUE(admitted.handshake("/ws/private", {{"Authorization", "Bearer good"}}));
  EXPECT_EQ(admitted.read().value_or("<closed>"), "welcome");
}

TEST(WebSocket, PlainGetIs426AndOtherMethods405) {
  WsServer server;
  Client http;
  const auto url = "http://127.0.0.1:" + std::to_string(server.port()) + "/ws/echo";
  auto res = http.fetch({.url = url});
  ASSERT_TRUE(res) << to_string(res.error());
  EXPECT_EQ(res->status, 426);
  EXPECT_EQ(res->header("upgrade").value_or(""), "websocket");
  auto body = boost::json::parse(res->body).as_object();
  EXPECT_EQ(body["error"].as_string(), "upgrade_required");
  EXPECT_TRUE(body.contains("error_description"));
  EXPECT_TRUE(body.contains("request_id"));
  auto post = http.fetch({.method = "POST", .url = url});
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

TEST(WebSocket, ForeignOriginIsRefused) {
  ServerConfig config;
  config.cors.allowed_origins = {"https://app.example.com"};
  WsServer server(config);
  WsClient evil(server.port());
  EXPECT_FALSE(evil.handshake("/ws/echo", {{"Origin", "https://evil.example.com"}}));
  EXPECT_EQ(evil.response().result_int(), 403U);
  WsClient allowed(server.port());
  EXPECT_TRUE(allowed.handshake("/ws/echo", {{"Origin", "https://app.example.com"}}));
  WsClient same_origin(server.port());
  EXPECT_TRUE(same_origin.handshake("/ws/echo", {{"Origin", "http://127.0.0.1:" + std::to_string(server.port())}}));
}

// Behind nginx the page's origin is the front door's (https, port 8443), not the Host the
// proxy sends upstream: a trusted proxy's X-Forwarded-Proto/-Host say what same-origin is.
TEST(WebSocket, SameOriginBehindTrustedProxy) {
  ServerConfig config;
  config.trusted_proxies = {"127.0.0.1"};
  WsServer server(config);
  const std::vector<std::pair<std::string, std::string>> forwarded = {{"Origin", "https://edge.example.com:8443"},
                                                                      {"X-Forwarded-Proto", "https"},
                                                                      {"X-Forwarded-Host", "edge.example.com:8443"}};
  WsClient proxied(server.port());
  EXPECT_TRUE(proxied.handshake("/ws/echo", forwarded));
  WsClient other_scheme(server.port());
  EXPECT_FALSE(other_scheme.handshake("/ws/echo", {{"Origin", "http://edge.example.com:8443"},
                                                   {"X-Forwarded-Proto", "https"},
                                                   {"X-Forwarded-Host", "edge.example.com:8443"}}));
}

TEST(WebSocket, ServerPushesFromAnotherThreadInOrder) {
  WsServer server;
  WsClient client(server.port());
  ASSERT_TRUE(client.handshake("/ws/echo"));
  auto peer = server.observed.wait_peer();
  ASSERT_NE(peer, nullptr);
  constexpr int kCount = 500;
  std::thread pusher([&] {
    for (int i = 0; i < kCount; ++i) ASSERT_TRUE(peer->send("event " + std::to_string(i)));
  });
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(client.read().value_or("<closed>"), "event " + std::to_string(i));
  }
  pusher.join();
}

// Frames queued together go out gathered in few writes (CorkedStream under the WebSocket):
// a burst arrives whole and in order, a ping sent into it is answered, and the connection
// still serves after it.
TEST(WebSocket, ABurstArrivesWholeAndInOrderWithAPingIntoItAnswered) {
  WsServer server;
  WsClient client(server.port());
  ASSERT_TRUE(client.handshake("/ws/echo"));
  auto peer = server.observed.wait_peer();
  ASSERT_NE(peer, nullptr);
  constexpr int kCount = 1000;  // under the queue's 1024 frames
  const std::string padding(150, 'q');
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(peer->send("quote " + std::to_string(i) + padding));
  client.ping();
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(client.read().value_or("<closed>"), "quote " + std::to_string(i) + padding);
  }
  client.send("after");
  EXPECT_EQ(client.read().value_or("<closed>"), "echo:after");
  EXPECT_EQ(client.pongs(), 1);
  EXPECT_TRUE(peer->is_open());
}

/// Per-peer queues small enough for a test to reach their bound quickly.
ServerConfig small_queue_config() {
  ServerConfig config;
  config.websocket.max_queued_bytes = 256 * 1024;
  config.websocket.max_queued_messages = 64;
  config.write_timeout = 500ms;  // how long the close may wait behind the stuck write
  return config;
}

// The client never reads while the server pushes: the queue bound is reached, send() says
// so, the peer is closed and the connection cut. Without the bound the loop below would
// queue its full 256 MB.
TEST(WebSocket, SlowConsumerIsDisconnectedAndMemoryStaysBounded) {
  WsServer server(small_queue_config());
  WsClient client(server.port());
  ASSERT_TRUE(client.handshake("/ws/echo"));
  auto peer = server.observed.wait_peer();
  ASSERT_NE(peer, nullptr);

  const std::string frame(64 * 1024, 'q');
  std::size_t accepted_bytes = 0;
  bool refused = false;
  for (int i = 0; i < 4096 && !refused; ++i) {
    if (peer->send(frame)) {
      accepted_bytes += frame.size();
    } else {
      refused = true;
    }
  }
  ASSERT_TRUE(refused) << "queued " << accepted_bytes << " bytes without refusing";
  // What was accepted fits in the queue bound plus the kernel's socket buffers.
  EXPECT_LT(accepted_bytes, 64U * 1024 * 1024);
  EXPECT_FALSE(peer->is_open());
  EXPECT_TRUE(peer->cut_as_slow_consumer());
  EXPECT_FALSE(peer->send("more"));
  ASSERT_TRUE(server.observed.wait_closes(1));
  EXPECT_EQ(server.observed.close_count(), 1);
}

// A fan-out's frame is queued by reference on each peer: each client receives it whole, and
// each peer's bound still counts it (the one that never reads is cut, the other is not).
TEST(WebSocket, SharedFrameReachesEachPeerAndCountsAgainstEachBound) {
  WsServer server(small_queue_config());
  WsClient reader(server.port());
  ASSERT_TRUE(reader.handshake("/ws/echo"));
  auto reading_peer = server.observed.wait_peer(0);
  ASSERT_NE(reading_peer, nullptr);
  WsClient stuck(server.port());
  ASSERT_TRUE(stuck.handshake("/ws/echo"));
  auto stuck_peer = server.observed.wait_peer(1);
  ASSERT_NE(stuck_peer, nullptr);

  const auto tick = std::make_shared<const std::string>("tick");
  ASSERT_TRUE(reading_peer->send_shared(tick));
  ASSERT_TRUE(stuck_peer->send_shared(tick));
  EXPECT_EQ(reader.read().value_or("<closed>"), "tick");

  const auto frame = std::make_shared<const std::string>(64 * 1024, 'q');
  bool refused = false;
  for (int i = 0; i < 4096 && !refused; ++i) refused = !stuck_peer->send_shared(frame);
  ASSERT_TRUE(refused);
  EXPECT_TRUE(stuck_peer->cut_as_slow_consumer());
  EXPECT_TRUE(reading_peer->is_open());
  ASSERT_TRUE(reading_peer->send_shared(tick));
  EXPECT_EQ(reader.read().value_or("<closed>"), "tick");
  ASSERT_TRUE(server.observed.wait_closes(1));
}

TEST(WebSocket, TooLargeMessageClosesWith1009) {
  ServerConfig config;
  config.websocket.max_message_bytes = 1024;
  WsServer server(config);
  WsClient client(server.port());
  ASSERT_TRUE(client.handshake("/ws/echo"));
  client.send(std::string(1024, 'a'));  // at the limit: delivered
  EXPECT_EQ(client.read().value_or("<closed>"), "echo:" + std::string(1024, 'a'));
  client.send(std::string(1025, 'a'));
  EXPECT_EQ(client.read_until_closed(), websocket::close_code::too_big);
  ASSERT_TRUE(server.observed.wait_closes(1));
  std::lock_guard lock(server.observed.mutex);
  EXPECT_EQ(server.observed.messages.size(), 1U);
}

TEST(WebSocket, BinaryFrameClosesWith1003) {
  WsServer server;
  WsClient client(server.port());
  ASSERT_TRUE(client.handshake("/ws/echo"));
  client.send_binary("\x01\x02");
  EXPECT_EQ(client.read_until_closed(), websocket::close_code::unknown_data);
  ASSERT_TRUE(server.observed.wait_closes(1));
  std::lock_guard lock(server.observed.mutex);
  EXPECT_TRUE(server.observed.messages.empty());
}

// A client that never reads never answers the server's pings: the idle timeout ends it.
TEST(WebSocket, SilentClientIsClosedByTheIdleTimeout) {
  ServerConfig config;
  config.websocket.idle_timeout = 300ms;
  WsServer server(config);
  WsClient client(server.port());
  ASSERT_TRUE(client.handshake("/ws/echo"));
  ASSERT_TRUE(server.observed.wait_closes(1));
  EXPECT_FALSE(server.observed.wait_peer()->is_open());
}

TEST(WebSocket, PeerCloseSendsItsCode) {
  WsServer server;
  WsClient client(server.port());
  ASSERT_TRUE(client.handshake("/ws/echo"));
  auto peer = server.observed.wait_peer();
  ASSERT_NE(peer, nullptr);
  peer->close(4001, "token revoked");
  EXPECT_EQ(client.read_until_closed(), 4001);
  ASSERT_TRUE(server.observed.wait_closes(1));
  EXPECT_FALSE(peer->is_open());
  EXPECT_FALSE(peer->cut_as_slow_consumer());
}

TEST(WebSocket, StopClosesOpenSocketsWithGoingAway) {
  WsServer server;
  WsClient a(server.port());
  WsClient b(server.port());
  ASSERT_TRUE(a.handshake("/ws/echo"));
  ASSERT_TRUE(b.handshake("/ws/echo"));
  ASSERT_NE(server.observed.wait_peer(1), nullptr);
  auto a_code = std::async(std::launch::async, [&] { return a.read_until_closed(); });
  auto b_code = std::async(std::launch::async, [&] { return b.read_until_closed(); });
  server.stop();
  EXPECT_EQ(a_code.get(), websocket::close_code::going_away);
  EXPECT_EQ(b_code.get(), websocket::close_code::going_away);
  server.shutdown();  // run() returns: nothing left open
  EXPECT_EQ(server.observed.close_count(), 2);
}

TEST(WebSocket, OpenConnectionsGauge) {
  Registry metrics;
  WsServer server({}, &metrics);
  auto& gauge = metrics.gauge("websocket_connections_open", "").with({});
  {
    WsClient client(server.port());
    ASSERT_TRUE(client.handshake("/ws/echo"));
    client.send("x");
    ASSERT_TRUE(client.read());  // on_open ran before the echo
    EXPECT_EQ(gauge.value(), 1.0);
    client.close();
    ASSERT_TRUE(server.observed.wait_closes(1));
  }
  server.shutdown();
  EXPECT_EQ(gauge.value(), 0.0);
}

TEST(WebSocket, OnCloseOnceWhenTheClientVanishes) {
  WsServer server;
  {
    WsClient client(server.port());
    ASSERT_TRUE(client.handshake("/ws/echo"));
    ASSERT_NE(server.observed.wait_peer(), nullptr);
  }  // TCP closed without a close frame
  ASSERT_TRUE(server.observed.wait_closes(1));
  auto peer = server.observed.wait_peer();
  peer->close(1000, "late");  // after the end: harmless
  EXPECT_FALSE(peer->send("late"));
  server.shutdown();
  EXPECT_EQ(server.observed.close_count(), 1);
}

}  // namespace
}  // namespace permiso::http
