// See token_cache.hpp.
#include "resource/token_cache.hpp"

#include "jose/crypto.hpp"

#include <algorithm>
#include <mutex>

namespace permiso::resource {

TokenCache::TokenCache(std::size_t capacity)
    : per_shard_capacity_(capacity == 0 ? 0 : std::max<std::size_t>(1, (capacity + kShards - 1) / kShards)) {}

TokenCache::Key TokenCache::key_of(std::string_view token) {
  return jose::sha256_digest(token);
}

std::shared_ptr<const Principal> TokenCache::find(const Key& key, std::int64_t now) const {
  const Shard& shard = shards_[shard_index(key)];
  {
    std::shared_lock lock(shard.mutex);
    const auto it = shard.entries.find(key);
    if (it != shard.entries.end() && now <= it->second.valid_until) {
      shard.hits.fetch_add(1, std::memory_order_relaxed);
      return it->second.principal;
    }
  }
  shard.misses.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

void TokenCache::insert(const Key& key, std::shared_ptr<const Principal> principal, std::int64_t valid_until,
                        std::int64_t now) {
  if (per_shard_capacity_ == 0 || valid_until < now) return;
  Shard& shard = shards_[shard_index(key)];
  std::unique_lock lock(shard.mutex);
  if (shard.entries.size() >= per_shard_capacity_ && !shard.entries.contains(key)) {
    // Full: drop expired entries (at most one sweep a second per shard, so a full cache of
    // live tokens does not scan on every miss), then, if still full, an arbitrary one.
    if (shard.last_sweep != now) {
      shard.last_sweep = now;
      std::erase_if(shard.entries, [now](const auto& e) { return e.second.valid_until < now; });
    }
    if (shard.entries.size() >= per_shard_capacity_) shard.entries.erase(shard.entries.begin());
  }
  shard.entries.insert_or_assign(key, Entry{std::move(principal), valid_until});
}

std::size_t TokenCache::evict_if(const std::function<bool(const Principal&)>& match) {
  std::size_t removed = 0;
  for (Shard& shard : shards_) {
    std::unique_lock lock(shard.mutex);
    removed += std::erase_if(shard.entries, [&match](const auto& e) { return match(*e.second.principal); });
  }
  return removed;
}

std::size_t TokenCache::purge(std::int64_t now) {
  std::size_t removed = 0;
  for (Shard& shard : shards_) {
    std::unique_lock lock(shard.mutex);
    removed += std::erase_if(shard.entries, [now](const auto& e) { return e.second.valid_until < now; });
  }
  return removed;
}

std::size_t TokenCache::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::shared_lock lock(shard.mutex);
    n += shard.entries.size();
  }
  return n;
}

std::uint64_t TokenCache::hits() const {
  std::uint64_t n = 0;
  for (const Shard& shard : shards_) n += shard.hits.load(std::memory_order_relaxed);
  return n;
}

std::uint64_t TokenCache::misses() const {
  std::uint64_t n = 0;
  for (const Shard& shard : shards_) n += shard.misses.load(std::memory_order_relaxed);
  return n;
}

}  // namespace permiso::resource
