// What only the Redis-shared limiter does (shared budget, key expiry, script cache loss,
// Redis outages), against a real redis-server on loopback.
#include "ratelimit/redis_limiter.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "redis_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace permiso::ratelimit {
namespace {

class RedisLimiterTest : public ::testing::Test {
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

TEST_F(RedisLimiterTest, TwoInstancesShareOneBudget) {
  RedisRateLimiter a(endpoint(), {});
  RedisRateLimiter b(endpoint(), {});
  int allowed = 0;
  for (int i = 0; i < 10; ++i) {
    allowed += a.consume("shared", Rate{6, 3600}).allowed ? 1 : 0;
    allowed += b.consume("shared", Rate{6, 3600}).allowed ? 1 : 0;
  }
  EXPECT_EQ(allowed, 6);
  a.reset("shared");  // a reset through one replica frees the budget for all
  EXPECT_TRUE(b.consume("shared", Rate{6, 3600}).allowed);
}

TEST_F(RedisLimiterTest, BucketsExpireOnceIdleLongEnoughToBeFull) {
  RedisRateLimiter limiter(endpoint(), {});
  EXPECT_TRUE(limiter.consume("ttl", Rate{5, 60}).allowed);
  const auto pttl = std::stoll(server_->command("PTTL", "permiso:rl:ttl"));
  EXPECT_GT(pttl, 60'000);
  EXPECT_LE(pttl, 120'000);
}

TEST_F(RedisLimiterTest, KeyPrefixSeparatesDeployments) {
  RedisRateLimiter::Options other;
  other.key_prefix = "other:";
  RedisRateLimiter a(endpoint(), {});
  RedisRateLimiter b(endpoint(), other);
  EXPECT_TRUE(a.consume("k", Rate{1, 3600}).allowed);
  EXPECT_TRUE(b.consume("k", Rate{1, 3600}).allowed);
  EXPECT_EQ(server_->command("EXISTS", "other:k"), "1");
}

TEST_F(RedisLimiterTest, LostScriptCacheIsReloaded) {
  RedisRateLimiter limiter(endpoint(), {});
  EXPECT_TRUE(limiter.consume("s", Rate{2, 3600}).allowed);
  EXPECT_EQ(server_->command("SCRIPT", "FLUSH"), "OK");
  EXPECT_TRUE(limiter.consume("s", Rate{2, 3600}).allowed);  // NOSCRIPT → SCRIPT LOAD → EVALSHA
  EXPECT_FALSE(limiter.consume("s", Rate{2, 3600}).allowed);
  EXPECT_EQ(limiter.unavailable_count(), 0U);
}

TEST_F(RedisLimiterTest, RedisDownFailsOpenFastReportsOnceAndRecovers) {
  std::mutex m;
  std::vector<bool> changes;
  RedisRateLimiter::Options opts;
  opts.retry_interval = std::chrono::milliseconds(100);
  opts.on_availability_change = [&](bool up) {
    std::lock_guard l(m);
    changes.push_back(up);
  };
  RedisRateLimiter limiter(endpoint(), opts);
  EXPECT_TRUE(limiter.consume("d", Rate{1, 3600}).allowed);
  EXPECT_FALSE(limiter.consume("d", Rate{1, 3600}).allowed);
  server_->stop();
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(limiter.consume("d", Rate{1, 3600}).allowed);  // fail open
  // One call that found Redis gone, then 19 that did not try it at all (backing off): fast by
  // construction, without timing it.
  EXPECT_EQ(limiter.unavailable_count(), 20U);
  EXPECT_FALSE(limiter.available());
  server_->restart();  // empty: the old bucket is gone
  // Once the retry interval has passed, the next call reaches Redis again (a probe key).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!limiter.available() && std::chrono::steady_clock::now() < deadline) {
    (void)limiter.consume("probe", Rate{1000, 3600});
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(limiter.available());
  EXPECT_TRUE(limiter.consume("d", Rate{1, 3600}).allowed);
  EXPECT_FALSE(limiter.consume("d", Rate{1, 3600}).allowed);  // counting again
  EXPECT_TRUE(limiter.available());
  std::lock_guard l(m);
  EXPECT_EQ(changes, (std::vector<bool>{false, true}));
}

TEST_F(RedisLimiterTest, ARestartedRedisIsUsedAtOnceThoughThePooledConnectionDied) {
  RedisRateLimiter limiter(endpoint(), {});
  EXPECT_TRUE(limiter.consume("r", Rate{5, 3600}).allowed);  // leaves a pooled connection
  server_->stop();
  server_->restart();  // the pooled connection is dead; Redis itself is back
  EXPECT_TRUE(limiter.consume("r", Rate{5, 3600}).allowed);
  EXPECT_EQ(server_->command("EXISTS", "permiso:rl:r"), "1");  // counted in Redis, not by a fallback
  EXPECT_EQ(limiter.unavailable_count(), 0U);
  EXPECT_TRUE(limiter.available());
}

TEST_F(RedisLimiterTest, WithALocalFallbackLimitsHoldPerReplicaWhileRedisIsDown) {
  MemoryRateLimiter local;
  RedisRateLimiter::Options opts;
  opts.local_fallback = &local;
  opts.retry_interval = std::chrono::milliseconds(60'000);
  RedisRateLimiter limiter(endpoint(), opts);
  EXPECT_TRUE(limiter.consume("login:ip:alice", Rate{2, 3600}).allowed);  // counted in Redis
  server_->stop();
  EXPECT_TRUE(limiter.consume("login:ip:alice", Rate{2, 3600}).allowed);  // the local bucket is full
  EXPECT_TRUE(limiter.consume("login:ip:alice", Rate{2, 3600}).allowed);
  const auto refused = limiter.consume("login:ip:alice", Rate{2, 3600});
  EXPECT_FALSE(refused.allowed);  // not open: the local limit holds
  EXPECT_GT(refused.retry_after_s, 0U);
  EXPECT_GE(limiter.unavailable_count(), 1U);
  limiter.reset("login:ip:alice");  // a reset reaches the local bucket too
  EXPECT_TRUE(limiter.consume("login:ip:alice", Rate{2, 3600}).allowed);
}

TEST_F(RedisLimiterTest, FailClosedRefusesWithARetryAfterWhileRedisIsDown) {
  RedisRateLimiter::Options closed;
  closed.fail_open = false;
  closed.retry_interval = std::chrono::milliseconds(2000);
  RedisRateLimiter strict(endpoint(), closed);
  EXPECT_TRUE(strict.consume("d", Rate{5, 3600}).allowed);
  server_->stop();
  const auto d = strict.consume("d", Rate{5, 3600});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 2U);
  EXPECT_GE(strict.unavailable_count(), 1U);
}

}  // namespace
}  // namespace permiso::ratelimit
