// Upgrades keep data: for every earlier schema version k of permiso-auth, a database built by
// the first k migrations alone and filled with plain SQL (the rows a release at k wrote) is
// opened the normal way (open_storage applies the rest) and every row is read back, correct,
// through the current Storage interface. SQLite (temp file) and PostgreSQL (tests/support).
#include "pg_server.hpp"
#include "storage/migrations.hpp"
#include "storage/sql.hpp"
#include "storage/storage.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace permiso::storage {
namespace {

using test::PgServerEnvironment;

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PgServerEnvironment);

constexpr std::int64_t kT0 = 1'760'000'000;
constexpr std::int64_t kFar = kT0 + 30 * 24 * 3600;
// seed() knows the tables and columns of every version up to this one. A new migration makes
// FixturesKnowEveryMigration fail until seed() writes what it adds (and check() reads it).
constexpr std::int64_t kFixtureVersion = 4;

std::vector<Migration> first(const std::vector<Migration>& all, std::int64_t k) {
  std::vector<Migration> prefix;
  std::copy_if(all.begin(), all.end(), std::back_inserter(prefix), [k](const Migration& m) { return m.version <= k; });
  return prefix;
}

std::int64_t latest(const std::vector<Migration>& all) {
  std::int64_t v = 0;
  for (const auto& m : all) v = std::max<std::int64_t>(v, m.version);
  return v;
}

/// Runs the statements in order in one transaction, stopping at the first failure.
StorageStatus run(SqlConn& c, const std::vector<std::pair<std::string, Params>>& statements) {
  for (const auto& [sql, params] : statements) {
    if (auto r = c.exec(sql, params); !r) return r.error();
  }
  return {};
}

/// What a release at schema `version` wrote, in plain SQL of that schema: roles and scopes,
/// an admin and a trader with roles, a confidential client with scopes and a previous
/// secret, a session with a live and a rotated refresh token, a revocation, audit events, a
/// setting; from version 2 a public client's redirect URIs and a pending authorization code;
/// from version 3 an audit event's trace id; from version 4 the client change feed's entries
/// (one client, and a scope change for every client) and a purge horizon. Booleans as TRUE/FALSE: both dialects read
/// them.
StorageStatus seed(Db& db, std::int64_t version) {
  return db.write([&](SqlConn& c) -> StorageStatus {
    if (auto st = run(c,
                      {
                          {"INSERT INTO roles (name, description) VALUES ('admin', 'Administrators'), "
                           "('trader', 'Traders')",
                           {}},
                          {"INSERT INTO scopes (name, description, resource, action) VALUES "
                           "('trade:read', 'Read trades', 'trade', 'read'), "
                           "('trade:open', 'Open trades', 'trade', 'open'), "
                           "('admin:users', 'Manage users', 'admin', 'users')",
                           {}},
                          {"INSERT INTO role_scopes (role_id, scope_id) SELECT r.id, s.id FROM roles r, scopes s "
                           "WHERE (r.name = 'admin') OR (r.name = 'trader' AND s.resource = 'trade')",
                           {}},
                          {"INSERT INTO users (username, email, password_hash, first_name, display_name, is_active, "
                           "is_verified, is_superuser, failed_login_count, last_login, created_at, updated_at) VALUES "
                           "('admin', 'Admin@Example.com', '$argon2id$v=19$admin', 'Ada', 'The Admin', TRUE, TRUE, "
                           "TRUE, 0, $1, $2, $2)",
                           {kT0 + 5, kT0}},
                          {"INSERT INTO users (username, email, password_hash, is_active, is_verified, is_superuser, "
                           "failed_login_count, locked_until, created_at, updated_at) VALUES "
                           "('trader1', 'trader1@example.com', '$argon2id$v=19$trader', TRUE, FALSE, FALSE, 2, $1, "
                           "$2, $3)",
                           {kT0 + 900, kT0 + 1, kT0 + 2}},
                          {"INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, roles r WHERE "
                           "(u.username = 'admin' AND r.name = 'admin') OR (u.username = 'trader1' AND r.name = "
                           "'trader')",
                           {}},
                          {"INSERT INTO service_clients (client_id, name, description, client_type, secret_hash, "
                           "previous_secret_hash, previous_secret_expires_at, is_active, is_trusted, "
                           "access_token_lifetime, rate_limit_per_minute, allowed_ips, created_at, updated_at, "
                           "last_used_at) VALUES ('mt5-service', 'MT5 gateway', 'reads the feed', 'confidential', "
                           "'hash-current', 'hash-previous', $1, TRUE, TRUE, 900, 120, '[\"10.0.0.0/8\"]', $2, $2, $3)",
                           {kFar, kT0, kT0 + 60}},
                          {"INSERT INTO client_scopes (client_id, scope_id) SELECT 'mt5-service', id FROM scopes "
                           "WHERE resource = 'trade'",
                           {}},
                          {"INSERT INTO sessions (id, user_id, client_id, created_at, last_seen_at, expires_at, ip, "
                           "user_agent) SELECT 'session-1', id, 'dashboard', $1, $2, $3, '192.0.2.7', 'curl/8' "
                           "FROM users WHERE username = 'trader1'",
                           {kT0, kT0 + 10, kFar}},
                          {"INSERT INTO refresh_tokens (id, token_hash, family_id, session_id, user_id, client_id, "
                           "scope, issued_at, expires_at, rotated_at, replaced_by) SELECT 'rt-1', 'rt-hash-1', "
                           "'family-1', 'session-1', id, 'dashboard', 'trade:read', $1, $2, $3, 'rt-2' FROM users "
                           "WHERE username = 'trader1'",
                           {kT0, kFar, kT0 + 10}},
                          {"INSERT INTO refresh_tokens (id, token_hash, family_id, session_id, user_id, client_id, "
                           "scope, issued_at, expires_at) SELECT 'rt-2', 'rt-hash-2', 'family-1', 'session-1', id, "
                           "'dashboard', 'trade:read', $1, $2 FROM users WHERE username = 'trader1'",
                           {kT0 + 10, kFar}},
                          {"INSERT INTO revocations (key, expires_at, revoked_at, reason) VALUES "
                           "('jti:revoked-1', $1, $2, 'logout')",
                           {kFar, kT0 + 20}},
                          {"INSERT INTO audit_events (ts, actor, actor_type, action, target, ip, outcome, details, "
                           "request_id) VALUES ($1, 'admin', 'user', 'auth.login', 'admin', '192.0.2.1', 'success', "
                           "'{\"grant\":\"password\"}', 'req-1')",
                           {kT0 + 5}},
                          {"INSERT INTO settings (key, value) VALUES ('signing.keys', '{\"active\":\"k1\"}')", {}},
                      });
        !st) {
      return st;
    }
    if (version >= 2) {
      if (auto st = run(c,
                        {
                            {"INSERT INTO service_clients (client_id, name, client_type, redirect_uris, created_at, "
                             "updated_at) VALUES ('dashboard', 'Dashboard', 'public', "
                             "'[\"https://app.example.com/callback\"]', $1, $1)",
                             {kT0}},
                            {"INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, code_challenge, "
                             "user_id, scope, created_at, expires_at) SELECT 'code-hash-1', 'dashboard', "
                             "'https://app.example.com/callback', 'challenge-1', id, 'trade:read', $1, $2 FROM users "
                             "WHERE username = 'trader1'",
                             {kT0 + 30, kT0 + 90}},
                        });
          !st) {
        return st;
      }
    }
    if (version >= 3) {
      if (auto st = run(c, {{"INSERT INTO audit_events (ts, actor, actor_type, action, target, outcome, request_id, "
                             "trace_id) VALUES ($1, 'mt5-service', 'client', 'token.issue', 'mt5-service', 'success', "
                             "'req-2', '4bf92f3577b34da6a3ce929d0e0e4736')",
                             {kT0 + 40}}});
          !st) {
        return st;
      }
    }
    if (version >= 4) {
      return run(c, {
                        // seq from the table (an explicit one would leave PostgreSQL's
                        // identity sequence behind): 1 to 4, the first purged.
                        {"INSERT INTO client_changes (client_id, changed_at) VALUES ('purged', $1), "
                         "('mt5-service', $2), ('', $3), ('dashboard', $4)",
                         {kT0 + 49, kT0 + 50, kT0 + 51, kT0 + 52}},
                        {"DELETE FROM client_changes WHERE client_id = 'purged'", {}},
                        {"UPDATE client_changes_purged SET through_seq = 1 WHERE id = 1", {}},
                    });
    }
    return {};
  });
}

std::vector<std::string> names(const std::vector<Role>& roles) {
  std::vector<std::string> out;
  for (const auto& r : roles) out.push_back(r.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> names(const std::vector<Scope>& scopes) {
  std::vector<std::string> out;
  for (const auto& s : scopes) out.push_back(s.name);
  std::sort(out.begin(), out.end());
  return out;
}

using Names = std::vector<std::string>;

/// Every row seed(version) wrote, read through the current Storage, and the upgraded
/// database still taking writes (new ids after the old ones, a refresh token rotating).
void check(Storage& s, std::int64_t version) {
  auto admin = s.get_user_by_username("admin");
  ASSERT_TRUE(admin) << admin.error().message;
  EXPECT_EQ(admin->email, "Admin@Example.com");
  EXPECT_EQ(admin->password_hash, "$argon2id$v=19$admin");
  EXPECT_EQ(admin->first_name, "Ada");
  EXPECT_EQ(admin->display_name, "The Admin");
  EXPECT_FALSE(admin->last_name.has_value());
  EXPECT_TRUE(admin->is_active);
  EXPECT_TRUE(admin->is_verified);
  EXPECT_TRUE(admin->is_superuser);
  EXPECT_EQ(admin->last_login, kT0 + 5);
  auto by_email = s.get_user_by_email("admin@example.com");
  ASSERT_TRUE(by_email) << by_email.error().message;
  EXPECT_EQ(by_email->id, admin->id);
  auto admin_roles = s.user_roles(admin->id);
  ASSERT_TRUE(admin_roles) << admin_roles.error().message;
  EXPECT_EQ(names(*admin_roles), (Names{"admin"}));
  auto admin_scopes = s.user_scope_names(admin->id);
  ASSERT_TRUE(admin_scopes) << admin_scopes.error().message;
  EXPECT_EQ(*admin_scopes, (Names{"admin:users", "trade:open", "trade:read"}));

  auto trader = s.get_user_by_username("trader1");
  ASSERT_TRUE(trader) << trader.error().message;
  EXPECT_FALSE(trader->is_verified);
  EXPECT_FALSE(trader->is_superuser);
  EXPECT_EQ(trader->failed_login_count, 2);
  EXPECT_EQ(trader->locked_until, kT0 + 900);
  EXPECT_EQ(trader->created_at, kT0 + 1);
  EXPECT_EQ(trader->updated_at, kT0 + 2);
  auto trader_scopes = s.user_scope_names(trader->id);
  ASSERT_TRUE(trader_scopes) << trader_scopes.error().message;
  EXPECT_EQ(*trader_scopes, (Names{"trade:open", "trade:read"}));
  auto trader_role = s.get_role_by_name("trader");
  ASSERT_TRUE(trader_role) << trader_role.error().message;
  EXPECT_EQ(trader_role->description, "Traders");
  auto scope = s.get_scope_by_name("admin:users");
  ASSERT_TRUE(scope) << scope.error().message;
  EXPECT_EQ(scope->resource, "admin");
  EXPECT_EQ(scope->action, "users");

  // The client's stored hashes are what client authentication compares: both survive, the
  // previous one with its expiry (a rotation in progress keeps working across the upgrade).
  auto client = s.get_client("mt5-service");
  ASSERT_TRUE(client) << client.error().message;
  EXPECT_EQ(client->name, "MT5 gateway");
  EXPECT_EQ(client->description, "reads the feed");
  EXPECT_EQ(client->client_type, "confidential");
  EXPECT_EQ(client->secret_hash, "hash-current");
  EXPECT_EQ(client->previous_secret_hash, "hash-previous");
  EXPECT_EQ(client->previous_secret_expires_at, kFar);
  EXPECT_TRUE(client->is_active);
  EXPECT_TRUE(client->is_trusted);
  EXPECT_EQ(client->access_token_lifetime, 900);
  EXPECT_EQ(client->rate_limit_per_minute, 120);
  EXPECT_FALSE(client->rate_limit_per_hour.has_value());
  EXPECT_EQ(client->allowed_ips, R"(["10.0.0.0/8"])");
  EXPECT_EQ(client->redirect_uris, "[]") << "a column a later migration added has its default";
  EXPECT_EQ(client->last_used_at, kT0 + 60);
  auto client_scopes = s.client_scopes("mt5-service");
  ASSERT_TRUE(client_scopes) << client_scopes.error().message;
  EXPECT_EQ(names(*client_scopes), (Names{"trade:open", "trade:read"}));
  auto cached = s.list_all_clients_with_scopes();
  ASSERT_TRUE(cached) << cached.error().message;
  EXPECT_EQ(cached->size(), version >= 2 ? 2u : 1u);

  auto session = s.get_session("session-1");
  ASSERT_TRUE(session) << session.error().message;
  EXPECT_EQ(session->user_id, trader->id);
  EXPECT_EQ(session->client_id, "dashboard");
  EXPECT_EQ(session->ip, "192.0.2.7");
  EXPECT_EQ(session->user_agent, "curl/8");
  EXPECT_EQ(session->expires_at, kFar);
  auto live = s.list_live_sessions(trader->id, kT0 + 100);
  ASSERT_TRUE(live) << live.error().message;
  ASSERT_EQ(live->size(), 1u);

  auto rotated = s.get_refresh_token_by_hash("rt-hash-1");
  ASSERT_TRUE(rotated) << rotated.error().message;
  EXPECT_EQ(rotated->replaced_by, "rt-2");
  EXPECT_EQ(rotated->rotated_at, kT0 + 10);
  // The live refresh token rotates under the current code; its rotated predecessor is reuse.
  RefreshToken next;
  next.id = "rt-3";
  next.token_hash = "rt-hash-3";
  next.family_id = "family-1";
  next.session_id = "session-1";
  next.user_id = trader->id;
  next.client_id = "dashboard";
  next.scope = "trade:read";
  next.issued_at = kT0 + 100;
  next.expires_at = kFar;
  auto rotation = s.rotate_refresh_token("rt-hash-2", next, kT0 + 100);
  ASSERT_TRUE(rotation) << rotation.error().message;
  EXPECT_EQ(rotation->outcome, RotateOutcome::Rotated);
  ASSERT_TRUE(rotation->old_token.has_value());
  EXPECT_EQ(rotation->old_token->user_id, trader->id);
  next.id = "rt-4";
  next.token_hash = "rt-hash-4";
  auto reuse = s.rotate_refresh_token("rt-hash-1", next, kT0 + 101);
  ASSERT_TRUE(reuse) << reuse.error().message;
  EXPECT_EQ(reuse->outcome, RotateOutcome::AlreadyRotated);

  auto feed = s.revocations_since(0, 10);
  ASSERT_TRUE(feed) << feed.error().message;
  ASSERT_EQ(feed->size(), 1u);
  EXPECT_EQ((*feed)[0].key, "jti:revoked-1");
  EXPECT_EQ((*feed)[0].reason, "logout");
  auto seq = s.add_revocation("sid:session-1", kFar, kT0 + 102, "logout");
  ASSERT_TRUE(seq) << seq.error().message;
  EXPECT_GT(*seq, (*feed)[0].seq) << "the feed's cursor keeps increasing after the upgrade";

  AuditQuery everything;
  auto audit = s.query_audit(everything);
  ASSERT_TRUE(audit) << audit.error().message;
  ASSERT_EQ(audit->total, version >= 3 ? 2 : 1);
  const auto& login = audit->items.back();  // newest first: the oldest is the login
  EXPECT_EQ(login.action, "auth.login");
  EXPECT_EQ(login.actor, "admin");
  EXPECT_EQ(login.ip, "192.0.2.1");
  EXPECT_EQ(login.details, R"({"grant":"password"})");
  EXPECT_EQ(login.request_id, "req-1");
  EXPECT_EQ(login.trace_id, "");
  if (version >= 3) {
    EXPECT_EQ(audit->items.front().trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  }

  auto setting = s.get_setting("signing.keys");
  ASSERT_TRUE(setting) << setting.error().message;
  EXPECT_EQ(*setting, R"({"active":"k1"})");

  if (version >= 2) {
    auto dashboard = s.get_client("dashboard");
    ASSERT_TRUE(dashboard) << dashboard.error().message;
    EXPECT_EQ(dashboard->client_type, "public");
    EXPECT_EQ(dashboard->redirect_uris, R"(["https://app.example.com/callback"])");
    auto code = s.take_authorization_code("code-hash-1");
    ASSERT_TRUE(code) << code.error().message;
    EXPECT_EQ(code->client_id, "dashboard");
    EXPECT_EQ(code->code_challenge, "challenge-1");
    EXPECT_EQ(code->user_id, trader->id);
    EXPECT_EQ(code->expires_at, kT0 + 90);
  }

  // The client change feed: empty when the database predates it, else its entries and purge
  // horizon as written; either way a client write appends after them.
  auto changes = s.client_changes_since(0, 10);
  ASSERT_TRUE(changes) << changes.error().message;
  auto horizon = s.client_changes_purged_through();
  ASSERT_TRUE(horizon) << horizon.error().message;
  if (version >= 4) {
    ASSERT_EQ(changes->size(), 3u);
    EXPECT_EQ((*changes)[0].client_id, "mt5-service");
    EXPECT_EQ((*changes)[0].changed_at, kT0 + 50);
    EXPECT_TRUE((*changes)[1].every_client());
    EXPECT_EQ((*changes)[2].seq, 4);
    EXPECT_EQ(*horizon, 1);
  } else {
    EXPECT_TRUE(changes->empty());
    EXPECT_EQ(*horizon, 0);
  }
  const auto newest_change = s.max_client_change_seq();
  ASSERT_TRUE(newest_change) << newest_change.error().message;
  EXPECT_EQ(*newest_change, version >= 4 ? 4 : 0);
  ASSERT_TRUE(s.rotate_client_secret("mt5-service", "hash-next", std::nullopt, kT0 + 103));
  auto after_write = s.client_changes_since(*newest_change, 10);
  ASSERT_TRUE(after_write) << after_write.error().message;
  ASSERT_EQ(after_write->size(), 1u);
  EXPECT_EQ((*after_write)[0].client_id, "mt5-service");

  // New rows after the old ones: identity columns and sequences came through the upgrade.
  User fresh;
  fresh.username = "after-upgrade";
  fresh.email = "after@example.com";
  fresh.password_hash = "$argon2id$v=19$new";
  fresh.created_at = kT0 + 200;
  fresh.updated_at = kT0 + 200;
  auto created = s.create_user(fresh, {trader_role->id});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_GT(created->id, std::max(admin->id, trader->id));
  Role auditor;
  auditor.name = "auditor";
  auto role = s.create_role(auditor);
  ASSERT_TRUE(role) << role.error().message;
  EXPECT_GT(role->id, trader_role->id);
}

class SchemaUpgradeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    (void)kEnv;
    if (sqlite()) {
      char tmpl[] = "/tmp/permiso-upgrade-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
    }
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  [[nodiscard]] bool sqlite() const { return GetParam() == "sqlite"; }
  [[nodiscard]] Dialect dialect() const { return sqlite() ? Dialect::Sqlite : Dialect::Postgres; }

  /// A fresh, empty database of this backend.
  std::string fresh_database(std::int64_t version) {
    if (sqlite()) return "sqlite://" + dir_ + "/at-version-" + std::to_string(version) + ".db";
    return PgServerEnvironment::server().create_database();
  }

  std::string dir_;
};

TEST_P(SchemaUpgradeTest, FixturesKnowEveryMigration) {
  EXPECT_EQ(latest(detail::migrations(dialect())), kFixtureVersion)
      << "a new migration: teach seed() the rows a release at that version writes, and check() to read them";
}

TEST_P(SchemaUpgradeTest, RowsWrittenAtEveryEarlierVersionAreReadByTheCurrentStorage) {
  const auto& all = detail::migrations(dialect());
  const auto newest = latest(all);
  ASSERT_GE(newest, 1);
  // Up to the newest too: the same fixture at the current schema, so the rows a release at
  // today's version writes are known to read back before the next migration lands.
  for (std::int64_t k = 1; k <= newest; ++k) {
    SCOPED_TRACE("database written at schema version " + std::to_string(k) + " of " + std::to_string(newest));
    const auto url = fresh_database(k);
    {
      auto db = open_db(url);
      ASSERT_TRUE(db) << db.error().message;
      auto applied = apply_migrations(**db, detail::kAuthMigrationTable, first(all, k), detail::kAuthMigrationLock);
      ASSERT_TRUE(applied) << applied.error().message;
      ASSERT_EQ(static_cast<std::int64_t>(applied->pending.size()), k);
      auto seeded = seed(**db, std::min(k, kFixtureVersion));
      ASSERT_TRUE(seeded) << seeded.error().message;
    }
    auto before = plan_auth_migrations(url);
    ASSERT_TRUE(before) << before.error().message;
    EXPECT_EQ(before->current_version, k);
    EXPECT_EQ(static_cast<std::int64_t>(before->pending.size()), newest - k);

    auto storage = open_storage(url);  // the start-up path: applies what is pending
    ASSERT_TRUE(storage) << storage.error().message;
    auto after = plan_auth_migrations(url);
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_EQ(after->current_version, newest);
    EXPECT_TRUE(after->pending.empty());
    check(**storage, std::min(k, kFixtureVersion));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SchemaUpgradeTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace permiso::storage
