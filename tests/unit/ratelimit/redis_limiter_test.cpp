// The Redis-shared limiter against a real redis-server started on loopback.
#include "ratelimit/redis_channel.hpp"
#include "ratelimit/redis_limiter.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

namespace permiso::ratelimit {
namespace {
namespace fs = std::filesystem;

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(s);
  return ntohs(addr.sin_port);
}

class RedisLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/bin/redis-server")) GTEST_SKIP() << "redis-server is not installed";
    dir_ = fs::temp_directory_path() / ("permiso-redis-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    port_ = free_port();
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string port = std::to_string(port_);
      ::execl("/usr/bin/redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
              "--save", "", "--appendonly", "no", "--dir", dir_.c_str(), "--loglevel", "warning",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Ready when it answers.
    for (int i = 0; i < 100; ++i) {
      RedisRateLimiter probe(endpoint(), {});
      if (probe.consume("probe", Rate{1000, 1}).allowed && probe.unavailable_count() == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "redis-server did not start";
  }
  void TearDown() override {
    stop_redis();
    fs::remove_all(dir_);
  }
  void stop_redis() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  RedisEndpoint endpoint() const {
    RedisEndpoint ep;
    ep.port = port_;
    return ep;
  }

  fs::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(RedisLimiterTest, BurstUpToTheCountThenRefusesWithRetryAfter) {
  RedisRateLimiter limiter(endpoint(), {});
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.consume("k", Rate{5, 60}).allowed) << i;
  const auto refused = limiter.consume("k", Rate{5, 60});
  EXPECT_FALSE(refused.allowed);
  EXPECT_GE(refused.retry_after_s, 11U);
  EXPECT_LE(refused.retry_after_s, 12U);
  EXPECT_EQ(limiter.unavailable_count(), 0U);
}

TEST_F(RedisLimiterTest, TwoInstancesShareOneBudget) {
  RedisRateLimiter a(endpoint(), {});
  RedisRateLimiter b(endpoint(), {});
  int allowed = 0;
  for (int i = 0; i < 10; ++i) {
    allowed += a.consume("shared", Rate{6, 3600}).allowed ? 1 : 0;
    allowed += b.consume("shared", Rate{6, 3600}).allowed ? 1 : 0;
  }
  EXPECT_EQ(allowed, 6);
}

TEST_F(RedisLimiterTest, ConcurrentCallersNeverGetMoreThanTheCount) {
  RedisRateLimiter limiter(endpoint(), {});
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) allowed += limiter.consume("c", Rate{50, 3600}).allowed ? 1 : 0;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 50);
}

TEST_F(RedisLimiterTest, ResetRefillsTheBucket) {
  RedisRateLimiter limiter(endpoint(), {});
  EXPECT_TRUE(limiter.consume("r", Rate{1, 3600}).allowed);
  EXPECT_FALSE(limiter.consume("r", Rate{1, 3600}).allowed);
  limiter.reset("r");
  EXPECT_TRUE(limiter.consume("r", Rate{1, 3600}).allowed);
}

TEST_F(RedisLimiterTest, RedisDownFailsOpenQuicklyAndRecovers) {
  RedisRateLimiter limiter(endpoint(), {});
  EXPECT_TRUE(limiter.consume("d", Rate{1, 3600}).allowed);
  stop_redis();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(limiter.consume("d", Rate{1, 3600}).allowed);  // fail open
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_GE(limiter.unavailable_count(), 1U);
  RedisRateLimiter::Options closed;
  closed.fail_open = false;
  RedisRateLimiter strict(endpoint(), closed);
  EXPECT_FALSE(strict.consume("d", Rate{1, 3600}).allowed);
}

TEST_F(RedisLimiterTest, ChannelDeliversPublishedMessagesToEverySubscriber) {
  std::mutex mutex;
  std::vector<std::string> got_a;
  std::vector<std::string> got_b;
  RedisChannel a(endpoint(), "permiso:test");
  RedisChannel b(endpoint(), "permiso:test");
  a.subscribe([&](std::string_view m) { std::lock_guard l(mutex); got_a.emplace_back(m); });
  b.subscribe([&](std::string_view m) { std::lock_guard l(mutex); got_b.emplace_back(m); });
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

TEST_F(RedisLimiterTest, PublishingWithoutRedisFailsFast) {
  RedisChannel channel(endpoint(), "permiso:test");
  stop_redis();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(channel.publish("x"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  channel.subscribe([](std::string_view) {});
  channel.stop();  // a subscriber still trying to connect stops promptly
}

TEST(RedisUrl, ParsesTheUsualForms) {
  auto a = parse_redis_url("redis://localhost:6380/2");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "localhost");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 2);
  auto b = parse_redis_url("redis://:s3cret@redis:6379/0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->password, "s3cret");
  EXPECT_EQ(b->host, "redis");
  EXPECT_EQ(parse_redis_url("redis://127.0.0.1")->port, 6379);
  EXPECT_FALSE(parse_redis_url("http://x"));
  EXPECT_FALSE(parse_redis_url("redis://:p@h:99999"));
  EXPECT_FALSE(parse_redis_url("redis://"));
}

}  // namespace
}  // namespace permiso::ratelimit
