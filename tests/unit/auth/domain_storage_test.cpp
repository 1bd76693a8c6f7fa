// Domain components that sit on storage: first-start seeding, the audit writer and the
// client cache, against a real SQLite database in a temp dir.
#include "auth/audit_log.hpp"
#include "auth/bootstrap.hpp"
#include "auth/client_cache.hpp"
#include "auth/seed_data.hpp"
#include "auth/validation.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace permiso::auth {
namespace {

class DomainStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("permiso-auth-test-" + std::to_string(std::random_device{}()));
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

TEST_F(DomainStorageTest, GeneratedPasswordsDiffer) { EXPECT_NE(generate_password(), generate_password()); }

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
  ASSERT_TRUE(storage_->create_client(c));
  ASSERT_TRUE(bootstrap(*storage_, hasher_, clock_, "admin", std::string("Adm1n!password")));
  auto scope = storage_->get_scope_by_name("trade:read");
  ASSERT_TRUE(storage_->set_client_scopes("svc-1", {scope->id}));

  ASSERT_TRUE(cache.reload(*storage_));
  auto found = cache.find("svc-1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->scopes, std::vector<std::string>{"trade:read"});
  EXPECT_EQ(found->allowed_ips, (std::vector<std::string>{"127.0.0.1", "10.0.0.1"}));
  EXPECT_FALSE(cache.find("svc-2"));

  c.is_active = false;
  ASSERT_TRUE(storage_->update_client(c));
  EXPECT_TRUE(cache.find("svc-1")->client.is_active);  // stale until refreshed
  ASSERT_TRUE(cache.refresh(*storage_, "svc-1"));
  EXPECT_FALSE(cache.find("svc-1")->client.is_active);
  EXPECT_TRUE(found->client.is_active);  // an old snapshot stays valid for its holder

  ASSERT_TRUE(storage_->delete_client("svc-1"));
  ASSERT_TRUE(cache.refresh(*storage_, "svc-1"));
  EXPECT_FALSE(cache.find("svc-1"));
  EXPECT_EQ(cache.size(), 0U);
}

TEST_F(DomainStorageTest, AllowedIpsParsingToleratesGarbage) {
  EXPECT_TRUE(ClientCache::parse_allowed_ips("not json").empty());
  EXPECT_TRUE(ClientCache::parse_allowed_ips("{}").empty());
  EXPECT_EQ(ClientCache::parse_allowed_ips(R"(["::1", 5])"), std::vector<std::string>{"::1"});
}

}  // namespace
}  // namespace permiso::auth
