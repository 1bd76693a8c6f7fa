// Test support: a real, throw-away PostgreSQL 15 server (initdb in a temp dir, ephemeral port),
// or the server named by PERMISO_TEST_PG_URL. Reusable by unit and integration tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

namespace permiso::test {

class PgServer {
 public:
  /// Starts a private server (initdb + pg_ctl start, run as `postgres` when we are root), or
  /// adopts PERMISO_TEST_PG_URL when set. Throws std::runtime_error when it cannot start.
  static std::unique_ptr<PgServer> start();
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  /// URL of database `db` on this server.
  [[nodiscard]] std::string url(std::string_view db = "postgres") const;
  /// Creates a fresh, uniquely named database and returns its URL (isolation per test).
  std::string create_database();
  /// True when the server is PERMISO_TEST_PG_URL's: stop()/restart() are not available.
  [[nodiscard]] bool external() const { return external_; }
  /// Fast shutdown (pg_ctl -m immediate) and start again on the same port and data dir.
  void stop();
  void restart();

 private:
  PgServer() = default;
  void run_ctl(const std::string& args) const;

  bool external_ = false;
  std::string external_url_;
  std::string dir_;  // temp dir owned by postgres: data/ and the socket
  int port_ = 0;
  bool running_ = false;
  int db_counter_ = 0;
};

/// GoogleTest environment owning at most one server per test binary, started lazily on the
/// first server() call (so SQLite-only test runs never pay for initdb) and stopped at the end:
///   ::testing::AddGlobalTestEnvironment(new PgServerEnvironment);
///   std::string url = PgServerEnvironment::server().create_database();
class PgServerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
  /// Starts the server on first use; throws std::runtime_error when it cannot.
  static PgServer& server();
};

}  // namespace permiso::test
