// The event channel over Redis pub/sub against a real redis-server on loopback: every
// subscriber hears what is published, publishing without Redis fails fast, and the
// subscription's state follows Redis going away and coming back.
#include "events/redis_channel.hpp"
#include "redis_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace permiso::events {
namespace {

class RedisChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto bin = test::RedisServer::find_binary();
    if (!bin) GTEST_SKIP() << "redis-server is not installed";
    server_ = std::make_unique<test::RedisServer>(*bin);
  }
  redis::Endpoint endpoint() const {
    redis::Endpoint ep;
    ep.port = server_->port();
    return ep;
  }
  std::unique_ptr<test::RedisServer> server_;
};

TEST_F(RedisChannelTest, ChannelDeliversPublishedMessagesToEverySubscriber) {
  std::mutex mutex;
  std::vector<std::string> got_a;
  std::vector<std::string> got_b;
  RedisChannel a(endpoint(), "permiso:test");
  RedisChannel b(endpoint(), "permiso:test");
  a.subscribe([&](std::string_view m) {
    std::lock_guard l(mutex);
    got_a.emplace_back(m);
  });
  b.subscribe([&](std::string_view m) {
    std::lock_guard l(mutex);
    got_b.emplace_back(m);
  });
  RedisChannel publisher(endpoint(), "permiso:test");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  // Subscriptions start asynchronously: publish until both have heard one message.
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(publisher.publish("jti:abc"));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::lock_guard l(mutex);
    if (!got_a.empty() && !got_b.empty()) break;
  }
  std::lock_guard l(mutex);
  ASSERT_FALSE(got_a.empty());
  ASSERT_FALSE(got_b.empty());
  EXPECT_EQ(got_a.front(), "jti:abc");
  EXPECT_EQ(got_b.front(), "jti:abc");
}

TEST_F(RedisChannelTest, PublishingWithoutRedisFailsFast) {
  RedisChannel channel(endpoint(), "permiso:test");
  server_->stop();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(channel.publish("x"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  channel.subscribe([](std::string_view) {});
  channel.stop();  // a subscriber still trying to connect stops promptly
}

/// Polls `condition` until it holds or `within` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::seconds within = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

TEST_F(RedisChannelTest, SubscribedFollowsRedisGoingAwayAndComingBack) {
  RedisChannel channel(endpoint(), "permiso:test");
  EXPECT_FALSE(channel.subscribed()) << "not before subscribe()";
  channel.subscribe([](std::string_view) {});
  ASSERT_TRUE(eventually([&] { return channel.subscribed(); })) << "subscribed once Redis confirmed it";
  server_->stop();
  ASSERT_TRUE(eventually([&] { return !channel.subscribed(); })) << "the stopped server broke the subscription";
  server_->restart();
  ASSERT_TRUE(eventually([&] { return channel.subscribed(); })) << "subscribed again after the restart";
  channel.stop();
  EXPECT_FALSE(channel.subscribed());
}

}  // namespace
}  // namespace permiso::events
