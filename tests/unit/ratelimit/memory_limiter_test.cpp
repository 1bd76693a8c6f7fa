// In-process token buckets.
#include "ratelimit/memory_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace permiso::ratelimit {
namespace {

class MemoryLimiterTest : public ::testing::Test {
 protected:
  std::atomic<std::int64_t> now_{1'000'000};
  MemoryRateLimiter limiter_{[this] { return now_.load(); }};
};

TEST_F(MemoryLimiterTest, BurstUpToTheCountThenRefusesWithRetryAfter) {
  const Rate five_per_minute{5, 60};
  for (int i = 0; i < 5; ++i) {
    auto d = limiter_.consume("k", five_per_minute);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, static_cast<std::uint32_t>(4 - i));
  }
  auto refused = limiter_.consume("k", five_per_minute);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_s, 12U);  // one token every 60/5 seconds
}

TEST_F(MemoryLimiterTest, TokensComeBackEvenlyOverThePeriod) {
  const Rate r{5, 60};
  for (int i = 0; i < 5; ++i) (void)limiter_.consume("k", r);
  now_ += 11'999;
  EXPECT_FALSE(limiter_.consume("k", r).allowed);
  now_ += 1;
  EXPECT_TRUE(limiter_.consume("k", r).allowed);
  EXPECT_FALSE(limiter_.consume("k", r).allowed);
  now_ += 600'000;  // long idle: full again, never more than the count
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter_.consume("k", r).allowed);
  EXPECT_FALSE(limiter_.consume("k", r).allowed);
}

TEST_F(MemoryLimiterTest, KeysAreIndependentAndResetRefills) {
  const Rate one{1, 60};
  EXPECT_TRUE(limiter_.consume("a", one).allowed);
  EXPECT_TRUE(limiter_.consume("b", one).allowed);
  EXPECT_FALSE(limiter_.consume("a", one).allowed);
  limiter_.reset("a");
  EXPECT_TRUE(limiter_.consume("a", one).allowed);
}

TEST_F(MemoryLimiterTest, ZeroCountIsUnlimited) {
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter_.consume("k", Rate{0, 60}).allowed);
}

TEST_F(MemoryLimiterTest, ConcurrentCallersNeverGetMoreThanTheCount) {
  const Rate r{100, 3600};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (limiter_.consume("shared", r).allowed) ++allowed;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 100);
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

}  // namespace
}  // namespace permiso::ratelimit
