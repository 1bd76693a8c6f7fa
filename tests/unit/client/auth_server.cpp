// See auth_server.hpp.
#include "auth_server.hpp"

#include "free_port.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace permiso::client_testing {
namespace fs = std::filesystem;
namespace {

std::string random_hex(std::size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += kHex[rd() % 16];
  return out;
}

std::string json_string_field(const std::string& body, const std::string& name) {
  const auto key = "\"" + name + "\":\"";
  const auto at = body.find(key);
  if (at == std::string::npos) return {};
  const auto start = at + key.size();
  return body.substr(start, body.find('"', start) - start);
}

AuthClientOptions plain_options() {
  AuthClientOptions o;
  o.retry.max_attempts = 1;
  return o;
}

}  // namespace

std::string auth_binary() {
  const char* bin = std::getenv("PERMISO_AUTH_BIN");
  if (bin != nullptr && *bin != '\0') return bin;
#ifdef PERMISO_AUTH_BIN_PATH
  return PERMISO_AUTH_BIN_PATH;
#else
  return "";
#endif
}

AuthServer::AuthServer(std::vector<std::pair<std::string, std::string>> env) : http_(plain_options()) {
  const auto bin = auth_binary();
  if (bin.empty()) throw std::runtime_error("PERMISO_AUTH_BIN is not set");
  dir_ = fs::temp_directory_path() / ("permiso-client-test-" + random_hex(12));
  fs::create_directories(dir_);
  log_ = dir_ / "permiso-auth.log";
  admin_password_ = "Adm1n-" + random_hex(16);  // "-" is a symbol and form-safe
  const int port = permiso::test::free_port();
  port_ = static_cast<std::uint16_t>(port);
  url_ = "http://127.0.0.1:" + std::to_string(port);
  std::vector<std::pair<std::string, std::string>> vars = {
      {"PERMISO_ENV", "development"},
      {"PERMISO_HOST", "127.0.0.1"},
      {"PERMISO_PORT", std::to_string(port)},
      {"PERMISO_DATA_DIR", dir_.string()},
      {"PERMISO_CONFIG_DIR", std::string(PERMISO_SOURCE_DIR) + "/config"},
      {"DATABASE_URL", "sqlite:///" + (dir_ / "permiso.db").string()},
      {"JWT_ALGORITHM", "HS256"},
      {"JWT_SECRET_KEY", random_hex(64)},
      {"JWT_ISSUER", url_},
      {"PERMISO_BOOTSTRAP_ADMIN_USERNAME", "admin"},
      {"PERMISO_BOOTSTRAP_ADMIN_PASSWORD", admin_password_},
      {"RATE_LIMIT_LOGIN", "100000/minute"},
      {"RATE_LIMIT_API", "100000/minute"},
      {"LOG_LEVEL", "WARNING"},
  };
  for (auto& kv : env) {
    bool replaced = false;
    for (auto& v : vars) {
      if (v.first == kv.first) {
        v.second = kv.second;
        replaced = true;
      }
    }
    if (!replaced) vars.push_back(kv);
  }
  std::vector<std::string> strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view s(*e);
    if (s.starts_with("PERMISO_") || s.starts_with("JWT_") || s.starts_with("RATE_LIMIT_") || s.starts_with("REDIS_") ||
        s.starts_with("DATABASE_")) {
      continue;
    }
    strings.emplace_back(s);
  }
  for (const auto& [k, v] : vars) strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ == 0) {
    const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (::chdir(dir_.c_str()) != 0) ::_exit(126);
    ::execle(bin.c_str(), "permiso-auth", "serve", static_cast<char*>(nullptr), envp.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("permiso-auth exited during start-up:\n" + output());
    }
    auto r = http_.raw("GET", url_ + "/health");
    if (r && r->status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("permiso-auth did not answer /health within 20 s:\n" + output());
}

AuthServer::~AuthServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200 && ::waitpid(pid_, &status, WNOHANG) != pid_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (i == 199) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
  }
  if (std::getenv("PERMISO_TEST_KEEP") == nullptr) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string AuthServer::output() const {
  std::ifstream in(log_);
  std::stringstream ss;
  ss << in.rdbuf();
  auto s = ss.str();
  return s.size() > 8000 ? s.substr(s.size() - 8000) : s;
}

std::string AuthServer::admin_token() {
  if (admin_token_.empty()) {
    auto r =
        http_.raw("POST", url_ + "/api/v1/auth/token", "grant_type=password&username=admin&password=" + admin_password_,
                  {{"Content-Type", "application/x-www-form-urlencoded"}});
    if (!r || r->status != 200) throw std::runtime_error("admin login failed: " + (r ? r->body : r.error().message));
    admin_token_ = json_string_field(r->body, "access_token");
  }
  return admin_token_;
}

HttpResponse AuthServer::admin(std::string_view method, const std::string& path, const std::string& body) {
  auto r = http_.raw(method, url_ + path, body, {{"Authorization", "Bearer " + admin_token()}});
  if (!r) throw std::runtime_error("admin call " + path + " failed: " + r.error().message);
  return *r;
}

AuthServer::Credentials AuthServer::create_client(const std::vector<std::string>& scopes,
                                                  const std::string& extra_json) {
  Credentials c;
  c.client_id = "ctest-" + random_hex(8);
  std::string list;
  for (const auto& s : scopes) list += (list.empty() ? "\"" : ",\"") + s + "\"";
  std::string body = "{\"client_id\":\"" + c.client_id + "\",\"name\":\"client test\",\"scope_ids\":[" + list + "]";
  if (!extra_json.empty()) body += "," + extra_json;
  body += "}";
  auto r = admin("POST", "/api/v1/admin/service-clients", body);
  if (r.status != 201) throw std::runtime_error("create client: " + std::to_string(r.status) + " " + r.body);
  c.client_secret = json_string_field(r.body, "client_secret");
  return c;
}

double AuthServer::requests_counted(const std::string& route, const std::string& status) {
  auto r = http_.raw("GET", url_ + "/metrics");
  if (!r || r->status != 200) throw std::runtime_error("GET /metrics failed");
  double total = 0;
  std::istringstream lines(r->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("http_requests_total{")) continue;
    if (line.find("route=\"" + route + "\"") == std::string::npos) continue;
    if (line.find("status=\"" + status + "\"") == std::string::npos) continue;
    total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

}  // namespace permiso::client_testing
