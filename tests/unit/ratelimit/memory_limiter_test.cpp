// In-process token buckets: what only they do (permiso::Clock injection, bounded memory).
#include "ratelimit/memory_limiter.hpp"

#include <gtest/gtest.h>

namespace permiso::ratelimit {
namespace {

TEST(MemoryLimiter, BurstThenRefillWithAManualClock) {
  ManualClock clock(1'700'000'000);
  MemoryRateLimiter limiter(clock);
  const Rate r{5, 60};
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.consume("k", r).allowed) << i;
  EXPECT_EQ(limiter.consume("k", r).retry_after_s, 12U);
  clock.advance(11);
  const auto still = limiter.consume("k", r);
  EXPECT_FALSE(still.allowed);
  EXPECT_EQ(still.retry_after_s, 1U);
  clock.advance(1);
  EXPECT_TRUE(limiter.consume("k", r).allowed);
  EXPECT_FALSE(limiter.consume("k", r).allowed);
  clock.advance(24);
  EXPECT_TRUE(limiter.consume("k", r).allowed);
  EXPECT_TRUE(limiter.consume("k", r).allowed);
  EXPECT_FALSE(limiter.consume("k", r).allowed);
}

TEST(MemoryLimiter, MemoryStaysBoundedUnderManyKeys) {
  std::int64_t now = 0;
  MemoryRateLimiter limiter([&now] { return now; }, /*max_buckets=*/3200);
  for (int i = 0; i < 50'000; ++i) {
    ++now;
    (void)limiter.consume("ip-" + std::to_string(i), Rate{10, 60});
  }
  EXPECT_LE(limiter.size(), 3200U);
}

TEST(MemoryLimiter, FullBucketsAreEvictedBeforeADrainedOne) {
  std::int64_t now = 0;
  MemoryRateLimiter limiter([&now] { return now; }, /*max_buckets=*/320);  // 10 per shard
  EXPECT_TRUE(limiter.consume("victim", Rate{1, 86400}).allowed);
  for (int i = 0; i < 20'000; ++i) {
    now += 200;  // each of these refills within 100 ms: always evictable
    (void)limiter.consume("other-" + std::to_string(i), Rate{10, 1});
  }
  EXPECT_LE(limiter.size(), 320U);
  EXPECT_FALSE(limiter.consume("victim", Rate{1, 86400}).allowed);  // not forgiven
}

TEST(MemoryLimiter, RefilledBucketsAreForgottenWhenSpaceIsNeeded) {
  std::int64_t now = 0;
  MemoryRateLimiter limiter([&now] { return now; }, /*max_buckets=*/32);  // 1 per shard
  for (int i = 0; i < 1000; ++i) (void)limiter.consume("k" + std::to_string(i), Rate{5, 60});
  EXPECT_LE(limiter.size(), 32U);
  now += 60'000;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.consume("k" + std::to_string(i), Rate{5, 60}).allowed);
}

}  // namespace
}  // namespace permiso::ratelimit
