// In-process token buckets: sharded so threads rarely contend, refilled lazily on use, and
// bounded in memory (buckets that have refilled completely carry no state and are evicted).
#pragma once

#include "common/clock.hpp"
#include "ratelimit/rate_limiter.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace permiso::ratelimit {

class MemoryRateLimiter final : public RateLimiter {
 public:
  using NowMs = std::function<std::int64_t()>;
  /// `now_ms`: a monotonic millisecond clock (injected so tests control time).
  explicit MemoryRateLimiter(NowMs now_ms = steady_now_ms(), std::size_t max_buckets = 1'000'000);
  /// Second resolution from a permiso::Clock (e.g. ManualClock in tests); `clock` must
  /// outlive the limiter.
  explicit MemoryRateLimiter(const Clock& clock, std::size_t max_buckets = 1'000'000);

  Decision consume(std::string_view key, Rate rate, std::uint32_t cost = 1) override;
  void reset(std::string_view key) override;
  [[nodiscard]] std::size_t size() const;

  static NowMs steady_now_ms();

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t updated_ms = 0;
    std::int64_t full_at_ms = 0;  // from then on the bucket equals a fresh one
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
  };
  static constexpr std::size_t kShards = 32;
  Shard& shard_for(std::string_view key);
  void evict_locked(Shard& shard, std::int64_t now);

  NowMs now_ms_;
  std::size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace permiso::ratelimit
