// The client cache's compact entries and its paged full read (issue #14): a full read sees every
// client whatever the page size, a compact entry answers every check the whole row answered,
// clients with the same lists share one copy, and the shard tables keep every client through
// inserts and erasures.
#include "auth/client_cache.hpp"
#include "auth/client_secrets.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>

namespace permiso::auth {
namespace {

constexpr std::int64_t kNow = 1'700'000'000;

storage::ServiceClient a_row(std::string id) {
  storage::ServiceClient c;
  c.client_id = std::move(id);
  c.name = "client " + c.client_id;
  c.secret_hash = "hmac-sha256$one";
  c.created_at = c.updated_at = kNow;
  return c;
}

/// Real storage, with the pages a full read asks for recorded (and a hook after each page).
class PageRecordingReader final : public storage::ClientReader {
 public:
  explicit PageRecordingReader(storage::Storage& real) : real_(real) {}

  struct Page {
    std::optional<std::string> after;
    std::size_t rows = 0;
  };
  std::vector<Page> pages;
  std::function<void()> after_each_page;

  storage::StorageResult<storage::ServiceClient> get_client(std::string_view id) override {
    return real_.get_client(id);
  }
  storage::StorageResult<std::vector<storage::Scope>> client_scopes(std::string_view id) override {
    return real_.client_scopes(id);
  }
  storage::StorageResult<std::vector<storage::ClientWithScopes>> list_all_clients_with_scopes() override {
    ADD_FAILURE() << "every client in one read";
    return real_.list_all_clients_with_scopes();
  }
  storage::StorageResult<std::vector<storage::ClientWithScopes>> list_clients_with_scopes_after(
      std::optional<std::string_view> after, std::int64_t limit) override {
    auto page = real_.list_clients_with_scopes_after(after, limit);
    pages.push_back({after ? std::optional<std::string>(*after) : std::nullopt, page ? page->size() : 0});
    if (after_each_page) after_each_page();
    return page;
  }
  storage::StorageResult<std::vector<storage::ClientChange>> client_changes_since(std::int64_t after_seq,
                                                                                  std::int64_t limit) override {
    return real_.client_changes_since(after_seq, limit);
  }
  storage::StorageResult<std::int64_t> max_client_change_seq() override { return real_.max_client_change_seq(); }
  storage::StorageResult<std::int64_t> client_changes_purged_through() override {
    return real_.client_changes_purged_through();
  }

 private:
  storage::Storage& real_;
};

class ClientCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("permiso-cache-test-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    for (auto* s : {&storage_, &other_}) {
      auto opened = storage::open_storage("sqlite://" + (dir_ / "t.db").string());
      ASSERT_TRUE(opened) << storage::to_string(opened.error());
      *s = std::move(*opened);
    }
    for (const auto* name : {"a:read", "b:write", "c:admin"}) {
      auto scope = storage_->create_scope({0, name, "", "x", "y"});
      ASSERT_TRUE(scope);
      scope_ids_.push_back(scope->id);
    }
  }
  void TearDown() override {
    storage_.reset();
    other_.reset();
    std::filesystem::remove_all(dir_);
  }

  /// `n` of the scopes, in the order they were made.
  [[nodiscard]] std::vector<std::int64_t> scopes(std::size_t n) const {
    return {scope_ids_.begin(), scope_ids_.begin() + static_cast<std::ptrdiff_t>(n)};
  }
  /// The cache holds exactly what storage holds, field by field.
  void expect_same_as_storage(ClientCache& cache) {
    auto all = storage_->list_all_clients_with_scopes();
    ASSERT_TRUE(all);
    EXPECT_EQ(cache.size(), all->size());
    for (const auto& [row, scope_names] : *all) {
      const auto entry = cache.find(row.client_id);
      ASSERT_NE(entry, nullptr) << row.client_id;
      EXPECT_EQ(entry->client.client_id, row.client_id);
      EXPECT_EQ(entry->client.name, row.name) << row.client_id;
      EXPECT_EQ(entry->client.secret_hash, row.secret_hash) << row.client_id;
      EXPECT_EQ(entry->client.is_active, row.is_active) << row.client_id;
      EXPECT_EQ(entry->scopes(), scope_names) << row.client_id;
    }
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<storage::Storage> other_;  // another replica's writes, on the same file
  std::vector<std::int64_t> scope_ids_;
};

TEST_F(ClientCacheTest, AFullReadGoesPageByPageAndSeesEveryClientAcrossPageBoundaries) {
  // Ids that sort close together: prefixes, punctuation, case, digits.
  std::vector<std::string> ids{"A", "B-1", "a", "a-0", "a.0", "a0", "aa", "b", "svc-~", "z", "~"};
  for (int i = 0; i < 40; ++i) ids.push_back("svc-" + std::to_string(i));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(storage_->create_client(a_row(ids[i]), scopes(i % 4)));  // none to all three
  }
  const auto n = static_cast<std::int64_t>(ids.size());
  for (const std::int64_t page :
       {std::int64_t{1}, std::int64_t{3}, std::int64_t{7}, n - 1, n, n + 1, ClientCache::kReloadPage}) {
    SCOPED_TRACE("page of " + std::to_string(page));
    PageRecordingReader reads(*storage_);
    ClientCache cache(page);
    ASSERT_TRUE(cache.reload(reads));
    expect_same_as_storage(cache);
    // Full pages, then the one shorter than a page (empty when the clients fill the last).
    ASSERT_EQ(reads.pages.size(), static_cast<std::size_t>(n / page + 1));
    EXPECT_FALSE(reads.pages.front().after) << "the first page starts at the first client";
    for (std::size_t i = 0; i + 1 < reads.pages.size(); ++i) {
      EXPECT_EQ(reads.pages[i].rows, static_cast<std::size_t>(page));
      if (i > 0) {
        EXPECT_LT(*reads.pages[i].after, *reads.pages[i + 1].after);
      }
    }
    EXPECT_EQ(reads.pages.back().rows, static_cast<std::size_t>(n % page));
  }
}

TEST_F(ClientCacheTest, ChangesMadeBetweenTwoPagesAreAppliedByTheNextCatchUp) {
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(storage_->create_client(a_row("svc-" + std::to_string(10 + i)), scopes(1)));
  PageRecordingReader reads(*storage_);
  // After the second page: a client created behind the read, one changed that was read already,
  // one deleted and one given scopes ahead of it.
  reads.after_each_page = [&, done = false]() mutable {
    if (done || reads.pages.size() != 2) return;
    done = true;
    ASSERT_TRUE(other_->create_client(a_row("svc-00"), {}));
    auto changed = a_row("svc-10");
    changed.is_active = false;
    ASSERT_TRUE(other_->update_client(changed, std::nullopt));
    ASSERT_TRUE(other_->delete_client("svc-38"));
    ASSERT_TRUE(other_->set_client_scopes("svc-39", scopes(3)));
  };
  ClientCache cache(4);
  ASSERT_TRUE(cache.reload(reads));
  EXPECT_TRUE(cache.find("svc-10")->client.is_active) << "read before the change";
  ASSERT_TRUE(cache.catch_up(*storage_));
  EXPECT_EQ(cache.full_reloads(), 1U) << "the changes came through the feed";
  expect_same_as_storage(cache);
  EXPECT_FALSE(cache.find("svc-10")->client.is_active);
  EXPECT_EQ(cache.find("svc-38"), nullptr);
}

// The checks of the token endpoint as they were made on the whole row (before the compact
// entry), to compare the entry's answers with.
bool row_accepts(const ClientSecrets& secrets, const storage::ServiceClient& c, const std::string& secret,
                 std::int64_t now) {
  return secrets.matches(secret, c.secret_hash) ||
         (c.previous_secret_hash && c.previous_secret_expires_at && *c.previous_secret_expires_at > now &&
          secrets.matches(secret, *c.previous_secret_hash));
}
bool row_allows(const storage::ServiceClient& c, const std::string& ip) {
  const auto ips = ClientCache::json_strings(c.allowed_ips);
  return ips.empty() || std::find(ips.begin(), ips.end(), ip) != ips.end();
}
/// The limit a rate rule is made with (Grants::client_limits), or none. A stored limit beyond
/// 32 bits (the API allows at most 10^9; only a hand-edited row has one) is the largest rule,
/// not its low 32 bits.
std::optional<std::uint32_t> row_limit(const std::optional<std::int64_t>& limit) {
  if (!limit || *limit <= 0) return std::nullopt;
  return static_cast<std::uint32_t>(std::min<std::int64_t>(*limit, std::numeric_limits<std::uint32_t>::max()));
}
std::optional<std::uint32_t> entry_limit(std::int64_t limit) {
  if (limit <= 0) return std::nullopt;
  return static_cast<std::uint32_t>(limit);
}

TEST(CompactClientEntry, AnswersEveryCheckTheWholeRowAnswered) {
  const ClientSecrets secrets("pepper");
  const auto current = secrets.hash("current-secret");
  const auto previous = secrets.hash("previous-secret");
  std::string upper = current;  // not what hash() writes: matched nothing before either
  std::transform(upper.begin() + 12, upper.end(), upper.begin() + 12,
                 [](char ch) { return static_cast<char>(std::toupper(static_cast<unsigned char>(ch))); });
  const std::vector<std::string> hashes{
      current, previous, "", "hmac-sha256$00", upper, current + "0", "argon2$" + current.substr(12)};
  struct Previous {
    std::optional<std::string> hash;
    std::optional<std::int64_t> expires_at;
  };
  const std::vector<Previous> previous_secrets{
      {std::nullopt, std::nullopt}, {previous, kNow + 60},     {previous, kNow - 60},          {previous, kNow},
      {previous, std::nullopt},     {std::nullopt, kNow + 60}, {"hmac-sha256$old", kNow + 60}, {current, kNow + 60}};
  const std::vector<std::string> allowed_ips{"[]", R"(["127.0.0.1","::1"])", "not json", R"(["10.0.0.1", 5])", "{}"};
  const std::vector<std::optional<std::int64_t>> limits{
      std::nullopt, 0, -5, 1, 600, std::int64_t{1} << 32, (std::int64_t{1} << 32) + 7};
  const std::vector<std::string> presented{"current-secret", "previous-secret", "", "other", current};
  const std::vector<std::string> ips{"127.0.0.1", "::1", "10.0.0.1", ""};
  const std::vector<std::vector<std::string>> scope_lists{{}, {"trade:read"}, {"a:read", "b:write", "c:admin"}};

  std::size_t checked = 0;
  for (std::size_t i = 0; i < hashes.size() * previous_secrets.size(); ++i) {
    storage::ServiceClient row = a_row("svc-" + std::to_string(i));
    row.secret_hash = hashes[i % hashes.size()];
    const auto& prev = previous_secrets[i / hashes.size()];
    row.previous_secret_hash = prev.hash;
    row.previous_secret_expires_at = prev.expires_at;
    row.allowed_ips = allowed_ips[i % allowed_ips.size()];
    row.rate_limit_per_minute = limits[i % limits.size()];
    row.rate_limit_per_hour = limits[(i + 3) % limits.size()];
    row.is_active = i % 2 == 0;
    row.is_trusted = i % 3 == 0;
    row.access_token_lifetime = std::vector<std::int64_t>{3600, 0, -1, 600}[i % 4];
    row.name = i % 5 == 0 ? "" : row.name;
    const auto& scopes = scope_lists[i % scope_lists.size()];
    const auto entry = CachedClient::make(row, scopes);
    SCOPED_TRACE(row.secret_hash + " / " + prev.hash.value_or("-"));

    for (const auto& secret : presented) {
      for (const std::int64_t now : {kNow - 120, kNow, kNow + 120}) {
        EXPECT_EQ(entry->accepts_secret(secrets, secret, now), row_accepts(secrets, row, secret, now))
            << secret << " at " << now;
        ++checked;
      }
    }
    for (const auto& ip : ips) EXPECT_EQ(entry->allows_ip(ip), row_allows(row, ip)) << row.allowed_ips << " " << ip;
    EXPECT_EQ(entry->allowed_ips(), ClientCache::json_strings(row.allowed_ips));
    EXPECT_EQ(entry->scopes(), scopes);
    EXPECT_EQ(entry_limit(entry->client.rate_limit_per_minute), row_limit(row.rate_limit_per_minute));
    EXPECT_EQ(entry_limit(entry->client.rate_limit_per_hour), row_limit(row.rate_limit_per_hour));
    EXPECT_EQ(entry->client.access_token_lifetime, row.access_token_lifetime);
    EXPECT_EQ(entry->client.is_active, row.is_active);
    EXPECT_EQ(entry->client.is_trusted, row.is_trusted);
    EXPECT_EQ(entry->client.client_id, row.client_id);
    EXPECT_EQ(entry->client.name, row.name);
    // The hash reads back as the stored text, whichever form it had.
    EXPECT_EQ(entry->client.secret_hash, row.secret_hash);
    EXPECT_EQ(entry->client.secret_hash.text(), row.secret_hash);
    EXPECT_EQ(entry->previous_secret() != nullptr, prev.hash && prev.expires_at);
    if (const auto* p = entry->previous_secret()) {
      EXPECT_EQ(p->hash.text(), *prev.hash);
      EXPECT_EQ(p->expires_at, *prev.expires_at);
    }
  }
  EXPECT_GT(checked, 500U);
}

TEST_F(ClientCacheTest, ClientsWithTheSameListsShareOneCopy) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(storage_->create_client(a_row("one-" + std::to_string(i)), scopes(1)));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(storage_->create_client(a_row("two-" + std::to_string(i)), scopes(2)));
  for (int i = 0; i < 5; ++i) {
    auto row = a_row("ip-" + std::to_string(i));
    row.allowed_ips = R"(["10.0.0.1"])";
    ASSERT_TRUE(storage_->create_client(row, scopes(1)));
  }
  ClientCache cache;
  ASSERT_TRUE(cache.reload(*storage_));
  EXPECT_EQ(cache.shared_lists(), 3U);
  EXPECT_EQ(&cache.find("one-1")->scopes(), &cache.find("one-7")->scopes());
  EXPECT_NE(&cache.find("one-1")->scopes(), &cache.find("two-1")->scopes());
  EXPECT_NE(&cache.find("one-1")->allowed_ips(), &cache.find("ip-1")->allowed_ips());

  ASSERT_TRUE(storage_->set_client_scopes("one-1", scopes(3)));
  ASSERT_TRUE(cache.refresh(*storage_, "one-1"));
  EXPECT_EQ(cache.shared_lists(), 4U);
  EXPECT_EQ(cache.find("one-1")->scopes(), (std::vector<std::string>{"a:read", "b:write", "c:admin"}));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(storage_->delete_client("two-" + std::to_string(i)));
    ASSERT_TRUE(cache.refresh(*storage_, "two-" + std::to_string(i)));
  }
  EXPECT_EQ(cache.shared_lists(), 3U) << "lists no client holds are let go";
  expect_same_as_storage(cache);
}

TEST_F(ClientCacheTest, AFullReadKeepsTheEntryOfEveryUnchangedClient) {
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(storage_->create_client(a_row("keep-" + std::to_string(i)), scopes(1)));
  ClientCache cache(7);  // several pages
  ASSERT_TRUE(cache.reload(*storage_));
  std::vector<ClientCache::Entry> before;
  for (int i = 0; i < 30; ++i) before.push_back(cache.find("keep-" + std::to_string(i)));

  auto renamed = storage_->get_client("keep-3");
  ASSERT_TRUE(renamed);
  renamed->name = "renamed";
  ASSERT_TRUE(storage_->update_client(*renamed, std::nullopt));
  auto deactivated = storage_->get_client("keep-4");
  ASSERT_TRUE(deactivated);
  deactivated->is_active = false;
  ASSERT_TRUE(storage_->update_client(*deactivated, std::nullopt));
  ASSERT_TRUE(storage_->set_client_scopes("keep-5", scopes(2)));
  ASSERT_TRUE(cache.reload(*storage_));

  for (int i = 0; i < 30; ++i) {
    const bool changed = i >= 3 && i <= 5;
    EXPECT_EQ(cache.find("keep-" + std::to_string(i)) == before[static_cast<std::size_t>(i)], !changed) << i;
  }
  EXPECT_EQ(cache.find("keep-3")->client.name, "renamed");
  EXPECT_FALSE(cache.find("keep-4")->client.is_active);
  EXPECT_EQ(cache.find("keep-5")->scopes(), (std::vector<std::string>{"a:read", "b:write"}));
  expect_same_as_storage(cache);
}

TEST(CompactClientEntry, MatchesOnlyTheRowItWasMadeFrom) {
  const ClientSecrets secrets("pepper");
  storage::ServiceClient row = a_row("svc");
  row.secret_hash = secrets.hash("secret");
  row.previous_secret_hash = secrets.hash("old");
  row.previous_secret_expires_at = kNow + 60;
  row.rate_limit_per_minute = 10;
  // The lists are compared by identity: the cache's pool gives equal lists one copy.
  const auto lists_of = [](std::vector<std::string> scopes) {
    boost::intrusive_ptr<ClientLists> l(new ClientLists);
    l->scopes = std::move(scopes);
    return boost::intrusive_ptr<const ClientLists>(l);
  };
  const auto same_lists = lists_of({"trade:read"});
  const auto rebuilt = CachedClient::make(row, same_lists);
  EXPECT_TRUE(rebuilt->matches(row, same_lists));
  EXPECT_FALSE(rebuilt->matches(row, lists_of({"trade:read", "trade:write"}))) << "other lists";
  const std::vector<std::function<void(storage::ServiceClient&)>> changes{
      [](auto& r) { r.client_id = "svd"; },
      [](auto& r) { r.name = "other"; },
      [&](auto& r) { r.secret_hash = secrets.hash("new"); },
      [&](auto& r) { r.previous_secret_hash = secrets.hash("older"); },
      [](auto& r) { r.previous_secret_expires_at = kNow + 61; },
      [](auto& r) { r.previous_secret_expires_at = std::nullopt; },
      [](auto& r) { r.access_token_lifetime += 1; },
      [](auto& r) { r.rate_limit_per_minute = 11; },
      [](auto& r) { r.rate_limit_per_hour = 5; },
      [](auto& r) { r.is_active = !r.is_active; },
      [](auto& r) { r.is_trusted = !r.is_trusted; },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    auto changed = row;
    changes[i](changed);
    EXPECT_FALSE(rebuilt->matches(changed, same_lists)) << "change " << i;
  }
}

/// Clients in memory, without paging of its own (the full read pages with ClientReader's
/// default): enough clients, cheaply, to fill the shard tables.
class MemoryReader final : public storage::ClientReader {
 public:
  std::map<std::string, std::vector<std::string>> clients;  // id -> scope names

  storage::StorageResult<storage::ServiceClient> get_client(std::string_view id) override {
    if (!clients.contains(std::string(id))) return missing();
    return a_row(std::string(id));
  }
  storage::StorageResult<std::vector<storage::Scope>> client_scopes(std::string_view id) override {
    const auto it = clients.find(std::string(id));
    if (it == clients.end()) return missing();
    std::vector<storage::Scope> out;
    for (const auto& name : it->second) out.push_back({0, name, "", "", ""});
    return out;
  }
  storage::StorageResult<std::vector<storage::ClientWithScopes>> list_all_clients_with_scopes() override {
    std::vector<storage::ClientWithScopes> out;
    for (const auto& [id, scopes] : clients) out.push_back({a_row(id), scopes});
    return out;
  }
  storage::StorageResult<std::vector<storage::ClientChange>> client_changes_since(std::int64_t, std::int64_t) override {
    return std::vector<storage::ClientChange>{};
  }
  storage::StorageResult<std::int64_t> max_client_change_seq() override { return 0; }
  storage::StorageResult<std::int64_t> client_changes_purged_through() override { return 0; }

 private:
  static storage::StorageFailure missing() { return {storage::StorageError::NotFound, "", "client not found"}; }
};

TEST(ClientCacheTables, KeepEveryClientThroughInsertsAndErasures) {
  MemoryReader reads;
  std::set<std::string> model;
  std::mt19937 rng(14);
  constexpr int kUniverse = 6000;  // ~94 a shard: tables grow, probe runs wrap and shift back
  const auto id = [](int i) { return "svc-" + std::to_string(i); };
  for (int i = 0; i < kUniverse; i += 3) {
    reads.clients[id(i)] = {"trade:read"};
    model.insert(id(i));
  }
  ClientCache cache(97);
  ASSERT_TRUE(cache.reload(reads));
  ASSERT_EQ(cache.size(), model.size());
  for (int step = 0; step < 20'000; ++step) {
    const auto k = id(static_cast<int>(rng() % kUniverse));
    switch (rng() % 4) {
      case 0:  // created or changed, then refreshed
        reads.clients[k] = {"trade:read", std::to_string(rng() % 3)};
        ASSERT_TRUE(cache.refresh(reads, k));
        model.insert(k);
        break;
      case 1:  // deleted, then refreshed
        reads.clients.erase(k);
        ASSERT_TRUE(cache.refresh(reads, k));
        model.erase(k);
        break;
      case 2:  // erased from the cache only
        cache.erase(k);
        model.erase(k);
        break;
      default:  // loaded on a miss
        if (reads.clients.contains(k)) {
          ASSERT_TRUE(*cache.load_missing(reads, k));
          model.insert(k);
        }
        break;
    }
    if (step % 1000 == 0 || step == 19'999) {
      ASSERT_EQ(cache.size(), model.size()) << "step " << step;
      for (int i = 0; i < kUniverse; ++i) {
        ASSERT_EQ(cache.contains(id(i)), model.contains(id(i))) << id(i) << " at step " << step;
      }
    }
  }
  for (const auto& k : model) {
    const auto entry = cache.find(k);
    ASSERT_NE(entry, nullptr) << k;
    EXPECT_EQ(entry->client.client_id, k);
    if (reads.clients.contains(k)) {
      EXPECT_EQ(entry->scopes(), reads.clients[k]) << k;
    }
  }
  // A full read again: what storage holds, in fresh tables.
  ASSERT_TRUE(cache.reload(reads));
  EXPECT_EQ(cache.size(), reads.clients.size());
}

TEST(ClientCacheTables, AnEntryOutlivesItsRemovalForItsHolder) {
  MemoryReader reads;
  reads.clients["svc-1"] = {"trade:read"};
  ClientCache cache;
  ASSERT_TRUE(cache.reload(reads));
  auto held = cache.find("svc-1");
  reads.clients.erase("svc-1");
  ASSERT_TRUE(cache.reload(reads));
  EXPECT_EQ(cache.find("svc-1"), nullptr);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->client.client_id, "svc-1");
  EXPECT_EQ(held->scopes(), std::vector<std::string>{"trade:read"});
}

}  // namespace
}  // namespace permiso::auth
