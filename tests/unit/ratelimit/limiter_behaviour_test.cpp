// The same behaviour from both limiters: in-process buckets (time moved by hand) and
// Redis-shared buckets against a real redis-server (time passes for real).
#include "ratelimit/memory_limiter.hpp"
#include "ratelimit/redis_limiter.hpp"
#include "redis_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace permiso::ratelimit {
namespace {

class MemoryHarness {
 public:
  static constexpr bool kExactTime = true;  // time only moves when the test says so
  bool available() const { return true; }
  RateLimiter& limiter() { return limiter_; }
  void wait_ms(std::int64_t ms) { now_ += ms; }

 private:
  std::atomic<std::int64_t> now_{5'000'000};
  MemoryRateLimiter limiter_{[this] { return now_.load(); }};
};

class RedisHarness {
 public:
  static constexpr bool kExactTime = false;  // Redis's clock runs while we call
  RedisHarness() {
    if (auto bin = test::RedisServer::find_binary()) {
      server_ = std::make_unique<test::RedisServer>(*bin);
      redis::Endpoint ep;
      ep.port = server_->port();
      limiter_ = std::make_unique<RedisRateLimiter>(ep, RedisRateLimiter::Options{});
    }
  }
  bool available() const { return server_ != nullptr; }
  RateLimiter& limiter() { return *limiter_; }
  void wait_ms(std::int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
  ~RedisHarness() { EXPECT_EQ(limiter_ ? limiter_->unavailable_count() : 0U, 0U); }

 private:
  std::unique_ptr<test::RedisServer> server_;
  std::unique_ptr<RedisRateLimiter> limiter_;
};

template <class Harness>
class LimiterBehaviour : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!h_.available()) GTEST_SKIP() << "redis-server is not installed";
  }
  RateLimiter& limiter() { return h_.limiter(); }
  /// `expected`, or on a real clock one less (a second passed between calls on a slow box).
  void expect_retry_after(std::uint32_t actual, std::uint32_t expected) {
    if (Harness::kExactTime) {
      EXPECT_EQ(actual, expected);
    } else {
      EXPECT_LE(actual, expected);
      EXPECT_GE(actual, expected - 1);
    }
  }
  Harness h_;
};

using Harnesses = ::testing::Types<MemoryHarness, RedisHarness>;
class HarnessNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, MemoryHarness> ? "Memory" : "Redis";
  }
};
TYPED_TEST_SUITE(LimiterBehaviour, Harnesses, HarnessNames);

TYPED_TEST(LimiterBehaviour, BurstUpToTheCountThenRefusesWithRetryAfter) {
  const Rate five_per_minute{5, 60};
  for (std::uint32_t i = 0; i < 5; ++i) {
    const auto d = this->limiter().consume("k", five_per_minute);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 4 - i);
    EXPECT_EQ(d.retry_after_s, 0U);
  }
  const auto refused = this->limiter().consume("k", five_per_minute);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0U);
  this->expect_retry_after(refused.retry_after_s, 12);  // one token every 60/5 s
}

TYPED_TEST(LimiterBehaviour, RetryAfterCoversTheWholeMissingCost) {
  const Rate r{10, 60};  // a token every 6 s
  auto d = this->limiter().consume("c", r, 4);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 6U);
  d = this->limiter().consume("c", r, 7);  // one token short
  EXPECT_FALSE(d.allowed);
  this->expect_retry_after(d.retry_after_s, 6);
  d = this->limiter().consume("c", r, 6);  // a refusal took nothing
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0U);
  EXPECT_EQ(this->limiter().consume("day", Rate{1, 86400}).retry_after_s, 0U);
  this->expect_retry_after(this->limiter().consume("day", Rate{1, 86400}).retry_after_s, 86400);
}

TYPED_TEST(LimiterBehaviour, TokensComeBackOverThePeriodButNeverBeyondTheCount) {
  // A token a second: wide enough windows for a loaded machine (Redis keeps real time).
  const Rate r{3, 3};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(this->limiter().consume("k", r).allowed) << i;
  const auto refused = this->limiter().consume("k", r);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_s, 1U);
  this->h_.wait_ms(1100);
  EXPECT_TRUE(this->limiter().consume("k", r).allowed);
  EXPECT_FALSE(this->limiter().consume("k", r).allowed);
  this->h_.wait_ms(3500);  // idle past a full refill: still only the count
  int allowed = 0;
  for (int i = 0; i < 6; ++i) allowed += this->limiter().consume("k", r).allowed ? 1 : 0;
  EXPECT_EQ(allowed, 3);
}

TYPED_TEST(LimiterBehaviour, KeysAreIndependentAndResetRefills) {
  const Rate one{1, 3600};
  EXPECT_TRUE(this->limiter().consume("a", one).allowed);
  EXPECT_TRUE(this->limiter().consume("b", one).allowed);
  EXPECT_FALSE(this->limiter().consume("a", one).allowed);
  this->limiter().reset("a");
  EXPECT_TRUE(this->limiter().consume("a", one).allowed);
  EXPECT_FALSE(this->limiter().consume("b", one).allowed);
  this->limiter().reset("never-used");  // harmless
}

TYPED_TEST(LimiterBehaviour, ZeroCountIsUnlimited) {
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(this->limiter().consume("k", Rate{0, 60}).allowed);
}

TYPED_TEST(LimiterBehaviour, ZeroPeriodIsTreatedAsOneSecond) {
  EXPECT_TRUE(this->limiter().consume("z", Rate{2, 0}, 2).allowed);
  const auto d = this->limiter().consume("z", Rate{2, 0}, 2);  // refills fully within 1 s
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 1U);
}

TYPED_TEST(LimiterBehaviour, ConcurrentCallersNeverGetMoreThanTheCount) {
  const Rate r{50, 3600};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) allowed += this->limiter().consume("shared", r).allowed ? 1 : 0;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 50);
}

TEST(ParseRate, AcceptsTheSeedsFormatOnly) {
  EXPECT_EQ(parse_rate("5/minute")->count, 5U);
  EXPECT_EQ(parse_rate("5/minute")->period_s, 60U);
  EXPECT_EQ(parse_rate("2/second")->period_s, 1U);
  EXPECT_EQ(parse_rate("100/hour")->period_s, 3600U);
  EXPECT_EQ(parse_rate("1/day")->period_s, 86400U);
  EXPECT_EQ(parse_rate("999999999/second")->count, 999999999U);
  for (const char* bad : {"5 per minute", "5/minutes", "-1/minute", "/minute", "5/", "", "1234567890/day", "5/Minute",
                          " 5/minute", "5/minute "}) {
    EXPECT_FALSE(parse_rate(bad)) << bad;
  }
}

}  // namespace
}  // namespace permiso::ratelimit
