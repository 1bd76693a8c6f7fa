// The optional token cache shared by a fleet of workers through Redis (the seed's
// CachedAuthClient): one synchronous hiredis connection behind a mutex, short timeouts, and
// after a failure no new attempt for a second, so a dead Redis costs callers almost nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

struct redisContext;

namespace permiso::client_detail {

struct RedisTarget {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  int db = 0;
};
/// redis://[[user]:password@]host[:port][/db]; nullopt when malformed. (The same grammar as
/// ratelimit::parse_redis_url; repeated here because the installed library links no
/// internal module.)
std::optional<RedisTarget> parse_redis_target(std::string_view url);

class RedisTokenCache {
 public:
  RedisTokenCache(RedisTarget target, std::chrono::milliseconds timeout);
  ~RedisTokenCache();
  RedisTokenCache(const RedisTokenCache&) = delete;
  RedisTokenCache& operator=(const RedisTokenCache&) = delete;

  struct Hit {
    std::string value;
    std::chrono::milliseconds ttl{0};
  };
  /// The value and its remaining TTL; nullopt on a miss or when Redis is unreachable.
  std::optional<Hit> get(const std::string& key);
  /// SET key value PX ttl; false when Redis is unreachable.
  bool put(const std::string& key, const std::string& value, std::chrono::milliseconds ttl);

 private:
  struct ContextFree {
    void operator()(redisContext* c) const;
  };
  bool ensure_connected();  // mutex_ held
  void drop();              // mutex_ held

  RedisTarget target_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::unique_ptr<redisContext, ContextFree> ctx_;
  std::chrono::steady_clock::time_point retry_at_{};
};

}  // namespace permiso::client_detail
