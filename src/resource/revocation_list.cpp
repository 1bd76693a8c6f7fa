// See revocation_list.hpp.
#include "resource/revocation_list.hpp"

#include <mutex>

namespace permiso::resource {
namespace {
constexpr std::string_view kTokenPrefix = "jti:";
constexpr std::string_view kSessionPrefix = "sid:";
}  // namespace

std::string RevocationList::storage_key(Kind kind, std::string_view id) {
  std::string key(kind == Kind::Token ? kTokenPrefix : kSessionPrefix);
  key.append(id);
  return key;
}

bool RevocationList::parse_storage_key(std::string_view key, Kind& kind, std::string& id) {
  if (key.starts_with(kTokenPrefix)) {
    kind = Kind::Token;
  } else if (key.starts_with(kSessionPrefix)) {
    kind = Kind::Session;
  } else {
    return false;
  }
  id.assign(key.substr(4));
  return !id.empty();
}

bool RevocationList::add(Kind kind, std::string_view id, std::int64_t expires_at) {
  if (id.empty()) return false;
  Shard& shard = shards_[shard_index(id)];
  std::unique_lock lock(shard.mutex);
  Map& map = kind == Kind::Token ? shard.tokens : shard.sessions;
  if (auto it = map.find(id); it != map.end()) {
    if (it->second < expires_at) it->second = expires_at;
    return false;
  }
  map.emplace(std::string(id), expires_at);
  size_.fetch_add(1, std::memory_order_release);
  return true;
}

bool RevocationList::contains(Kind kind, std::string_view id) const {
  if (id.empty() || size_.load(std::memory_order_acquire) == 0) return false;
  const Shard& shard = shards_[shard_index(id)];
  std::shared_lock lock(shard.mutex);
  const Map& map = kind == Kind::Token ? shard.tokens : shard.sessions;
  return map.find(id) != map.end();
}

bool RevocationList::is_revoked(std::string_view jti, std::string_view sid) const {
  return contains(Kind::Token, jti) || contains(Kind::Session, sid);
}

std::size_t RevocationList::purge(std::int64_t now) {
  std::size_t removed = 0;
  for (Shard& shard : shards_) {
    std::unique_lock lock(shard.mutex);
    const auto expired = [now](const auto& e) { return e.second < now; };
    removed += std::erase_if(shard.tokens, expired);
    removed += std::erase_if(shard.sessions, expired);
  }
  size_.fetch_sub(removed, std::memory_order_release);
  return removed;
}

std::size_t RevocationList::size() const {
  return size_.load(std::memory_order_acquire);
}

std::uint64_t RevocationList::cursor() const {
  return cursor_.load(std::memory_order_acquire);
}

void RevocationList::advance_cursor(std::uint64_t seq) {
  std::uint64_t current = cursor_.load(std::memory_order_relaxed);
  while (seq > current && !cursor_.compare_exchange_weak(current, seq, std::memory_order_acq_rel)) {
  }
}

}  // namespace permiso::resource
