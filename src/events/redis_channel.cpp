// See redis_channel.hpp.
#include "events/redis_channel.hpp"

#include <sys/socket.h>

#include <chrono>
#include <cstring>

namespace permiso::events {
namespace {

/// Commands bounded to 100 ms for the publisher; none for the subscriber, which waits for
/// messages that may be rare.
constexpr redis::Deadlines kPublisher{std::chrono::milliseconds(200), std::chrono::milliseconds(100)};
constexpr redis::Deadlines kSubscriber{std::chrono::milliseconds(200), std::chrono::milliseconds(0)};

}  // namespace

RedisChannel::RedisChannel(redis::Endpoint endpoint, std::string channel)
    : endpoint_(std::move(endpoint)), channel_(std::move(channel)) {}

RedisChannel::~RedisChannel() {
  stop();
}

bool RedisChannel::publish(std::string_view message) {
  std::lock_guard lock(publish_mutex_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!publisher_) publisher_ = redis::connect(endpoint_, kPublisher);
    if (!publisher_) return false;
    const auto r = redis::command(publisher_.get(), {"PUBLISH", channel_, std::string(message)});
    if (r) return r->type == REDIS_REPLY_INTEGER;
    publisher_.reset();  // broken (Redis restarted): reconnect once
  }
  return false;
}

void RedisChannel::subscribe(Handler handler) {
  thread_ = std::thread([this, handler = std::move(handler)] { run(handler); });
}

void RedisChannel::stop() {
  stopping_.store(true);
  {
    std::lock_guard lock(subscriber_mutex_);
    if (subscriber_ != nullptr) ::shutdown(subscriber_->fd, SHUT_RDWR);  // wakes the blocking read
  }
  if (thread_.joinable()) thread_.join();
}

void RedisChannel::run(const Handler& handler) {
  while (!stopping_.load()) {
    auto c = redis::connect(endpoint_, kSubscriber);
    if (!c) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    // The subscriber waits without a read deadline: keepalive finds a peer that vanished
    // (a host gone, a cut network) instead of waiting on it for ever.
    (void)redisEnableKeepAlive(c.get());
    {
      std::lock_guard lock(subscriber_mutex_);
      subscriber_ = c.get();
    }
    if (stopping_.load()) ::shutdown(c->fd, SHUT_RDWR);
    const auto confirmed = redis::command(c.get(), {"SUBSCRIBE", channel_});
    subscribed_.store(confirmed && confirmed->type == REDIS_REPLY_ARRAY);
    deliver_until_broken(c.get(), handler);
    subscribed_.store(false);
    {
      std::lock_guard lock(subscriber_mutex_);
      subscriber_ = nullptr;
    }
    c.reset();
    if (!stopping_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void RedisChannel::deliver_until_broken(redisContext* c, const Handler& handler) {
  while (!stopping_.load()) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) return;
    const redis::Reply msg(static_cast<redisReply*>(raw));
    if (msg->type == REDIS_REPLY_ARRAY && msg->elements == 3 && msg->element[0]->type == REDIS_REPLY_STRING &&
        std::strcmp(msg->element[0]->str, "message") == 0) {
      received_.fetch_add(1);
      handler(std::string_view(msg->element[2]->str, msg->element[2]->len));
    }
  }
}

}  // namespace permiso::events
