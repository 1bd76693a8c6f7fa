// Test fixture: the real permiso-auth binary (path compiled in by CMake) on a
// free loopback port with its own temp data dir (SQLite, HS256, a bootstrap admin), plus the
// admin calls the client tests need, made through the public API.
#pragma once

#include "permiso/auth_client.hpp"

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace permiso::client_testing {

class AuthServer {
 public:
  /// Extra environment on top of the defaults (e.g. RATE_LIMIT_SERVICE_TOKEN). Throws with
  /// the server's output when it does not answer /health within 20 s.
  explicit AuthServer(std::vector<std::pair<std::string, std::string>> env = {});
  ~AuthServer();
  AuthServer(const AuthServer&) = delete;
  AuthServer& operator=(const AuthServer&) = delete;

  [[nodiscard]] const std::string& url() const { return url_; }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] const std::string& admin_password() const { return admin_password_; }
  [[nodiscard]] std::string output() const;

  /// An admin access token (password grant), fetched once.
  std::string admin_token();

  struct Credentials {
    std::string client_id;
    std::string client_secret;
  };
  /// Registers a service client; `extra_json` is spliced into the body (e.g. "\"rate_limit_per_minute\": 2").
  Credentials create_client(const std::vector<std::string>& scopes, const std::string& extra_json = {});

  /// A raw admin call (bearer admin token): status and body.
  HttpResponse admin(std::string_view method, const std::string& path, const std::string& body = {});

  /// Sum of http_requests_total samples whose labels contain route and status.
  double requests_counted(const std::string& route, const std::string& status);

 private:
  std::filesystem::path dir_;
  std::filesystem::path log_;
  std::string url_;
  std::uint16_t port_ = 0;
  std::string admin_password_;
  std::string admin_token_;
  pid_t pid_ = -1;
  AuthClient http_;
};

/// The permiso-auth binary: PERMISO_AUTH_BIN, else the one CMake built; "" when neither.
std::string auth_binary();

}  // namespace permiso::client_testing
