// See client_cache.hpp.
#include "auth/client_cache.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <new>
#include <optional>
#include <unordered_set>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// gperftools' C API, when tcmalloc is in the process (see release_free_heap).
extern "C" void MallocExtension_ReleaseFreeMemory() __attribute__((weak));

namespace permiso::auth {

using storage::StorageResult;

// ---- the entry ----

namespace {

/// The cache's form of a stored rate limit: storage's null and any limit ≤ 0 both mean
/// unlimited to the grant (Grants::client_limits), so both are 0.
/// A limit beyond 32 bits is no limit in practice: it is kept as the largest.
std::uint32_t limit_of(const std::optional<std::int64_t>& limit) {
  if (!limit || *limit <= 0) return 0;
  return static_cast<std::uint32_t>(std::min<std::int64_t>(*limit, std::numeric_limits<std::uint32_t>::max()));
}

/// Storage's lifetime in 32 bits (the API allows 300 to 86400 seconds; another row is clamped).
std::int32_t lifetime_of(std::int64_t seconds) {
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(seconds, std::numeric_limits<std::int32_t>::min(),
                                                            std::numeric_limits<std::int32_t>::max()));
}

/// Copies `text` to `*at` (advancing it) and views the copy.
std::string_view copy_to(char*& at, std::string_view text) {
  if (text.empty()) return {};
  std::memcpy(at, text.data(), text.size());
  const std::string_view copy(at, text.size());
  at += text.size();
  return copy;
}

/// The bytes a hash needs in the entry's tail: none when its 32 bytes hold it.
std::size_t tail_bytes(std::string_view hash_text) {
  return SecretHash::is_digest_form(hash_text) ? 0 : hash_text.size();
}

/// A hash viewing its text in the tail (copied there) unless its 32 bytes hold it.
SecretHash hash_in_tail(char*& at, std::string_view hash_text) {
  return SecretHash(SecretHash::is_digest_form(hash_text) ? hash_text : copy_to(at, hash_text));
}

}  // namespace

// A million clients hold a million of these: every 8 bytes here is 8 MB (docs/growth.md).
static_assert(sizeof(CachedClient) <= 96, "the cached client's fixed part grew");

CachedClient::CachedClient(boost::intrusive_ptr<const ClientLists> lists) : lists_(std::move(lists)) {}

CachedClient::Ptr CachedClient::make(const storage::ServiceClient& row, boost::intrusive_ptr<const ClientLists> lists) {
  // A previous secret counts only with its end: the check needs both (as it did on the row).
  const bool has_previous = row.previous_secret_hash && row.previous_secret_expires_at;
  // One block: the entry, then [PreviousSecret] client_id name [secret text] [previous text].
  std::size_t tail = has_previous ? sizeof(PreviousSecret) : 0;
  tail += row.client_id.size() + row.name.size() + tail_bytes(row.secret_hash);
  if (has_previous) tail += tail_bytes(*row.previous_secret_hash);
  static_assert(sizeof(CachedClient) % alignof(PreviousSecret) == 0, "the tail starts aligned for it");
  void* block = ::operator new(sizeof(CachedClient) + tail);
  auto* entry = new (block) CachedClient(std::move(lists));  // cannot throw
  char* at = static_cast<char*>(block) + sizeof(CachedClient);
  PreviousSecret* previous = nullptr;
  if (has_previous) {
    previous = new (at) PreviousSecret{*row.previous_secret_expires_at, SecretHash()};
    at += sizeof(PreviousSecret);
    entry->has_previous_ = true;
  }
  auto& c = entry->client;
  c.client_id = copy_to(at, row.client_id);
  c.name = copy_to(at, row.name);
  c.secret_hash = hash_in_tail(at, row.secret_hash);
  if (previous != nullptr) previous->hash = hash_in_tail(at, *row.previous_secret_hash);
  c.access_token_lifetime = lifetime_of(row.access_token_lifetime);
  c.rate_limit_per_minute = limit_of(row.rate_limit_per_minute);
  c.rate_limit_per_hour = limit_of(row.rate_limit_per_hour);
  c.is_active = row.is_active;
  c.is_trusted = row.is_trusted;
  return Ptr(entry);
}

CachedClient::Ptr CachedClient::make(const storage::ServiceClient& row, std::vector<std::string> scopes) {
  boost::intrusive_ptr<ClientLists> lists(new ClientLists);
  lists->scopes = std::move(scopes);
  lists->allowed_ips = ClientCache::json_strings(row.allowed_ips);
  return make(row, std::move(lists));
}

void intrusive_ptr_release(const CachedClient* c) noexcept {
  if (c->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    auto* self = const_cast<CachedClient*>(c);
    self->~CachedClient();  // what the tail holds is trivially destructible
    ::operator delete(static_cast<void*>(self));
  }
}

const PreviousSecret* CachedClient::previous_secret() const {
  if (!has_previous_) return nullptr;
  return std::launder(
      reinterpret_cast<const PreviousSecret*>(reinterpret_cast<const std::byte*>(this) + sizeof(CachedClient)));
}

bool CachedClient::accepts_secret(const ClientSecrets& secrets, std::string_view secret, std::int64_t now) const {
  if (secrets.accepts(secret, client.secret_hash)) return true;
  const auto* previous = previous_secret();
  return previous != nullptr && previous->expires_at > now && secrets.accepts(secret, previous->hash);
}

bool CachedClient::matches(const storage::ServiceClient& row,
                           const boost::intrusive_ptr<const ClientLists>& lists) const {
  // Every field make() takes from the row, compared as make() would store it.
  const bool has_previous = row.previous_secret_hash && row.previous_secret_expires_at;
  const auto* previous = previous_secret();
  if (has_previous != (previous != nullptr)) return false;
  if (previous != nullptr &&
      (previous->expires_at != *row.previous_secret_expires_at || !(previous->hash == *row.previous_secret_hash))) {
    return false;
  }
  return lists_ == lists && client.client_id == row.client_id && client.name == row.name &&
         client.secret_hash == row.secret_hash &&
         client.access_token_lifetime == lifetime_of(row.access_token_lifetime) &&
         client.rate_limit_per_minute == limit_of(row.rate_limit_per_minute) &&
         client.rate_limit_per_hour == limit_of(row.rate_limit_per_hour) && client.is_active == row.is_active &&
         client.is_trusted == row.is_trusted;
}

bool CachedClient::allows_ip(std::string_view ip) const {
  const auto& ips = allowed_ips();
  return ips.empty() || std::find(ips.begin(), ips.end(), ip) != ips.end();
}

// ---- the shared lists ----

class ClientCache::ListPool {
 public:
  using Ptr = boost::intrusive_ptr<const ClientLists>;

  /// The lists with these contents, shared with every entry that has them.
  Ptr intern(std::vector<std::string> scopes, std::vector<std::string> allowed_ips) {
    if (const auto it = set_.find(Key{scopes, allowed_ips}); it != set_.end()) return *it;
    if (set_.size() >= 2 * kept_ + 64) sweep();  // bounded by twice what entries use
    boost::intrusive_ptr<ClientLists> lists(new ClientLists);
    lists->scopes = std::move(scopes);
    lists->allowed_ips = std::move(allowed_ips);
    set_.insert(lists);
    return lists;
  }
  /// Drops the lists no entry holds any more.
  void sweep() {
    // Only this pool hands out new references, under the same mutex: a count of 1 stays 1.
    std::erase_if(set_, [](const Ptr& lists) { return lists->use_count() == 1; });
    kept_ = set_.size();
  }
  [[nodiscard]] std::size_t size() const { return set_.size(); }

 private:
  struct Key {
    const std::vector<std::string>& scopes;
    const std::vector<std::string>& allowed_ips;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(const Key& k) const {
      std::size_t h = k.scopes.size();
      const auto add = [&h](std::string_view s) { h = (h ^ std::hash<std::string_view>{}(s)) * 0x100000001B3ULL; };
      for (const auto& s : k.scopes) add(s);
      add("\n");  // the boundary between the two lists
      for (const auto& s : k.allowed_ips) add(s);
      return h;
    }
    std::size_t operator()(const Ptr& p) const { return (*this)(Key{p->scopes, p->allowed_ips}); }
  };
  struct Equal {
    using is_transparent = void;
    static bool same(const Key& a, const Key& b) { return a.scopes == b.scopes && a.allowed_ips == b.allowed_ips; }
    bool operator()(const Ptr& a, const Ptr& b) const { return a == b; }
    bool operator()(const Key& a, const Ptr& b) const { return same(a, Key{b->scopes, b->allowed_ips}); }
    bool operator()(const Ptr& a, const Key& b) const { return same(Key{a->scopes, a->allowed_ips}, b); }
  };

  std::unordered_set<Ptr, Hash, Equal> set_;
  std::size_t kept_ = 0;  // the size after the last sweep
};

// ---- one shard: an open-addressing table ----

namespace {

constexpr int kShardBits = std::countr_zero(ClientCache::kShards);

/// The hash of a client id, mixed: its top bits pick the shard, the bits below them the slot.
std::uint64_t mix(std::string_view client_id) {
  return static_cast<std::uint64_t>(std::hash<std::string_view>{}(client_id)) * 0x9E3779B97F4A7C15ULL;
}

std::size_t shard_index(std::uint64_t mixed) {
  return static_cast<std::size_t>(mixed >> (64 - kShardBits));
}

}  // namespace

/// Linear probing over a power-of-two array of entry pointers (8 bytes a slot), at most 3/4 full;
/// an entry's id is in the entry. Immutable once published: a change builds a copy.
class ClientCache::Table {
 public:
  Table() = default;
  /// A table of `entries`, sized for them (a later duplicate id replaces an earlier one).
  explicit Table(std::vector<Entry> entries) {
    resize(capacity_for(entries.size()));
    for (auto& e : entries) put(std::move(e));
  }

  [[nodiscard]] const Entry* find(std::string_view client_id, std::uint64_t mixed) const {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = home(mixed);; i = next(i)) {
      const auto& slot = slots_[i];
      if (!slot) return nullptr;
      if (slot->client.client_id == client_id) return &slot;
    }
  }
  [[nodiscard]] std::size_t size() const { return size_; }

  /// A copy with `entry` added, or in place of the entry with its id when `replace`; nullptr
  /// when the id is there and not `replace` (nothing to change).
  [[nodiscard]] std::shared_ptr<const Table> with(Entry entry, bool replace) const {
    const auto id = entry->client.client_id;
    const bool present = find(id, mix(id)) != nullptr;
    if (present && !replace) return nullptr;
    std::shared_ptr<Table> copy;
    if (!present && size_ + 1 > max_size(slots_.size())) {
      copy = std::make_shared<Table>();
      copy->resize(capacity_for(size_ + 1));
      for (const auto& e : slots_) {
        if (e) copy->put(e);
      }
    } else {
      copy = std::make_shared<Table>(*this);
    }
    copy->put(std::move(entry));
    return copy;
  }
  /// A copy without the entry of `client_id`; nullptr when there is none.
  [[nodiscard]] std::shared_ptr<const Table> without(std::string_view client_id) const {
    const auto* slot = find(client_id, mix(client_id));
    if (slot == nullptr) return nullptr;
    auto copy = std::make_shared<Table>(*this);
    copy->erase_at(static_cast<std::size_t>(slot - slots_.data()));
    return copy;
  }

 private:
  static std::size_t max_size(std::size_t capacity) { return capacity / 4 * 3; }
  static std::size_t capacity_for(std::size_t n) {
    return std::bit_ceil(std::max<std::size_t>(8, n + n / 3 + 1));  // n ≤ 3/4 of it
  }
  void resize(std::size_t capacity) {
    slots_.assign(capacity, nullptr);
    bits_ = std::countr_zero(capacity);
  }
  [[nodiscard]] std::size_t home(std::uint64_t mixed) const {
    return static_cast<std::size_t>((mixed << kShardBits) >> (64 - bits_));
  }
  [[nodiscard]] std::size_t next(std::size_t i) const { return (i + 1) & (slots_.size() - 1); }
  /// Inserts, or replaces the entry with the same id; there is room.
  void put(Entry entry) {
    const auto id = entry->client.client_id;
    std::size_t i = home(mix(id));
    while (slots_[i] && slots_[i]->client.client_id != id) i = next(i);
    if (!slots_[i]) ++size_;
    slots_[i] = std::move(entry);
  }
  /// Empties slot `hole` and moves later entries of its probe run back (no tombstones).
  void erase_at(std::size_t hole) {
    slots_[hole].reset();
    --size_;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t j = next(hole); slots_[j]; j = next(j)) {
      const std::size_t h = home(mix(slots_[j]->client.client_id));
      // The entry at j may fill the hole unless its home lies after the hole (cyclically).
      if (((j - h) & mask) >= ((j - hole) & mask)) {
        slots_[hole] = std::move(slots_[j]);
        hole = j;
      }
    }
  }

  std::vector<Entry> slots_;
  std::size_t size_ = 0;
  int bits_ = 0;
};

// ---- the cache ----

namespace {

/// Hands the allocator's free pages back to the system after a full read: its page buffers and
/// the replaced snapshot's entries (~1 M of them in a reload at 1 M clients) would otherwise stay
/// resident, kept for reuse. Rare (start-up, an "every client" change) and cheap next to the read.
void release_free_heap() {
  // permiso-auth links gperftools' tcmalloc, which keeps freed spans in its page heap: this
  // returns them (madvise). Weak: the process may run on glibc's malloc (tests, ASan).
  if (MallocExtension_ReleaseFreeMemory != nullptr) {
    MallocExtension_ReleaseFreeMemory();
    return;
  }
#if defined(__GLIBC__)
  // glibc returns memory from the top of the heap only on free(); malloc_trim also gives back
  // whole free pages inside it.
  malloc_trim(0);
#endif
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

ClientCache::ClientCache(std::int64_t reload_page)
    : reload_page_(std::max<std::int64_t>(reload_page, 1)), lists_(std::make_unique<ListPool>()) {
  for (auto& snapshot : shards_) snapshot.store(std::make_shared<const Table>());
}

ClientCache::~ClientCache() = default;

std::size_t ClientCache::shard_of(std::string_view client_id) {
  static_assert((kShards & (kShards - 1)) == 0, "a power of two: the shard is the hash's top bits");
  // The top bits of a multiplicative mix; each shard's table takes the bits below them.
  return shard_index(mix(client_id));
}

std::shared_ptr<const void> ClientCache::shard_snapshot(std::size_t shard) const {
  return shards_.at(shard).load();
}

std::size_t ClientCache::shared_lists() {
  std::lock_guard lock(write_mutex_);
  lists_->sweep();
  return lists_->size();
}

ClientCache::Entry ClientCache::make_entry_locked(const storage::ServiceClient& row, std::vector<std::string> scopes) {
  return CachedClient::make(row, lists_->intern(std::move(scopes), json_strings(row.allowed_ips)));
}

ClientCache::Entry ClientCache::reuse_or_make_locked(const storage::ServiceClient& row,
                                                     std::vector<std::string> scopes) {
  auto lists = lists_->intern(std::move(scopes), json_strings(row.allowed_ips));
  const auto mixed = mix(row.client_id);
  const auto snapshot = shards_[shard_index(mixed)].load();
  if (const auto* old = snapshot ? snapshot->find(row.client_id, mixed) : nullptr; old && (*old)->matches(row, lists)) {
    return *old;
  }
  return CachedClient::make(row, std::move(lists));
}

void ClientCache::publish_locked(std::size_t shard, std::shared_ptr<const Table> table) {
  shards_[shard].store(std::move(table));
  ++generation_;
}

storage::StorageStatus ClientCache::reload(storage::ClientReader& storage) {
  std::lock_guard feed(feed_mutex_);
  return reload_locked(storage);
}

storage::StorageStatus ClientCache::reload_locked(storage::ClientReader& storage) {
  // Before the first page: every change after this seq is either in the read or applied again
  // by the next catch_up, including one that commits between two pages.
  auto newest = storage.max_client_change_seq();
  if (!newest) return newest.error();
  {
    std::lock_guard lock(write_mutex_);
    // A page of rows at a time (never every row at once): only the entries accumulate, and an
    // unchanged client keeps its entry, so a reload holds one copy of the clients, not two.
    std::array<std::vector<Entry>, kShards> fresh;
    std::optional<std::string> after;
    for (;;) {
      auto page = storage.list_clients_with_scopes_after(after, reload_page_);
      if (!page) return page.error();
      for (auto& row : *page) {
        auto entry = reuse_or_make_locked(row.client, std::move(row.scopes));
        fresh[shard_of(entry->client.client_id)].push_back(std::move(entry));
      }
      if (static_cast<std::int64_t>(page->size()) < reload_page_) break;
      after = std::move(page->back().client.client_id);
    }
    for (std::size_t i = 0; i < kShards; ++i) {
      shards_[i].store(std::make_shared<const Table>(std::move(fresh[i])));
    }
    ++generation_;
    lists_->sweep();
  }
  cursor_.store(*newest);
  loaded_ = true;
  full_reloads_.fetch_add(1, std::memory_order_relaxed);
  release_free_heap();
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

ClientCache::Entry ClientCache::find(std::string_view client_id) const {
  const auto mixed = mix(client_id);
  const auto snap = shards_[shard_index(mixed)].load();
  // Relaxed: a metric, ordered with nothing.
  if (const auto* entry = snap->find(client_id, mixed)) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    return *entry;
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

bool ClientCache::contains(std::string_view client_id) const {
  const auto mixed = mix(client_id);
  return shards_[shard_index(mixed)].load()->find(client_id, mixed) != nullptr;
}

StorageResult<std::optional<storage::ClientWithScopes>> ClientCache::read_row(storage::ClientReader& storage,
                                                                              std::string_view client_id) {
  auto client = storage.get_client(client_id);
  if (!client) {
    if (client.error().code == storage::StorageError::NotFound) return std::nullopt;
    return client.error();
  }
  auto scopes = storage.client_scopes(client_id);
  if (!scopes) {
    // Deleted between the two reads: as absent as if get_client had said so.
    if (scopes.error().code == storage::StorageError::NotFound) return std::nullopt;
    return scopes.error();
  }
  storage::ClientWithScopes row{std::move(*client), {}};
  row.scopes.reserve(scopes->size());
  for (auto& s : *scopes) row.scopes.push_back(std::move(s.name));
  return row;
}

storage::StorageStatus ClientCache::refresh(storage::ClientReader& storage, std::string_view client_id) {
  std::lock_guard lock(write_mutex_);
  auto row = read_row(storage, client_id);
  if (!row) return row.error();
  if (!*row) {
    erase_locked(client_id);
    return {};
  }
  auto entry = make_entry_locked((*row)->client, std::move((*row)->scopes));
  const auto shard = shard_of(entry->client.client_id);
  publish_locked(shard, shards_[shard].load()->with(std::move(entry), /*replace=*/true));
  return {};
}

StorageResult<bool> ClientCache::load_missing(storage::ClientReader& storage, std::string_view client_id) {
  const auto before = generation_.load();
  auto row = read_row(storage, client_id);
  if (!row) return row.error();
  if (!*row) return false;
  std::lock_guard lock(write_mutex_);
  if (generation_.load() == before) {
    auto entry = make_entry_locked((*row)->client, std::move((*row)->scopes));
    const auto shard = shard_of(entry->client.client_id);
    if (auto table = shards_[shard].load()->with(std::move(entry), /*replace=*/false)) {
      publish_locked(shard, std::move(table));
    }
  }
  return true;
}

void ClientCache::erase(std::string_view client_id) {
  std::lock_guard lock(write_mutex_);
  erase_locked(client_id);
}

void ClientCache::erase_locked(std::string_view client_id) {
  const auto shard = shard_of(client_id);
  auto table = shards_[shard].load()->without(client_id);
  if (!table) {
    // Nothing to copy a shard for, but still a write: a load_missing that read the client
    // before it was deleted must not store it now.
    ++generation_;
    return;
  }
  publish_locked(shard, std::move(table));
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
