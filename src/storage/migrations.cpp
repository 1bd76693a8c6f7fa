// The schema, as versioned migrations. Never edit an applied migration: add a new one.
#include "storage/migrations.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>
#include <string>

namespace permiso::storage::detail {
namespace {

// SQLite: INTEGER PRIMARY KEY AUTOINCREMENT never reuses ids, which the revocation and client
// change feeds' cursors and the audit trail rely on. Booleans are 0/1 integers.
const std::vector<Migration> kSqlite{
    {1,
     "initial schema",
     {
         R"(CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL,
  email TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  first_name TEXT, last_name TEXT, display_name TEXT, bio TEXT,
  is_active INTEGER NOT NULL DEFAULT 1,
  is_verified INTEGER NOT NULL DEFAULT 0,
  is_superuser INTEGER NOT NULL DEFAULT 0,
  failed_login_count INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER, last_login INTEGER,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL))",
         "CREATE UNIQUE INDEX ux_users_username ON users (username)",
         "CREATE UNIQUE INDEX ux_users_email ON users (lower(email))",
         R"(CREATE TABLE roles (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL, description TEXT NOT NULL DEFAULT ''))",
         "CREATE UNIQUE INDEX ux_roles_name ON roles (name)",
         R"(CREATE TABLE scopes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  resource TEXT NOT NULL DEFAULT '', action TEXT NOT NULL DEFAULT ''))",
         "CREATE UNIQUE INDEX ux_scopes_name ON scopes (name)",
         R"(CREATE TABLE user_roles (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, role_id)))",
         "CREATE INDEX ix_user_roles_role ON user_roles (role_id)",
         R"(CREATE TABLE role_scopes (
  role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  scope_id INTEGER NOT NULL REFERENCES scopes(id) ON DELETE CASCADE,
  PRIMARY KEY (role_id, scope_id)))",
         "CREATE INDEX ix_role_scopes_scope ON role_scopes (scope_id)",
         R"(CREATE TABLE service_clients (
  client_id TEXT PRIMARY KEY,
  name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  client_type TEXT NOT NULL DEFAULT 'confidential'
    CHECK (client_type IN ('confidential', 'public')),
  secret_hash TEXT NOT NULL DEFAULT '',
  previous_secret_hash TEXT, previous_secret_expires_at INTEGER,
  is_active INTEGER NOT NULL DEFAULT 1, is_trusted INTEGER NOT NULL DEFAULT 0,
  access_token_lifetime INTEGER NOT NULL DEFAULT 3600,
  rate_limit_per_minute INTEGER, rate_limit_per_hour INTEGER,
  allowed_ips TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, last_used_at INTEGER))",
         R"(CREATE TABLE client_scopes (
  client_id TEXT NOT NULL REFERENCES service_clients(client_id) ON DELETE CASCADE,
  scope_id INTEGER NOT NULL REFERENCES scopes(id) ON DELETE CASCADE,
  PRIMARY KEY (client_id, scope_id)))",
         "CREATE INDEX ix_client_scopes_scope ON client_scopes (scope_id)",
         R"(CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  ip TEXT NOT NULL DEFAULT '', user_agent TEXT NOT NULL DEFAULT '', revoked_at INTEGER))",
         "CREATE INDEX ix_sessions_user ON sessions (user_id)",
         R"(CREATE TABLE refresh_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL,
  family_id TEXT NOT NULL, session_id TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id TEXT, scope TEXT NOT NULL DEFAULT '',
  issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  rotated_at INTEGER, replaced_by TEXT, revoked_at INTEGER))",
         "CREATE UNIQUE INDEX ux_refresh_tokens_token_hash ON refresh_tokens (token_hash)",
         "CREATE INDEX ix_refresh_tokens_family ON refresh_tokens (family_id)",
         "CREATE INDEX ix_refresh_tokens_session ON refresh_tokens (session_id)",
         "CREATE INDEX ix_refresh_tokens_user ON refresh_tokens (user_id)",
         R"(CREATE TABLE revocations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL, expires_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT ''))",
         "CREATE UNIQUE INDEX ux_revocations_key ON revocations (key)",
         "CREATE INDEX ix_revocations_expires ON revocations (expires_at)",
         R"(CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL, actor TEXT NOT NULL DEFAULT '', actor_type TEXT NOT NULL DEFAULT '',
  action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', ip TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL DEFAULT '', details TEXT NOT NULL DEFAULT '{}',
  request_id TEXT NOT NULL DEFAULT ''))",
         "CREATE INDEX ix_audit_ts ON audit_events (ts)",
         "CREATE INDEX ix_audit_actor ON audit_events (actor)",
         "CREATE INDEX ix_audit_action ON audit_events (action)",
         "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
     }},
    {2,
     "authorization codes and redirect URIs",
     {
         "ALTER TABLE service_clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]'",
         R"(CREATE TABLE authorization_codes (
  code_hash TEXT PRIMARY KEY,
  client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL, code_challenge TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, scope TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL))",
         "CREATE INDEX ix_authorization_codes_expires ON authorization_codes (expires_at)",
     }},
    {3,
     "audit events carry the W3C trace id",
     {"ALTER TABLE audit_events ADD COLUMN trace_id TEXT NOT NULL DEFAULT ''"}},
    {4,
     "client change feed",
     {
         R"(CREATE TABLE client_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  client_id TEXT NOT NULL, changed_at INTEGER NOT NULL))",
         "CREATE INDEX ix_client_changes_changed_at ON client_changes (changed_at)",
         R"(CREATE TABLE client_changes_purged (
  id INTEGER PRIMARY KEY CHECK (id = 1), through_seq INTEGER NOT NULL))",
         "INSERT INTO client_changes_purged (id, through_seq) VALUES (1, 0)",
     }},
};

// PostgreSQL: identity columns; a sequence can hand out seq values out of commit order, so
// add_revocation and every client change serialise their writers with an advisory lock (one
// per feed) to keep the feed cursor safe.
const std::vector<Migration> kPostgres{
    {1,
     "initial schema",
     {
         R"(CREATE TABLE users (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  username TEXT NOT NULL,
  email TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  first_name TEXT, last_name TEXT, display_name TEXT, bio TEXT,
  is_active BOOLEAN NOT NULL DEFAULT TRUE,
  is_verified BOOLEAN NOT NULL DEFAULT FALSE,
  is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
  failed_login_count BIGINT NOT NULL DEFAULT 0,
  locked_until BIGINT, last_login BIGINT,
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL))",
         "CREATE UNIQUE INDEX ux_users_username ON users (username)",
         "CREATE UNIQUE INDEX ux_users_email ON users (lower(email))",
         R"(CREATE TABLE roles (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL, description TEXT NOT NULL DEFAULT ''))",
         "CREATE UNIQUE INDEX ux_roles_name ON roles (name)",
         R"(CREATE TABLE scopes (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  resource TEXT NOT NULL DEFAULT '', action TEXT NOT NULL DEFAULT ''))",
         "CREATE UNIQUE INDEX ux_scopes_name ON scopes (name)",
         R"(CREATE TABLE user_roles (
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role_id BIGINT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, role_id)))",
         "CREATE INDEX ix_user_roles_role ON user_roles (role_id)",
         R"(CREATE TABLE role_scopes (
  role_id BIGINT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  scope_id BIGINT NOT NULL REFERENCES scopes(id) ON DELETE CASCADE,
  PRIMARY KEY (role_id, scope_id)))",
         "CREATE INDEX ix_role_scopes_scope ON role_scopes (scope_id)",
         R"(CREATE TABLE service_clients (
  client_id TEXT PRIMARY KEY,
  name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  client_type TEXT NOT NULL DEFAULT 'confidential'
    CHECK (client_type IN ('confidential', 'public')),
  secret_hash TEXT NOT NULL DEFAULT '',
  previous_secret_hash TEXT, previous_secret_expires_at BIGINT,
  is_active BOOLEAN NOT NULL DEFAULT TRUE, is_trusted BOOLEAN NOT NULL DEFAULT FALSE,
  access_token_lifetime BIGINT NOT NULL DEFAULT 3600,
  rate_limit_per_minute BIGINT, rate_limit_per_hour BIGINT,
  allowed_ips TEXT NOT NULL DEFAULT '[]',
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, last_used_at BIGINT))",
         R"(CREATE TABLE client_scopes (
  client_id TEXT NOT NULL REFERENCES service_clients(client_id) ON DELETE CASCADE,
  scope_id BIGINT NOT NULL REFERENCES scopes(id) ON DELETE CASCADE,
  PRIMARY KEY (client_id, scope_id)))",
         "CREATE INDEX ix_client_scopes_scope ON client_scopes (scope_id)",
         R"(CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
  ip TEXT NOT NULL DEFAULT '', user_agent TEXT NOT NULL DEFAULT '', revoked_at BIGINT))",
         "CREATE INDEX ix_sessions_user ON sessions (user_id)",
         R"(CREATE TABLE refresh_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL,
  family_id TEXT NOT NULL, session_id TEXT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id TEXT, scope TEXT NOT NULL DEFAULT '',
  issued_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
  rotated_at BIGINT, replaced_by TEXT, revoked_at BIGINT))",
         "CREATE UNIQUE INDEX ux_refresh_tokens_token_hash ON refresh_tokens (token_hash)",
         "CREATE INDEX ix_refresh_tokens_family ON refresh_tokens (family_id)",
         "CREATE INDEX ix_refresh_tokens_session ON refresh_tokens (session_id)",
         "CREATE INDEX ix_refresh_tokens_user ON refresh_tokens (user_id)",
         R"(CREATE TABLE revocations (
  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  key TEXT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL,
  reason TEXT NOT NULL DEFAULT ''))",
         "CREATE UNIQUE INDEX ux_revocations_key ON revocations (key)",
         "CREATE INDEX ix_revocations_expires ON revocations (expires_at)",
         R"(CREATE TABLE audit_events (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  ts BIGINT NOT NULL, actor TEXT NOT NULL DEFAULT '', actor_type TEXT NOT NULL DEFAULT '',
  action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', ip TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL DEFAULT '', details TEXT NOT NULL DEFAULT '{}',
  request_id TEXT NOT NULL DEFAULT ''))",
         "CREATE INDEX ix_audit_ts ON audit_events (ts)",
         "CREATE INDEX ix_audit_actor ON audit_events (actor)",
         "CREATE INDEX ix_audit_action ON audit_events (action)",
         "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
     }},
    {2,
     "authorization codes and redirect URIs",
     {
         "ALTER TABLE service_clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]'",
         R"(CREATE TABLE authorization_codes (
  code_hash TEXT PRIMARY KEY,
  client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL, code_challenge TEXT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE, scope TEXT NOT NULL,
  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL))",
         "CREATE INDEX ix_authorization_codes_expires ON authorization_codes (expires_at)",
     }},
    {3,
     "audit events carry the W3C trace id",
     {"ALTER TABLE audit_events ADD COLUMN trace_id TEXT NOT NULL DEFAULT ''"}},
    {4,
     "client change feed",
     {
         R"(CREATE TABLE client_changes (
  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  client_id TEXT NOT NULL, changed_at BIGINT NOT NULL))",
         "CREATE INDEX ix_client_changes_changed_at ON client_changes (changed_at)",
         R"(CREATE TABLE client_changes_purged (
  id BIGINT PRIMARY KEY CHECK (id = 1), through_seq BIGINT NOT NULL))",
         "INSERT INTO client_changes_purged (id, through_seq) VALUES (1, 0)",
     }},
};

}  // namespace

const std::vector<Migration>& migrations(Dialect dialect) {
  return dialect == Dialect::Sqlite ? kSqlite : kPostgres;
}

StorageResult<MigrationPlan> apply_auth_migrations(Db& db) {
  return apply_migrations(db, kAuthMigrationTable, migrations(db.dialect()), kAuthMigrationLock);
}

}  // namespace permiso::storage::detail

namespace permiso::storage {
namespace {

// The name is spliced into SQL text: only a plain identifier is accepted.
bool plain_identifier(std::string_view table) {
  return !table.empty() && table.size() <= 63 && std::all_of(table.begin(), table.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
}

StorageFailure not_a_plain_identifier() {
  return detail::failure(StorageError::Invalid, "migration table is not a plain identifier", "table");
}

/// Whether the migration table exists, asked without creating it (the read-only plan).
StorageResult<bool> table_exists(SqlConn& c, Dialect dialect, const std::string& table) {
  auto found = dialect == Dialect::Postgres
                   ? c.exec("SELECT to_regclass($1) IS NOT NULL", {table})
                   : c.exec("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1", {table});
  if (!found) return found.error();
  const auto& cell = found->rows.at(0).at(0);
  return cell && (*cell == "t" || *cell == "1");
}

StorageResult<std::set<std::int64_t>> recorded_versions(SqlConn& c, const std::string& table) {
  auto applied = c.exec("SELECT version FROM " + table);
  if (!applied) return applied.error();
  std::set<std::int64_t> done;
  for (const auto& row : applied->rows) {
    std::int64_t v = 0;
    if (row.at(0)) std::from_chars(row[0]->data(), row[0]->data() + row[0]->size(), v);
    done.insert(v);
  }
  return done;
}

/// The plan from the versions `table` records; SchemaTooNew when one is above the latest of
/// `migrations` (forward-only: an older binary must never run on a newer schema).
StorageResult<MigrationPlan> plan_from(const std::set<std::int64_t>& recorded, const std::vector<Migration>& migrations,
                                       std::string_view table) {
  MigrationPlan plan;
  plan.current_version = recorded.empty() ? 0 : *recorded.rbegin();
  for (const auto& m : migrations) {
    plan.latest_version = std::max<std::int64_t>(plan.latest_version, m.version);
    if (!recorded.contains(m.version)) plan.pending.push_back(m);
  }
  if (plan.current_version > plan.latest_version) {
    return detail::failure(StorageError::SchemaTooNew,
                           "the database's schema is at version " + std::to_string(plan.current_version) + " (" +
                               std::string(table) + "), newer than this binary's latest, " +
                               std::to_string(plan.latest_version) + ": run a release that knows it",
                           "schema_version");
  }
  return plan;
}

StorageStatus apply_one(SqlConn& c, const std::string& table, const Migration& m, Dialect dialect) {
  for (auto stmt : m.statements) {
    if (auto r = c.exec(stmt); !r) return r.error();
  }
  const std::string_view now_sql = dialect == Dialect::Postgres ? "CAST(extract(epoch FROM now()) AS BIGINT)"
                                                                : "CAST(strftime('%s','now') AS INTEGER)";
  auto rec =
      c.exec("INSERT INTO " + table + " (version, name, applied_at) VALUES ($1, $2, " + std::string(now_sql) + ")",
             {m.version, m.name});
  if (!rec) return rec.error();
  return {};
}

/// The plan of a Db opened read-only: the migration table is looked for, never created.
StorageResult<MigrationPlan> plan_on(Db& db, const std::string& table, const std::vector<Migration>& migrations) {
  StorageResult<MigrationPlan> plan = MigrationPlan{};
  auto st = db.read([&](SqlConn& c) -> StorageStatus {
    auto exists = table_exists(c, db.dialect(), table);
    if (!exists) return exists.error();
    std::set<std::int64_t> recorded;
    if (*exists) {
      auto versions = recorded_versions(c, table);
      if (!versions) return versions.error();
      recorded = std::move(*versions);
    }
    plan = plan_from(recorded, migrations, table);
    return {};
  });
  if (!st) return st.error();
  return plan;
}

}  // namespace

StorageResult<MigrationPlan> apply_migrations(Db& db, std::string_view table, const std::vector<Migration>& migrations,
                                              std::int64_t lock_key) {
  if (!plain_identifier(table)) return not_a_plain_identifier();
  const std::string t(table);
  const Dialect dialect = db.dialect();
  MigrationPlan plan;
  auto st = db.write([&](SqlConn& c) -> StorageStatus {
    if (dialect == Dialect::Postgres) {
      // Replicas starting together: one applies, the others wait and then find it done.
      if (auto r = c.exec("SELECT pg_advisory_xact_lock($1)", {lock_key}); !r) return r.error();
    }
    auto created = c.exec("CREATE TABLE IF NOT EXISTS " + t +
                          " (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT "
                          "NOT NULL)");
    if (!created) return created.error();
    auto recorded = recorded_versions(c, t);
    if (!recorded) return recorded.error();
    auto planned = plan_from(*recorded, migrations, t);
    if (!planned) return planned.error();
    for (const auto& m : planned->pending) {
      if (auto r = apply_one(c, t, m, dialect); !r) return r;
    }
    plan = std::move(*planned);
    return {};
  });
  if (!st) return st.error();
  return plan;
}

StorageResult<MigrationPlan> plan_migrations(std::string_view url, std::string_view table,
                                             const std::vector<Migration>& migrations, const StorageOptions& options) {
  if (!plain_identifier(table)) return not_a_plain_identifier();
  // A missing SQLite file is the plan of an empty database: opening it would create it.
  if (const auto path = detail::sqlite_path(url); path && !path->empty() && !std::filesystem::exists(*path)) {
    auto plan = plan_from({}, migrations, table);
    if (plan) plan->database_exists = false;
    return plan;
  }
  StorageOptions read_only = options;
  read_only.read_only = true;
  read_only.pool_size = 1;  // one read transaction is all a plan takes
  auto db = open_db(url, read_only);
  if (!db) return db.error();
  return plan_on(**db, std::string(table), migrations);
}

StorageResult<MigrationPlan> plan_auth_migrations(std::string_view url, const StorageOptions& options) {
  // The dialect picks the statements; it follows from the URL's scheme as open_db's does.
  const auto dialect = detail::sqlite_path(url) ? Dialect::Sqlite : Dialect::Postgres;
  return plan_migrations(url, detail::kAuthMigrationTable, detail::migrations(dialect), options);
}

StorageResult<MigrationPlan> apply_auth_migrations(std::string_view url, const StorageOptions& options) {
  auto db = open_db(url, options);
  if (!db) return db.error();
  return detail::apply_auth_migrations(**db);
}

}  // namespace permiso::storage
