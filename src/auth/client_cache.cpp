// See client_cache.hpp.
#include "auth/client_cache.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

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

storage::StorageStatus ClientCache::reload(storage::ClientReader& storage) {
  std::lock_guard lock(write_mutex_);
  auto all = storage.list_all_clients_with_scopes();
  if (!all) {
    return all.error();
  }
  auto fresh = std::make_shared<Map>();
  for (auto& c : *all) {
    std::string id = c.client.client_id;
    fresh->emplace(std::move(id), make_entry(std::move(c.client), std::move(c.scopes)));
  }
  snapshot_.store(std::move(fresh));
  ++generation_;
  return {};
}

std::shared_ptr<const CachedClient> ClientCache::find(std::string_view client_id) const {
  const auto snap = snapshot_.load();
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
  return snapshot_.load()->contains(client_id);
}

void ClientCache::update_locked(const std::function<void(Map&)>& change) {
  auto copy = std::make_shared<Map>(*snapshot_.load());
  change(*copy);
  snapshot_.store(std::move(copy));
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
    update_locked([&](Map& m) { m.insert_or_assign(std::string(client_id), *entry); });
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
    update_locked([&](Map& m) { m.try_emplace(std::string(client_id), *entry); });
  }
  return true;
}

void ClientCache::erase(std::string_view client_id) {
  std::lock_guard lock(write_mutex_);
  erase_locked(client_id);
}

void ClientCache::erase_locked(std::string_view client_id) {
  update_locked([&](Map& m) {
    if (auto it = m.find(client_id); it != m.end()) m.erase(it);
  });
}

std::size_t ClientCache::size() const {
  return snapshot_.load()->size();
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
