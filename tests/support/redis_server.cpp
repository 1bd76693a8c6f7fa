// See redis_server.hpp.
#include "redis_server.hpp"

#include "free_port.hpp"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace permiso::test {
namespace fs = std::filesystem;
std::optional<fs::path> RedisServer::find_binary() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/usr/local/bin";
  std::size_t pos = 0;
  while (pos <= dirs.size()) {
    const auto end = std::min(dirs.find(':', pos), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(pos, end - pos)) / "redis-server";
    if (end > pos && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    pos = end + 1;
  }
  return std::nullopt;
}

RedisServer::RedisServer(fs::path binary) : binary_(std::move(binary)) {
  dir_ = fs::temp_directory_path() /
         ("permiso-redis-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir_);
  // Another test may grab the port between our probe and redis binding it: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = permiso::test::free_port();
    if (spawn_and_wait()) return;
  }
  fs::remove_all(dir_);
  throw std::runtime_error("redis-server did not start");
}

RedisServer::~RedisServer() {
  stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

bool RedisServer::spawn_and_wait() {
  pid_ = ::fork();
  if (pid_ == 0) {
    const std::string port = std::to_string(port_);
    ::execl(binary_.c_str(), "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", dir_.c_str(), "--loglevel", "warning", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    if (command("PING") == "PONG") return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: port taken, most likely
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  stop();
  return false;
}

void RedisServer::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

void RedisServer::restart() {
  stop();
  if (!spawn_and_wait()) throw std::runtime_error("redis-server did not restart");
}

std::string RedisServer::command(const std::string& a, const std::string& b, const std::string& c) const {
  timeval tv{1, 0};
  redisContext* ctx = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (ctx == nullptr || ctx->err != 0) {
    if (ctx != nullptr) redisFree(ctx);
    return {};
  }
  std::vector<const char*> argv{a.c_str()};
  std::vector<std::size_t> lens{a.size()};
  for (const auto* s : {&b, &c}) {
    if (s->empty()) break;
    argv.push_back(s->c_str());
    lens.push_back(s->size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data()));
  std::string out;
  if (r != nullptr) {
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR) {
      out.assign(r->str, r->len);
    } else if (r->type == REDIS_REPLY_INTEGER) {
      out = std::to_string(r->integer);
    }
    freeReplyObject(r);
  }
  redisFree(ctx);
  return out;
}

}  // namespace permiso::test
