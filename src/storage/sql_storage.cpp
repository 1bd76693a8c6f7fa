// Every query of permiso-auth, written once over the Db layer; SQL text is shared between
// SQLite and PostgreSQL except for a few dialect switches.
#include "storage/sql_storage.hpp"

#include "storage/migrations.hpp"
#include "storage/sql_cells.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

namespace permiso::storage::detail {
namespace {

constexpr std::string_view kUserCols =
    "id, username, email, password_hash, first_name, last_name, display_name, bio, is_active, "
    "is_verified, is_superuser, failed_login_count, locked_until, last_login, created_at, "
    "updated_at";
constexpr std::string_view kClientCols =
    "client_id, name, description, client_type, secret_hash, previous_secret_hash, "
    "previous_secret_expires_at, is_active, is_trusted, access_token_lifetime, "
    "rate_limit_per_minute, rate_limit_per_hour, allowed_ips, created_at, updated_at, "
    "last_used_at, redirect_uris";
constexpr std::string_view kSessionCols =
    "id, user_id, client_id, created_at, last_seen_at, expires_at, ip, user_agent, revoked_at";
constexpr std::string_view kTokenCols =
    "id, token_hash, family_id, session_id, user_id, client_id, scope, issued_at, expires_at, "
    "rotated_at, replaced_by, revoked_at";
constexpr std::string_view kCodeCols =
    "code_hash, client_id, redirect_uri, code_challenge, user_id, scope, created_at, expires_at";
constexpr std::string_view kAuditCols =
    "id, ts, actor, actor_type, action, target, ip, outcome, details, request_id, trace_id";

// Advisory locks that serialise each feed's writers on PostgreSQL, so feed rows commit in seq
// order (the auth migrations hold 7051001). mt5-api's TradeStore::kMigrationLock is 7051002 as
// well; advisory locks are per database, so the two meet only in a database both services share.
constexpr std::int64_t kRevocationFeedLock = 7051002;
constexpr std::int64_t kClientFeedLock = 7051003;

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out += p;
  return out;
}

constexpr std::size_t kAuditRowsPerInsert = 32;
constexpr std::size_t kAuditInsertCols = 10;

std::string audit_insert(std::size_t rows, std::string_view verb) {
  return std::string(verb) +
         " INTO audit_events (ts, actor, actor_type, action, target, ip, outcome, details, request_id, "
         "trace_id) VALUES " +
         placeholders(rows, kAuditInsertCols);
}

Params audit_params(const std::vector<AuditEvent>& events, std::size_t first, std::size_t rows) {
  Params p;
  p.reserve(rows * kAuditInsertCols);
  for (std::size_t i = first; i < first + rows; ++i) {
    const auto& e = events[i];
    p.emplace_back(e.ts);
    p.emplace_back(e.actor);
    p.emplace_back(e.actor_type);
    p.emplace_back(e.action);
    p.emplace_back(e.target);
    p.emplace_back(e.ip);
    p.emplace_back(e.outcome);
    p.emplace_back(e.details);
    p.emplace_back(e.request_id);
    p.emplace_back(e.trace_id);
  }
  return p;
}

User read_user(const Row& r) {
  User u;
  u.id = integer(r, 0);
  u.username = text(r, 1);
  u.email = text(r, 2);
  u.password_hash = text(r, 3);
  u.first_name = r.at(4);
  u.last_name = r.at(5);
  u.display_name = r.at(6);
  u.bio = r.at(7);
  u.is_active = boolean(r, 8);
  u.is_verified = boolean(r, 9);
  u.is_superuser = boolean(r, 10);
  u.failed_login_count = integer(r, 11);
  u.locked_until = opt_int(r, 12);
  u.last_login = opt_int(r, 13);
  u.created_at = integer(r, 14);
  u.updated_at = integer(r, 15);
  return u;
}
Role read_role(const Row& r) {
  return Role{integer(r, 0), text(r, 1), text(r, 2)};
}
Scope read_scope(const Row& r) {
  return Scope{integer(r, 0), text(r, 1), text(r, 2), text(r, 3), text(r, 4)};
}
ServiceClient read_client(const Row& r) {
  ServiceClient c;
  c.client_id = text(r, 0);
  c.name = text(r, 1);
  c.description = text(r, 2);
  c.client_type = text(r, 3);
  c.secret_hash = text(r, 4);
  c.previous_secret_hash = r.at(5);
  c.previous_secret_expires_at = opt_int(r, 6);
  c.is_active = boolean(r, 7);
  c.is_trusted = boolean(r, 8);
  c.access_token_lifetime = integer(r, 9);
  c.rate_limit_per_minute = opt_int(r, 10);
  c.rate_limit_per_hour = opt_int(r, 11);
  c.allowed_ips = text(r, 12);
  c.created_at = integer(r, 13);
  c.updated_at = integer(r, 14);
  c.last_used_at = opt_int(r, 15);
  c.redirect_uris = text(r, 16);
  return c;
}
AuthorizationCode read_code(const Row& r) {
  return AuthorizationCode{text(r, 0),    text(r, 1), text(r, 2),    text(r, 3),
                           integer(r, 4), text(r, 5), integer(r, 6), integer(r, 7)};
}
Session read_session(const Row& r) {
  Session s;
  s.id = text(r, 0);
  s.user_id = integer(r, 1);
  s.client_id = text(r, 2);
  s.created_at = integer(r, 3);
  s.last_seen_at = integer(r, 4);
  s.expires_at = integer(r, 5);
  s.ip = text(r, 6);
  s.user_agent = text(r, 7);
  s.revoked_at = opt_int(r, 8);
  return s;
}
RefreshToken read_token(const Row& r) {
  RefreshToken t;
  t.id = text(r, 0);
  t.token_hash = text(r, 1);
  t.family_id = text(r, 2);
  t.session_id = text(r, 3);
  t.user_id = integer(r, 4);
  t.client_id = r.at(5);
  t.scope = text(r, 6);
  t.issued_at = integer(r, 7);
  t.expires_at = integer(r, 8);
  t.rotated_at = opt_int(r, 9);
  t.replaced_by = r.at(10);
  t.revoked_at = opt_int(r, 11);
  return t;
}
AuditEvent read_audit(const Row& r) {
  AuditEvent e;
  e.id = integer(r, 0);
  e.ts = integer(r, 1);
  e.actor = text(r, 2);
  e.actor_type = text(r, 3);
  e.action = text(r, 4);
  e.target = text(r, 5);
  e.ip = text(r, 6);
  e.outcome = text(r, 7);
  e.details = text(r, 8);
  e.request_id = text(r, 9);
  e.trace_id = text(r, 10);
  return e;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(),
                         [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return out;
}

std::string like_pattern(std::string_view s) {
  std::string out = "%";
  for (char c : lower(s)) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  out += '%';
  return out;
}

StorageFailure not_found(std::string what) {
  return failure(StorageError::NotFound, std::move(what) + " not found");
}

/// Runs a read and converts the collected value.
template <class T, class F>
StorageResult<T> read_value(Db& db, F&& fn) {
  T out{};
  auto st = db.read([&](SqlConn& c) { return fn(c, out); });
  if (!st) return st.error();
  return out;
}
template <class T, class F>
StorageResult<T> write_value(Db& db, F&& fn) {
  T out{};
  auto st = db.write([&](SqlConn& c) { return fn(c, out); });
  if (!st) return st.error();
  return out;
}

class SqlStorage final : public Storage {
 public:
  explicit SqlStorage(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  StorageStatus ping() override {
    return db_->read([](SqlConn& c) -> StorageStatus {
      auto r = c.exec("SELECT 1");
      if (!r) return r.error();
      return {};
    });
  }

  StorageStatus migrate() override {
    auto applied = apply_auth_migrations(*db_);
    if (!applied) return applied.error();
    return {};
  }

  [[nodiscard]] std::string_view backend() const override {
    return db_->dialect() == Dialect::Sqlite ? "sqlite" : "postgresql";
  }

  // ---- users ----
  StorageResult<User> create_user(const User& u, const std::vector<std::int64_t>& role_ids) override {
    return write_value<User>(*db_, [&](SqlConn& c, User& out) -> StorageStatus {
      auto r = c.exec(cat({"INSERT INTO users (username, email, password_hash, first_name, last_name, "
                           "display_name, bio, is_active, is_verified, is_superuser, failed_login_count, "
                           "locked_until, last_login, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, "
                           "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING ",
                           kUserCols}),
                      {lower(u.username), u.email, u.password_hash, u.first_name, u.last_name, u.display_name, u.bio,
                       u.is_active, u.is_verified, u.is_superuser, u.failed_login_count, u.locked_until, u.last_login,
                       u.created_at, u.updated_at});
      if (!r) return r.error();
      out = read_user(r->rows.at(0));
      return replace_links(c, "user_roles", "user_id", "role_id", Param(out.id), role_ids, "role_ids");
    });
  }

  StorageResult<User> get_user(std::int64_t id) override { return one_user("id = $1", {id}); }
  StorageResult<User> get_user_by_username(std::string_view username) override {
    return one_user("username = $1", {lower(username)});
  }
  StorageResult<User> get_user_by_email(std::string_view email) override {
    return one_user("lower(email) = $1", {lower(email)});
  }

  StorageResult<User> update_user(const User& u) override {
    return write_value<User>(*db_, [&](SqlConn& c, User& out) -> StorageStatus {
      auto r = c.exec(cat({"UPDATE users SET username = $2, email = $3, password_hash = $4, first_name = $5, "
                           "last_name = $6, display_name = $7, bio = $8, is_active = $9, is_verified = $10, "
                           "is_superuser = $11, failed_login_count = $12, locked_until = $13, "
                           "last_login = $14, updated_at = $15 WHERE id = $1 RETURNING ",
                           kUserCols}),
                      {u.id, lower(u.username), u.email, u.password_hash, u.first_name, u.last_name, u.display_name,
                       u.bio, u.is_active, u.is_verified, u.is_superuser, u.failed_login_count, u.locked_until,
                       u.last_login, u.updated_at});
      if (!r) return r.error();
      if (r->rows.empty()) return not_found("user");
      out = read_user(r->rows.at(0));
      return {};
    });
  }

  StorageStatus delete_user(std::int64_t id) override {
    return delete_where("DELETE FROM users WHERE id = $1", {id}, "user");
  }

  StorageResult<Page<User>> list_users(const UserQuery& q) override {
    std::string where = " WHERE 1 = 1";
    Params params;
    if (!q.search.empty()) {
      params.emplace_back(like_pattern(q.search));
      const auto p = placeholder(params.size());
      where += cat({" AND (username LIKE ", p, " ESCAPE '\\' OR lower(email) LIKE ", p,
                    " ESCAPE '\\' OR lower(COALESCE(first_name, '')) LIKE ", p,
                    " ESCAPE '\\' OR lower(COALESCE(last_name, '')) LIKE ", p,
                    " ESCAPE '\\' OR lower(COALESCE(display_name, '')) LIKE ", p, " ESCAPE '\\')"});
    }
    if (q.is_active) {
      params.emplace_back(*q.is_active);
      where += " AND is_active = " + placeholder(params.size());
    }
    const auto [limit, offset] = paging(q.page, q.per_page);
    return read_value<Page<User>>(*db_, [&](SqlConn& c, Page<User>& out) -> StorageStatus {
      auto n = c.exec("SELECT COUNT(*) FROM users" + where, params);
      if (!n) return n.error();
      out.total = integer(n->rows.at(0), 0);
      Params p2 = params;
      p2.emplace_back(limit);
      p2.emplace_back(offset);
      auto r = c.exec(cat({"SELECT ", kUserCols, " FROM users", where, " ORDER BY id LIMIT ",
                           placeholder(p2.size() - 1), " OFFSET ", placeholder(p2.size())}),
                      p2);
      if (!r) return r.error();
      for (const auto& row : r->rows) out.items.push_back(read_user(row));
      return {};
    });
  }

  StorageResult<UserStats> user_stats(std::int64_t now) override {
    return read_value<UserStats>(*db_, [&](SqlConn& c, UserStats& out) -> StorageStatus {
      auto r = c.exec(
          "SELECT COUNT(*), COALESCE(SUM(CASE WHEN is_active THEN 1 ELSE 0 END), 0), "
          "COALESCE(SUM(CASE WHEN is_verified THEN 1 ELSE 0 END), 0), "
          "COALESCE(SUM(CASE WHEN is_superuser THEN 1 ELSE 0 END), 0), "
          "COALESCE(SUM(CASE WHEN locked_until > $1 THEN 1 ELSE 0 END), 0) FROM users",
          {now});
      if (!r) return r.error();
      const auto& row = r->rows.at(0);
      out = UserStats{integer(row, 0), integer(row, 1), integer(row, 2), integer(row, 3), integer(row, 4)};
      return {};
    });
  }

  StorageResult<std::int64_t> count_users() override { return scalar_read("SELECT COUNT(*) FROM users", {}); }

  StorageResult<LoginFailure> record_failed_login(std::int64_t user_id, std::int64_t now, std::int64_t threshold,
                                                  std::int64_t lock_seconds) override {
    const bool pg = db_->dialect() == Dialect::Postgres;
    return write_value<LoginFailure>(*db_, [&](SqlConn& c, LoginFailure& out) -> StorageStatus {
      // Row lock (PostgreSQL) or the single SQLite writer makes read-modify-write atomic.
      auto cur =
          c.exec(cat({"SELECT failed_login_count, locked_until FROM users WHERE id = $1", pg ? " FOR UPDATE" : ""}),
                 {user_id});
      if (!cur) return cur.error();
      if (cur->rows.empty()) return not_found("user");
      std::int64_t count = integer(cur->rows[0], 0);
      auto locked = opt_int(cur->rows[0], 1);
      if (locked && *locked > now) {
        out = LoginFailure{count, locked, true};
        return {};
      }
      if (locked) count = 0;  // an expired lock starts a fresh count
      count = std::min(count + 1, std::max<std::int64_t>(threshold, 1));
      std::optional<std::int64_t> new_lock;
      if (threshold > 0 && count >= threshold) new_lock = now + lock_seconds;
      auto up = c.exec(
          "UPDATE users SET failed_login_count = $2, locked_until = $3, updated_at = $4 "
          "WHERE id = $1",
          {user_id, count, new_lock, now});
      if (!up) return up.error();
      out = LoginFailure{count, new_lock, false};
      return {};
    });
  }

  StorageStatus record_successful_login(std::int64_t user_id, std::int64_t now) override {
    return update_one(
        "UPDATE users SET failed_login_count = 0, locked_until = NULL, last_login = $2, "
        "updated_at = $2 WHERE id = $1",
        {user_id, now}, "user");
  }

  // ---- roles and scopes ----
  StorageStatus set_user_roles(std::int64_t user_id, const std::vector<std::int64_t>& role_ids) override {
    return set_links("users", "id = $1", Param(user_id), "user_roles", "user_id", "role_id", role_ids, "role_ids",
                     "user");
  }

  StorageResult<std::vector<Role>> user_roles(std::int64_t user_id) override {
    return read_value<std::vector<Role>>(*db_, [&](SqlConn& c, std::vector<Role>& out) -> StorageStatus {
      if (auto e = exists(c, "SELECT 1 FROM users WHERE id = $1", {user_id}, "user"); !e) {
        return e;
      }
      auto r = c.exec(
          "SELECT r.id, r.name, r.description FROM roles r JOIN user_roles ur ON "
          "ur.role_id = r.id WHERE ur.user_id = $1 ORDER BY r.id",
          {user_id});
      if (!r) return r.error();
      for (const auto& row : r->rows) out.push_back(read_role(row));
      return {};
    });
  }

  StorageResult<std::vector<std::string>> user_scope_names(std::int64_t user_id) override {
    return read_value<std::vector<std::string>>(*db_, [&](SqlConn& c, std::vector<std::string>& out) -> StorageStatus {
      if (auto e = exists(c, "SELECT 1 FROM users WHERE id = $1", {user_id}, "user"); !e) {
        return e;
      }
      auto r = c.exec(
          "SELECT DISTINCT s.name FROM scopes s JOIN role_scopes rs ON rs.scope_id = s.id "
          "JOIN user_roles ur ON ur.role_id = rs.role_id WHERE ur.user_id = $1 "
          "ORDER BY s.name",
          {user_id});
      if (!r) return r.error();
      for (const auto& row : r->rows) out.push_back(text(row, 0));
      return {};
    });
  }

  StorageResult<Role> create_role(const Role& role) override {
    return one_write<Role>("INSERT INTO roles (name, description) VALUES ($1, $2) RETURNING id, name, description",
                           {role.name, role.description}, read_role, "role");
  }
  StorageResult<Role> get_role(std::int64_t id) override {
    return one_read<Role>("SELECT id, name, description FROM roles WHERE id = $1", {id}, read_role, "role");
  }
  StorageResult<Role> get_role_by_name(std::string_view name) override {
    return one_read<Role>("SELECT id, name, description FROM roles WHERE name = $1", {name}, read_role, "role");
  }
  StorageResult<Role> update_role(const Role& role) override {
    return one_write<Role>(
        "UPDATE roles SET name = $2, description = $3 WHERE id = $1 RETURNING id, name, "
        "description",
        {role.id, role.name, role.description}, read_role, "role");
  }
  StorageStatus delete_role(std::int64_t id) override {
    return delete_where("DELETE FROM roles WHERE id = $1", {id}, "role");
  }
  StorageResult<std::vector<Role>> list_roles() override {
    return many_read<Role>("SELECT id, name, description FROM roles ORDER BY id", {}, read_role);
  }
  StorageStatus set_role_scopes(std::int64_t role_id, const std::vector<std::int64_t>& scope_ids) override {
    return set_links("roles", "id = $1", Param(role_id), "role_scopes", "role_id", "scope_id", scope_ids, "scope_ids",
                     "role");
  }
  StorageResult<std::vector<Scope>> role_scopes(std::int64_t role_id) override {
    return read_value<std::vector<Scope>>(*db_, [&](SqlConn& c, std::vector<Scope>& out) -> StorageStatus {
      if (auto e = exists(c, "SELECT 1 FROM roles WHERE id = $1", {role_id}, "role"); !e) {
        return e;
      }
      auto r = c.exec(
          "SELECT s.id, s.name, s.description, s.resource, s.action FROM scopes s JOIN "
          "role_scopes rs ON rs.scope_id = s.id WHERE rs.role_id = $1 ORDER BY s.name",
          {role_id});
      if (!r) return r.error();
      for (const auto& row : r->rows) out.push_back(read_scope(row));
      return {};
    });
  }

  StorageResult<Scope> create_scope(const Scope& s) override {
    return one_write<Scope>(
        "INSERT INTO scopes (name, description, resource, action) VALUES ($1, $2, $3, $4) "
        "RETURNING id, name, description, resource, action",
        {s.name, s.description, s.resource, s.action}, read_scope, "scope");
  }
  StorageResult<Scope> get_scope(std::int64_t id) override {
    return one_read<Scope>("SELECT id, name, description, resource, action FROM scopes WHERE id = $1", {id}, read_scope,
                           "scope");
  }
  StorageResult<Scope> get_scope_by_name(std::string_view name) override {
    return one_read<Scope>("SELECT id, name, description, resource, action FROM scopes WHERE name = $1", {name},
                           read_scope, "scope");
  }
  // A cache holds scope names per client: a rename or a delete changes every client holding the
  // scope. One "every client" change is recorded (whether or not a client holds it now: a grant
  // committing concurrently could otherwise miss the new name), not one per holder: a scope held by a million
  // clients would otherwise write a million rows and make each replica re-read them one by one,
  // dearer than the single full read the wildcard asks for (and these are rare admin actions).
  StorageResult<Scope> update_scope(const Scope& s) override {
    return write_value<Scope>(*db_, [&](SqlConn& c, Scope& out) -> StorageStatus {
      auto before = c.exec("SELECT name FROM scopes WHERE id = $1", {s.id});
      if (!before) return before.error();
      if (before->rows.empty()) return not_found("scope");
      const bool renamed = text(before->rows[0], 0) != s.name;
      auto r = c.exec(
          "UPDATE scopes SET name = $2, description = $3, resource = $4, action = $5 WHERE id = $1 "
          "RETURNING id, name, description, resource, action",
          {s.id, s.name, s.description, s.resource, s.action});
      if (!r) return r.error();
      if (r->rows.empty()) return not_found("scope");
      out = read_scope(r->rows[0]);
      if (!renamed) return {};  // a cache holds no description, resource or action
      return append_client_change(c, kEveryClient);
    });
  }
  StorageStatus delete_scope(std::int64_t id) override {
    return db_->write([&](SqlConn& c) -> StorageStatus {
      auto r = c.exec("DELETE FROM scopes WHERE id = $1", {id});
      if (!r) return r.error();
      if (r->affected == 0) return not_found("scope");
      return append_client_change(c, kEveryClient);
    });
  }
  StorageResult<std::vector<Scope>> list_scopes() override {
    return many_read<Scope>("SELECT id, name, description, resource, action FROM scopes ORDER BY id", {}, read_scope);
  }

  // ---- service clients ----
  StorageResult<ServiceClient> create_client(const ServiceClient& k,
                                             const std::vector<std::int64_t>& scope_ids) override {
    return write_value<ServiceClient>(*db_, [&](SqlConn& c, ServiceClient& out) -> StorageStatus {
      auto r = c.exec(
          cat({"INSERT INTO service_clients (", kClientCols,
               ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) "
               "RETURNING ",
               kClientCols}),
          {k.client_id, k.name, k.description, k.client_type, k.secret_hash, k.previous_secret_hash,
           k.previous_secret_expires_at, k.is_active, k.is_trusted, k.access_token_lifetime, k.rate_limit_per_minute,
           k.rate_limit_per_hour, k.allowed_ips, k.created_at, k.updated_at, k.last_used_at, k.redirect_uris});
      if (!r) return r.error();
      out = read_client(r->rows.at(0));
      if (auto l =
              replace_links(c, "client_scopes", "client_id", "scope_id", Param(k.client_id), scope_ids, "scope_ids");
          !l) {
        return l;
      }
      return append_client_change(c, k.client_id);
    });
  }
  StorageResult<ServiceClient> get_client(std::string_view client_id) override {
    return one_read<ServiceClient>(cat({"SELECT ", kClientCols, " FROM service_clients WHERE client_id = $1"}),
                                   {client_id}, read_client, "client");
  }
  StorageResult<ServiceClient> update_client(const ServiceClient& k,
                                             const std::optional<std::vector<std::int64_t>>& scope_ids) override {
    return write_value<ServiceClient>(*db_, [&](SqlConn& c, ServiceClient& out) -> StorageStatus {
      auto r = c.exec(
          cat({"UPDATE service_clients SET name = $2, description = $3, client_type = $4, "
               "secret_hash = $5, previous_secret_hash = $6, previous_secret_expires_at = $7, "
               "is_active = $8, is_trusted = $9, access_token_lifetime = $10, "
               "rate_limit_per_minute = $11, rate_limit_per_hour = $12, allowed_ips = $13, "
               "updated_at = $14, last_used_at = $15, redirect_uris = $16 WHERE client_id = $1 RETURNING ",
               kClientCols}),
          {k.client_id, k.name, k.description, k.client_type, k.secret_hash, k.previous_secret_hash,
           k.previous_secret_expires_at, k.is_active, k.is_trusted, k.access_token_lifetime, k.rate_limit_per_minute,
           k.rate_limit_per_hour, k.allowed_ips, k.updated_at, k.last_used_at, k.redirect_uris});
      if (!r) return r.error();
      if (r->rows.empty()) return not_found("client");
      out = read_client(r->rows[0]);
      if (scope_ids) {
        if (auto l =
                replace_links(c, "client_scopes", "client_id", "scope_id", Param(k.client_id), *scope_ids, "scope_ids");
            !l) {
          return l;
        }
      }
      return append_client_change(c, k.client_id);
    });
  }
  StorageStatus delete_client(std::string_view client_id) override {
    return db_->write([&](SqlConn& c) -> StorageStatus {
      auto r = c.exec("DELETE FROM service_clients WHERE client_id = $1", {client_id});
      if (!r) return r.error();
      if (r->affected == 0) return not_found("client");
      return append_client_change(c, client_id);
    });
  }
  StorageResult<Page<ServiceClient>> list_clients(std::int64_t page, std::int64_t per_page) override {
    const auto [limit, offset] = paging(page, per_page);
    return read_value<Page<ServiceClient>>(*db_, [&](SqlConn& c, Page<ServiceClient>& out) -> StorageStatus {
      auto n = c.exec("SELECT COUNT(*) FROM service_clients");
      if (!n) return n.error();
      out.total = integer(n->rows.at(0), 0);
      auto r = c.exec(cat({"SELECT ", kClientCols,
                           " FROM service_clients ORDER BY created_at, client_id "
                           "LIMIT $1 OFFSET $2"}),
                      {limit, offset});
      if (!r) return r.error();
      for (const auto& row : r->rows) out.items.push_back(read_client(row));
      return {};
    });
  }
  StorageStatus set_client_scopes(std::string_view client_id, const std::vector<std::int64_t>& scope_ids) override {
    return db_->write([&](SqlConn& c) -> StorageStatus {
      if (auto e = exists(c, "SELECT 1 FROM service_clients WHERE client_id = $1", {client_id}, "client"); !e) {
        return e;
      }
      if (auto l = replace_links(c, "client_scopes", "client_id", "scope_id", Param(client_id), scope_ids, "scope_ids");
          !l) {
        return l;
      }
      return append_client_change(c, client_id);
    });
  }
  StorageResult<std::vector<Scope>> client_scopes(std::string_view client_id) override {
    return read_value<std::vector<Scope>>(*db_, [&](SqlConn& c, std::vector<Scope>& out) -> StorageStatus {
      if (auto e = exists(c, "SELECT 1 FROM service_clients WHERE client_id = $1", {client_id}, "client"); !e) {
        return e;
      }
      auto r = c.exec(
          "SELECT s.id, s.name, s.description, s.resource, s.action FROM scopes s JOIN "
          "client_scopes cs ON cs.scope_id = s.id WHERE cs.client_id = $1 ORDER BY s.name",
          {client_id});
      if (!r) return r.error();
      for (const auto& row : r->rows) out.push_back(read_scope(row));
      return {};
    });
  }
  StorageResult<std::vector<ClientWithScopes>> list_all_clients_with_scopes() override {
    return read_value<std::vector<ClientWithScopes>>(
        *db_, [&](SqlConn& c, std::vector<ClientWithScopes>& out) -> StorageStatus {
          auto r = c.exec(cat({"SELECT ", kClientCols, " FROM service_clients ORDER BY client_id"}));
          if (!r) return r.error();
          std::map<std::string, std::size_t> index;
          for (const auto& row : r->rows) {
            out.push_back(ClientWithScopes{read_client(row), {}});
            index[out.back().client.client_id] = out.size() - 1;
          }
          auto s = c.exec(
              "SELECT cs.client_id, s.name FROM client_scopes cs JOIN scopes s ON "
              "s.id = cs.scope_id ORDER BY s.name");
          if (!s) return s.error();
          for (const auto& row : s->rows) {
            if (auto it = index.find(text(row, 0)); it != index.end()) {
              out[it->second].scopes.push_back(text(row, 1));
            }
          }
          return {};
        });
  }
  StorageResult<std::vector<ClientWithScopes>> list_clients_with_scopes_after(std::optional<std::string_view> after,
                                                                              std::int64_t limit) override {
    return read_value<std::vector<ClientWithScopes>>(
        *db_, [&](SqlConn& c, std::vector<ClientWithScopes>& out) -> StorageStatus {
          const auto n = std::max<std::int64_t>(limit, 0);
          // A range of the primary key: each page costs its own rows, wherever it starts.
          auto r =
              after ? c.exec(cat({"SELECT ", kClientCols,
                                  " FROM service_clients WHERE client_id > $1 ORDER BY client_id LIMIT $2"}),
                             {*after, n})
                    : c.exec(cat({"SELECT ", kClientCols, " FROM service_clients ORDER BY client_id LIMIT $1"}), {n});
          if (!r) return r.error();
          if (r->rows.empty()) return {};
          out.reserve(r->rows.size());
          for (const auto& row : r->rows) out.push_back(ClientWithScopes{read_client(row), {}});
          r->rows.clear();
          std::unordered_map<std::string_view, std::size_t> index;  // views of out's ids: out no longer grows
          index.reserve(out.size());
          for (std::size_t i = 0; i < out.size(); ++i) index.emplace(out[i].client.client_id, i);
          // The page's scopes: the same range of client_scopes' primary key (client_id, scope_id).
          auto s = c.exec(
              "SELECT cs.client_id, s.name FROM client_scopes cs JOIN scopes s ON s.id = cs.scope_id "
              "WHERE cs.client_id >= $1 AND cs.client_id <= $2 ORDER BY s.name",
              {out.front().client.client_id, out.back().client.client_id});
          if (!s) return s.error();
          for (const auto& row : s->rows) {
            if (auto it = index.find(text(row, 0)); it != index.end()) out[it->second].scopes.push_back(text(row, 1));
          }
          return {};
        });
  }
  StorageResult<std::int64_t> purge_client_changes(std::int64_t before) override {
    return write_value<std::int64_t>(*db_, [&](SqlConn& c, std::int64_t& out) -> StorageStatus {
      // The horizon first, from the rows about to go: a cursor below it must re-read everything.
      auto h = c.exec(
          "UPDATE client_changes_purged SET through_seq = "
          "(SELECT MAX(seq) FROM client_changes WHERE changed_at < $1) "
          "WHERE id = 1 AND EXISTS (SELECT 1 FROM client_changes WHERE changed_at < $1)",
          {before});
      if (!h) return h.error();
      auto d = c.exec("DELETE FROM client_changes WHERE changed_at < $1", {before});
      if (!d) return d.error();
      out = d->affected;
      return {};
    });
  }

  // ---- client change feed ----
  StorageResult<std::vector<ClientChange>> client_changes_since(std::int64_t after_seq, std::int64_t limit) override {
    return many_read<ClientChange>(
        "SELECT seq, client_id, changed_at FROM client_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        {after_seq, std::max<std::int64_t>(limit, 0)}, [](const Row& r) {
          return ClientChange{integer(r, 0), text(r, 1), integer(r, 2)};
        });
  }
  StorageResult<std::int64_t> max_client_change_seq() override {
    // The horizon counts too: after a purge of every row, MAX(seq) alone would fall back to 0 and
    // a cursor set from it would sit below the horizon forever (a full read on every catch-up).
    return read_value<std::int64_t>(*db_, [&](SqlConn& c, std::int64_t& out) -> StorageStatus {
      auto newest = c.exec("SELECT COALESCE(MAX(seq), 0) FROM client_changes");
      if (!newest) return newest.error();
      auto purged = c.exec("SELECT through_seq FROM client_changes_purged WHERE id = 1");
      if (!purged) return purged.error();
      out = std::max(integer(newest->rows.at(0), 0), purged->rows.empty() ? 0 : integer(purged->rows[0], 0));
      return {};
    });
  }
  StorageResult<std::int64_t> client_changes_purged_through() override {
    return scalar_read("SELECT through_seq FROM client_changes_purged WHERE id = 1", {});
  }

  StorageResult<ServiceClient> rotate_client_secret(std::string_view client_id, std::string_view new_secret_hash,
                                                    std::optional<std::int64_t> previous_valid_until,
                                                    std::int64_t now) override {
    const bool pg = db_->dialect() == Dialect::Postgres;
    return write_value<ServiceClient>(*db_, [&](SqlConn& c, ServiceClient& out) -> StorageStatus {
      auto cur = c.exec(cat({"SELECT secret_hash FROM service_clients WHERE client_id = $1", pg ? " FOR UPDATE" : ""}),
                        {client_id});
      if (!cur) return cur.error();
      if (cur->rows.empty()) return not_found("client");
      std::optional<std::string> prev;
      if (previous_valid_until) prev = text(cur->rows[0], 0);
      auto r = c.exec(cat({"UPDATE service_clients SET secret_hash = $2, "
                           "previous_secret_hash = $3, previous_secret_expires_at = $4, "
                           "updated_at = $5 WHERE client_id = $1 RETURNING ",
                           kClientCols}),
                      {client_id, new_secret_hash, prev, previous_valid_until, now});
      if (!r) return r.error();
      out = read_client(r->rows.at(0));
      return append_client_change(c, client_id);
    });
  }
  StorageStatus touch_client(std::string_view client_id, std::int64_t now) override {
    return update_one("UPDATE service_clients SET last_used_at = $2 WHERE client_id = $1", {client_id, now}, "client");
  }

  // ---- sessions ----
  StorageResult<Session> create_session(const Session& s) override {
    return one_write<Session>(
        cat({"INSERT INTO sessions (", kSessionCols, ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
             kSessionCols}),
        {s.id, s.user_id, s.client_id, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent, s.revoked_at},
        read_session, "session");
  }
  StorageResult<Session> get_session(std::string_view id) override {
    return one_read<Session>(cat({"SELECT ", kSessionCols, " FROM sessions WHERE id = $1"}), {id}, read_session,
                             "session");
  }
  StorageResult<std::vector<Session>> list_live_sessions(std::int64_t user_id, std::int64_t now) override {
    return many_read<Session>(cat({"SELECT ", kSessionCols,
                                   " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 "
                                   "ORDER BY created_at DESC, id"}),
                              {user_id, now}, read_session);
  }
  StorageStatus touch_session(std::string_view id, std::int64_t now) override {
    return update_one("UPDATE sessions SET last_seen_at = $2 WHERE id = $1", {id, now}, "session");
  }
  StorageStatus revoke_session(std::string_view id, std::int64_t now) override {
    return update_one("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", {id, now}, "session");
  }
  StorageResult<std::vector<std::string>> revoke_user_sessions(std::int64_t user_id, std::int64_t now) override {
    return write_value<std::vector<std::string>>(*db_, [&](SqlConn& c, std::vector<std::string>& out) -> StorageStatus {
      auto r = c.exec(
          "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL "
          "RETURNING id",
          {user_id, now});
      if (!r) return r.error();
      for (const auto& row : r->rows) out.push_back(text(row, 0));
      std::ranges::sort(out);
      return {};
    });
  }

  // ---- refresh tokens ----
  StorageStatus insert_refresh_token(const RefreshToken& t) override {
    return db_->write([&](SqlConn& c) { return insert_token(c, t); });
  }
  StorageResult<RefreshToken> get_refresh_token_by_hash(std::string_view token_hash) override {
    return one_read<RefreshToken>(cat({"SELECT ", kTokenCols, " FROM refresh_tokens WHERE token_hash = $1"}),
                                  {token_hash}, read_token, "refresh token");
  }
  StorageResult<RotateResult> rotate_refresh_token(std::string_view old_hash, const RefreshToken& new_token,
                                                   std::int64_t now) override {
    return write_value<RotateResult>(*db_, [&](SqlConn& c, RotateResult& out) -> StorageStatus {
      // The WHERE clause is the compare: PostgreSQL re-checks it after waiting on the row
      // lock, SQLite has one writer, so exactly one caller sees the row come back.
      auto won = c.exec(cat({"UPDATE refresh_tokens SET rotated_at = $2, replaced_by = $3 "
                             "WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL "
                             "AND expires_at > $2 RETURNING ",
                             kTokenCols}),
                        {old_hash, now, new_token.id});
      if (!won) return won.error();
      if (!won->rows.empty()) {
        out.old_token = read_token(won->rows[0]);
        RefreshToken next = new_token;
        next.family_id = out.old_token->family_id;
        if (next.session_id.empty()) next.session_id = out.old_token->session_id;
        if (auto ins = insert_token(c, next); !ins) return ins;
        out.outcome = RotateOutcome::Rotated;
        return {};
      }
      auto cur = c.exec(cat({"SELECT ", kTokenCols, " FROM refresh_tokens WHERE token_hash = $1"}), {old_hash});
      if (!cur) return cur.error();
      if (cur->rows.empty()) {
        out.outcome = RotateOutcome::NotFound;
        return {};
      }
      out.old_token = read_token(cur->rows[0]);
      if (out.old_token->rotated_at) {
        out.outcome = RotateOutcome::AlreadyRotated;
      } else if (out.old_token->revoked_at) {
        out.outcome = RotateOutcome::Revoked;
      } else {
        out.outcome = RotateOutcome::Expired;
      }
      return {};
    });
  }
  StorageResult<std::vector<std::string>> revoke_refresh_family(std::string_view family_id, std::int64_t now) override {
    return write_value<std::vector<std::string>>(*db_, [&](SqlConn& c, std::vector<std::string>& out) -> StorageStatus {
      auto r = c.exec(
          "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND "
          "revoked_at IS NULL RETURNING session_id",
          {family_id, now});
      if (!r) return r.error();
      std::set<std::string> ids;
      for (const auto& row : r->rows) ids.insert(text(row, 0));
      out.assign(ids.begin(), ids.end());
      return {};
    });
  }
  StorageResult<std::int64_t> revoke_session_refresh_tokens(std::string_view session_id, std::int64_t now) override {
    return affected_write("UPDATE refresh_tokens SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL",
                          {session_id, now});
  }
  StorageResult<std::int64_t> revoke_user_refresh_tokens(std::int64_t user_id, std::int64_t now) override {
    return affected_write("UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                          {user_id, now});
  }

  // ---- revocation feed ----
  StorageResult<std::int64_t> add_revocation(std::string_view key, std::int64_t expires_at, std::int64_t revoked_at,
                                             std::string_view reason) override {
    const bool pg = db_->dialect() == Dialect::Postgres;
    return write_value<std::int64_t>(*db_, [&](SqlConn& c, std::int64_t& out) -> StorageStatus {
      if (pg) {
        // Sequence values are handed out before commit; serialising writers keeps a reader's
        // "seq > cursor" from skipping an entry that commits late with a smaller seq.
        if (auto l = c.exec("SELECT pg_advisory_xact_lock($1)", {kRevocationFeedLock}); !l) return l.error();
      }
      auto r = c.exec(
          "INSERT INTO revocations (key, expires_at, revoked_at, reason) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (key) DO NOTHING RETURNING seq",
          {key, expires_at, revoked_at, reason});
      if (!r) return r.error();
      if (!r->rows.empty()) {
        out = integer(r->rows[0], 0);
        return {};
      }
      auto s = c.exec("SELECT seq FROM revocations WHERE key = $1", {key});
      if (!s) return s.error();
      if (s->rows.empty()) return failure(StorageError::Internal, "revocation vanished");
      out = integer(s->rows[0], 0);
      return {};
    });
  }
  StorageResult<std::vector<Revocation>> revocations_since(std::int64_t after_seq, std::int64_t limit) override {
    return many_read<Revocation>(
        "SELECT seq, key, expires_at, revoked_at, reason FROM revocations WHERE seq > $1 "
        "ORDER BY seq LIMIT $2",
        {after_seq, std::max<std::int64_t>(limit, 0)}, [](const Row& r) {
          return Revocation{integer(r, 0), text(r, 1), integer(r, 2), integer(r, 3), text(r, 4)};
        });
  }
  StorageResult<std::int64_t> max_revocation_seq() override {
    return scalar_read("SELECT COALESCE(MAX(seq), 0) FROM revocations", {});
  }
  StorageResult<std::int64_t> purge_expired_revocations(std::int64_t now) override {
    return affected_write("DELETE FROM revocations WHERE expires_at <= $1", {now});
  }

  // ---- authorization codes ----
  StorageStatus insert_authorization_code(const AuthorizationCode& a) override {
    return db_->write([&](SqlConn& c) -> StorageStatus {
      auto r = c.exec(
          cat({"INSERT INTO authorization_codes (", kCodeCols, ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"}),
          {a.code_hash, a.client_id, a.redirect_uri, a.code_challenge, a.user_id, a.scope, a.created_at, a.expires_at});
      if (!r) return r.error();
      return {};
    });
  }
  StorageResult<AuthorizationCode> take_authorization_code(std::string_view code_hash) override {
    // DELETE … RETURNING is the single use: the row goes to whichever statement deletes it.
    return one_write<AuthorizationCode>(
        cat({"DELETE FROM authorization_codes WHERE code_hash = $1 RETURNING ", kCodeCols}), {code_hash}, read_code,
        "authorization code");
  }
  StorageResult<std::int64_t> purge_expired_authorization_codes(std::int64_t now) override {
    return affected_write("DELETE FROM authorization_codes WHERE expires_at <= $1", {now});
  }

  // ---- audit ----
  StorageResult<std::int64_t> purge_audit_before(std::int64_t before, std::int64_t limit) override {
    // Both dialects take a LIMIT in the subquery; ix_audit_ts makes it a range scan.
    return affected_write(
        "DELETE FROM audit_events WHERE id IN "
        "(SELECT id FROM audit_events WHERE ts < $1 ORDER BY ts LIMIT $2)",
        {before, limit});
  }
  StorageStatus append_audit(const std::vector<AuditEvent>& events) override {
    if (events.empty()) return {};
    // Rows go in kAuditRowsPerInsert at a time: one statement run instead of 32 (a round trip
    // each on PostgreSQL). The rest goes row by row, so only two statement texts exist.
    // On SQLite, OR FAIL: a failing row leaves the statement's earlier rows in place instead of
    // undoing them, so SQLite keeps no statement journal of the pages each statement changes
    // (a temporary file, which tripled the bytes written per event). The batch's transaction
    // is rolled back on any failure all the same.
    const std::string_view verb = db_->dialect() == Dialect::Sqlite ? "INSERT OR FAIL" : "INSERT";
    const std::string many = audit_insert(kAuditRowsPerInsert, verb);
    const std::string one = audit_insert(1, verb);
    return db_->write([&](SqlConn& c) -> StorageStatus {
      std::size_t i = 0;
      for (; i + kAuditRowsPerInsert <= events.size(); i += kAuditRowsPerInsert) {
        if (auto r = c.exec(many, audit_params(events, i, kAuditRowsPerInsert)); !r) return r.error();
      }
      for (; i < events.size(); ++i) {
        if (auto r = c.exec(one, audit_params(events, i, 1)); !r) return r.error();
      }
      return {};
    });
  }
  StorageResult<Page<AuditEvent>> query_audit(const AuditQuery& q) override {
    std::string where = " WHERE 1 = 1";
    Params params;
    auto add = [&](std::string_view col, std::string_view op, Param p) {
      params.push_back(std::move(p));
      where += cat({" AND ", col, op, placeholder(params.size())});
    };
    if (q.actor) add("actor", " = ", *q.actor);
    if (q.action) add("action", " = ", *q.action);
    if (q.outcome) add("outcome", " = ", *q.outcome);
    if (q.since) add("ts", " >= ", *q.since);
    if (q.until) add("ts", " < ", *q.until);
    const auto [limit, offset] = paging(q.page, q.per_page);
    return read_value<Page<AuditEvent>>(*db_, [&](SqlConn& c, Page<AuditEvent>& out) -> StorageStatus {
      auto n = c.exec("SELECT COUNT(*) FROM audit_events" + where, params);
      if (!n) return n.error();
      out.total = integer(n->rows.at(0), 0);
      Params p2 = params;
      p2.emplace_back(limit);
      p2.emplace_back(offset);
      auto r = c.exec(cat({"SELECT ", kAuditCols, " FROM audit_events", where, " ORDER BY id DESC LIMIT ",
                           placeholder(p2.size() - 1), " OFFSET ", placeholder(p2.size())}),
                      p2);
      if (!r) return r.error();
      for (const auto& row : r->rows) out.items.push_back(read_audit(row));
      return {};
    });
  }

  // ---- settings ----
  StorageResult<std::string> get_setting(std::string_view key) override {
    return one_read<std::string>(
        "SELECT value FROM settings WHERE key = $1", {key}, [](const Row& r) { return text(r, 0); }, "setting");
  }
  StorageStatus put_setting(std::string_view key, std::string_view value) override {
    return db_->write([&](SqlConn& c) -> StorageStatus {
      auto r = c.exec(
          "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET "
          "value = excluded.value",
          {key, value});
      if (!r) return r.error();
      return {};
    });
  }
  StorageResult<std::string> put_setting_if_absent(std::string_view key, std::string_view value) override {
    return write_value<std::string>(*db_, [&](SqlConn& c, std::string& out) -> StorageStatus {
      auto r = c.exec("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", {key, value});
      if (!r) return r.error();
      auto s = c.exec("SELECT value FROM settings WHERE key = $1", {key});
      if (!s) return s.error();
      if (s->rows.empty()) return failure(StorageError::Internal, "setting vanished");
      out = text(s->rows[0], 0);
      return {};
    });
  }

 private:
  static constexpr std::string_view kEveryClient = "";  // ClientChange::client_id of a change to all

  /// Within a write, as its last statement: appends `client_id` to the client change feed, so
  /// the change and its feed entry commit together. On PostgreSQL writers are serialised first,
  /// as add_revocation's are: the seq is drawn under the lock, so seqs commit in order and a
  /// reader's "seq > cursor" never skips a change that commits late with a smaller seq. Last,
  /// so the lock is held for the commit only and no writer waits on a row lock while holding it.
  StorageStatus append_client_change(SqlConn& c, std::string_view client_id) const {
    const bool pg = db_->dialect() == Dialect::Postgres;
    if (pg) {
      if (auto l = c.exec("SELECT pg_advisory_xact_lock($1)", {kClientFeedLock}); !l) return l.error();
    }
    const std::string_view now_sql =
        pg ? "CAST(extract(epoch FROM now()) AS BIGINT)" : "CAST(strftime('%s','now') AS INTEGER)";
    auto r =
        c.exec(cat({"INSERT INTO client_changes (client_id, changed_at) VALUES ($1, ", now_sql, ")"}), {client_id});
    if (!r) return r.error();
    return {};
  }

  static std::pair<std::int64_t, std::int64_t> paging(std::int64_t page, std::int64_t per_page) {
    const std::int64_t limit = std::clamp<std::int64_t>(per_page, 1, 1000);
    const std::int64_t p = std::max<std::int64_t>(page, 1);
    return {limit, (p - 1) * limit};
  }

  static StorageStatus exists(SqlConn& c, std::string_view sql, const Params& params, const std::string& what) {
    auto r = c.exec(sql, params);
    if (!r) return r.error();
    if (r->rows.empty()) return not_found(what);
    return {};
  }

  static StorageStatus insert_token(SqlConn& c, const RefreshToken& t) {
    auto r = c.exec(cat({"INSERT INTO refresh_tokens (", kTokenCols,
                         ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"}),
                    {t.id, t.token_hash, t.family_id, t.session_id, t.user_id, t.client_id, t.scope, t.issued_at,
                     t.expires_at, t.rotated_at, t.replaced_by, t.revoked_at});
    if (!r) return r.error();
    return {};
  }

  StorageResult<User> one_user(std::string_view where, const Params& params) {
    return one_read<User>(cat({"SELECT ", kUserCols, " FROM users WHERE ", where}), params, read_user, "user");
  }

  template <class T, class F>
  StorageResult<T> one_read(const std::string& sql, const Params& params, F read, const std::string& what) {
    return read_value<T>(*db_, [&](SqlConn& c, T& out) -> StorageStatus {
      auto r = c.exec(sql, params);
      if (!r) return r.error();
      if (r->rows.empty()) return not_found(what);
      out = read(r->rows[0]);
      return {};
    });
  }
  template <class T, class F>
  StorageResult<T> one_write(const std::string& sql, const Params& params, F read, const std::string& what) {
    return write_value<T>(*db_, [&](SqlConn& c, T& out) -> StorageStatus {
      auto r = c.exec(sql, params);
      if (!r) return r.error();
      if (r->rows.empty()) return not_found(what);
      out = read(r->rows[0]);
      return {};
    });
  }
  template <class T, class F>
  StorageResult<std::vector<T>> many_read(const std::string& sql, const Params& params, F read) {
    return read_value<std::vector<T>>(*db_, [&](SqlConn& c, std::vector<T>& out) -> StorageStatus {
      auto r = c.exec(sql, params);
      if (!r) return r.error();
      for (const auto& row : r->rows) out.push_back(read(row));
      return {};
    });
  }
  StorageResult<std::int64_t> scalar_read(std::string_view sql, const Params& params) {
    return read_value<std::int64_t>(*db_, [&](SqlConn& c, std::int64_t& out) -> StorageStatus {
      auto r = c.exec(sql, params);
      if (!r) return r.error();
      out = r->rows.empty() ? 0 : integer(r->rows[0], 0);
      return {};
    });
  }
  StorageResult<std::int64_t> affected_write(std::string_view sql, const Params& params) {
    return write_value<std::int64_t>(*db_, [&](SqlConn& c, std::int64_t& out) -> StorageStatus {
      auto r = c.exec(sql, params);
      if (!r) return r.error();
      out = r->affected;
      return {};
    });
  }
  StorageStatus update_one(std::string_view sql, const Params& params, const std::string& what) {
    return db_->write([&](SqlConn& c) -> StorageStatus {
      auto r = c.exec(sql, params);
      if (!r) return r.error();
      if (r->affected == 0) return not_found(what);
      return {};
    });
  }
  StorageStatus delete_where(std::string_view sql, const Params& params, const std::string& what) {
    return update_one(sql, params, what);
  }

  StorageStatus set_links(std::string_view owner_table, std::string_view owner_where, const Param& owner,
                          std::string_view link_table, std::string_view owner_col, std::string_view target_col,
                          const std::vector<std::int64_t>& ids, std::string_view field, const std::string& what) {
    return db_->write([&](SqlConn& c) -> StorageStatus {
      if (auto e = exists(c, cat({"SELECT 1 FROM ", owner_table, " WHERE ", owner_where}), {owner}, what); !e) {
        return e;
      }
      return replace_links(c, link_table, owner_col, target_col, owner, ids, field);
    });
  }
  /// Within a write: the owner's links become exactly `ids` (an unknown id: Invalid, `field`).
  static StorageStatus replace_links(SqlConn& c, std::string_view link_table, std::string_view owner_col,
                                     std::string_view target_col, const Param& owner,
                                     const std::vector<std::int64_t>& ids, std::string_view field) {
    auto d = c.exec(cat({"DELETE FROM ", link_table, " WHERE ", owner_col, " = $1"}), {owner});
    if (!d) return d.error();
    for (auto id : std::set<std::int64_t>(ids.begin(), ids.end())) {
      auto r = c.exec(cat({"INSERT INTO ", link_table, " (", owner_col, ", ", target_col, ") VALUES ($1, $2)"}),
                      {owner, id});
      if (!r) {
        auto f = r.error();
        if (f.code == StorageError::Invalid) f.field = std::string(field);
        return f;
      }
    }
    return {};
  }

  std::unique_ptr<Db> db_;
};

}  // namespace

std::unique_ptr<Storage> make_sql_storage(std::unique_ptr<Db> db) {
  return std::make_unique<SqlStorage>(std::move(db));
}

}  // namespace permiso::storage::detail
