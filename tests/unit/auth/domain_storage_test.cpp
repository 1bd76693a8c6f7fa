// Domain components that sit on storage: first-start seeding, the audit writer and the
// client cache, against a real SQLite database in a temp dir.
#include "auth/audit_log.hpp"
#include "auth/bootstrap.hpp"
#include "auth/client_cache.hpp"
#include "auth/seed_data.hpp"
#include "auth/validation.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

namespace permiso::auth {
namespace {

class DomainStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("permiso-auth-test-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    auto opened = storage::open_storage("sqlite://" + (dir_ / "t.db").string());
    ASSERT_TRUE(opened) << storage::to_string(opened.error());
    storage_ = std::move(*opened);
  }
  void TearDown() override {
    storage_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::Storage> storage_;
  ManualClock clock_{1'700'000'000};
  PasswordHasher hasher_{Argon2Params{.memory_kib = 1024, .iterations = 1, .parallelism = 1}};
};

TEST_F(DomainStorageTest, BootstrapSeedsScopesRolesAndTheGivenAdmin) {
  auto out = bootstrap(*storage_, hasher_, clock_, "Root", std::string("Adm1n!password"));
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->admin_created);
  EXPECT_FALSE(out->generated_password);
  EXPECT_EQ(storage_->list_scopes()->size(), kDefaultScopes.size());
  EXPECT_EQ(storage_->list_roles()->size(), kDefaultRoles.size());
  auto admin = storage_->get_user_by_username("root");
  ASSERT_TRUE(admin);
  EXPECT_TRUE(hasher_.verify(admin->password_hash, "Adm1n!password"));
  auto scopes = storage_->user_scope_names(admin->id);
  ASSERT_TRUE(scopes);
  EXPECT_EQ(scopes->size(), kDefaultScopes.size());
  auto trade = storage_->get_scope_by_name("trade:read");
  EXPECT_EQ(trade->resource, "trade");
  EXPECT_EQ(trade->action, "read");
}

TEST_F(DomainStorageTest, BootstrapWithoutPasswordGeneratesAPolicyCompliantOne) {
  auto out = bootstrap(*storage_, hasher_, clock_, "admin", std::nullopt);
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->generated_password);
  EXPECT_FALSE(check_password(*out->generated_password));
  auto admin = storage_->get_user_by_username("admin");
  EXPECT_TRUE(hasher_.verify(admin->password_hash, *out->generated_password));
}

TEST_F(DomainStorageTest, BootstrapIsIdempotentAndNeverReplacesUsers) {
  ASSERT_TRUE(bootstrap(*storage_, hasher_, clock_, "admin", std::string("Adm1n!password")));
  auto again = bootstrap(*storage_, hasher_, clock_, "admin", std::string("Other!passw0rd"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->admin_created);
  EXPECT_EQ(*storage_->count_users(), 1);
  EXPECT_EQ(storage_->list_scopes()->size(), kDefaultScopes.size());
  auto admin = storage_->get_user_by_username("admin");
  EXPECT_TRUE(hasher_.verify(admin->password_hash, "Adm1n!password"));
}

TEST_F(DomainStorageTest, GeneratedPasswordsDiffer) {
  EXPECT_NE(generate_password(), generate_password());
}

TEST_F(DomainStorageTest, AuditEventsAreWrittenInOrderAfterFlush) {
  AuditLog audit(*storage_, clock_);
  for (int i = 0; i < 1200; ++i) {
    storage::AuditEvent e;
    e.actor = "alice";
    e.actor_type = "user";
    e.action = i % 2 == 0 ? "auth.login" : "token.issue";
    e.outcome = "success";
    e.ip = "127.0.0.1";
    e.target = std::to_string(i);
    audit.record(std::move(e));
  }
  ASSERT_TRUE(audit.flush());
  EXPECT_EQ(audit.written(), 1200U);
  EXPECT_EQ(audit.dropped(), 0U);
  storage::AuditQuery q;
  q.action = "auth.login";
  q.per_page = 5;
  auto page = storage_->query_audit(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 600);
  ASSERT_FALSE(page->items.empty());
  EXPECT_EQ(page->items.front().target, "1198");  // newest first
  EXPECT_EQ(page->items.front().ts, clock_.now_seconds());
}

TEST_F(DomainStorageTest, ClientCacheSeesChangesAfterRefreshAndDeletion) {
  ClientCache cache;
  storage::ServiceClient c;
  c.client_id = "svc-1";
  c.name = "one";
  c.secret_hash = "hmac-sha256$00";
  c.allowed_ips = R"(["127.0.0.1","10.0.0.1"])";
  ASSERT_TRUE(storage_->create_client(c, {}));
  ASSERT_TRUE(bootstrap(*storage_, hasher_, clock_, "admin", std::string("Adm1n!password")));
  auto scope = storage_->get_scope_by_name("trade:read");
  ASSERT_TRUE(storage_->set_client_scopes("svc-1", {scope->id}));

  ASSERT_TRUE(cache.reload(*storage_));
  auto found = cache.find("svc-1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->scopes(), std::vector<std::string>{"trade:read"});
  EXPECT_EQ(found->allowed_ips(), (std::vector<std::string>{"127.0.0.1", "10.0.0.1"}));
  EXPECT_FALSE(cache.find("svc-2"));

  c.is_active = false;
  ASSERT_TRUE(storage_->update_client(c, std::nullopt));
  EXPECT_TRUE(cache.find("svc-1")->client.is_active);  // stale until refreshed
  ASSERT_TRUE(cache.refresh(*storage_, "svc-1"));
  EXPECT_FALSE(cache.find("svc-1")->client.is_active);
  EXPECT_TRUE(found->client.is_active);  // an old snapshot stays valid for its holder

  ASSERT_TRUE(storage_->delete_client("svc-1"));
  ASSERT_TRUE(cache.refresh(*storage_, "svc-1"));
  EXPECT_FALSE(cache.find("svc-1"));
  EXPECT_EQ(cache.size(), 0U);
}

TEST_F(DomainStorageTest, ClientCacheCountsEachLookupAsAHitOrAMiss) {
  ClientCache cache;
  storage::ServiceClient c;
  c.client_id = "svc-1";
  c.name = "one";
  c.secret_hash = "hmac-sha256$00";
  ASSERT_TRUE(storage_->create_client(c, {}));
  ASSERT_TRUE(cache.reload(*storage_));
  EXPECT_TRUE(cache.find("svc-1"));
  EXPECT_TRUE(cache.find("svc-1"));
  EXPECT_FALSE(cache.find("svc-2"));
  EXPECT_EQ(cache.hits(), 2U);
  EXPECT_EQ(cache.misses(), 1U);
  EXPECT_TRUE(cache.contains("svc-1"));  // a check, not a lookup: not counted
  EXPECT_FALSE(cache.contains("svc-2"));
  EXPECT_EQ(cache.hits(), 2U);
  EXPECT_EQ(cache.misses(), 1U);
}

TEST_F(DomainStorageTest, EveryStoredEventReachesTheListenerOnceInOrder) {
  std::mutex mutex;
  std::vector<std::string> exported;
  {
    AuditLog audit(*storage_, clock_, AuditLog::kDefaultCapacity, [&](const std::vector<storage::AuditEvent>& batch) {
      std::lock_guard lock(mutex);
      for (const auto& e : batch) exported.push_back(e.target);
    });
    for (int i = 0; i < 700; ++i) {
      storage::AuditEvent e;
      e.action = "token.issue";
      e.target = std::to_string(i);
      audit.record(std::move(e));
    }
    ASSERT_TRUE(audit.flush());
  }
  ASSERT_EQ(exported.size(), 700U);
  for (std::size_t i = 0; i < exported.size(); ++i) ASSERT_EQ(exported[i], std::to_string(i));
}

TEST_F(DomainStorageTest, AuditRetentionPurgesOnlyWhatIsOlderInBoundedPasses) {
  constexpr std::int64_t kDay = 86'400;
  std::vector<storage::AuditEvent> events;
  for (int i = 0; i < 30; ++i) {
    storage::AuditEvent e;
    e.action = "token.issue";
    e.ts = clock_.now_seconds() - (i < 25 ? 91 : 89) * kDay;  // 25 past a 90-day retention
    events.push_back(e);
  }
  ASSERT_TRUE(storage_->append_audit(events));
  EXPECT_EQ(purge_old_audit(*storage_, clock_.now_seconds(), 0)->purged, 0) << "0 days: kept forever";

  auto first = purge_old_audit(*storage_, clock_.now_seconds(), 90, 10, 2);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->purged, 20);
  EXPECT_TRUE(first->more) << "the batch budget ran out with events still due";
  auto second = purge_old_audit(*storage_, clock_.now_seconds(), 90, 10, 2);
  EXPECT_EQ(second->purged, 5);
  EXPECT_FALSE(second->more);
  EXPECT_EQ(storage_->query_audit({})->total, 5);
}

/// Reads clients from real storage, except that one chosen thread, once it has read, waits at
/// a gate: a reader slowed between its read and its store, as a busy machine slows it.
class GatedClientReader final : public storage::ClientReader {
 public:
  explicit GatedClientReader(storage::Storage& real) : real_(real) {}

  void gate_this_thread() { gated_ = std::this_thread::get_id(); }
  void wait_until_the_gated_read() { read_.get_future().wait(); }
  void open_gate() { gate_.set_value(); }

  storage::StorageResult<storage::ServiceClient> get_client(std::string_view id) override {
    return real_.get_client(id);
  }
  // A client is read as get_client then client_scopes: the gate comes after the last read.
  storage::StorageResult<std::vector<storage::Scope>> client_scopes(std::string_view id) override {
    return held(real_.client_scopes(id));
  }
  storage::StorageResult<std::vector<storage::ClientWithScopes>> list_all_clients_with_scopes() override {
    return held(real_.list_all_clients_with_scopes());
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
  template <typename T>
  T held(T value) {
    if (std::this_thread::get_id() == gated_) {
      read_.set_value();
      gate_future_.wait();
    }
    return value;
  }

  storage::Storage& real_;
  std::thread::id gated_;
  std::promise<void> read_;
  std::promise<void> gate_;
  std::shared_future<void> gate_future_ = gate_.get_future().share();
};

using CacheReader = std::function<void(ClientCache&, storage::ClientReader&)>;

/// `change` to storage, and the refresh that follows it, landing while `stale_reader` is
/// between its read and its store. Returns the secret hash the cache then shows ("" for none).
std::string after_a_race(storage::Storage& storage, const CacheReader& stale_reader,
                         const std::function<void(storage::Storage&)>& change) {
  ClientCache cache;
  GatedClientReader reads(storage);
  std::thread slow([&] {
    reads.gate_this_thread();
    stale_reader(cache, reads);
  });
  reads.wait_until_the_gated_read();
  change(storage);
  auto refreshed = std::async(std::launch::async, [&] { return cache.refresh(reads, "svc-1"); });
  // A cache that lets a read overtake stores the change now; a correct one may make it wait for
  // the slow reader. The wait only gives the defect room to show: either way the test goes on.
  (void)refreshed.wait_for(std::chrono::milliseconds(200));
  reads.open_gate();
  slow.join();
  EXPECT_TRUE(refreshed.get());
  const auto seen = cache.find("svc-1");
  return seen ? seen->client.secret_hash.text() : "";
}

// The race behind a flaky rotate-secret test: a reload (maintenance), a refresh on a change
// notice or a load on a cache miss that read storage before a rotation committed stored its
// stale view after the rotation's own refresh, so the old secret kept working and the new one
// was refused. A deleted client must not come back either.
TEST_F(DomainStorageTest, ClientCacheNeverStoresAViewOlderThanTheLastRefresh) {
  storage::ServiceClient c;
  c.client_id = "svc-1";
  c.name = "one";
  c.secret_hash = "hmac-sha256$old";
  ASSERT_TRUE(storage_->create_client(c, {}));
  const std::vector<std::pair<std::string, CacheReader>> readers{
      {"reload", [](ClientCache& cache, storage::ClientReader& reads) { (void)cache.reload(reads); }},
      {"refresh", [](ClientCache& cache, storage::ClientReader& reads) { (void)cache.refresh(reads, "svc-1"); }},
      {"load_missing",
       [](ClientCache& cache, storage::ClientReader& reads) { (void)cache.load_missing(reads, "svc-1"); }},
  };
  const auto rotate = [](const std::string& hash) {
    return [hash](storage::Storage& st) {
      EXPECT_TRUE(st.rotate_client_secret("svc-1", hash, std::nullopt, 1'700'000'000));
    };
  };
  for (const auto& [name, reader] : readers) {
    EXPECT_EQ(after_a_race(*storage_, reader, rotate("hmac-sha256$new")), "hmac-sha256$new") << name;
    rotate("hmac-sha256$old")(*storage_);
  }
  for (const auto& [name, reader] : readers) {
    EXPECT_EQ(after_a_race(*storage_, reader, [](storage::Storage& st) { EXPECT_TRUE(st.delete_client("svc-1")); }), "")
        << name;
    ASSERT_TRUE(storage_->create_client(c, {}));
  }
}

TEST_F(DomainStorageTest, AllowedIpsParsingToleratesGarbage) {
  EXPECT_TRUE(ClientCache::json_strings("not json").empty());
  EXPECT_TRUE(ClientCache::json_strings("{}").empty());
  EXPECT_EQ(ClientCache::json_strings(R"(["::1", 5])"), std::vector<std::string>{"::1"});
}

// ---- the client cache and the client change feed ----

storage::ServiceClient a_client(std::string id, std::string secret_hash = "hmac-sha256$one") {
  storage::ServiceClient c;
  c.client_id = std::move(id);
  c.name = "client";
  c.secret_hash = std::move(secret_hash);
  c.created_at = c.updated_at = 1'700'000'000;
  return c;
}

/// Two replicas on one database: this test's cache reads through storage_, and `other` (a
/// second Storage on the same SQLite file) is where another replica's admin changes land.
class ClientFeedTest : public DomainStorageTest {
 protected:
  void SetUp() override {
    DomainStorageTest::SetUp();
    auto opened = storage::open_storage("sqlite://" + (dir_ / "t.db").string());
    ASSERT_TRUE(opened) << storage::to_string(opened.error());
    other_ = std::move(*opened);
    auto scope = storage_->create_scope({0, "trade:read", "", "trade", "read"});
    ASSERT_TRUE(scope);
    scope_ = *scope;
  }
  void TearDown() override {
    other_.reset();
    DomainStorageTest::TearDown();
  }

  [[nodiscard]] std::vector<std::string> cached_scopes(std::string_view id) const {
    const auto entry = cache_.find(id);
    return entry ? entry->scopes() : std::vector<std::string>{"<not cached>"};
  }

  std::unique_ptr<storage::Storage> other_;
  storage::Scope scope_;
  ClientCache cache_;
};

TEST_F(ClientFeedTest, CatchUpAppliesAnotherReplicasChangesWithoutAFullRead) {
  ASSERT_TRUE(storage_->create_client(a_client("svc-kept"), {}));
  ASSERT_TRUE(storage_->create_client(a_client("svc-gone"), {}));
  ASSERT_TRUE(cache_.reload(*storage_));
  ASSERT_EQ(cache_.full_reloads(), 1U);

  ASSERT_TRUE(other_->create_client(a_client("svc-new"), {scope_.id}));
  auto renamed = a_client("svc-kept");
  renamed.name = "renamed";
  renamed.is_active = false;
  ASSERT_TRUE(other_->update_client(renamed, std::nullopt));
  ASSERT_TRUE(other_->set_client_scopes("svc-kept", {scope_.id}));
  ASSERT_TRUE(other_->rotate_client_secret("svc-kept", "hmac-sha256$two", std::nullopt, 1'700'000'100));
  ASSERT_TRUE(other_->delete_client("svc-gone"));
  EXPECT_EQ(cache_.find("svc-kept")->client.name, "client") << "nothing applied before the catch-up";

  ASSERT_TRUE(cache_.catch_up(*storage_));
  ASSERT_NE(cache_.find("svc-new"), nullptr);
  EXPECT_EQ(cached_scopes("svc-new"), std::vector<std::string>{"trade:read"});
  const auto kept = cache_.find("svc-kept");
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->client.name, "renamed");
  EXPECT_FALSE(kept->client.is_active);
  EXPECT_EQ(kept->client.secret_hash, "hmac-sha256$two");
  EXPECT_EQ(cached_scopes("svc-kept"), std::vector<std::string>{"trade:read"});
  EXPECT_EQ(cache_.find("svc-gone"), nullptr);
  EXPECT_EQ(cache_.size(), 2U);
  EXPECT_EQ(cache_.full_reloads(), 1U) << "each change was read on its own";
  EXPECT_EQ(cache_.feed_cursor(), *storage_->max_client_change_seq());

  // Nothing new: a catch-up reads the feed and changes nothing.
  const auto before = cache_.shard_snapshot(ClientCache::shard_of("svc-kept"));
  ASSERT_TRUE(cache_.catch_up(*storage_));
  EXPECT_EQ(cache_.shard_snapshot(ClientCache::shard_of("svc-kept")), before);
}

TEST_F(ClientFeedTest, CatchUpReadsTheFeedPageByPage) {
  ASSERT_TRUE(cache_.reload(*storage_));
  const auto n = static_cast<int>(ClientCache::kFeedPage) + 50;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(other_->create_client(a_client("svc-" + std::to_string(i)), {}));
  ASSERT_TRUE(cache_.catch_up(*storage_));
  EXPECT_EQ(cache_.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(cache_.full_reloads(), 1U);
  EXPECT_EQ(cache_.feed_cursor(), *storage_->max_client_change_seq());
}

TEST_F(ClientFeedTest, AScopeRenameOrDeleteIsAFullReload) {
  ASSERT_TRUE(storage_->create_client(a_client("svc-1"), {scope_.id}));
  ASSERT_TRUE(cache_.reload(*storage_));
  auto renamed = scope_;
  renamed.name = "trade:view";
  ASSERT_TRUE(other_->update_scope(renamed));
  ASSERT_TRUE(cache_.catch_up(*storage_));
  EXPECT_EQ(cache_.full_reloads(), 2U);
  EXPECT_EQ(cached_scopes("svc-1"), std::vector<std::string>{"trade:view"});

  ASSERT_TRUE(other_->delete_scope(scope_.id));
  ASSERT_TRUE(cache_.catch_up(*storage_));
  EXPECT_EQ(cache_.full_reloads(), 3U);
  EXPECT_TRUE(cached_scopes("svc-1").empty());
}

TEST_F(ClientFeedTest, ACursorBehindThePurgedFeedIsAFullReload) {
  ASSERT_TRUE(storage_->create_client(a_client("svc-1"), {}));
  ASSERT_TRUE(cache_.reload(*storage_));
  const auto tomorrow = static_cast<std::int64_t>(std::time(nullptr)) + 86'400;

  // Up to date when the purge comes: the purge took nothing this cache still needed.
  ASSERT_TRUE(other_->purge_client_changes(tomorrow));
  ASSERT_TRUE(cache_.catch_up(*storage_));
  EXPECT_EQ(cache_.full_reloads(), 1U);

  // Behind it: a change was purged before this cache read it.
  ASSERT_TRUE(other_->create_client(a_client("svc-2"), {}));
  ASSERT_TRUE(other_->delete_client("svc-1"));
  ASSERT_EQ(*other_->purge_client_changes(tomorrow), 2);
  ASSERT_TRUE(cache_.catch_up(*storage_));
  EXPECT_EQ(cache_.full_reloads(), 2U);
  EXPECT_NE(cache_.find("svc-2"), nullptr);
  EXPECT_EQ(cache_.find("svc-1"), nullptr);
  ASSERT_TRUE(cache_.catch_up(*storage_));
  EXPECT_EQ(cache_.full_reloads(), 2U) << "the reload's cursor is not behind the horizon";
}

TEST_F(ClientFeedTest, AFirstCatchUpIsAFullRead) {
  // Clients written before the feed existed (or bulk-loaded around it) have no entries.
  ASSERT_TRUE(storage_->create_client(a_client("svc-1"), {}));
  ASSERT_TRUE(storage_->purge_client_changes(static_cast<std::int64_t>(std::time(nullptr)) + 86'400));
  ASSERT_TRUE(cache_.catch_up(*storage_));
  EXPECT_NE(cache_.find("svc-1"), nullptr);
  EXPECT_EQ(cache_.full_reloads(), 1U);
}

TEST_F(ClientFeedTest, AChangeCopiesOnlyItsOwnShard) {
  // Enough clients that every shard holds some.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(storage_->create_client(a_client("svc-" + std::to_string(i)), {}));
  ASSERT_TRUE(cache_.reload(*storage_));
  std::vector<std::shared_ptr<const void>> before;
  for (std::size_t i = 0; i < ClientCache::kShards; ++i) before.push_back(cache_.shard_snapshot(i));
  auto changed = a_client("svc-7");
  changed.name = "changed";
  ASSERT_TRUE(other_->update_client(changed, std::nullopt));
  ASSERT_TRUE(cache_.catch_up(*storage_));
  ASSERT_EQ(cache_.find("svc-7")->client.name, "changed");
  const auto own = ClientCache::shard_of("svc-7");
  for (std::size_t i = 0; i < ClientCache::kShards; ++i) {
    if (i == own) {
      EXPECT_NE(cache_.shard_snapshot(i), before[i]) << "the changed client's shard is a new snapshot";
    } else {
      EXPECT_EQ(cache_.shard_snapshot(i), before[i]) << "shard " << i << " was copied for another's change";
    }
  }
  // Every shard is in use: the hash spreads the ids.
  std::vector<int> per_shard(ClientCache::kShards);
  for (int i = 0; i < 1000; ++i) ++per_shard[ClientCache::shard_of("svc-" + std::to_string(i))];
  EXPECT_GT(*std::ranges::min_element(per_shard), 0);
  EXPECT_EQ(cache_.size(), 1000U);
}

// ---- service clients from the environment (MT5_SERVICE_CLIENT_SECRET, DASHBOARD_CLIENT_SECRET) ----

/// The credentials the configuration would find for these variables, in this order (each
/// <NAME>_CLIENT_SECRET with its <NAME>_CLIENT_SCOPES).
std::vector<ServiceClientCredential> found(const std::vector<std::pair<std::string, std::string>>& vars) {
  std::vector<ServiceClientCredential> out;
  for (const auto& [name, value] : vars) {
    if (!name.ends_with("_CLIENT_SECRET")) continue;
    std::string scopes;
    for (const auto& [other, text] : vars) {
      if (other == name.substr(0, name.size() - 6) + "SCOPES") scopes = text;
    }
    out.push_back({name, value, scopes});
  }
  return out;
}

std::vector<std::string> scope_names(storage::Storage& st, std::string_view client_id) {
  std::vector<std::string> out;
  for (const auto& s : *st.client_scopes(client_id)) out.push_back(s.name);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ServiceClientSeeds, OnlyTheVariablesThatAreSetAndUsable) {
  EXPECT_TRUE(service_client_seeds(found({})).seeds.empty());
  EXPECT_TRUE(service_client_seeds(found({{"MT5_SERVICE_CLIENT_SECRET", ""}})).seeds.empty());
  auto both = service_client_seeds(found({{"MT5_SERVICE_CLIENT_SECRET", "mt5-service-client-secret-key"},
                                          {"DASHBOARD_CLIENT_SECRET", "dashboard-client-secret-key"}}));
  EXPECT_TRUE(both.problems.empty());
  ASSERT_EQ(both.seeds.size(), 2U);
  EXPECT_EQ(both.seeds[0].client_id, "mt5-service");
  EXPECT_EQ(both.seeds[0].secret, "mt5-service-client-secret-key");
  EXPECT_TRUE(both.seeds[0].scopes.empty());
  EXPECT_EQ(both.seeds[1].client_id, "dashboard-service");
  const std::vector<std::string> unusable{"short", std::string(513, 'x'), "has a space in it ok",
                                          "tab\there-0123456789"};
  for (const auto& bad : unusable) {
    auto out = service_client_seeds(found({{"MT5_SERVICE_CLIENT_SECRET", bad}}));
    EXPECT_TRUE(out.seeds.empty()) << bad;
    ASSERT_EQ(out.problems.size(), 1U) << bad;
    EXPECT_TRUE(out.problems[0].starts_with("MT5_SERVICE_CLIENT_SECRET: ")) << out.problems[0];
    EXPECT_EQ(out.problems[0].find(bad), std::string::npos) << "never echo the secret";
  }
}

TEST(ServiceClientSeeds, EveryNameClientSecretIsTheNameServiceClient) {
  EXPECT_EQ(service_client_id("MT5_SERVICE_CLIENT_SECRET"), "mt5-service");
  EXPECT_EQ(service_client_id("RISK_CLIENT_SECRET"), "risk-service");
  EXPECT_EQ(service_client_id("ORDER_ROUTER_CLIENT_SECRET"), "order-router-service");
  // `dashboard` is the web app's public client; the seed's secret is its server side.
  EXPECT_EQ(service_client_id("DASHBOARD_CLIENT_SECRET"), "dashboard-service");
  EXPECT_EQ(service_client_id("CLIENT_SECRET"), "");
  EXPECT_EQ(service_client_id("RISK_PASSWORD"), "");

  auto out = service_client_seeds(found({{"RISK_CLIENT_SECRET", "risk-service-secret-0123"},
                                         {"RISK_CLIENT_SCOPES", "trade:read, account:read market:data"},
                                         {"REPORTS_CLIENT_SECRET", "reports-service-secret-0123"}}));
  ASSERT_TRUE(out.problems.empty());
  ASSERT_EQ(out.seeds.size(), 2U);
  EXPECT_EQ(out.seeds[0].client_id, "risk-service");
  EXPECT_EQ(out.seeds[0].scopes, (std::vector<std::string>{"trade:read", "account:read", "market:data"}));
  EXPECT_EQ(out.seeds[1].client_id, "reports-service");
  EXPECT_TRUE(out.seeds[1].scopes.empty());
}

TEST_F(DomainStorageTest, ServiceClientsAreCreatedOnceAndFollowTheSecret) {
  ASSERT_TRUE(bootstrap(*storage_, hasher_, clock_, "admin", std::string("Adm1n!password")));
  const ClientSecrets secrets("pepper-pepper-pepper-pepper-pepper");
  auto seeds = service_client_seeds(found({{"MT5_SERVICE_CLIENT_SECRET", "first-secret-0123456789"},
                                           {"DASHBOARD_CLIENT_SECRET", "dashboard-secret-0123456789"}}));
  auto first = ensure_service_clients(*storage_, secrets, clock_, seeds.seeds);
  ASSERT_TRUE(first) << storage::to_string(first.error());
  ASSERT_EQ(first->size(), 2U);
  EXPECT_EQ((*first)[0].change, SeedClientChange::Created);
  EXPECT_EQ((*first)[1].change, SeedClientChange::Created);

  auto mt5 = storage_->get_client("mt5-service");
  ASSERT_TRUE(mt5);
  EXPECT_EQ(mt5->client_type, "confidential");
  EXPECT_FALSE(mt5->is_trusted);
  EXPECT_TRUE(mt5->is_active);
  EXPECT_TRUE(secrets.matches("first-secret-0123456789", mt5->secret_hash));
  EXPECT_EQ(mt5->secret_hash.find("first-secret"), std::string::npos) << "stored hashed";
  EXPECT_TRUE(scope_names(*storage_, "mt5-service").empty());
  EXPECT_EQ(scope_names(*storage_, "dashboard-service"),
            (std::vector<std::string>{"account:balance", "account:read", "market:data", "trade:close", "trade:modify",
                                      "trade:open", "trade:read"}));

  // An administrator's changes survive; the same secret changes nothing.
  auto edited = *mt5;
  edited.description = "edited";
  ASSERT_TRUE(storage_->update_client(edited, std::nullopt));
  ASSERT_TRUE(storage_->set_client_scopes("mt5-service", {storage_->get_scope_by_name("market:data")->id}));
  auto again = ensure_service_clients(*storage_, secrets, clock_, seeds.seeds);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[0].change, SeedClientChange::Unchanged);
  EXPECT_EQ((*again)[1].change, SeedClientChange::Unchanged);
  EXPECT_EQ(storage_->get_client("mt5-service")->description, "edited");
  EXPECT_EQ(scope_names(*storage_, "mt5-service"), std::vector<std::string>{"market:data"});

  // A new secret replaces the old one at once.
  auto changed = service_client_seeds(found({{"MT5_SERVICE_CLIENT_SECRET", "second-secret-0123456789"}}));
  auto third = ensure_service_clients(*storage_, secrets, clock_, changed.seeds);
  ASSERT_TRUE(third);
  ASSERT_EQ(third->size(), 1U);
  EXPECT_EQ((*third)[0].change, SeedClientChange::SecretUpdated);
  mt5 = storage_->get_client("mt5-service");
  EXPECT_TRUE(secrets.matches("second-secret-0123456789", mt5->secret_hash));
  EXPECT_FALSE(secrets.matches("first-secret-0123456789", mt5->secret_hash));
  EXPECT_FALSE(mt5->previous_secret_hash) << "no grace period for the old secret";
  // Only these two clients exist.
  EXPECT_EQ(storage_->list_clients(1, 100)->total, 2);
}

}  // namespace
}  // namespace permiso::auth
