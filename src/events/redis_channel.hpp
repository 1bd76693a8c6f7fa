// A Redis pub/sub channel: publish short messages, and a background subscriber that hands
// each message to a callback and reconnects when Redis restarts. permiso-auth uses it to
// tell every replica (and resource servers) about revocations and client changes at once.
#pragma once

#include "redis/connection.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace permiso::events {

class RedisChannel {
 public:
  using Handler = std::function<void(std::string_view message)>;

  RedisChannel(redis::Endpoint endpoint, std::string channel);
  ~RedisChannel();
  RedisChannel(const RedisChannel&) = delete;
  RedisChannel& operator=(const RedisChannel&) = delete;

  /// Best effort and bounded by a 100 ms command timeout: false when Redis is unreachable
  /// (subscribers then converge through their periodic storage poll).
  bool publish(std::string_view message);
  /// Starts the subscriber thread; `handler` runs on it.
  void subscribe(Handler handler);
  void stop();

  [[nodiscard]] std::uint64_t received() const { return received_.load(); }
  /// The subscriber holds a live subscription: from Redis's confirmation of SUBSCRIBE until
  /// its connection breaks (Redis stopped or restarted, the connection reset, or a vanished
  /// peer found by TCP keepalive). What an operator watches as "Redis up".
  [[nodiscard]] bool subscribed() const { return subscribed_.load(); }

 private:
  void run(const Handler& handler);
  void deliver_until_broken(redisContext* c, const Handler& handler);

  redis::Endpoint endpoint_;
  std::string channel_;
  std::mutex publish_mutex_;
  redis::Connection publisher_;
  std::atomic<bool> stopping_{false};
  std::mutex subscriber_mutex_;  // guards subscriber_ between run() and stop()
  redisContext* subscriber_ = nullptr;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<bool> subscribed_{false};
  std::thread thread_;
};

}  // namespace permiso::events
