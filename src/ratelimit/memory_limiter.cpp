// See memory_limiter.hpp.
#include "ratelimit/memory_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace permiso::ratelimit {

MemoryRateLimiter::MemoryRateLimiter(NowMs now_ms, std::size_t max_buckets)
    : now_ms_(std::move(now_ms)), max_per_shard_(std::max<std::size_t>(1, max_buckets / kShards)) {}

MemoryRateLimiter::MemoryRateLimiter(const Clock& clock, std::size_t max_buckets)
    : MemoryRateLimiter([&clock] { return clock.now_seconds() * 1000; }, max_buckets) {}

MemoryRateLimiter::NowMs MemoryRateLimiter::steady_now_ms() {
  return [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
}

MemoryRateLimiter::Shard& MemoryRateLimiter::shard_for(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

void MemoryRateLimiter::evict_locked(Shard& shard, std::int64_t now) {
  // A bucket that has refilled completely is indistinguishable from a new one: forgetting
  // it changes no decision. If that is not enough (a flood of distinct keys), drop the
  // stalest half: those keys get a fresh budget, which errs on the side of availability.
  std::erase_if(shard.buckets, [now](const auto& kv) { return now >= kv.second.full_at_ms; });
  if (shard.buckets.size() < max_per_shard_) return;
  std::vector<std::int64_t> times;
  times.reserve(shard.buckets.size());
  for (const auto& kv : shard.buckets) times.push_back(kv.second.updated_ms);
  auto mid = times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2);
  std::nth_element(times.begin(), mid, times.end());
  const auto cutoff = *mid;
  std::erase_if(shard.buckets, [cutoff](const auto& kv) { return kv.second.updated_ms <= cutoff; });
}

Decision MemoryRateLimiter::consume(std::string_view key, Rate rate, std::uint32_t cost) {
  if (rate.count == 0) return Decision{true, UINT32_MAX, 0};
  const std::int64_t now = now_ms_();
  const double capacity = rate.count;
  const double per_ms = capacity / (static_cast<double>(std::max<std::uint32_t>(1, rate.period_s)) * 1000.0);
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) evict_locked(shard, now);
    it = shard.buckets.emplace(std::string(key), Bucket{capacity, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(capacity, b.tokens + static_cast<double>(now - b.updated_ms) * per_ms);
  b.updated_ms = now;
  if (b.tokens >= cost) {
    b.tokens -= cost;
    b.full_at_ms = now + static_cast<std::int64_t>(std::ceil((capacity - b.tokens) / per_ms));
    return Decision{true, static_cast<std::uint32_t>(b.tokens), 0};
  }
  b.full_at_ms = now + static_cast<std::int64_t>(std::ceil((capacity - b.tokens) / per_ms));
  // The epsilon keeps float error from turning an exact 1 s into 2 s.
  const double missing = cost - b.tokens;
  const auto wait_s = static_cast<std::uint32_t>(std::ceil(missing / per_ms / 1000.0 - 1e-9));
  return Decision{false, 0, std::max<std::uint32_t>(1, wait_s)};
}

void MemoryRateLimiter::reset(std::string_view key) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  shard.buckets.erase(std::string(key));
}

std::size_t MemoryRateLimiter::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace permiso::ratelimit
