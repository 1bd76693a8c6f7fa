// The optional token cache shared by a fleet of workers through Redis (the seed's
// CachedAuthClient): one synchronous hiredis connection behind a mutex, short timeouts, and
// after a failure no new attempt for a second, so a dead Redis costs callers almost nothing.
#pragma once

#include "redis/connection.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace permiso::client_detail {

class RedisTokenCache {
 public:
  RedisTokenCache(redis::Endpoint target, std::chrono::milliseconds timeout);
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
  /// Deletes key only while it still holds value (one atomic script: another worker may have
  /// stored a newer token meanwhile); false when Redis is unreachable or the key changed.
  bool erase_if_equal(const std::string& key, const std::string& value);

 private:
  bool ensure_connected();  // mutex_ held
  void drop();              // mutex_ held

  redis::Endpoint target_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  redis::Connection ctx_;
  std::chrono::steady_clock::time_point retry_at_{};
};

}  // namespace permiso::client_detail
