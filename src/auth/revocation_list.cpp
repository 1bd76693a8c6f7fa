// See revocation_list.hpp.
#include "auth/revocation_list.hpp"

#include <functional>
#include <mutex>

namespace permiso::auth {
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

RevocationList::Shard& RevocationList::shard_for(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}
const RevocationList::Shard& RevocationList::shard_for(std::string_view key) const {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

void RevocationList::add(Kind kind, std::string_view id, std::int64_t expires_at) {
  std::string key = storage_key(kind, id);
  Shard& shard = shard_for(key);
  std::unique_lock lock(shard.mutex);
  auto [it, inserted] = shard.entries.try_emplace(std::move(key), expires_at);
  if (!inserted && it->second < expires_at) {
    it->second = expires_at;
  }
}

bool RevocationList::contains(Kind kind, std::string_view id) const {
  if (id.empty()) {
    return false;
  }
  const std::string key = storage_key(kind, id);
  const Shard& shard = shard_for(key);
  std::shared_lock lock(shard.mutex);
  return shard.entries.contains(key);
}

bool RevocationList::is_revoked(std::string_view jti, std::string_view sid) const {
  return contains(Kind::Token, jti) || contains(Kind::Session, sid);
}

std::size_t RevocationList::purge(std::int64_t now) {
  std::size_t removed = 0;
  for (Shard& shard : shards_) {
    std::unique_lock lock(shard.mutex);
    removed += std::erase_if(shard.entries, [now](const auto& e) { return e.second < now; });
  }
  return removed;
}

std::size_t RevocationList::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::shared_lock lock(shard.mutex);
    n += shard.entries.size();
  }
  return n;
}

std::uint64_t RevocationList::cursor() const {
  std::shared_lock lock(cursor_mutex_);
  return cursor_;
}

void RevocationList::advance_cursor(std::uint64_t seq) {
  std::unique_lock lock(cursor_mutex_);
  if (seq > cursor_) {
    cursor_ = seq;
  }
}

}  // namespace permiso::auth
