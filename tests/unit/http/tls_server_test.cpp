// The server terminating TLS itself (ServerConfig::tls): HTTPS with keep-alive, the request
// marked as TLS (so discovery URLs say https), plain HTTP and old protocol versions refused,
// the handshake bounded by the header timeout, and certificate files checked at start-up.
#include "http/client.hpp"
#include "http/server.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace permiso::http {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

bool run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

/// A throwaway CA and a leaf for localhost and 127.0.0.1, plus a second key that matches
/// nothing.
class Certificates {
 public:
  Certificates() {
    char tmpl[] = "/tmp/permiso-tls-server-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    const std::string d = dir_.string();
    std::ofstream(dir_ / "ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                       "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    if (!run("openssl req -x509" + ec + " -keyout " + d + "/ca.key -out " + d + "/ca.pem -days 2 -subj /CN=TestCA") ||
        !run("openssl req" + ec + " -keyout " + d + "/leaf.key -out " + d + "/leaf.csr -subj /CN=localhost") ||
        !run("openssl x509 -req -in " + d + "/leaf.csr -CA " + d + "/ca.pem -CAkey " + d +
             "/ca.key -CAcreateserial -out " + d + "/leaf.pem -days 2 -extfile " + d + "/ext.cnf") ||
        !run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + d + "/other.key")) {
      throw std::runtime_error("openssl could not make the test certificates");
    }
  }
  ~Certificates() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Certificates(const Certificates&) = delete;
  Certificates& operator=(const Certificates&) = delete;

  [[nodiscard]] std::string path(const char* name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
};

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.threads = 2;
    config_.header_timeout = 500ms;
    config_.shutdown_grace = 2000ms;
    config_.tls = TlsConfig{certs_.path("leaf.pem"), certs_.path("leaf.key")};
    router_.add_sync("GET", "/whoami", [](Request& r) {
      return json_response(200, boost::json::object{{"tls", r.tls}, {"base", public_base_url(r)}});
    });
    server_ = std::make_unique<Server>(config_, router_, ServerHooks{});
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
  }

  [[nodiscard]] std::string url(const std::string& scheme, const std::string& host = "localhost") const {
    return scheme + "://" + host + ":" + std::to_string(server_->port()) + "/whoami";
  }

  Certificates certs_;
  ServerConfig config_;
  Router router_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(TlsServerTest, ServesHttpsOnKeptAliveConnections) {
  Client client({.ca_file = certs_.path("ca.pem")});
  for (int i = 0; i < 3; ++i) {
    auto res = client.fetch({.url = url("https")});
    ASSERT_TRUE(res) << to_string(res.error());
    EXPECT_EQ(res->status, 200);
    auto body = boost::json::parse(res->body).as_object();
    EXPECT_TRUE(body.at("tls").as_bool());
    // The request knows it came over TLS: discovery documents say https.
    EXPECT_EQ(body.at("base").as_string(), "https://localhost:" + std::to_string(server_->port()));
  }
  // The certificate names 127.0.0.1 too.
  auto by_address = client.fetch({.url = url("https", "127.0.0.1")});
  ASSERT_TRUE(by_address) << to_string(by_address.error());
  EXPECT_EQ(by_address->status, 200);
}

TEST_F(TlsServerTest, PlainHttpGetsNoAnswer) {
  Client client;
  auto res = client.fetch({.url = url("http", "127.0.0.1"), .timeout = 2000ms});
  EXPECT_FALSE(res) << "a plain request was answered with status " << res->status;
}

TEST_F(TlsServerTest, RefusesTls11AndOffersTls12And13) {
  const std::string connect = "openssl s_client -connect 127.0.0.1:" + std::to_string(server_->port()) +
                              " -servername localhost -CAfile " + certs_.path("ca.pem") + " </dev/null";
  // The client offers the old versions (security level 0 lets it): the server must refuse.
  EXPECT_FALSE(run(connect + " -tls1_1 -cipher DEFAULT@SECLEVEL=0"));
  EXPECT_FALSE(run(connect + " -tls1 -cipher DEFAULT@SECLEVEL=0"));
  EXPECT_TRUE(run(connect + " -tls1_2 -verify_return_error"));
  EXPECT_TRUE(run(connect + " -tls1_3 -verify_return_error"));
}

// A client that connects and never starts the handshake is cut at the header timeout.
TEST_F(TlsServerTest, AStalledHandshakeIsCut) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto started = std::chrono::steady_clock::now();
  char byte = 0;
  const auto n = ::recv(fd, &byte, 1, 0);  // 0 (closed) or -1 (reset); never data
  const auto waited = std::chrono::steady_clock::now() - started;
  ::close(fd);
  EXPECT_LE(n, 0);
  EXPECT_LT(waited, 4s) << "the server closed the stalled connection (header timeout 500 ms), not the client";
}

TEST(TlsServerConfig, UnreadableOrMismatchedFilesStopStartUp) {
  Certificates certs;
  Router router;
  ServerConfig config;
  config.tls = TlsConfig{"/nonexistent/cert.pem", certs.path("leaf.key")};
  try {
    Server server(config, router, ServerHooks{});
    ADD_FAILURE() << "a missing certificate was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/cert.pem"), std::string::npos) << e.what();
  }
  config.tls = TlsConfig{certs.path("leaf.pem"), certs.path("other.key")};
  try {
    Server server(config, router, ServerHooks{});
    ADD_FAILURE() << "a key that does not match the certificate was accepted";
  } catch (const std::runtime_error& e) {
    // OpenSSL notices while loading the key ("key values mismatch"); the message names the file.
    const std::string what = e.what();
    EXPECT_NE(what.find("other.key"), std::string::npos) << what;
    EXPECT_TRUE(what.find("mismatch") != std::string::npos || what.find("does not match") != std::string::npos) << what;
  }
}

}  // namespace
}  // namespace permiso::http
