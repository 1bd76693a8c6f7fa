// The HTTP client against the project's own server on loopback (methods, headers, keep-alive
// reuse, limits, timeouts, refused connections, URL validation) and HTTPS against a real
// `openssl s_server` with a throwaway CA (verification, hostname check).
#include "http/client.hpp"
#include "http/server.hpp"
#include "http/trace_context.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace permiso::http {

// Readable failures: "timeout" rather than a byte dump.
void PrintTo(ClientError e, std::ostream* os) {
  *os << to_string(e);
}

namespace {

using namespace std::chrono_literals;

/// The project's server on an ephemeral loopback port, run on a background thread.
class TestServer {
 public:
  explicit TestServer(Router& router, ServerConfig config = {}) {
    config.host = "127.0.0.1";
    config.port = 0;
    config.threads = 1;
    server_ = std::make_unique<Server>(std::move(config), router);
    thread_ = std::thread([this] { server_->run(); });
  }
  ~TestServer() {
    server_->stop();
    thread_.join();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  [[nodiscard]] std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

/// A loopback socket that listens but never accepts: connects complete (the backlog), writes
/// succeed, and no answer ever comes.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("listen failed");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  [[nodiscard]] int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

/// A port nothing listens on: bound once to learn it, then released.
int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// A raw HTTP/1.1 server that answers the first request on each connection (keep-alive,
/// body "conn=<n>") and closes the connection, unanswered, on its second request: what a
/// client sees when a server drops a kept-alive connection just as it is reused.
class DroppingServer {
 public:
  DroppingServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("listen failed");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~DroppingServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  DroppingServer(const DroppingServer&) = delete;
  DroppingServer& operator=(const DroppingServer&) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  [[nodiscard]] int requests_seen() const { return requests_.load(); }

 private:
  void serve() {
    for (int n = 1;; ++n) {
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      for (int on_conn = 1;; ++on_conn) {
        if (!read_request(conn)) break;
        ++requests_;
        if (on_conn == 2) break;  // dropped unanswered
        const std::string body = "conn=" + std::to_string(n);
        const std::string res = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        if (::send(conn, res.data(), res.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(res.size())) break;
      }
      ::close(conn);
    }
  }
  static bool read_request(int conn) {
    std::string data;
    char buf[4096];
    std::size_t head_end;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
      const auto n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) return false;
      data.append(buf, static_cast<std::size_t>(n));
    }
    std::size_t length = 0;
    if (auto p = data.find("Content-Length: "); p != std::string::npos && p < head_end) {
      length = std::stoul(data.substr(p + 16));
    }
    while (data.size() < head_end + 4 + length) {
      const auto n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) return false;
      data.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

Router echo_router() {
  Router router;
  router.add_sync("GET", "/echo", [](Request& req) {
    boost::json::object o;
    o["method"] = req.method;
    o["target"] = req.target;
    o["x_test"] = std::string(req.header("x-test").value_or(""));
    o["user_agent"] = std::string(req.header("user-agent").value_or(""));
    o["host"] = std::string(req.header("host").value_or(""));
    auto res = json_response(200, o);
    res.set_header("X-Echo", std::string(req.header("x-test").value_or("none")));
    return res;
  });
  router.add_sync("POST", "/echo", [](Request& req) {
    Response res;
    res.status = 201;
    res.content_type = std::string(req.header("content-type").value_or("none"));
    res.body = req.body;
    return res;
  });
  router.add_sync("GET", "/big/{n}", [](Request& req) {
    Response res;
    res.content_type = "text/plain";
    res.body.assign(std::stoul(std::string(req.param("n"))), 'x');
    return res;
  });
  router.add_sync("GET", "/big-header", [](Request&) {
    Response res;
    res.set_header("X-Large", std::string(16 * 1024, 'h'));
    return res;
  });
  router.add_sync("GET", "/redirect", [](Request&) {
    Response res;
    res.status = 302;
    res.set_header("Location", "/echo");
    return res;
  });
  return router;
}

TEST(HttpClient, GetReturnsStatusHeadersAndBody) {
  auto router = echo_router();
  TestServer server(router);
  Client client;
  ClientRequest req;
  req.url = server.url("/echo?a=1&b=two%20words");
  req.headers = {{"X-Test", "hello"}};
  auto res = client.fetch(req);
  ASSERT_TRUE(res) << to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->header("x-echo").value_or(""), "hello");
  EXPECT_EQ(res->header("X-Echo").value_or(""), "hello");  // lookup is case-insensitive
  EXPECT_EQ(res->header("content-type").value_or(""), "application/json");
  for (const auto& [name, value] : res->headers) {
    for (char c : name) EXPECT_FALSE(std::isupper(static_cast<unsigned char>(c))) << name;
  }
  auto body = boost::json::parse(res->body).as_object();
  EXPECT_EQ(body["method"].as_string(), "GET");
  EXPECT_EQ(body["target"].as_string(), "/echo?a=1&b=two%20words");
  EXPECT_EQ(body["x_test"].as_string(), "hello");
  EXPECT_EQ(body["user_agent"].as_string(), "permiso-client/0.1");
  EXPECT_EQ(body["host"].as_string(), "127.0.0.1:" + req.url.substr(17, req.url.find('/', 17) - 17));
}

TEST(HttpClient, PostSendsBodyAndContentType) {
  auto router = echo_router();
  TestServer server(router);
  Client client;
  ClientRequest req;
  req.method = "POST";
  req.url = server.url("/echo");
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = "grant_type=" + form_encode("client credentials") + "&scope=" + form_encode("a/b+c");
  auto res = client.fetch(req);
  ASSERT_TRUE(res) << to_string(res.error());
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "grant_type=client%20credentials&scope=a%2Fb%2Bc");
  EXPECT_EQ(res->header("content-type").value_or(""), "application/x-www-form-urlencoded");
}

TEST(HttpClient, EveryCallCarriesATraceparentTheCallersWhenGiven) {
  Router router;
  router.add_sync("GET", "/trace", [](Request& r) {
    Response res;
    res.content_type = "text/plain";
    res.body = std::string(r.header("traceparent").value_or(""));
    return res;
  });
  TestServer server(router);
  Client client;
  // None given: a new trace of our own, valid, and a different one per call.
  auto first = client.fetch({.url = server.url("/trace")});
  auto second = client.fetch({.url = server.url("/trace")});
  ASSERT_TRUE(first && second);
  const auto parsed = parse_traceparent(first->body);
  ASSERT_TRUE(parsed) << first->body;
  EXPECT_EQ(parsed->flags, kSampledFlag);
  EXPECT_NE(first->body.substr(3, 32), second->body.substr(3, 32));
  // Given: sent exactly as given, once.
  const std::string mine = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto given = client.fetch({.url = server.url("/trace"), .headers = {{"traceparent", mine}}});
  ASSERT_TRUE(given);
  EXPECT_EQ(given->body, mine);
}

TEST(HttpClient, RedirectsAreReturnedNotFollowed) {
  auto router = echo_router();
  TestServer server(router);
  Client client;
  auto res = client.fetch({.url = server.url("/redirect")});
  ASSERT_TRUE(res) << to_string(res.error());
  EXPECT_EQ(res->status, 302);
  EXPECT_EQ(res->header("location").value_or(""), "/echo");
}

// The server accepts one connection only: every call after the first succeeds only because
// it rides the kept-alive connection of the first.
TEST(HttpClient, KeptAliveConnectionIsReused) {
  auto router = echo_router();
  ServerConfig config;
  config.max_connections = 1;
  TestServer server(router, config);
  Client client;
  for (int i = 0; i < 5; ++i) {
    auto res = client.fetch({.url = server.url("/echo")});
    ASSERT_TRUE(res) << "call " << i << ": " << to_string(res.error());
    EXPECT_EQ(res->status, 200);
  }
}

// The server drops the idle connection; the next call notices and uses a fresh one.
TEST(HttpClient, ConnectionClosedByServerWhileIdleIsReplaced) {
  auto router = echo_router();
  ServerConfig config;
  config.idle_timeout = 100ms;
  TestServer server(router, config);
  Client client;
  ASSERT_TRUE(client.fetch({.url = server.url("/echo")}));
  std::this_thread::sleep_for(400ms);  // well past the server's idle timeout
  auto res = client.fetch({.url = server.url("/echo")});
  ASSERT_TRUE(res) << to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

// The reused connection is dropped after the request went out: a GET is repeated once on a
// fresh connection, a POST is not (the server may have acted on it).
TEST(HttpClient, DroppedReusedConnectionRetriesIdempotentRequestsOnly) {
  DroppingServer server;
  Client client;
  auto first = client.fetch({.url = server.url()});
  ASSERT_TRUE(first) << to_string(first.error());
  EXPECT_EQ(first->body, "conn=1");
  auto get = client.fetch({.url = server.url()});
  ASSERT_TRUE(get) << to_string(get.error());
  EXPECT_EQ(get->body, "conn=2");  // the retry's fresh connection
  EXPECT_EQ(server.requests_seen(), 3);

  auto post = client.fetch({.method = "POST", .url = server.url(), .body = "x=1"});
  ASSERT_FALSE(post);
  EXPECT_EQ(post.error(), ClientError::Io);
  EXPECT_EQ(server.requests_seen(), 4);  // sent once, never repeated
}

TEST(HttpClient, ConcurrentCallsFromManyThreads) {
  auto router = echo_router();
  ServerConfig config;
  config.threads = 2;
  TestServer server(router, config);
  Client client;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto res = client.fetch({.url = server.url("/echo"), .headers = {{"X-Test", std::to_string(t)}}});
        if (res && res->status == 200 && res->header("x-echo") == std::to_string(t)) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 100);
}

TEST(HttpClient, ServerThatNeverAnswersTimesOut) {
  SilentListener silent;
  Client client;
  ClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/";
  req.timeout = 200ms;
  auto res = client.fetch(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), ClientError::Timeout);
}

TEST(HttpClient, ShutdownCutsACallInFlightAndRefusesLaterOnes) {
  SilentListener silent;
  Client client;
  ClientRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/feed?wait=60";
  req.timeout = 60s;  // a long-poll: only shutdown() can end it early
  std::promise<Result<ClientResponse, ClientError>> outcome;
  std::thread caller([&] { outcome.set_value(client.fetch(req)); });
  auto answered = outcome.get_future();
  // However the call and shutdown() interleave, the call ends Cancelled, not Timeout.
  while (answered.wait_for(10ms) != std::future_status::ready) {
    client.shutdown();
  }
  caller.join();
  auto res = answered.get();
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), ClientError::Cancelled);
  auto later = client.fetch(req);
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error(), ClientError::Cancelled);
}

TEST(HttpClient, RefusedConnectionIsConnectError) {
  Client client;
  auto res = client.fetch({.url = "http://127.0.0.1:" + std::to_string(unused_port()) + "/"});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), ClientError::Connect);
}

TEST(HttpClient, HostNameIsResolved) {
  auto router = echo_router();
  TestServer server(router);
  Client client;
  auto url = server.url("/echo");
  url.replace(url.find("127.0.0.1"), 9, "localhost");
  auto res = client.fetch({.url = url});
  ASSERT_TRUE(res) << to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST(HttpClient, BodyOverTheLimitIsResponseTooLarge) {
  auto router = echo_router();
  TestServer server(router);
  Client client({.max_body_bytes = 10 * 1024});
  auto at_limit = client.fetch({.url = server.url("/big/10240")});
  ASSERT_TRUE(at_limit) << to_string(at_limit.error());
  EXPECT_EQ(at_limit->body.size(), 10240U);
  auto over = client.fetch({.url = server.url("/big/10241")});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), ClientError::ResponseTooLarge);
  // The client still works afterwards (the cut connection is not pooled).
  EXPECT_TRUE(client.fetch({.url = server.url("/big/10")}));
}

TEST(HttpClient, HeadersOverTheLimitAreResponseTooLarge) {
  auto router = echo_router();
  TestServer server(router);
  Client client({.max_header_bytes = 4 * 1024});
  auto res = client.fetch({.url = server.url("/big-header")});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), ClientError::ResponseTooLarge);
  Client roomy;
  EXPECT_TRUE(roomy.fetch({.url = server.url("/big-header")}));
}

TEST(HttpClient, InvalidUrlsAreRefusedBeforeAnyIo) {
  Client client;
  for (std::string url : {"", "not a url", "/relative/path", "ftp://example.com/", "http://", "http:///path",
                          "http://127.0.0.1:99999/", "http://127.0.0.1:0/", "http://127.0.0.1:165536/",
                          "http://user:pw@127.0.0.1/", "http://exa mple.com/", "mailto:someone@example.com"}) {
    auto res = client.fetch({.url = url});
    ASSERT_FALSE(res) << url;
    EXPECT_EQ(res.error(), ClientError::InvalidUrl) << url;
  }
}

TEST(HttpClient, HeaderInjectionIsRefused) {
  Client client;
  auto res = client.fetch({.url = "http://127.0.0.1:1/", .headers = {{"X-A", "v\r\nX-Injected: 1"}}});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), ClientError::InvalidUrl);
  auto bad_method = client.fetch({.method = "GET /x", .url = "http://127.0.0.1:1/"});
  ASSERT_FALSE(bad_method);
  EXPECT_EQ(bad_method.error(), ClientError::InvalidUrl);
}

TEST(HttpClient, FormEncodeKeepsUnreservedOnly) {
  EXPECT_EQ(form_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(form_encode("a b&c=d+e/f?g%"), "a%20b%26c%3Dd%2Be%2Ff%3Fg%25");
  EXPECT_EQ(form_encode("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(form_encode(""), "");
}

// ---- HTTPS against openssl s_server ----------------------------------------------------

bool run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

/// Starts argv[0] from PATH with stdio on /dev/null; -1 on failure.
pid_t spawn(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

/// Polls until something accepts TCP connections on the loopback port.
bool wait_listening(int port) {
  for (int i = 0; i < 200; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (up) return true;
    std::this_thread::sleep_for(25ms);
  }
  return false;
}

void terminate(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  pid = -1;
}

/// A throwaway CA and a leaf for DNS:localhost only, served by `openssl s_server -www`.
class TlsServer {
 public:
  TlsServer() {
    char tmpl[] = "/tmp/permiso-client-tls-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    const std::string d = dir_.string();
    std::ofstream(dir_ / "ext.cnf") << "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                       "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    if (!run("openssl req -x509" + ec + " -keyout " + d + "/ca.key -out " + d +
             "/ca.pem -days 2 -subj /CN=PermisoTestCA") ||
        !run("openssl req" + ec + " -keyout " + d + "/leaf.key -out " + d + "/leaf.csr -subj /CN=localhost") ||
        !run("openssl x509 -req -in " + d + "/leaf.csr -CA " + d + "/ca.pem -CAkey " + d +
             "/ca.key -CAcreateserial -out " + d + "/leaf.pem -days 2 -extfile " + d + "/ext.cnf")) {
      throw std::runtime_error("certificate generation failed");
    }
    port_ = unused_port();
    pid_ = spawn({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port_), "-cert", d + "/leaf.pem",
                  "-key", d + "/leaf.key", "-www", "-quiet"});
    if (pid_ < 0 || !wait_listening(port_)) throw std::runtime_error("openssl s_server did not start");
    // nginx too when installed: it keeps connections alive and can echo what it saw.
    if (run("command -v nginx")) {
      nginx_port_ = unused_port();
      std::filesystem::create_directories(dir_ / "nginx");
      std::ofstream(dir_ / "nginx" / "nginx.conf")
          << "daemon off; master_process off; worker_processes 1; pid " << d << "/nginx/nginx.pid;\n"
          << "error_log " << d << "/nginx/error.log;\n"
          << "events { worker_connections 64; }\n"
          << "http { access_log off; client_body_temp_path " << d << "/nginx/body; proxy_temp_path " << d
          << "/nginx/proxy; fastcgi_temp_path " << d << "/nginx/fcgi; uwsgi_temp_path " << d
          << "/nginx/uwsgi; scgi_temp_path " << d << "/nginx/scgi;\n"
          << "  server { listen 127.0.0.1:" << nginx_port_ << " ssl; server_name localhost;\n"
          << "    ssl_certificate " << d << "/leaf.pem; ssl_certificate_key " << d << "/leaf.key;\n"
          << "    location / { return 200 \"sni=$ssl_server_name request=$connection_requests\"; } } }\n";
      nginx_pid_ = spawn({"nginx", "-p", d + "/nginx", "-e", d + "/nginx/error.log", "-c", d + "/nginx/nginx.conf"});
      if (nginx_pid_ < 0 || !wait_listening(nginx_port_)) {
        terminate(nginx_pid_);
        nginx_port_ = 0;
      }
    }
  }
  ~TlsServer() {
    terminate(pid_);
    terminate(nginx_pid_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  [[nodiscard]] std::string ca_file() const { return (dir_ / "ca.pem").string(); }
  [[nodiscard]] std::string url(const std::string& host) const {
    return "https://" + host + ":" + std::to_string(port_) + "/";
  }
  /// 0 when nginx is not installed.
  [[nodiscard]] int nginx_port() const { return nginx_port_; }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  int nginx_port_ = 0;
  pid_t nginx_pid_ = -1;
};

class HttpsClient : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!run("command -v openssl")) GTEST_SKIP() << "openssl not installed";
    server_ = new TlsServer();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "no TLS server";
  }
  static TlsServer* server_;
};
TlsServer* HttpsClient::server_ = nullptr;

TEST_F(HttpsClient, VerifiedWithTheCaFile) {
  Client client({.ca_file = server_->ca_file()});
  auto res = client.fetch({.url = server_->url("localhost")});
  ASSERT_TRUE(res) << to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("s_server"), std::string::npos);
}

TEST_F(HttpsClient, UnknownCaIsTlsError) {
  Client client;  // the system store does not know the test CA
  auto res = client.fetch({.url = server_->url("localhost")});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), ClientError::Tls);
}

TEST_F(HttpsClient, HostNameMismatchIsTlsError) {
  Client client({.ca_file = server_->ca_file()});
  // Trusted chain, but the certificate names localhost, not 127.0.0.1.
  auto res = client.fetch({.url = server_->url("127.0.0.1")});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), ClientError::Tls);
}

TEST_F(HttpsClient, VerificationOffAcceptsAnyCertificate) {
  Client client({.verify_tls = false});
  auto res = client.fetch({.url = server_->url("127.0.0.1")});
  ASSERT_TRUE(res) << to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

// nginx reports the SNI name it received and how many requests the connection has carried.
TEST_F(HttpsClient, SniSentAndTlsConnectionKeptAlive) {
  if (server_->nginx_port() == 0) GTEST_SKIP() << "nginx not installed";
  Client client({.ca_file = server_->ca_file()});
  const auto url = "https://localhost:" + std::to_string(server_->nginx_port()) + "/";
  for (int i = 1; i <= 3; ++i) {
    auto res = client.fetch({.url = url});
    ASSERT_TRUE(res) << to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "sni=localhost request=" + std::to_string(i));
  }
}

TEST(HttpsClientSetup, MissingCaFileThrows) {
  EXPECT_THROW(Client({.ca_file = "/nonexistent/ca.pem"}), std::runtime_error);
}

}  // namespace
}  // namespace permiso::http
