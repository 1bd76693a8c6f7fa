// One behavioural suite for Storage, run against SQLite (temp file) and PostgreSQL (real
// server from tests/support): CRUD, conflicts, paging, lockout and rotation races, feeds.
#include "storage/storage.hpp"
#include "pg_server.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

namespace permiso::storage {
namespace {

using test::PgServerEnvironment;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PgServerEnvironment);

// Designated initializers that skip members trip -Wmissing-field-initializers on GCC 12.
UserQuery user_query(std::int64_t page, std::int64_t per_page, std::string search = {},
                     std::optional<bool> is_active = std::nullopt) {
  UserQuery q;
  q.page = page;
  q.per_page = per_page;
  q.search = std::move(search);
  q.is_active = is_active;
  return q;
}

AuditQuery audit_query(std::optional<std::string> actor, std::optional<std::string> action,
                       std::optional<std::string> outcome, std::optional<std::int64_t> since,
                       std::optional<std::int64_t> until, std::int64_t page = 1, std::int64_t per_page = 50) {
  AuditQuery q;
  q.actor = std::move(actor);
  q.action = std::move(action);
  q.outcome = std::move(outcome);
  q.since = since;
  q.until = until;
  q.page = page;
  q.per_page = per_page;
  return q;
}

constexpr std::int64_t kNow = 1'700'000'000;

User make_user(std::string name, std::string email) {
  User u;
  u.username = std::move(name);
  u.email = std::move(email);
  u.password_hash = "$argon2id$fake";
  u.created_at = kNow;
  u.updated_at = kNow;
  return u;
}

class StorageTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    (void)kEnv;
    if (GetParam() == "sqlite") {
      char tmpl[] = "/tmp/permiso-storage-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
      url_ = "sqlite://" + dir_ + "/test.db";
    } else {
      url_ = PgServerEnvironment::server().create_database();
    }
    store_ = open_or_die(url_);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  static std::unique_ptr<Storage> open_or_die(const std::string& url, const StorageOptions& options = {}) {
    auto s = open_storage(url, options);
    if (!s) throw std::runtime_error("open_storage failed: " + s.error().message);
    return std::move(*s);
  }

  User add_user(const std::string& name) {
    auto u = store_->create_user(make_user(name, name + "@example.com"), {});
    EXPECT_TRUE(u.has_value());
    return *u;
  }

  std::string dir_;
  std::string url_;
  std::unique_ptr<Storage> store_;
};

TEST_P(StorageTest, UsersCrudAndConflictsNameTheField) {
  auto alice = store_->create_user(make_user("Alice", "Alice@Example.com"), {});
  ASSERT_TRUE(alice) << alice.error().message;
  EXPECT_GT(alice->id, 0);
  EXPECT_EQ(alice->username, "alice");
  EXPECT_TRUE(alice->is_active);
  EXPECT_FALSE(alice->first_name.has_value());

  auto dup_name = store_->create_user(make_user("ALICE", "other@example.com"), {});
  ASSERT_FALSE(dup_name);
  EXPECT_EQ(dup_name.error().code, StorageError::Conflict);
  EXPECT_EQ(dup_name.error().field, "username");
  auto dup_email = store_->create_user(make_user("bob", "alice@example.COM"), {});
  ASSERT_FALSE(dup_email);
  EXPECT_EQ(dup_email.error().code, StorageError::Conflict);
  EXPECT_EQ(dup_email.error().field, "email");

  EXPECT_EQ(store_->get_user_by_username("ALiCe")->id, alice->id);
  EXPECT_EQ(store_->get_user_by_email("alice@example.com")->id, alice->id);
  EXPECT_EQ(store_->get_user(alice->id + 100).error().code, StorageError::NotFound);

  User changed = *alice;
  changed.first_name = "Alice";
  changed.bio = "hi";
  changed.is_verified = true;
  changed.updated_at = kNow + 5;
  auto updated = store_->update_user(changed);
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->first_name, "Alice");
  EXPECT_TRUE(updated->is_verified);
  EXPECT_EQ(updated->updated_at, kNow + 5);
  EXPECT_EQ(updated->created_at, kNow);

  EXPECT_EQ(*store_->count_users(), 1);
  ASSERT_TRUE(store_->delete_user(alice->id));
  EXPECT_EQ(store_->delete_user(alice->id).error().code, StorageError::NotFound);
  EXPECT_EQ(*store_->count_users(), 0);
}

TEST_P(StorageTest, ListUsersPaginatesSearchesAndFilters) {
  for (int i = 0; i < 25; ++i) add_user("user" + std::to_string(i));
  User carol = make_user("carol", "c@corp.test");
  carol.display_name = "Carol Danvers";
  carol.is_active = false;
  carol.locked_until = kNow + 60;
  carol.is_superuser = true;
  ASSERT_TRUE(store_->create_user(carol, {}));

  auto page1 = store_->list_users(user_query(1, 10));
  ASSERT_TRUE(page1);
  EXPECT_EQ(page1->total, 26);
  ASSERT_EQ(page1->items.size(), 10U);
  auto page3 = store_->list_users(user_query(3, 10));
  ASSERT_EQ(page3->items.size(), 6U);
  EXPECT_EQ(page3->items.back().username, "carol");

  auto search = store_->list_users(user_query(1, 50, "DANVERS"));
  ASSERT_EQ(search->total, 1);
  EXPECT_EQ(search->items.at(0).username, "carol");
  auto by_name = store_->list_users(user_query(1, 50, "user1"));
  EXPECT_EQ(by_name->total, 11);  // user1, user10..user19
  auto literal = store_->list_users(user_query(1, 50, "%"));
  EXPECT_EQ(literal->total, 0);
  auto inactive = store_->list_users(user_query(1, 50, "", false));
  ASSERT_EQ(inactive->total, 1);
  auto active = store_->list_users(user_query(1, 50, "", true));
  EXPECT_EQ(active->total, 25);

  auto stats = store_->user_stats(kNow);
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->total, 26);
  EXPECT_EQ(stats->active, 25);
  EXPECT_EQ(stats->superusers, 1);
  EXPECT_EQ(stats->locked, 1);
  EXPECT_EQ(store_->user_stats(kNow + 61)->locked, 0);
}

TEST_P(StorageTest, EffectiveScopesAreTheUnionOverRoles) {
  auto u = add_user("dave");
  auto read = store_->create_scope({0, "trade:read", "read", "trade", "read"});
  auto write = store_->create_scope({0, "trade:write", "write", "trade", "write"});
  auto admin = store_->create_scope({0, "admin:users", "", "admin", "users"});
  ASSERT_TRUE(read && write && admin);
  EXPECT_EQ(store_->create_scope({0, "trade:read", "", "", ""}).error().field, "name");

  auto trader = store_->create_role({0, "trader", "trades"});
  auto viewer = store_->create_role({0, "viewer", "reads"});
  ASSERT_TRUE(trader && viewer);
  auto dup = store_->create_role({0, "trader", ""});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, StorageError::Conflict);
  EXPECT_EQ(dup.error().field, "name");

  ASSERT_TRUE(store_->set_role_scopes(trader->id, {read->id, write->id}));
  ASSERT_TRUE(store_->set_role_scopes(viewer->id, {read->id}));
  auto bad = store_->set_role_scopes(viewer->id, {read->id, 9999});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, StorageError::Invalid);
  EXPECT_EQ(bad.error().field, "scope_ids");
  EXPECT_EQ(store_->role_scopes(viewer->id)->size(), 1U);  // the failed call rolled back

  ASSERT_TRUE(store_->set_user_roles(u.id, {trader->id, viewer->id}));
  EXPECT_EQ(*store_->user_scope_names(u.id), (std::vector<std::string>{"trade:read", "trade:write"}));
  EXPECT_EQ(store_->user_roles(u.id)->size(), 2U);
  EXPECT_EQ(store_->set_user_roles(u.id + 50, {trader->id}).error().code, StorageError::NotFound);
  auto bad_role = store_->set_user_roles(u.id, {12345});
  EXPECT_EQ(bad_role.error().field, "role_ids");

  ASSERT_TRUE(store_->delete_role(trader->id));
  EXPECT_EQ(*store_->user_scope_names(u.id), std::vector<std::string>{"trade:read"});
  auto renamed = store_->update_role({viewer->id, "observer", "d"});
  ASSERT_TRUE(renamed);
  EXPECT_EQ(store_->get_role_by_name("observer")->id, viewer->id);
  EXPECT_EQ(store_->list_roles()->size(), 1U);
  EXPECT_EQ(store_->list_scopes()->size(), 3U);
}

TEST_P(StorageTest, AUserIsCreatedWithItsRolesInOneTransaction) {
  auto trader = store_->create_role({0, "trader", "trades"});
  auto made = store_->create_user(make_user("dana", "dana@example.com"), {trader->id});
  ASSERT_TRUE(made) << made.error().message;
  ASSERT_EQ(store_->user_roles(made->id)->size(), 1U);
  EXPECT_EQ(store_->user_roles(made->id)->at(0).name, "trader");
  // An unknown role refuses the whole creation: no user is left behind without its roles.
  auto refused = store_->create_user(make_user("erin", "erin@example.com"), {trader->id, 999'999});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, StorageError::Invalid);
  EXPECT_EQ(refused.error().field, "role_ids");
  EXPECT_EQ(store_->get_user_by_username("erin").error().code, StorageError::NotFound);
}

TEST_P(StorageTest, AClientIsCreatedAndUpdatedWithItsScopesInOneTransaction) {
  auto read = store_->create_scope({0, "market:read", "", "market", "read"});
  auto open = store_->create_scope({0, "trade:open", "", "trade", "open"});
  ServiceClient k;
  k.client_id = "svc-atomic";
  k.name = "atomic";
  k.secret_hash = "h";
  k.created_at = k.updated_at = kNow;
  ASSERT_TRUE(store_->create_client(k, {read->id, open->id, read->id}));  // duplicates collapse
  EXPECT_EQ(store_->client_scopes("svc-atomic")->size(), 2U);
  // An unknown scope refuses the whole creation: no client is left behind without its scopes.
  ServiceClient other = k;
  other.client_id = "svc-unknown-scope";
  auto refused = store_->create_client(other, {read->id, 999'999});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, StorageError::Invalid);
  EXPECT_EQ(refused.error().field, "scope_ids");
  EXPECT_EQ(store_->get_client("svc-unknown-scope").error().code, StorageError::NotFound);
  // An update with an unknown scope changes neither the columns nor the scopes.
  ServiceClient renamed = *store_->get_client("svc-atomic");
  renamed.name = "renamed";
  EXPECT_EQ(store_->update_client(renamed, std::vector<std::int64_t>{999'999}).error().field, "scope_ids");
  EXPECT_EQ(store_->get_client("svc-atomic")->name, "atomic");
  EXPECT_EQ(store_->client_scopes("svc-atomic")->size(), 2U);
  ASSERT_TRUE(store_->update_client(renamed, std::vector<std::int64_t>{open->id}));
  EXPECT_EQ(store_->get_client("svc-atomic")->name, "renamed");
  EXPECT_EQ(store_->client_scopes("svc-atomic")->at(0).name, "trade:open");
  ServiceClient ghost = k;
  ghost.client_id = "svc-ghost";
  EXPECT_EQ(store_->update_client(ghost, std::vector<std::int64_t>{open->id}).error().code, StorageError::NotFound);
}

TEST_P(StorageTest, ServiceClientsCrudScopesAndSecretRotation) {
  auto scope = store_->create_scope({0, "market:read", "", "market", "read"});
  ServiceClient k;
  k.client_id = "svc-a";
  k.name = "A";
  k.secret_hash = "h1";
  k.rate_limit_per_minute = 60;
  k.allowed_ips = R"(["10.0.0.0/8"])";
  k.created_at = kNow;
  k.updated_at = kNow;
  auto made = store_->create_client(k, {});
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(made->rate_limit_per_minute, 60);
  EXPECT_FALSE(made->rate_limit_per_hour.has_value());
  auto dup = store_->create_client(k, {});
  EXPECT_EQ(dup.error().code, StorageError::Conflict);
  EXPECT_EQ(dup.error().field, "client_id");
  ServiceClient bad = k;
  bad.client_id = "svc-bad";
  bad.client_type = "weird";
  EXPECT_EQ(store_->create_client(bad, {}).error().code, StorageError::Invalid);

  ASSERT_TRUE(store_->set_client_scopes("svc-a", {scope->id}));
  EXPECT_EQ(store_->client_scopes("svc-a")->at(0).name, "market:read");
  auto all = store_->list_all_clients_with_scopes();
  ASSERT_EQ(all->size(), 1U);
  EXPECT_EQ(all->at(0).scopes, std::vector<std::string>{"market:read"});

  auto rotated = store_->rotate_client_secret("svc-a", "h2", kNow + 3600, kNow + 1);
  ASSERT_TRUE(rotated);
  EXPECT_EQ(rotated->secret_hash, "h2");
  EXPECT_EQ(rotated->previous_secret_hash, "h1");
  EXPECT_EQ(rotated->previous_secret_expires_at, kNow + 3600);
  auto hard = store_->rotate_client_secret("svc-a", "h3", std::nullopt, kNow + 2);
  EXPECT_FALSE(hard->previous_secret_hash.has_value());
  EXPECT_EQ(store_->rotate_client_secret("nope", "x", std::nullopt, kNow).error().code, StorageError::NotFound);

  ASSERT_TRUE(store_->touch_client("svc-a", kNow + 9));
  EXPECT_EQ(store_->get_client("svc-a")->last_used_at, kNow + 9);
  ServiceClient upd = *store_->get_client("svc-a");
  upd.is_active = false;
  upd.rate_limit_per_minute.reset();
  ASSERT_TRUE(store_->update_client(upd, std::nullopt));
  EXPECT_FALSE(store_->get_client("svc-a")->is_active);
  EXPECT_FALSE(store_->get_client("svc-a")->rate_limit_per_minute.has_value());
  EXPECT_EQ(store_->list_clients(1, 10)->total, 1);
  ASSERT_TRUE(store_->delete_client("svc-a"));
  EXPECT_EQ(store_->get_client("svc-a").error().code, StorageError::NotFound);
}

TEST_P(StorageTest, LockoutIsAtomicUnder16Threads) {
  auto u = add_user("eve");
  constexpr int kThreads = 16;
  constexpr std::int64_t kThreshold = 5;
  std::atomic<int> fresh_locks{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto r = store_->record_failed_login(u.id, kNow, kThreshold, 900);
      if (!r) {
        ++errors;
        return;
      }
      if (!r->was_already_locked && r->locked_until) ++fresh_locks;
      if (r->failed_login_count > kThreshold) ++errors;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(fresh_locks.load(), 1);
  auto after = store_->get_user(u.id);
  EXPECT_EQ(after->failed_login_count, kThreshold);
  EXPECT_EQ(after->locked_until, kNow + 900);

  // An expired lock restarts the count; a successful login clears it and sets last_login.
  auto later = store_->record_failed_login(u.id, kNow + 901, kThreshold, 900);
  EXPECT_EQ(later->failed_login_count, 1);
  EXPECT_FALSE(later->locked_until.has_value());
  ASSERT_TRUE(store_->record_successful_login(u.id, kNow + 902));
  after = store_->get_user(u.id);
  EXPECT_EQ(after->failed_login_count, 0);
  EXPECT_EQ(after->last_login, kNow + 902);
}

RefreshToken make_token(std::string id, std::int64_t user_id, std::string family, std::string session) {
  RefreshToken t;
  t.token_hash = "hash-" + id;
  t.id = std::move(id);
  t.family_id = std::move(family);
  t.session_id = std::move(session);
  t.user_id = user_id;
  t.scope = "trade:read";
  t.issued_at = kNow;
  t.expires_at = kNow + 3600;
  return t;
}

TEST_P(StorageTest, ConcurrentRefreshRotationHasOneWinner) {
  auto u = add_user("frank");
  ASSERT_TRUE(store_->insert_refresh_token(make_token("t0", u.id, "fam", "s1")));
  EXPECT_EQ(store_->insert_refresh_token(make_token("t0", u.id, "fam", "s1")).error().code, StorageError::Conflict);
  constexpr int kThreads = 8;
  std::atomic<int> won{0};
  std::atomic<int> reuse{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto next = make_token("t1-" + std::to_string(i), u.id, "ignored", "");
      auto r = store_->rotate_refresh_token("hash-t0", next, kNow + 1);
      if (!r) return;
      if (r->outcome == RotateOutcome::Rotated) ++won;
      if (r->outcome == RotateOutcome::AlreadyRotated) ++reuse;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(reuse.load(), kThreads - 1);
  auto old = store_->get_refresh_token_by_hash("hash-t0");
  ASSERT_TRUE(old && old->replaced_by);
  auto fresh = store_->get_refresh_token_by_hash("hash-" + *old->replaced_by);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->family_id, "fam");
  EXPECT_EQ(fresh->session_id, "s1");

  auto missing = store_->rotate_refresh_token("nope", make_token("x", u.id, "f", "s"), kNow);
  EXPECT_EQ(missing->outcome, RotateOutcome::NotFound);
  ASSERT_TRUE(store_->insert_refresh_token(make_token("old", u.id, "f2", "s2")));
  auto expired = store_->rotate_refresh_token("hash-old", make_token("y", u.id, "f2", "s2"), kNow + 7200);
  EXPECT_EQ(expired->outcome, RotateOutcome::Expired);
}

TEST_P(StorageTest, FamilySessionAndUserRevocation) {
  auto u = add_user("gina");
  Session s{"sess-1", u.id, "", kNow, kNow, kNow + 3600, "1.2.3.4", "ua", std::nullopt};
  ASSERT_TRUE(store_->create_session(s));
  s.id = "sess-2";
  s.created_at = kNow + 1;
  ASSERT_TRUE(store_->create_session(s));
  EXPECT_EQ(store_->create_session(s).error().code, StorageError::Conflict);
  ASSERT_TRUE(store_->touch_session("sess-1", kNow + 30));
  EXPECT_EQ(store_->get_session("sess-1")->last_seen_at, kNow + 30);
  auto live = store_->list_live_sessions(u.id, kNow + 10);
  ASSERT_EQ(live->size(), 2U);
  EXPECT_EQ(live->at(0).id, "sess-2");  // newest first

  ASSERT_TRUE(store_->insert_refresh_token(make_token("a", u.id, "famA", "sess-1")));
  ASSERT_TRUE(store_->insert_refresh_token(make_token("b", u.id, "famA", "sess-1")));
  ASSERT_TRUE(store_->insert_refresh_token(make_token("c", u.id, "famC", "sess-2")));
  auto fam = store_->revoke_refresh_family("famA", kNow + 5);
  EXPECT_EQ(*fam, std::vector<std::string>{"sess-1"});
  EXPECT_EQ(store_->get_refresh_token_by_hash("hash-a")->revoked_at, kNow + 5);
  EXPECT_FALSE(store_->get_refresh_token_by_hash("hash-c")->revoked_at.has_value());
  auto revoked = store_->rotate_refresh_token("hash-b", make_token("z", u.id, "", ""), kNow + 6);
  EXPECT_EQ(revoked->outcome, RotateOutcome::Revoked);
  EXPECT_EQ(*store_->revoke_session_refresh_tokens("sess-2", kNow + 7), 1);
  EXPECT_EQ(*store_->revoke_user_refresh_tokens(u.id, kNow + 8), 0);

  ASSERT_TRUE(store_->revoke_session("sess-1", kNow + 9));
  EXPECT_EQ(store_->revoke_session("sess-1", kNow + 9).error().code, StorageError::NotFound);
  EXPECT_EQ(*store_->revoke_user_sessions(u.id, kNow + 10), std::vector<std::string>{"sess-2"});
  EXPECT_TRUE(store_->list_live_sessions(u.id, kNow + 10)->empty());
}

TEST_P(StorageTest, RevocationFeedIsOrderedAndIdempotent) {
  EXPECT_EQ(*store_->max_revocation_seq(), 0);
  auto a = store_->add_revocation("jti:a", kNow + 10, kNow, "logout");
  auto b = store_->add_revocation("jti:b", kNow + 100, kNow, "logout");
  auto a2 = store_->add_revocation("jti:a", kNow + 10, kNow + 1, "again");
  ASSERT_TRUE(a && b && a2);
  EXPECT_LT(*a, *b);
  EXPECT_EQ(*a2, *a);
  auto c = store_->add_revocation("sid:s", kNow + 100, kNow, "admin");
  EXPECT_EQ(*store_->max_revocation_seq(), *c);
  auto since = store_->revocations_since(*a, 10);
  ASSERT_EQ(since->size(), 2U);
  EXPECT_EQ(since->at(0).key, "jti:b");
  EXPECT_EQ(since->at(1).key, "sid:s");
  EXPECT_EQ(store_->revocations_since(0, 1)->size(), 1U);
  EXPECT_EQ(*store_->purge_expired_revocations(kNow + 10), 1);
  EXPECT_EQ(store_->revocations_since(0, 10)->size(), 2U);
  EXPECT_GT(*store_->add_revocation("jti:d", kNow + 100, kNow, ""), *c);  // never reused

  // Concurrent writers all get distinct sequence numbers.
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { (void)store_->add_revocation("jti:c" + std::to_string(i), kNow + 100, kNow, ""); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(store_->revocations_since(0, 100)->size(), 11U);
}

/// The client ids of the feed's entries after `after_seq` ("" for an every-client entry).
std::vector<std::string> changed_ids(Storage& store, std::int64_t after_seq) {
  std::vector<std::string> out;
  for (const auto& change : *store.client_changes_since(after_seq, 1000)) out.push_back(change.client_id);
  return out;
}

TEST_P(StorageTest, EveryClientWriteAppendsToTheChangeFeedInItsTransaction) {
  using Ids = std::vector<std::string>;
  EXPECT_EQ(*store_->max_client_change_seq(), 0);
  EXPECT_EQ(*store_->client_changes_purged_through(), 0);
  auto scope = store_->create_scope({0, "market:read", "", "market", "read"});
  ServiceClient k;
  k.client_id = "svc-feed";
  k.name = "feed";
  k.secret_hash = "h";
  k.created_at = k.updated_at = kNow;
  ASSERT_TRUE(store_->create_client(k, {scope->id}));
  EXPECT_EQ(changed_ids(*store_, 0), Ids{"svc-feed"});
  const auto after_create = *store_->max_client_change_seq();
  EXPECT_GT(after_create, 0);

  k.name = "renamed";
  ASSERT_TRUE(store_->update_client(k, std::nullopt));
  ASSERT_TRUE(store_->set_client_scopes("svc-feed", {}));
  ASSERT_TRUE(store_->rotate_client_secret("svc-feed", "h2", std::nullopt, kNow));
  ASSERT_TRUE(store_->touch_client("svc-feed", kNow));  // last_used_at: not a change a cache reads
  EXPECT_EQ(changed_ids(*store_, after_create), (Ids{"svc-feed", "svc-feed", "svc-feed"}));

  // A refused write leaves no entry: the change and its entry commit together or not at all.
  const auto before_refusals = *store_->max_client_change_seq();
  EXPECT_FALSE(store_->create_client(k, {}));                                  // conflict
  EXPECT_FALSE(store_->update_client(k, std::vector<std::int64_t>{999'999}));  // unknown scope
  EXPECT_FALSE(store_->delete_client("svc-nobody"));
  EXPECT_FALSE(store_->set_client_scopes("svc-nobody", {}));
  EXPECT_TRUE(changed_ids(*store_, before_refusals).empty());

  // A scope's rename is one entry for every client, its description none; so is its delete.
  ASSERT_TRUE(store_->set_client_scopes("svc-feed", {scope->id}));
  const auto before_scopes = *store_->max_client_change_seq();
  Scope described = *scope;
  described.description = "prices";
  ASSERT_TRUE(store_->update_scope(described));
  EXPECT_TRUE(changed_ids(*store_, before_scopes).empty());
  Scope renamed = described;
  renamed.name = "market:quotes";
  ASSERT_TRUE(store_->update_scope(renamed));
  ASSERT_TRUE(store_->delete_scope(scope->id));
  const auto every = store_->client_changes_since(before_scopes, 10);
  ASSERT_EQ(every->size(), 2U);
  EXPECT_TRUE(every->at(0).every_client());
  EXPECT_TRUE(every->at(1).every_client());

  ASSERT_TRUE(store_->delete_client("svc-feed"));
  const auto all = store_->client_changes_since(0, 100);
  EXPECT_EQ(all->back().client_id, "svc-feed");
  for (std::size_t i = 1; i < all->size(); ++i) EXPECT_LT(all->at(i - 1).seq, all->at(i).seq);
  EXPECT_EQ(*store_->max_client_change_seq(), all->back().seq);
  EXPECT_EQ(store_->client_changes_since(0, 2)->size(), 2U);
}

// A full read in pages (the client cache's start-up, issue #14): the pages, joined, are the
// one-piece read, whatever the page size, with each client's scopes on the page that has it.
TEST_P(StorageTest, ClientPagesJoinedAreTheWholeReadInClientIdOrder) {
  auto a = store_->create_scope({0, "a:read", "", "a", "read"});
  auto b = store_->create_scope({0, "b:write", "", "b", "write"});
  ASSERT_TRUE(a && b);
  const std::vector<std::string> ids{"svc-b", "svc-a", "A", "a.0", "a-0", "a0", "svc-c1", "svc-c", "z", "svc-b0"};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ServiceClient k;
    k.client_id = ids[i];
    k.name = "n" + std::to_string(i);
    k.created_at = k.updated_at = kNow;
    std::vector<std::int64_t> scopes;
    if (i % 3 >= 1) scopes.push_back(b->id);
    if (i % 3 == 2) scopes.push_back(a->id);
    ASSERT_TRUE(store_->create_client(k, scopes));
  }
  auto whole = store_->list_all_clients_with_scopes();
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->size(), ids.size());
  for (const std::int64_t limit : {1, 3, 4, 10, 11}) {
    std::vector<ClientWithScopes> joined;
    std::optional<std::string> after;
    int pages = 0;
    for (;; ++pages) {
      auto page = store_->list_clients_with_scopes_after(after, limit);
      ASSERT_TRUE(page);
      ASSERT_LE(page->size(), static_cast<std::size_t>(limit));
      for (auto& c : *page) joined.push_back(std::move(c));
      if (static_cast<std::int64_t>(page->size()) < limit) break;
      after = joined.back().client.client_id;
    }
    EXPECT_EQ(pages, static_cast<int>(ids.size()) / limit) << limit;
    ASSERT_EQ(joined.size(), whole->size()) << limit;
    for (std::size_t i = 0; i < joined.size(); ++i) {
      EXPECT_EQ(joined[i].client.client_id, (*whole)[i].client.client_id) << limit;
      EXPECT_EQ(joined[i].client.name, (*whole)[i].client.name) << limit;
      EXPECT_EQ(joined[i].scopes, (*whole)[i].scopes) << joined[i].client.client_id << " at " << limit;
    }
  }
  EXPECT_TRUE(store_->list_clients_with_scopes_after("zz", 5)->empty());
  EXPECT_TRUE(store_->list_clients_with_scopes_after(std::nullopt, 0)->empty());
}

TEST_P(StorageTest, ClientChangePurgeRecordsItsHorizonAndSeqsAreNeverReused) {
  ServiceClient k;
  k.name = "feed";
  k.created_at = k.updated_at = kNow;
  for (const auto* id : {"svc-1", "svc-2"}) {
    k.client_id = id;
    ASSERT_TRUE(store_->create_client(k, {}));
  }
  const auto newest = *store_->max_client_change_seq();
  // changed_at is the database's clock: a day ago keeps today's entries, tomorrow takes them.
  const auto today = static_cast<std::int64_t>(std::time(nullptr));
  EXPECT_EQ(*store_->purge_client_changes(today - 86'400), 0);
  EXPECT_EQ(*store_->client_changes_purged_through(), 0);
  EXPECT_EQ(*store_->purge_client_changes(today + 86'400), 2);
  EXPECT_EQ(*store_->client_changes_purged_through(), newest);
  EXPECT_TRUE(store_->client_changes_since(0, 10)->empty());
  // The feed is empty, yet the newest seq is still the purged one: a cursor set from it is not
  // behind the horizon.
  EXPECT_EQ(*store_->max_client_change_seq(), newest);
  EXPECT_EQ(*store_->purge_client_changes(today + 86'400), 0);
  EXPECT_EQ(*store_->client_changes_purged_through(), newest) << "a purge of nothing keeps the horizon";
  k.client_id = "svc-3";
  ASSERT_TRUE(store_->create_client(k, {}));
  EXPECT_GT(*store_->max_client_change_seq(), newest);

  // Concurrent writers all get distinct seqs, each with its own entry.
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      ServiceClient mine = k;
      mine.client_id = "svc-c" + std::to_string(i);
      EXPECT_TRUE(store_->create_client(mine, {}));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(store_->client_changes_since(newest, 100)->size(), 9U);
}

TEST_P(StorageTest, AuditQueryFiltersAndPages) {
  std::vector<AuditEvent> batch;
  // 70 events: two multi-row statements of 32 and six single rows, in one order.
  for (int i = 0; i < 70; ++i) {
    AuditEvent e;
    e.ts = kNow + i;
    e.actor = i % 2 == 0 ? "alice" : "svc";
    e.actor_type = i % 2 == 0 ? "user" : "client";
    e.action = i % 3 == 0 ? "auth.login" : "auth.token";
    e.outcome = i % 5 == 0 ? "failure" : "success";
    e.details = R"({"i":)" + std::to_string(i) + "}";
    e.request_id = "rid-" + std::to_string(i);
    e.trace_id = std::string(30, 'a') + std::to_string(10 + i);
    batch.push_back(e);
  }
  ASSERT_TRUE(store_->append_audit(batch));
  auto all = store_->query_audit(audit_query({}, {}, {}, {}, {}, 1, 10));
  EXPECT_EQ(all->items.front().request_id, "rid-69");
  EXPECT_EQ(all->items.front().trace_id, std::string(30, 'a') + "79");
  ASSERT_EQ(all->total, 70);
  ASSERT_EQ(all->items.size(), 10U);
  EXPECT_EQ(all->items.front().ts, kNow + 69);  // newest first
  EXPECT_GT(all->items[0].id, all->items[1].id);
  for (int page = 1; page <= 7; ++page) {  // ids follow the batch's order across statements
    auto items = store_->query_audit(audit_query({}, {}, {}, {}, {}, page, 10))->items;
    ASSERT_EQ(items.size(), 10U);
    for (std::size_t k = 0; k < items.size(); ++k) {
      const int i = 69 - (page - 1) * 10 - static_cast<int>(k);
      EXPECT_EQ(items[k].ts, kNow + i);
      EXPECT_EQ(items[k].details, R"({"i":)" + std::to_string(i) + "}");
      EXPECT_EQ(items[k].actor, i % 2 == 0 ? "alice" : "svc");
    }
  }
  EXPECT_EQ(store_->query_audit(audit_query("alice", {}, {}, {}, {}))->total, 35);
  EXPECT_EQ(store_->query_audit(audit_query({}, "auth.login", {}, {}, {}))->total, 24);
  EXPECT_EQ(store_->query_audit(audit_query({}, {}, "failure", {}, {}))->total, 14);
  auto window = store_->query_audit(audit_query({}, {}, {}, kNow + 10, kNow + 20));
  EXPECT_EQ(window->total, 10);
  auto combo = store_->query_audit(audit_query("alice", "auth.login", {}, {}, {}, 2, 2));
  EXPECT_EQ(combo->total, 12);  // i = 0, 6, …, 66
  ASSERT_EQ(combo->items.size(), 2U);
  EXPECT_EQ(combo->items[0].ts, kNow + 54);
  EXPECT_EQ(combo->items[0].details, R"({"i":54})");
}

TEST_P(StorageTest, AuditPurgeTakesTheOldestFirstAndAtMostTheLimit) {
  std::vector<AuditEvent> batch;
  for (int i = 0; i < 25; ++i) {
    AuditEvent e;
    e.ts = kNow + (i % 5) * 100;  // five ages, interleaved in id order
    e.action = "token.issue";
    batch.push_back(e);
  }
  ASSERT_TRUE(store_->append_audit(batch));
  EXPECT_EQ(*store_->purge_audit_before(kNow + 250, 4), 4);  // 15 are older; 4 go
  auto left = store_->query_audit(audit_query({}, {}, {}, {}, kNow + 250));
  EXPECT_EQ(left->total, 11);
  EXPECT_EQ(store_->query_audit(audit_query({}, {}, {}, {}, kNow + 1))->total, 1) << "the oldest went first";
  EXPECT_EQ(*store_->purge_audit_before(kNow + 250, 100), 11);
  EXPECT_EQ(*store_->purge_audit_before(kNow + 250, 100), 0);
  EXPECT_EQ(store_->query_audit(audit_query({}, {}, {}, {}, {}))->total, 10) << "the newer events stay";
}

TEST_P(StorageTest, MigrationsAreIdempotentAndDataSurvivesReopen) {
  auto u = add_user("henry");
  ASSERT_TRUE(store_->migrate());
  ASSERT_TRUE(store_->migrate());
  EXPECT_EQ(store_->put_setting_if_absent("jwt_key", "first").value(), "first");
  EXPECT_EQ(store_->put_setting_if_absent("jwt_key", "second").value(), "first");
  ASSERT_TRUE(store_->put_setting("k", "v1"));
  ASSERT_TRUE(store_->put_setting("k", "v2"));
  store_.reset();
  store_ = open_or_die(url_);
  EXPECT_EQ(store_->get_user(u.id)->username, "henry");
  EXPECT_EQ(*store_->get_setting("k"), "v2");
  EXPECT_EQ(store_->get_setting("missing").error().code, StorageError::NotFound);
  EXPECT_TRUE(store_->ping());
  EXPECT_EQ(store_->backend(), GetParam());
}

TEST_P(StorageTest, UnavailableIsFastWhileDatabaseIsDownThenRecovers) {
  if (GetParam() != "postgresql") GTEST_SKIP() << "outage is a PostgreSQL scenario";
  auto& server = PgServerEnvironment::server();
  if (server.external()) GTEST_SKIP() << "cannot stop an external server";
  auto u = add_user("ivan");
  server.stop();
  const auto start = std::chrono::steady_clock::now();
  auto ping = store_->ping();
  auto get = store_->get_user(u.id);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(ping);
  EXPECT_EQ(ping.error().code, StorageError::Unavailable);
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code, StorageError::Unavailable);
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  auto reopen = open_storage(url_);
  ASSERT_FALSE(reopen);
  EXPECT_EQ(reopen.error().code, StorageError::Unavailable);

  server.restart();
  auto back = store_->get_user(u.id);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->username, "ivan");
  EXPECT_TRUE(store_->ping());
}

TEST_P(StorageTest, EveryPooledConnectionRecoversAfterARestart) {
  if (GetParam() != "postgresql") GTEST_SKIP() << "restart is a PostgreSQL scenario";
  auto& server = PgServerEnvironment::server();
  if (server.external()) GTEST_SKIP() << "cannot restart an external server";
  // Fill the pool (4 connections) with connections that the restart will kill.
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 20; ++i) EXPECT_TRUE(store_->list_roles());
      });
    }
    for (auto& t : threads) t.join();
  }
  server.stop();
  server.restart();
  // No call may fail once the server is back, however many stale connections were idle.
  for (int i = 0; i < 8; ++i) {
    auto r = store_->ping();
    EXPECT_TRUE(r) << "call " << i << ": " << r.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& param_info) { return param_info.param; });

TEST(OpenStorage, RejectsUnknownSchemes) {
  auto r = open_storage("mysql://x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, StorageError::Invalid);
  EXPECT_EQ(r.error().field, "database_url");
}

TEST(OpenStorage, SqliteCreatesMissingDirectoriesAndReopens) {
  char tmpl[] = "/tmp/permiso-storage-dir-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string url = std::string("sqlite://") + tmpl + "/var/data/permiso.db";
  {
    auto s = open_storage(url);
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_TRUE((*s)->put_setting("k", "v"));
  }
  auto again = open_storage(url);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*(*again)->get_setting("k"), "v");
  again->reset();
  std::filesystem::remove_all(tmpl);
}

TEST(OpenStorage, UnreachablePostgresIsUnavailableWithinTheConnectTimeout) {
  // Nothing listens on the port of a PostgreSQL server that was never started.
  const auto start = std::chrono::steady_clock::now();
  StorageOptions options;
  options.connect_timeout_seconds = 2;
  auto r = open_storage("postgresql://postgres@127.0.0.1:1/permiso", options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, StorageError::Unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

}  // namespace
}  // namespace permiso::storage
