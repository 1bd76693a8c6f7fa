// See client_cache.hpp.
#include "auth/client_cache.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <bit>
#include <functional>
#include <mutex>

namespace permiso::auth {

using storage::StorageResult;

namespace {

std::shared_ptr<const CachedClient> make_entry(storage::ServiceClient client, std::vector<std::string> scopes) {
  auto entry = std::make_shared<CachedClient>();
  entry->allowed_ips = ClientCache::json_strings(client.allowed_ips);
  entry->client = std::move(client);
  entry->scopes = std::move(scopes);
  return entry;
}

}  // namespace

std::vector<std::string> ClientCache::json_strings(std::string_view json_array) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  const auto v = boost::json::parse(json_array, ec);
  if (ec || !v.is_array()) {
    return out;
  }
  for (const auto& item : v.as_array()) {
    if (item.is_string()) {
      out.emplace_back(item.as_string());
    }
  }
  return out;
}

ClientCache::ClientCache() {
  for (auto& snapshot : shards_) snapshot.store(std::make_shared<const Map>());
}

std::size_t ClientCache::shard_of(std::string_view client_id) {
  static_assert((kShards & (kShards - 1)) == 0, "a power of two: the shard is the hash's top bits");
  constexpr int kShardBits = std::countr_zero(kShards);
  // The top bits of a multiplicative mix: the maps inside take the hash modulo a prime, so
  // picking the shard from other bits keeps each shard's buckets evenly used.
  const std::uint64_t mixed = static_cast<std::uint64_t>(Hash{}(client_id)) * 0x9E3779B97F4A7C15ULL;
  return static_cast<std::size_t>(mixed >> (64 - kShardBits));
}

const std::atomic<std::shared_ptr<const ClientCache::Map>>& ClientCache::shard(std::string_view client_id) const {
  return shards_[shard_of(client_id)];
}

std::shared_ptr<const void> ClientCache::shard_snapshot(std::size_t shard) const {
  return shards_.at(shard).load();
}

storage::StorageStatus ClientCache::reload(storage::ClientReader& storage) {
  std::lock_guard feed(feed_mutex_);
  return reload_locked(storage);
}

storage::StorageStatus ClientCache::reload_locked(storage::ClientReader& storage) {
  // Before the full read: every change after this seq is either in the read or applied again
  // by the next catch_up.
  auto newest = storage.max_client_change_seq();
  if (!newest) return newest.error();
  std::lock_guard lock(write_mutex_);
  auto all = storage.list_all_clients_with_scopes();
  if (!all) {
    return all.error();
  }
  std::array<std::shared_ptr<Map>, kShards> fresh;
  for (auto& m : fresh) m = std::make_shared<Map>();
  for (auto& c : *all) {
    std::string id = c.client.client_id;
    auto& m = *fresh[shard_of(id)];
    m.emplace(std::move(id), make_entry(std::move(c.client), std::move(c.scopes)));
  }
  all->clear();  // the rows go before the old shards do: a lower peak
  for (std::size_t i = 0; i < kShards; ++i) shards_[i].store(std::move(fresh[i]));
  ++generation_;
  cursor_.store(*newest);
  loaded_ = true;
  full_reloads_.fetch_add(1, std::memory_order_relaxed);
  return {};
}

storage::StorageStatus ClientCache::catch_up(storage::ClientReader& storage) {
  std::lock_guard feed(feed_mutex_);
  if (!loaded_) return reload_locked(storage);
  for (;;) {
    const auto cursor = cursor_.load();
    auto page = storage.client_changes_since(cursor, kFeedPage);
    if (!page) return page.error();
    // Asked after the page: a purge that committed before the page was read is seen here, and
    // one that commits later removed nothing the page lacks.
    auto purged = storage.client_changes_purged_through();
    if (!purged) return purged.error();
    if (*purged > cursor) return reload_locked(storage);
    auto applied = apply_changes_locked(storage, *page);
    if (!applied) return applied.error();
    if (!*applied) return reload_locked(storage);
    if (page->empty()) return {};
    cursor_.store(page->back().seq);
    if (static_cast<std::int64_t>(page->size()) < kFeedPage) return {};
  }
}

StorageResult<bool> ClientCache::apply_changes_locked(storage::ClientReader& storage,
                                                      const std::vector<storage::ClientChange>& changes) {
  std::vector<std::string_view> ids;
  ids.reserve(changes.size());
  for (const auto& change : changes) {
    if (change.every_client()) return false;
    ids.push_back(change.client_id);
  }
  // A client changed several times in the page is read once: a read shows its latest state.
  std::ranges::sort(ids);
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (const auto id : ids) {
    if (auto r = refresh(storage, id); !r) return r.error();
  }
  return true;
}

std::shared_ptr<const CachedClient> ClientCache::find(std::string_view client_id) const {
  const auto snap = shard(client_id).load();
  const auto it = snap->find(client_id);
  // Relaxed: a metric, ordered with nothing.
  if (it == snap->end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second;
}

bool ClientCache::contains(std::string_view client_id) const {
  return shard(client_id).load()->contains(client_id);
}

void ClientCache::update_locked(std::string_view client_id, const std::function<void(Map&)>& change) {
  auto& target = shards_[shard_of(client_id)];
  auto copy = std::make_shared<Map>(*target.load());
  change(*copy);
  target.store(std::move(copy));
  ++generation_;
}

StorageResult<std::shared_ptr<const CachedClient>> ClientCache::read_entry(storage::ClientReader& storage,
                                                                           std::string_view client_id) {
  auto client = storage.get_client(client_id);
  if (!client) {
    if (client.error().code == storage::StorageError::NotFound) return nullptr;
    return client.error();
  }
  auto scopes = storage.client_scopes(client_id);
  if (!scopes) {
    // Deleted between the two reads: as absent as if get_client had said so.
    if (scopes.error().code == storage::StorageError::NotFound) return nullptr;
    return scopes.error();
  }
  std::vector<std::string> names;
  names.reserve(scopes->size());
  for (auto& s : *scopes) names.push_back(std::move(s.name));
  return make_entry(std::move(*client), std::move(names));
}

storage::StorageStatus ClientCache::refresh(storage::ClientReader& storage, std::string_view client_id) {
  std::lock_guard lock(write_mutex_);
  auto entry = read_entry(storage, client_id);
  if (!entry) return entry.error();
  if (*entry == nullptr) {
    erase_locked(client_id);
  } else {
    update_locked(client_id, [&](Map& m) { m.insert_or_assign(std::string(client_id), *entry); });
  }
  return {};
}

StorageResult<bool> ClientCache::load_missing(storage::ClientReader& storage, std::string_view client_id) {
  const auto before = generation_.load();
  auto entry = read_entry(storage, client_id);
  if (!entry) return entry.error();
  if (*entry == nullptr) return false;
  std::lock_guard lock(write_mutex_);
  if (generation_.load() == before) {
    update_locked(client_id, [&](Map& m) { m.try_emplace(std::string(client_id), *entry); });
  }
  return true;
}

void ClientCache::erase(std::string_view client_id) {
  std::lock_guard lock(write_mutex_);
  erase_locked(client_id);
}

void ClientCache::erase_locked(std::string_view client_id) {
  if (!shard(client_id).load()->contains(client_id)) {
    // Nothing to copy a shard for, but still a write: a load_missing that read the client
    // before it was deleted must not store it now.
    ++generation_;
    return;
  }
  update_locked(client_id, [&](Map& m) {
    if (auto it = m.find(client_id); it != m.end()) m.erase(it);
  });
}

std::size_t ClientCache::size() const {
  std::size_t n = 0;
  for (const auto& snapshot : shards_) n += snapshot.load()->size();
  return n;
}

bool ClientCache::recently_missing(std::string_view client_id, std::int64_t now) const {
  std::lock_guard lock(missing_mutex_);
  const auto it = missing_.find(client_id);
  return it != missing_.end() && it->second > now;
}

void ClientCache::mark_missing(std::string_view client_id, std::int64_t now, std::int64_t ttl_s) {
  constexpr std::size_t kMaxMissing = 10'000;
  std::lock_guard lock(missing_mutex_);
  if (missing_.size() >= kMaxMissing) {
    std::erase_if(missing_, [now](const auto& kv) { return kv.second <= now; });
    if (missing_.size() >= kMaxMissing) missing_.clear();
  }
  missing_.insert_or_assign(std::string(client_id), now + ttl_s);
}

}  // namespace permiso::auth
