// See redis_channel.hpp.
#include "ratelimit/redis_channel.hpp"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>

namespace permiso::ratelimit {
namespace {

timeval ms(int n) {
  timeval tv{};
  tv.tv_sec = n / 1000;
  tv.tv_usec = (n % 1000) * 1000;
  return tv;
}

redisContext* connect(const RedisEndpoint& ep, int command_timeout_ms) {
  redisContext* c = redisConnectWithTimeout(ep.host.c_str(), ep.port, ms(200));
  if (c == nullptr || c->err != 0) {
    if (c != nullptr) redisFree(c);
    return nullptr;
  }
  if (command_timeout_ms > 0) redisSetTimeout(c, ms(command_timeout_ms));
  if (!ep.password.empty()) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "AUTH %b", ep.password.data(), ep.password.size()));
    const bool ok = r != nullptr && r->type != REDIS_REPLY_ERROR;
    if (r != nullptr) freeReplyObject(r);
    if (!ok) {
      redisFree(c);
      return nullptr;
    }
  }
  return c;
}

}  // namespace

RedisChannel::RedisChannel(RedisEndpoint endpoint, std::string channel)
    : endpoint_(std::move(endpoint)), channel_(std::move(channel)) {}

RedisChannel::~RedisChannel() {
  stop();
  if (publisher_ != nullptr) redisFree(publisher_);
}

bool RedisChannel::publish(std::string_view message) {
  std::lock_guard lock(publish_mutex_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (publisher_ == nullptr) publisher_ = connect(endpoint_, 100);
    if (publisher_ == nullptr) return false;
    auto* r = static_cast<redisReply*>(
        redisCommand(publisher_, "PUBLISH %b %b", channel_.data(), channel_.size(), message.data(), message.size()));
    if (r != nullptr) {
      const bool ok = r->type == REDIS_REPLY_INTEGER;
      freeReplyObject(r);
      return ok;
    }
    redisFree(publisher_);  // broken (Redis restarted): reconnect once
    publisher_ = nullptr;
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

void RedisChannel::run(Handler handler) {
  while (!stopping_.load()) {
    redisContext* c = connect(endpoint_, 0);  // no read timeout: messages may be rare
    if (c == nullptr) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    {
      std::lock_guard lock(subscriber_mutex_);
      subscriber_ = c;
    }
    if (stopping_.load()) ::shutdown(c->fd, SHUT_RDWR);
    auto* r = static_cast<redisReply*>(redisCommand(c, "SUBSCRIBE %b", channel_.data(), channel_.size()));
    if (r != nullptr) freeReplyObject(r);
    while (!stopping_.load()) {
      void* raw = nullptr;
      if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) break;
      auto* msg = static_cast<redisReply*>(raw);
      if (msg->type == REDIS_REPLY_ARRAY && msg->elements == 3 && msg->element[0]->type == REDIS_REPLY_STRING &&
          std::strcmp(msg->element[0]->str, "message") == 0) {
        received_.fetch_add(1);
        handler(std::string_view(msg->element[2]->str, msg->element[2]->len));
      }
      freeReplyObject(msg);
    }
    {
      std::lock_guard lock(subscriber_mutex_);
      subscriber_ = nullptr;
    }
    redisFree(c);
    if (!stopping_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace permiso::ratelimit
