// Test fixture helper: a throwaway redis-server on 127.0.0.1 (free port, temp dir, no
// persistence), stopped and cleaned up by the destructor.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace permiso::test {

class RedisServer {
 public:
  /// The redis-server binary on PATH; nullopt when it is not installed.
  static std::optional<std::filesystem::path> find_binary();
  /// Starts a server and waits until it answers PING; throws when it cannot.
  explicit RedisServer(std::filesystem::path binary);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  [[nodiscard]] int port() const { return port_; }
  void stop();
  /// Starts again on the same port (a Redis restart: empty data, empty script cache).
  void restart();
  /// Runs one command on a fresh connection; the reply as text ("" on failure).
  std::string command(const std::string& a, const std::string& b = {}, const std::string& c = {}) const;

 private:
  bool spawn_and_wait();

  std::filesystem::path binary_;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace permiso::test
