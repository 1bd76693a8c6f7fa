// The server against real loopback sockets: routing, limits, timeouts, keep-alive and
// pipelining, async replies, middleware (request id, security headers, CORS, access log,
// metrics, X-Forwarded-For) and graceful stop.
#include "http/server.hpp"
#include "common/worker_pool.hpp"
#include "http/metrics.hpp"
#include "http/offload.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace permiso::http {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

struct RawResponse {
  int status = 0;
  std::string reason;
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined by ", "
  std::string body;
  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  [[nodiscard]] bool has(const std::string& name) const { return headers.count(name) != 0; }
  [[nodiscard]] boost::json::object json() const { return boost::json::parse(body).as_object(); }
};

/// A blocking loopback client speaking raw bytes, so tests can send anything.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("connect failed");
    }
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool send(std::string_view data) {
    while (!data.empty()) {
      auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  /// Reads one response; nullopt on close or timeout.
  std::optional<RawResponse> read(std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = SteadyClock::now() + timeout;
    std::size_t header_end;
    while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    RawResponse res;
    std::string head = buf_.substr(0, header_end);
    buf_.erase(0, header_end + 4);
    auto line_end = head.find("\r\n");
    auto status_line = head.substr(0, line_end);
    res.status = std::stoi(status_line.substr(9, 3));
    res.reason = status_line.size() > 13 ? status_line.substr(13) : std::string();
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      auto end = head.find("\r\n", pos);
      if (end == std::string::npos) end = head.size();
      auto line = head.substr(pos, end - pos);
      auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      auto& slot = res.headers[name];
      slot = slot.empty() ? value : slot + ", " + value;
      pos = end + 2;
    }
    std::size_t length = res.has("content-length") ? std::stoul(res.header("content-length")) : 0;
    while (buf_.size() < length) {
      if (!fill(deadline)) return std::nullopt;
    }
    res.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return res;
  }

  /// True when the server closes the connection within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = SteadyClock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char tmp[4096];
      auto n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return true;
    }
  }

 private:
  bool fill(SteadyClock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char tmp[8192];
    auto n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
};

std::string get(std::string_view path, std::string_view extra_headers = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) + "\r\n";
}

std::string post(std::string_view path, std::string_view body, std::string_view extra_headers = "") {
  return "POST " + std::string(path) + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n" + std::string(extra_headers) + "\r\n" +
         std::string(body);
}

/// A server on an ephemeral loopback port with sub-second timeouts, run on its own thread.
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.port = 0;
    config_.threads = 2;
    config_.header_timeout = 300ms;
    config_.read_timeout = 300ms;
    config_.write_timeout = 1000ms;
    config_.idle_timeout = 300ms;
    config_.handler_timeout = 400ms;
    config_.shutdown_grace = 2000ms;
    config_.idle_drain = 100ms;
    config_.body_limit = 1024;
    config_.header_limit = 2048;
    config_.cors.allowed_origins = {"https://app.example.com"};

    router_.add_sync("GET", "/hello", [](Request&) {
      return json_response(200, boost::json::object{{"hello", "world"}});
    });
    router_.add_sync("GET", "/users/{id}", [](Request& r) {
      return json_response(200, boost::json::object{{"id", r.param("id")}, {"q", r.query_param("q").value_or("")}});
    });
    router_.add_sync("GET", "/users/me", [](Request&) {
      return json_response(200, boost::json::object{{"me", true}});
    });
    router_.add_sync("DELETE", "/users/{id}", [](Request&) { return json_response(200, boost::json::object{}); });
    router_.add_sync("POST", "/echo", [](Request& r) {
      Response res;
      res.content_type = "text/plain";
      res.body = r.body;
      return res;
    });
    router_.add_sync("GET", "/whoami", [](Request& r) {
      return json_response(200, boost::json::object{{"ip", r.remote_ip},
                                                    {"rid", r.request_id},
                                                    {"base", public_base_url(r)},
                                                    {"trace_id", r.trace.trace_id_hex()},
                                                    {"span_id", r.trace.span_id_hex()},
                                                    {"parent_span_id", r.trace.parent_id_hex()}});
    });
    router_.add_sync("GET", "/throw", [](Request&) -> Response { throw std::runtime_error("bug"); });
    router_.add("GET", "/never", [](Request&, Reply) {});  // drops its Reply
    router_.add("GET", "/async", [this](Request& req, Reply reply) {
      auto delay = std::chrono::milliseconds(std::stoi(std::string(req.query_param("ms").value_or("0"))));
      std::string id(req.param("id"));
      bool ok = pool_.try_submit([reply, delay, &req] {
        std::this_thread::sleep_for(delay);
        Response res = json_response(200, boost::json::object{{"async", true}, {"path", req.path}});
        reply(std::move(res));
        reply(json_response(500, boost::json::object{}));  // a second call is ignored
      });
      if (!ok) reply(error_response(req, 503, "overloaded", "busy"));
    });
    add_metrics_route(router_, registry_);
    add_health_route(router_, [] { return boost::json::value{{"status", "healthy"}, {"service", "test"}}; });
    add_ready_route(router_, [this] { return ready_.load(); });
  }

  void start() {
    hooks_.metrics = &registry_;
    hooks_.access_log = [this](const AccessLogEntry& e) {
      std::lock_guard lock(log_mutex_);
      log_.push_back({std::string(e.method), std::string(e.path), std::string(e.route), e.status, e.bytes,
                      std::string(e.request_id), std::string(e.remote_ip), std::string(e.user_agent),
                      std::string(e.trace_id), std::string(e.span_id), std::string(e.parent_span_id), e.started});
    };
    hooks_.error_log = [this](std::string_view msg) {
      std::lock_guard lock(log_mutex_);
      errors_.emplace_back(msg);
    };
    server_ = std::make_unique<Server>(config_, router_, hooks_);
    thread_ = std::thread([this] {
      server_->run();
      run_returned_ = true;
    });
  }

  void TearDown() override {
    if (server_) {
      server_->stop();
      thread_.join();
    }
  }

  std::optional<RawResponse> roundtrip(const std::string& request) {
    Client c(server_->port());
    c.send(request);
    return c.read();
  }

  struct LogLine {
    std::string method, path, route;
    int status;
    std::size_t bytes;
    std::string request_id, remote_ip, user_agent;
    std::string trace_id, span_id, parent_span_id;
    std::chrono::system_clock::time_point started;
  };

  ServerConfig config_;
  Router router_;
  Registry registry_;
  ServerHooks hooks_;
  WorkerPool pool_{2, 16};
  std::atomic<bool> ready_{false};
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::atomic<bool> run_returned_{false};
  std::mutex log_mutex_;
  std::vector<LogLine> log_;
  std::vector<std::string> errors_;

  /// Polls until the access-log hook has written a line (the hook runs after the answer is
  /// sent), or `limit` passed; the caller then asserts on log_ under log_mutex_.
  void wait_for_a_log_line(std::chrono::milliseconds limit) {
    const auto deadline = SteadyClock::now() + limit;
    for (;;) {
      {
        std::lock_guard lock(log_mutex_);
        if (!log_.empty() || SteadyClock::now() > deadline) return;
      }
      std::this_thread::sleep_for(5ms);
    }
  }
};

TEST_F(ServerTest, BindsAnEphemeralPort) {
  start();
  EXPECT_NE(server_->port(), 0);
}

TEST_F(ServerTest, RoutesWithCapturesAndQuery) {
  start();
  auto r = roundtrip(get("/users/42?q=a+b%21"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->json().at("id").as_string(), "42");
  EXPECT_EQ(r->json().at("q").as_string(), "a b!");
  auto me = roundtrip(get("/users/me"));
  ASSERT_TRUE(me);
  EXPECT_TRUE(me->json().at("me").as_bool());
}

TEST_F(ServerTest, UnknownRouteIs404AndWrongMethodIs405WithAllow) {
  start();
  auto r = roundtrip(get("/nope"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->json().at("error").as_string(), "not_found");
  EXPECT_FALSE(r->json().at("error_description").as_string().empty());
  EXPECT_EQ(r->json().at("request_id").as_string(), r->header("x-request-id"));
  auto m = roundtrip(post("/users/7", "{}"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 405);
  EXPECT_EQ(m->json().at("error").as_string(), "method_not_allowed");
  EXPECT_EQ(m->header("allow"), "GET, DELETE");
}

TEST_F(ServerTest, AdmissionHookAnswersInsteadOfTheHandlerWithTheRoutePattern) {
  std::vector<std::string> routes_seen;
  hooks_.admit = [&routes_seen](const Request& req, std::string_view route) -> std::optional<Response> {
    routes_seen.emplace_back(route);
    if (req.param("id") == "blocked") {
      return error_response(req, 429, "rate_limited", "Slow down.");
    }
    return std::nullopt;
  };
  start();
  auto blocked = roundtrip(get("/users/blocked"));
  ASSERT_TRUE(blocked);
  EXPECT_EQ(blocked->status, 429);
  EXPECT_EQ(blocked->json().at("error").as_string(), "rate_limited");
  auto fine = roundtrip(get("/users/7"));
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 200);
  ASSERT_EQ(routes_seen.size(), 2U);
  EXPECT_EQ(routes_seen[0], "/users/{id}");
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  Client c(server_->port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.send(get("/users/" + std::to_string(i))));
    auto r = c.read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->json().at("id").as_string(), std::to_string(i));
    EXPECT_NE(r->header("connection"), "close");
  }
}

TEST_F(ServerTest, AnAnswerGivenBeforeTheHandlerThrowsIsTheOneSent) {
  // The handler's Reply is taken at once on the connection's strand; the 500 for the
  // exception that follows must not replace it, nor leak into the next exchange.
  router_.add("GET", "/reply-then-throw", [](Request&, Reply reply) {
    reply(json_response(200, boost::json::object{{"answered", true}}));
    throw std::runtime_error("after the answer");
  });
  start();
  Client c(server_->port());
  ASSERT_TRUE(c.send(get("/reply-then-throw")));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->json().at("answered").as_bool());
  ASSERT_TRUE(c.send(get("/hello")));
  auto next = c.read();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->json().at("hello").as_string(), "world");
}

TEST_F(ServerTest, FramingHeadersAreTheServersAndBadHeaderNamesAreDropped) {
  router_.add_sync("GET", "/framing", [](Request&) {
    Response res = json_response(200, boost::json::object{{"ok", true}});
    res.set_header("Content-Length", "999");
    res.set_header("Transfer-Encoding", "chunked");
    res.set_header("Connection", "close");
    res.set_header("Bad Name", "x");
    res.set_header("Bad:Name", "x");
    res.set_header("", "x");
    res.set_header("X-Kept", "yes");
    return res;
  });
  router_.add_sync("GET", "/empty", [](Request&) {
    Response res;
    res.status = 204;
    res.body = "dropped";
    return res;
  });
  router_.add_sync("GET", "/impossible", [](Request&) {
    Response res;
    res.status = 42;
    return res;
  });
  start();
  Client c(server_->port());
  ASSERT_TRUE(c.send(get("/framing")));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), std::to_string(r->body.size()));
  EXPECT_FALSE(r->has("transfer-encoding"));
  EXPECT_FALSE(r->has("connection"));  // kept alive: the handler does not get to close it
  EXPECT_FALSE(r->has("bad name"));
  EXPECT_FALSE(r->has("bad"));
  EXPECT_EQ(r->header("x-kept"), "yes");
  EXPECT_TRUE(r->json().at("ok").as_bool());

  // No body and no Content-Length on a 204; the connection is still in step afterwards.
  ASSERT_TRUE(c.send(get("/empty")));
  auto empty = c.read();
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 204);
  EXPECT_FALSE(empty->has("content-length"));
  ASSERT_TRUE(c.send(get("/impossible")));
  auto impossible = c.read();
  ASSERT_TRUE(impossible);
  EXPECT_EQ(impossible->status, 500);
  EXPECT_EQ(impossible->json().at("error").as_string(), "internal_error");
  ASSERT_TRUE(c.send(get("/hello")));
  auto next = c.read();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->json().at("hello").as_string(), "world");
}

TEST_F(ServerTest, TheStatusLineCarriesTheReasonPhrase) {
  start();
  Client c(server_->port());
  ASSERT_TRUE(c.send(get("/nope")));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->reason, "Not Found");
}

TEST_F(ServerTest, AConnectionWhoseRequestsChangeIsCountedUnderEachRouteAndStatus) {
  // The server caches a connection's metric children between answers; a change of route,
  // method or status must still land on the right series.
  start();
  Client c(server_->port());
  for (const auto* target : {"/users/1", "/users/2", "/nope", "/users/3", "/hello", "/hello"}) {
    ASSERT_TRUE(c.send(get(target)));
    ASSERT_TRUE(c.read()) << target;
  }
  ASSERT_TRUE(c.send("DELETE /users/4 HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(c.read());
  ASSERT_TRUE(c.send(get("/metrics")));
  auto m = c.read();
  ASSERT_TRUE(m);
  const auto& body = m->body;
  for (const auto* series : {R"(http_requests_total{route="/users/{id}",method="GET",status="200"} 3)",
                             R"(http_requests_total{route="/users/{id}",method="DELETE",status="200"} 1)",
                             R"(http_requests_total{route="unmatched",method="GET",status="404"} 1)",
                             R"(http_requests_total{route="/hello",method="GET",status="200"} 2)",
                             R"(http_request_duration_seconds_count{route="/users/{id}"} 4)",
                             R"(http_request_duration_seconds_count{route="/hello"} 2)",
                             R"(http_request_duration_seconds_count{route="unmatched"} 1)"}) {
    EXPECT_NE(body.find(series), std::string::npos) << series << "\n" << body;
  }
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  Client c(server_->port());
  ASSERT_TRUE(c.send(get("/users/1") + post("/echo", "second") + get("/users/3")));
  auto a = c.read();
  auto b = c.read();
  auto d = c.read();
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(a->json().at("id").as_string(), "1");
  EXPECT_EQ(b->body, "second");
  EXPECT_EQ(d->json().at("id").as_string(), "3");
}

TEST_F(ServerTest, PipelinedAnswersHeldBackStillComeOutWhenTheNextRequestWaits) {
  // Answers to pipelined requests go out together; each of these makes the server wait for
  // something (a handler on a pool, more bytes, nothing more) and must not hold them back.
  start();
  Client c(server_->port());
  const std::string tail = get("/users/4");
  ASSERT_TRUE(c.send(get("/users/1") + get("/async?ms=50") + get("/users/3") + tail.substr(0, 10)));
  auto a = c.read();
  auto b = c.read();
  auto d = c.read();
  ASSERT_TRUE(a && b && d);  // the fourth request is incomplete: the three answers came anyway
  EXPECT_EQ(a->json().at("id").as_string(), "1");
  EXPECT_TRUE(b->json().at("async").as_bool());
  EXPECT_EQ(d->json().at("id").as_string(), "3");
  ASSERT_TRUE(c.send(tail.substr(10) + get("/users/5")));
  auto e = c.read();
  auto f = c.read();
  ASSERT_TRUE(e && f);
  EXPECT_EQ(e->json().at("id").as_string(), "4");
  EXPECT_EQ(f->json().at("id").as_string(), "5");
  // A pipelined request that closes the connection gets its answer after those before it.
  ASSERT_TRUE(c.send(get("/users/6") + get("/users/7", "Connection: close\r\n")));
  auto g = c.read();
  auto h = c.read();
  ASSERT_TRUE(g && h);
  EXPECT_EQ(g->json().at("id").as_string(), "6");
  EXPECT_EQ(h->json().at("id").as_string(), "7");
  EXPECT_TRUE(c.closed_within(2000ms));
}

TEST_F(ServerTest, ARequestArrivingInPiecesIsAssembled) {
  // Whole requests are parsed straight from the buffer; one cut mid-header, or whose body
  // comes later, continues with the asynchronous reads.
  start();
  Client c(server_->port());
  const std::string request = post("/echo", "the body arrives later");
  const auto header_end = request.find("\r\n\r\n") + 4;
  ASSERT_TRUE(c.send(request.substr(0, 20)));
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(c.send(request.substr(20, header_end - 20)));
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(c.send(request.substr(header_end, 5)));
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(c.send(request.substr(header_end + 5) + get("/users/9")));
  auto echoed = c.read();
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->status, 200);
  EXPECT_EQ(echoed->body, "the body arrives later");
  auto next = c.read();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->json().at("id").as_string(), "9");
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  start();
  Client c(server_->port());
  c.send(get("/hello", "Connection: close\r\n"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_within(1000ms));
}

TEST_F(ServerTest, AsyncReplyFromAWorkerThread) {
  start();
  Client c(server_->port());
  c.send(get("/async?ms=50"));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->json().at("async").as_bool());
  EXPECT_EQ(r->json().at("path").as_string(), "/async");
  // The ignored second reply must not leak into the next exchange on this connection.
  c.send(get("/hello"));
  auto next = c.read();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->json().at("hello").as_string(), "world");
}

TEST_F(ServerTest, ForgottenReplyTimesOutWith503) {
  start();
  auto before = SteadyClock::now();
  auto r = roundtrip(get("/never"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->json().at("error").as_string(), "timeout");
  EXPECT_GE(SteadyClock::now() - before, 350ms);
}

TEST_F(ServerTest, LateReplyAfterTimeoutIsIgnored) {
  start();
  Client c(server_->port());
  c.send(get("/async?ms=700"));  // handler_timeout is 400 ms
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  c.send(get("/hello"));
  auto next = c.read(2000ms);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->json().at("hello").as_string(), "world");
}

TEST_F(ServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  start();
  auto r = roundtrip(get("/throw"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->json().at("error").as_string(), "internal_error");
  auto ok = roundtrip(get("/hello"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  std::lock_guard lock(log_mutex_);
  ASSERT_FALSE(errors_.empty());
  EXPECT_NE(errors_.front().find("bug"), std::string::npos);
}

TEST_F(ServerTest, BodyOverLimitIs413) {
  start();
  std::string big(4096, 'x');
  auto r = roundtrip(post("/echo", big));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->json().at("error").as_string(), "payload_too_large");
  // Chunked bodies are counted too.
  std::string chunked = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) chunked += "200\r\n" + std::string(512, 'y') + "\r\n";
  chunked += "0\r\n\r\n";
  auto c = roundtrip(chunked);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 413);
  auto ok = roundtrip(post("/echo", std::string(1000, 'z')));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body.size(), 1000U);
}

TEST_F(ServerTest, AChunkedBodyArrivesWholeAndInOrder) {
  start();
  Client c(server_->port());
  // Two requests on one connection, the first one's body in chunks (one with an extension),
  // sent in pieces that split chunk sizes and data.
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
  c.send("lo\r\n7;note=x\r\n, world\r\n0\r\n\r\n");
  auto first = c.read();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "hello, world");
  c.send(post("/echo", "second"));
  auto second = c.read();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body, "second");
}

TEST_F(ServerTest, HugeBodyIsAnswered413NotReset) {
  start();
  Client c(server_->port());
  const std::string body(2 * 1024 * 1024 + 1, 'a');
  // The whole upload goes through (the server reads and discards it) and the 413 is readable.
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
             "Content-Length: " +
             std::to_string(body.size()) + "\r\n\r\n"));
  ASSERT_TRUE(c.send(body));
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->json().at("error").as_string(), "payload_too_large");
  EXPECT_FALSE(r->json().at("request_id").as_string().empty());
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponse) {
  start();
  Client c(server_->port());
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  c.send("hello");
  auto r = c.read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello");
}

TEST_F(ServerTest, HeadersOverLimitAre431) {
  start();
  auto r = roundtrip(get("/hello", "X-Big: " + std::string(4096, 'h') + "\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
}

TEST_F(ServerTest, MalformedHttpIs400) {
  start();
  auto r = roundtrip("GARBAGE\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->json().at("error").as_string(), "bad_request");
  auto bad_target = roundtrip(get("/users/%zz"));
  ASSERT_TRUE(bad_target);
  EXPECT_EQ(bad_target->status, 400);
  auto encoded_slash = roundtrip(get("/users/a%2Fb"));
  ASSERT_TRUE(encoded_slash);
  EXPECT_EQ(encoded_slash->status, 400);
  for (const char* path : {"/users/%00", "/users/%ff%fe", "/users/%C0%AF", "/users/%ED%A0%80", "/users/a%0Ab"}) {
    auto odd = roundtrip(get(path));
    ASSERT_TRUE(odd) << path;
    EXPECT_EQ(odd->status, 400) << path;
  }
  auto utf8 = roundtrip(get("/users/%C3%A9t%C3%A9"));
  ASSERT_TRUE(utf8);
  EXPECT_EQ(utf8->json().at("id").as_string(), "\xC3\xA9t\xC3\xA9");
}

// Request smuggling: a front proxy and this server must never disagree on where a request
// ends, so a request framed two ways (or with a doubled length) is refused, never guessed at.
TEST_F(ServerTest, AmbiguousFramingIsRefusedNotGuessed) {
  start();
  for (const char* framing :
       {"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", "Content-Length: 4\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: chunked, identity\r\n"}) {
    auto r = roundtrip(std::string("POST /echo HTTP/1.1\r\nHost: x\r\n") + framing + "\r\n0\r\n\r\n");
    ASSERT_TRUE(r) << framing;
    EXPECT_EQ(r->status, 400) << framing;
  }
}

TEST_F(ServerTest, SlowlorisIsClosedAfterHeaderTimeout) {
  start();
  Client c(server_->port());
  auto before = SteadyClock::now();
  c.send("GET /hello HTTP/1.1\r\nHost: t\r\n");
  std::this_thread::sleep_for(100ms);
  c.send("X-Drip: 1\r\n");  // trickling bytes does not extend the deadline
  EXPECT_TRUE(c.closed_within(2000ms));
  auto elapsed = SteadyClock::now() - before;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 1500ms);
}

TEST_F(ServerTest, SilentConnectionIsClosedAfterHeaderTimeout) {
  start();
  Client c(server_->port());
  EXPECT_TRUE(c.closed_within(2000ms));
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  start();
  Client c(server_->port());
  c.send(get("/hello"));
  ASSERT_TRUE(c.read());
  auto before = SteadyClock::now();
  EXPECT_TRUE(c.closed_within(2000ms));
  EXPECT_GE(SteadyClock::now() - before, 250ms);
}

TEST_F(ServerTest, RequestIdIsEchoedWhenValidAndGeneratedOtherwise) {
  start();
  auto valid = roundtrip(get("/whoami", "X-Request-ID: abc.DEF_123-x\r\n"));
  ASSERT_TRUE(valid);
  EXPECT_EQ(valid->header("x-request-id"), "abc.DEF_123-x");
  EXPECT_EQ(valid->json().at("rid").as_string(), "abc.DEF_123-x");

  for (std::string bad :
       {std::string("has space"), std::string("semi;colon"), std::string(65, 'a'), std::string("<script>")}) {
    auto r = roundtrip(get("/whoami", "X-Request-ID: " + bad + "\r\n"));
    ASSERT_TRUE(r);
    auto id = r->header("x-request-id");
    EXPECT_NE(id, bad);
    EXPECT_EQ(id.size(), 32U);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  }
  // Generated ids never repeat, whichever loop (thread) generates them.
  Client c1(server_->port());
  Client c2(server_->port());
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    for (auto* c : {&c1, &c2}) {
      ASSERT_TRUE(c->send(get("/hello")));
      auto r = c->read();
      ASSERT_TRUE(r);
      const auto id = r->header("x-request-id");
      EXPECT_EQ(id.size(), 32U);
      EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
      EXPECT_TRUE(ids.insert(id).second) << id;
    }
  }
}

TEST_F(ServerTest, SecurityHeadersOnEveryResponse) {
  start();
  for (const auto& req : {get("/hello"), get("/nope"), std::string("BAD\r\n\r\n")}) {
    auto r = roundtrip(req);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("x-frame-options"), "DENY");
    EXPECT_EQ(r->header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r->header("x-xss-protection"), "1; mode=block");
    EXPECT_EQ(r->header("referrer-policy"), "strict-origin-when-cross-origin");
    EXPECT_EQ(r->header("cache-control"), "no-store");
    EXPECT_FALSE(r->header("x-request-id").empty());
  }
  auto text = roundtrip(post("/echo", "x"));
  ASSERT_TRUE(text);
  EXPECT_FALSE(text->has("cache-control"));  // not a JSON API response
}

TEST_F(ServerTest, CorsAllowedOriginIsEchoed) {
  start();
  auto r = roundtrip(get("/hello", "Origin: https://app.example.com\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("access-control-allow-origin"), "https://app.example.com");
  EXPECT_EQ(r->header("access-control-allow-credentials"), "true");
  EXPECT_EQ(r->header("vary"), "Origin");
}

TEST_F(ServerTest, CorsOtherOriginGetsNoCorsHeaders) {
  start();
  for (std::string origin : {"https://evil.example.com", "https://app.example.com.evil.net", "null"}) {
    auto r = roundtrip(get("/hello", "Origin: " + origin + "\r\n"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    for (const auto& [name, value] : r->headers) {
      EXPECT_NE(name.rfind("access-control-", 0), 0U) << name;
    }
  }
}

TEST_F(ServerTest, CorsPreflightIs204WithMethodsHeadersAndMaxAge) {
  start();
  auto r = roundtrip(
      "OPTIONS /hello HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example.com\r\n"
      "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("access-control-allow-origin"), "https://app.example.com");
  EXPECT_NE(r->header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_NE(r->header("access-control-allow-headers").find("Authorization"), std::string::npos);
  EXPECT_EQ(r->header("access-control-max-age"), "600");
  auto denied = roundtrip(
      "OPTIONS /hello HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example.com\r\n"
      "Access-Control-Request-Method: POST\r\n\r\n");
  ASSERT_TRUE(denied);
  EXPECT_FALSE(denied->has("access-control-allow-origin"));
  EXPECT_FALSE(denied->has("access-control-allow-methods"));
}

TEST_F(ServerTest, MetricsUseTheRoutePattern) {
  start();
  ASSERT_TRUE(roundtrip(get("/users/1")));
  ASSERT_TRUE(roundtrip(get("/users/2")));
  ASSERT_TRUE(roundtrip(get("/nope/at/all")));
  auto m = roundtrip(get("/metrics"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header("content-type").rfind("text/plain", 0), 0U);
  EXPECT_NE(m->body.find(R"(http_requests_total{route="/users/{id}",method="GET",status="200"} 2)"), std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find(R"(route="unmatched",method="GET",status="404"})"), std::string::npos);
  EXPECT_EQ(m->body.find("/users/1"), std::string::npos);  // no raw paths
  EXPECT_NE(m->body.find(R"(http_request_duration_seconds_count{route="/users/{id}"} 2)"), std::string::npos);
  // Exactly the /metrics request itself.
  auto gauge = m->body.find("\nhttp_requests_in_flight ");
  ASSERT_NE(gauge, std::string::npos);
  EXPECT_EQ(std::stoi(m->body.substr(gauge + 25)), 1);
}

TEST_F(ServerTest, HealthAndReadiness) {
  start();
  auto h = roundtrip(get("/health"));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->json().at("status").as_string(), "healthy");
  auto r = roundtrip(get("/ready"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  ready_ = true;
  auto r2 = roundtrip(get("/ready"));
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
}

TEST_F(ServerTest, AccessLogHookGetsOneLinePerRequest) {
  start();
  ASSERT_TRUE(roundtrip(get("/users/9?secret=shh", "User-Agent: unit/1\r\nX-Request-ID: log-1\r\n")));
  wait_for_a_log_line(1s);
  std::lock_guard lock(log_mutex_);
  ASSERT_EQ(log_.size(), 1U);
  const auto& e = log_[0];
  EXPECT_EQ(e.method, "GET");
  EXPECT_EQ(e.path, "/users/9");
  EXPECT_EQ(e.route, "/users/{id}");
  EXPECT_EQ(e.status, 200);
  EXPECT_GT(e.bytes, 0U);
  EXPECT_EQ(e.request_id, "log-1");
  EXPECT_EQ(e.remote_ip, "127.0.0.1");
  EXPECT_EQ(e.user_agent, "unit/1");
}

TEST_F(ServerTest, HandlerAndAccessLogSeeTheCallersTrace) {
  start();
  const auto before = std::chrono::system_clock::now();
  auto r = roundtrip(get("/whoami", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"));
  ASSERT_TRUE(r);
  const auto o = r->json();
  EXPECT_EQ(o.at("trace_id").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(o.at("parent_span_id").as_string(), "00f067aa0ba902b7");
  const std::string span(o.at("span_id").as_string());
  EXPECT_EQ(span.size(), 16U);
  EXPECT_NE(span, "00f067aa0ba902b7");
  EXPECT_FALSE(r->has("traceparent"));  // the answer carries X-Request-ID, not the trace
  wait_for_a_log_line(2s);
  std::lock_guard lock(log_mutex_);
  ASSERT_EQ(log_.size(), 1U);
  EXPECT_EQ(log_[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(log_[0].span_id, span);
  EXPECT_EQ(log_[0].parent_span_id, "00f067aa0ba902b7");
  EXPECT_GE(log_[0].started, before - 1s);
  EXPECT_LE(log_[0].started, std::chrono::system_clock::now());
}

TEST_F(ServerTest, InvalidTraceparentStartsANewTrace) {
  start();
  auto bad = roundtrip(get("/whoami", "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01\r\n"));
  auto none = roundtrip(get("/whoami"));
  ASSERT_TRUE(bad && none);
  for (const auto& o : {bad->json(), none->json()}) {
    const std::string trace(o.at("trace_id").as_string());
    EXPECT_EQ(trace.size(), 32U);
    EXPECT_NE(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(trace.find_first_not_of("0123456789abcdef"), std::string::npos) << trace;
    EXPECT_EQ(o.at("parent_span_id").as_string(), "");
  }
  EXPECT_NE(bad->json().at("trace_id"), none->json().at("trace_id"));
}

TEST_F(ServerTest, ForwardedForIgnoredFromUntrustedPeer) {
  start();
  auto r = roundtrip(get("/whoami", "X-Forwarded-For: 203.0.113.9\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->json().at("ip").as_string(), "127.0.0.1");
}

TEST_F(ServerTest, ForwardedForHonouredFromTrustedProxy) {
  config_.trusted_proxies = {"127.0.0.1", "10.0.0.2"};
  start();
  auto r = roundtrip(get("/whoami", "X-Forwarded-For: 198.51.100.7, 203.0.113.9, 10.0.0.2\r\n"));
  ASSERT_TRUE(r);
  // The rightmost address that is not a trusted proxy: earlier entries are client-controlled.
  EXPECT_EQ(r->json().at("ip").as_string(), "203.0.113.9");
  auto junk = roundtrip(get("/whoami", "X-Forwarded-For: not-an-ip\r\n"));
  ASSERT_TRUE(junk);
  EXPECT_EQ(junk->json().at("ip").as_string(), "127.0.0.1");
}

TEST_F(ServerTest, ForwardedProtoAndHostIgnoredFromUntrustedPeer) {
  start();
  auto r = roundtrip(get("/whoami", "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example.com\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->json().at("base").as_string(), "http://test");  // the Host header
}

// Behind nginx the discovery document must name the address the client used: scheme and
// port from the proxy, since nginx's $host drops the port.
TEST_F(ServerTest, ForwardedProtoAndHostBelievedFromTrustedProxy) {
  config_.trusted_proxies = {"127.0.0.1"};
  start();
  auto r = roundtrip(get("/whoami", "X-Forwarded-Proto: https\r\nX-Forwarded-Host: edge.example.com:8443\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->json().at("base").as_string(), "https://edge.example.com:8443");
  // A list (proxies appending) counts its first entry; anything but https is http.
  auto listed = roundtrip(get("/whoami", "X-Forwarded-Proto: https, http\r\nX-Forwarded-Host: a.example, b\r\n"));
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->json().at("base").as_string(), "https://a.example");
  auto odd = roundtrip(get("/whoami", "X-Forwarded-Proto: gopher\r\nX-Forwarded-Host: x\"><script>\r\n"));
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->json().at("base").as_string(), "http://test");  // falls back to Host
}

TEST_F(ServerTest, GracefulStopDrainsInFlightRequest) {
  config_.handler_timeout = 2000ms;
  start();
  Client busy(server_->port());
  Client idle(server_->port());
  idle.send(get("/hello"));
  ASSERT_TRUE(idle.read());
  busy.send(get("/async?ms=300"));
  std::this_thread::sleep_for(100ms);  // the handler is now running
  server_->stop();
  EXPECT_TRUE(idle.closed_within(2000ms));  // idle connections go after the idle drain
  auto r = busy.read(2000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(busy.closed_within(1000ms));
  thread_.join();
  EXPECT_TRUE(run_returned_);
  const auto port = server_->port();
  server_.reset();
  EXPECT_THROW(Client{port}, std::runtime_error);  // no longer accepting
}

TEST_F(ServerTest, AKeptAliveConnectionIdleAtStopServesOneLastRequestWithConnectionClose) {
  config_.idle_timeout = 10000ms;
  config_.idle_drain = 5000ms;
  start();
  Client idle(server_->port());
  idle.send(get("/hello"));
  ASSERT_TRUE(idle.read());
  const auto port = server_->port();
  server_->stop();
  // The listener closes first: new connections are refused (a proxy tries another server).
  auto deadline = SteadyClock::now() + 5s;
  for (;;) {
    try {
      Client probe(port);
    } catch (const std::runtime_error&) {
      break;
    }
    ASSERT_LT(SteadyClock::now(), deadline) << "still accepting after stop()";
  }
  // The kept-alive connection stays open: a proxy may be sending on it right now, and it would
  // not retry a POST elsewhere once sent. Its request is served, then the connection closes.
  EXPECT_FALSE(idle.closed_within(300ms));
  idle.send(get("/hello"));
  auto r = idle.read(2000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(idle.closed_within(1000ms));
  thread_.join();
  EXPECT_TRUE(run_returned_);
  server_.reset();
}

TEST_F(ServerTest, AnIdleConnectionClosesAtTheEndOfTheIdleDrain) {
  config_.idle_timeout = 10000ms;
  config_.idle_drain = 200ms;
  start();
  Client idle(server_->port());
  idle.send(get("/hello"));
  ASSERT_TRUE(idle.read());
  server_->stop();
  EXPECT_TRUE(idle.closed_within(3000ms));
  thread_.join();
  EXPECT_TRUE(run_returned_);
  server_.reset();
}

TEST_F(ServerTest, StopCutsConnectionsAfterGrace) {
  config_.handler_timeout = 5000ms;
  config_.shutdown_grace = 200ms;
  start();
  Client c(server_->port());
  c.send(get("/never"));
  std::this_thread::sleep_for(50ms);
  auto before = SteadyClock::now();
  server_->stop();
  thread_.join();
  EXPECT_LT(SteadyClock::now() - before, 2s);
  server_.reset();
  EXPECT_TRUE(c.closed_within(1000ms));
}

TEST_F(ServerTest, ReplyAfterServerDestructionIsHarmless) {
  config_.handler_timeout = 5000ms;
  config_.shutdown_grace = 50ms;
  std::promise<Reply> captured;
  router_.add("GET", "/capture", [&captured](Request&, Reply reply) { captured.set_value(reply); });
  start();
  Client c(server_->port());
  c.send(get("/capture"));
  auto reply = captured.get_future().get();
  server_->stop();
  thread_.join();
  server_.reset();
  reply(json_response(200, boost::json::object{}));  // must not crash or touch freed memory
  SUCCEED();
}

TEST_F(ServerTest, SlowBodyIsClosedAfterReadTimeout) {
  start();
  Client c(server_->port());
  auto before = SteadyClock::now();
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly-a-few-bytes");
  EXPECT_TRUE(c.closed_within(2000ms));
  EXPECT_GE(SteadyClock::now() - before, 250ms);
}

// A reader that stops reading holds a write forever unless the write has a deadline: with
// the shutdown grace far longer than the write timeout, the server can only finish its stop
// promptly by cutting that write.
TEST_F(ServerTest, AWriteToAClientThatStopsReadingIsCutAfterTheWriteTimeout) {
  config_.write_timeout = 300ms;
  config_.shutdown_grace = 60s;
  router_.add_sync("GET", "/big", [](Request&) {
    Response res;
    res.content_type = "application/octet-stream";
    res.body.assign(std::size_t{64} << 20, 'x');  // far beyond what loopback buffers hold
    return res;
  });
  start();
  Client c(server_->port());
  c.send(get("/big"));
  wait_for_a_log_line(5000ms);  // the answer is being written: logged just before the write
  server_->stop();
  const auto deadline = SteadyClock::now() + 20s;
  while (!run_returned_ && SteadyClock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(run_returned_) << "the stalled write was not cut; the stop waits out the grace";
}

TEST_F(ServerTest, StopRightAfterStartReturnsPromptly) {
  start();
  server_->stop();
  server_->stop();  // idempotent
  thread_.join();
  EXPECT_TRUE(run_returned_);
  server_.reset();
}

TEST(Server, DestroyWithoutRunClosesAcceptedConnections) {
  Router router;
  ServerConfig cfg;
  auto server = std::make_unique<Server>(cfg, router);
  Client c(server->port());  // accepted by the kernel backlog only
  c.send(get("/x"));
  server.reset();
  EXPECT_TRUE(c.closed_within(1000ms));
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitAreClosed) {
  config_.max_connections = 1;
  start();
  Client first(server_->port());
  first.send(get("/hello"));
  ASSERT_TRUE(first.read());
  Client second(server_->port());
  EXPECT_TRUE(second.closed_within(1000ms));
  first.send(get("/hello"));
  EXPECT_TRUE(first.read());
}

TEST_F(ServerTest, OnPoolRunsOffTheIoThreadAndRefusesWhenFull) {
  WorkerPool small(1, 1);
  std::promise<void> release;
  auto gate = release.get_future().share();
  router_.add("GET", "/blocking", on_pool(small, [gate](Request& r) {
                gate.wait();
                return json_response(200, boost::json::object{{"path", r.path}});
              }));
  router_.add("GET", "/pool-throws", on_pool(pool_, [](Request&) -> Response { throw std::runtime_error("x"); }));
  start();
  Client running(server_->port());
  Client queued(server_->port());
  running.send(get("/blocking"));
  std::this_thread::sleep_for(100ms);
  queued.send(get("/blocking"));
  std::this_thread::sleep_for(100ms);
  // The pool's one thread and one queue slot are taken: the next caller is refused at once.
  auto refused = roundtrip(get("/blocking"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->json().at("error").as_string(), "temporarily_unavailable");
  EXPECT_EQ(refused->header("retry-after"), "1");
  // Cheap routes are unaffected while the pool is busy.
  auto cheap = roundtrip(get("/hello"));
  ASSERT_TRUE(cheap);
  EXPECT_EQ(cheap->status, 200);
  release.set_value();
  auto a = running.read();
  auto b = queued.read();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->json().at("path").as_string(), "/blocking");
  EXPECT_EQ(b->status, 200);
  auto thrown = roundtrip(get("/pool-throws"));
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->status, 500);
  small.shutdown();
}

TEST(Server, InvalidListenAddressThrows) {
  Router router;
  ServerConfig cfg;
  cfg.host = "not-an-address";
  EXPECT_THROW(Server(cfg, router), std::runtime_error);
}

}  // namespace
}  // namespace permiso::http
