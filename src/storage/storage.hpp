// The persistence interface of permiso-auth: plain models and one pure-virtual Storage with
// SQLite and PostgreSQL backends behind it. All calls block; run them on a worker pool.
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::storage {

enum class StorageError {
  NotFound,      // no row with that key
  Conflict,      // a unique column collided; StorageFailure::field names it
  Unavailable,   // database unreachable (fails fast, bounded by the connect timeout)
  Invalid,       // a reference or value the schema refuses (e.g. unknown role id); field names it
  Internal,      // a bug or an unexpected database answer
  SchemaTooNew,  // the database's schema is newer than this binary knows (forward-only: refuse)
};

std::string_view to_string(StorageError e);
PERMISO_RESULT_ERROR(StorageError)

struct StorageFailure {
  StorageError code = StorageError::Internal;
  std::string field;    // Conflict/Invalid: "username", "email", "name", "client_id", ...
  std::string message;  // for logs; never contains secrets or hashes
};

std::string_view to_string(const StorageFailure& f);
PERMISO_RESULT_ERROR(StorageFailure)

template <class T>
using StorageResult = Result<T, StorageFailure>;
using StorageStatus = Result<void, StorageFailure>;

// ---- models (times are Unix seconds) ----

struct User {
  std::int64_t id = 0;   // assigned by create_user
  std::string username;  // stored lowercase (create/update lowercase it)
  std::string email;     // unique, compared case-insensitively
  std::string password_hash;
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
  std::optional<std::string> display_name;
  std::optional<std::string> bio;
  bool is_active = true;
  bool is_verified = false;
  bool is_superuser = false;
  std::int64_t failed_login_count = 0;
  std::optional<std::int64_t> locked_until;
  std::optional<std::int64_t> last_login;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

struct Role {
  std::int64_t id = 0;
  std::string name;
  std::string description;
};

struct Scope {
  std::int64_t id = 0;
  std::string name;  // e.g. "trade:read"
  std::string description;
  std::string resource;  // e.g. "trade"
  std::string action;    // e.g. "read"
};

struct ServiceClient {
  std::string client_id;
  std::string name;
  std::string description;
  std::string client_type = "confidential";  // "confidential" | "public"
  std::string secret_hash;
  std::optional<std::string> previous_secret_hash;  // accepted until previous_secret_expires_at
  std::optional<std::int64_t> previous_secret_expires_at;
  bool is_active = true;
  bool is_trusted = false;
  std::int64_t access_token_lifetime = 3600;
  std::optional<std::int64_t> rate_limit_per_minute;  // nullopt: unlimited
  std::optional<std::int64_t> rate_limit_per_hour;    // nullopt: unlimited
  std::string allowed_ips = "[]";                     // JSON array text
  std::string redirect_uris = "[]";                   // JSON array text: exact URIs (public clients)
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> last_used_at;
};

struct ClientWithScopes {
  ServiceClient client;
  std::vector<std::string> scopes;  // scope names, sorted
};

struct Session {
  std::string id;
  std::int64_t user_id = 0;
  std::string client_id;  // empty when none
  std::int64_t created_at = 0;
  std::int64_t last_seen_at = 0;
  std::int64_t expires_at = 0;
  std::string ip;
  std::string user_agent;
  std::optional<std::int64_t> revoked_at;
};

struct RefreshToken {
  std::string id;          // caller-generated (random), referenced by replaced_by
  std::string token_hash;  // unique; the token itself is never stored
  std::string family_id;
  std::string session_id;
  std::int64_t user_id = 0;
  std::optional<std::string> client_id;
  std::string scope;  // space-separated
  std::int64_t issued_at = 0;
  std::int64_t expires_at = 0;
  std::optional<std::int64_t> rotated_at;
  std::optional<std::string> replaced_by;
  std::optional<std::int64_t> revoked_at;
};

/// An authorization code (RFC 6749 §4.1) awaiting its exchange: bound to the client, the
/// redirect URI and the PKCE challenge it was issued for. Only the code's hash is stored.
struct AuthorizationCode {
  std::string code_hash;
  std::string client_id;
  std::string redirect_uri;
  std::string code_challenge;  // base64url SHA-256 of the verifier (S256)
  std::int64_t user_id = 0;
  std::string scope;  // space-separated
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;
};

/// Result of a compare-and-set rotation of a refresh token.
enum class RotateOutcome {
  Rotated,         // this call won: old row marked rotated, new row inserted
  AlreadyRotated,  // the old token was rotated before: reuse, revoke the family
  Revoked,         // the old token (or its family) was revoked
  Expired,         // the old token expired
  NotFound,        // no token with that hash
};

struct RotateResult {
  RotateOutcome outcome = RotateOutcome::NotFound;
  std::optional<RefreshToken> old_token;  // present unless NotFound
};

struct Revocation {
  std::int64_t seq = 0;  // strictly increasing in commit order: the feed cursor
  std::string key;       // "jti:<id>" or "sid:<id>"
  std::int64_t expires_at = 0;
  std::int64_t revoked_at = 0;
  std::string reason;
};

/// One entry of the client change feed: a change to what an in-memory client cache holds for
/// `client_id` (its row or its scopes), or to every client at once (a scope renamed or
/// deleted: `client_id` empty, one row whatever the number of clients it touches).
struct ClientChange {
  std::int64_t seq = 0;         // strictly increasing in commit order: the feed cursor
  std::string client_id;        // empty: every client (re-read them all)
  std::int64_t changed_at = 0;  // database clock, Unix seconds; the purge goes by it

  [[nodiscard]] bool every_client() const { return client_id.empty(); }
};

struct AuditEvent {
  std::int64_t id = 0;  // assigned on append, monotonic
  std::int64_t ts = 0;
  std::string actor;       // username, client_id or "anonymous"
  std::string actor_type;  // "user" | "client" | "system" | "anonymous"
  std::string action;      // e.g. "auth.login"
  std::string target;
  std::string ip;
  std::string outcome;         // "success" | "failure" | "denied"
  std::string details = "{}";  // JSON object text
  std::string request_id;
  std::string trace_id;  // W3C trace id (32 hex) of the request; empty for events outside one
};

template <class T>
struct Page {
  std::vector<T> items;
  std::int64_t total = 0;  // rows matching the filter, ignoring pagination
};

struct UserQuery {
  std::int64_t page = 1;  // 1-based
  std::int64_t per_page = 20;
  std::string search;  // substring of username, email, first/last/display name (case-insensitive)
  std::optional<bool> is_active;
};

struct UserStats {
  std::int64_t total = 0;
  std::int64_t active = 0;
  std::int64_t verified = 0;
  std::int64_t superusers = 0;
  std::int64_t locked = 0;  // locked_until > now
};

struct LoginFailure {
  std::int64_t failed_login_count = 0;
  std::optional<std::int64_t> locked_until;
  bool was_already_locked = false;  // the lock was active before this call: nothing changed
};

struct AuditQuery {
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::string> outcome;
  std::optional<std::int64_t> since;  // ts >= since
  std::optional<std::int64_t> until;  // ts <  until
  std::int64_t page = 1;
  std::int64_t per_page = 50;
};

/// The part of Storage an in-memory client cache reads, so the cache depends on no more.
class ClientReader {
 public:
  virtual ~ClientReader() = default;
  ClientReader() = default;
  ClientReader(const ClientReader&) = delete;
  ClientReader& operator=(const ClientReader&) = delete;
  ClientReader(ClientReader&&) = delete;
  ClientReader& operator=(ClientReader&&) = delete;

  virtual StorageResult<ServiceClient> get_client(std::string_view client_id) = 0;
  virtual StorageResult<std::vector<Scope>> client_scopes(std::string_view client_id) = 0;
  /// Every client with its scope names, for an in-memory cache.
  virtual StorageResult<std::vector<ClientWithScopes>> list_all_clients_with_scopes() = 0;
  /// One page of every client with its scope names, so a full read never holds every row at
  /// once: the clients whose client_id sorts after `after_client_id` (from the first for
  /// nullopt), ascending by client_id, at most `limit`. The next page starts after this one's
  /// last id; a page shorter than `limit` is the last. Storage reads each page as a range of
  /// the primary key; this default (for a reader with only the full read, e.g. a test double)
  /// slices list_all_clients_with_scopes.
  virtual StorageResult<std::vector<ClientWithScopes>> list_clients_with_scopes_after(
      std::optional<std::string_view> after_client_id, std::int64_t limit);

  // ---- client change feed ----
  // Every write that changes a client's row or scopes appends a ClientChange in its own
  // transaction (touch_client's last_used_at excepted: no cache decision reads it), so a cache
  // that has applied every change up to a seq holds what storage held at that seq.
  /// Entries with seq > after_seq, ascending, at most `limit`.
  virtual StorageResult<std::vector<ClientChange>> client_changes_since(std::int64_t after_seq, std::int64_t limit) = 0;
  /// The newest seq handed out, purged entries included (0 when none ever was): the cursor a
  /// full read taken after this call is at least as new as.
  virtual StorageResult<std::int64_t> max_client_change_seq() = 0;
  /// The highest seq a purge removed (0 when none): a cursor below it may have missed a change.
  virtual StorageResult<std::int64_t> client_changes_purged_through() = 0;
};

class Storage : public ClientReader {
 public:
  /// Readiness: one round trip to the database.
  virtual StorageStatus ping() = 0;
  /// Applies pending versioned migrations (recorded in schema_migrations), each in a
  /// transaction. Idempotent; open_storage calls it unless told not to.
  virtual StorageStatus migrate() = 0;
  /// "sqlite" or "postgresql".
  [[nodiscard]] virtual std::string_view backend() const = 0;

  // ---- users ----
  /// Inserts with username lowercased, with its roles, in one transaction; returns the stored
  /// row (id assigned). Conflict field "username" or "email"; Invalid field "role_ids" for
  /// an unknown role id.
  virtual StorageResult<User> create_user(const User& user, const std::vector<std::int64_t>& role_ids) = 0;
  virtual StorageResult<User> get_user(std::int64_t id) = 0;
  virtual StorageResult<User> get_user_by_username(std::string_view username) = 0;
  virtual StorageResult<User> get_user_by_email(std::string_view email) = 0;
  /// Replaces every column but id and created_at with `user`'s; returns the stored row.
  virtual StorageResult<User> update_user(const User& user) = 0;
  virtual StorageStatus delete_user(std::int64_t id) = 0;
  virtual StorageResult<Page<User>> list_users(const UserQuery& query) = 0;
  virtual StorageResult<UserStats> user_stats(std::int64_t now) = 0;
  virtual StorageResult<std::int64_t> count_users() = 0;

  /// Atomic: concurrent failures never push the count past `threshold`. A lock in force
  /// (locked_until > now) leaves the row unchanged; an expired lock restarts the count at 1.
  /// Reaching `threshold` sets locked_until = now + lock_seconds.
  virtual StorageResult<LoginFailure> record_failed_login(std::int64_t user_id, std::int64_t now,
                                                          std::int64_t threshold, std::int64_t lock_seconds) = 0;
  /// Resets the failure count and lock, sets last_login = now.
  virtual StorageStatus record_successful_login(std::int64_t user_id, std::int64_t now) = 0;

  // ---- roles and scopes ----
  /// Replaces the user's roles. NotFound for the user; Invalid (field "role_ids") for an
  /// unknown role id.
  virtual StorageStatus set_user_roles(std::int64_t user_id, const std::vector<std::int64_t>& role_ids) = 0;
  virtual StorageResult<std::vector<Role>> user_roles(std::int64_t user_id) = 0;
  /// Union of the scopes of the user's roles: names, sorted, unique.
  virtual StorageResult<std::vector<std::string>> user_scope_names(std::int64_t user_id) = 0;

  /// Conflict field "name".
  virtual StorageResult<Role> create_role(const Role& role) = 0;
  virtual StorageResult<Role> get_role(std::int64_t id) = 0;
  virtual StorageResult<Role> get_role_by_name(std::string_view name) = 0;
  virtual StorageResult<Role> update_role(const Role& role) = 0;
  virtual StorageStatus delete_role(std::int64_t id) = 0;
  virtual StorageResult<std::vector<Role>> list_roles() = 0;  // by id
  /// Invalid (field "scope_ids") for an unknown scope id.
  virtual StorageStatus set_role_scopes(std::int64_t role_id, const std::vector<std::int64_t>& scope_ids) = 0;
  virtual StorageResult<std::vector<Scope>> role_scopes(std::int64_t role_id) = 0;

  /// Conflict field "name".
  virtual StorageResult<Scope> create_scope(const Scope& scope) = 0;
  virtual StorageResult<Scope> get_scope(std::int64_t id) = 0;
  virtual StorageResult<Scope> get_scope_by_name(std::string_view name) = 0;
  virtual StorageResult<Scope> update_scope(const Scope& scope) = 0;
  virtual StorageStatus delete_scope(std::int64_t id) = 0;
  virtual StorageResult<std::vector<Scope>> list_scopes() = 0;  // by id

  // ---- service clients ----
  /// The client and its scopes in one transaction: a crash never leaves a client without the
  /// scopes it was created with. Conflict field "client_id"; Invalid field "scope_ids" for an
  /// unknown scope id.
  virtual StorageResult<ServiceClient> create_client(const ServiceClient& client,
                                                     const std::vector<std::int64_t>& scope_ids) = 0;
  StorageResult<ServiceClient> get_client(std::string_view client_id) override = 0;
  /// Replaces every column but client_id and created_at and, when given, the scopes, in one
  /// transaction.
  virtual StorageResult<ServiceClient> update_client(const ServiceClient& client,
                                                     const std::optional<std::vector<std::int64_t>>& scope_ids) = 0;
  virtual StorageStatus delete_client(std::string_view client_id) = 0;
  virtual StorageResult<Page<ServiceClient>> list_clients(std::int64_t page, std::int64_t per_page) = 0;
  /// Invalid (field "scope_ids") for an unknown scope id.
  virtual StorageStatus set_client_scopes(std::string_view client_id, const std::vector<std::int64_t>& scope_ids) = 0;
  StorageResult<std::vector<Scope>> client_scopes(std::string_view client_id) override = 0;
  StorageResult<std::vector<ClientWithScopes>> list_all_clients_with_scopes() override = 0;
  StorageResult<std::vector<ClientWithScopes>> list_clients_with_scopes_after(
      std::optional<std::string_view> after_client_id, std::int64_t limit) override = 0;
  /// Deletes client changes with changed_at < `before` and records the highest seq deleted as
  /// the purge horizon, in one transaction; returns how many went.
  virtual StorageResult<std::int64_t> purge_client_changes(std::int64_t before) = 0;
  /// Sets a new secret hash. With `previous_valid_until` the old hash stays acceptable until
  /// then; without it the old hash is dropped.
  virtual StorageResult<ServiceClient> rotate_client_secret(std::string_view client_id,
                                                            std::string_view new_secret_hash,
                                                            std::optional<std::int64_t> previous_valid_until,
                                                            std::int64_t now) = 0;
  /// Sets last_used_at only; appends no client change (it runs per token, and no cache
  /// decision reads last_used_at).
  virtual StorageStatus touch_client(std::string_view client_id, std::int64_t now) = 0;

  // ---- sessions ----
  virtual StorageResult<Session> create_session(const Session& session) = 0;
  virtual StorageResult<Session> get_session(std::string_view id) = 0;
  /// Not revoked and expires_at > now, newest first.
  virtual StorageResult<std::vector<Session>> list_live_sessions(std::int64_t user_id, std::int64_t now) = 0;
  virtual StorageStatus touch_session(std::string_view id, std::int64_t now) = 0;
  /// Revokes a live session; NotFound when absent or already revoked.
  virtual StorageStatus revoke_session(std::string_view id, std::int64_t now) = 0;
  /// Revokes every unrevoked session of the user; returns their ids.
  virtual StorageResult<std::vector<std::string>> revoke_user_sessions(std::int64_t user_id, std::int64_t now) = 0;

  // ---- refresh tokens ----
  /// Conflict field "token_hash" or "id".
  virtual StorageStatus insert_refresh_token(const RefreshToken& token) = 0;
  virtual StorageResult<RefreshToken> get_refresh_token_by_hash(std::string_view token_hash) = 0;
  /// Compare-and-set: of N concurrent calls with the same old hash exactly one gets Rotated
  /// (and `new_token` is inserted with the same family); the others get AlreadyRotated.
  virtual StorageResult<RotateResult> rotate_refresh_token(std::string_view old_hash, const RefreshToken& new_token,
                                                           std::int64_t now) = 0;
  /// Revokes every unrevoked token of the family; returns the distinct session ids involved.
  virtual StorageResult<std::vector<std::string>> revoke_refresh_family(std::string_view family_id,
                                                                        std::int64_t now) = 0;
  /// Returns how many tokens were revoked.
  virtual StorageResult<std::int64_t> revoke_session_refresh_tokens(std::string_view session_id, std::int64_t now) = 0;
  virtual StorageResult<std::int64_t> revoke_user_refresh_tokens(std::int64_t user_id, std::int64_t now) = 0;

  // ---- authorization codes ----
  /// Conflict field "code_hash".
  virtual StorageStatus insert_authorization_code(const AuthorizationCode& code) = 0;
  /// Deletes the code and returns it, expired or not (the caller judges): of concurrent
  /// calls with one hash exactly one gets it, the others NotFound. A code is used once.
  virtual StorageResult<AuthorizationCode> take_authorization_code(std::string_view code_hash) = 0;
  /// Deletes codes with expires_at <= now; returns how many.
  virtual StorageResult<std::int64_t> purge_expired_authorization_codes(std::int64_t now) = 0;

  // ---- revocation feed ----
  /// Idempotent on key: a second add returns the first entry's seq.
  virtual StorageResult<std::int64_t> add_revocation(std::string_view key, std::int64_t expires_at,
                                                     std::int64_t revoked_at, std::string_view reason) = 0;
  /// Entries with seq > after_seq, ascending, at most `limit`.
  virtual StorageResult<std::vector<Revocation>> revocations_since(std::int64_t after_seq, std::int64_t limit) = 0;
  /// 0 when empty.
  virtual StorageResult<std::int64_t> max_revocation_seq() = 0;
  /// Deletes entries with expires_at <= now; returns how many.
  virtual StorageResult<std::int64_t> purge_expired_revocations(std::int64_t now) = 0;

  // ---- audit ----
  /// Appends in one transaction; ids are assigned in order.
  virtual StorageStatus append_audit(const std::vector<AuditEvent>& events) = 0;
  /// Newest first (id descending).
  virtual StorageResult<Page<AuditEvent>> query_audit(const AuditQuery& query) = 0;
  /// Deletes at most `limit` of the oldest events with ts < `before` (one short transaction,
  /// so a purge never holds the database for long); returns how many went.
  virtual StorageResult<std::int64_t> purge_audit_before(std::int64_t before, std::int64_t limit) = 0;

  // ---- settings (small key-value) ----
  virtual StorageResult<std::string> get_setting(std::string_view key) = 0;  // NotFound
  virtual StorageStatus put_setting(std::string_view key, std::string_view value) = 0;
  /// Stores `value` unless the key exists; returns the stored value either way (so replicas
  /// racing to generate a secret agree on one).
  virtual StorageResult<std::string> put_setting_if_absent(std::string_view key, std::string_view value) = 0;
};

struct StorageOptions {
  int pool_size = 4;                 // PostgreSQL connections / SQLite reader connections
  int connect_timeout_seconds = 3;   // PostgreSQL connect_timeout
  int acquire_timeout_ms = 2000;     // wait for a free pooled connection
  int busy_timeout_ms = 5000;        // SQLite busy_timeout
  int statement_timeout_ms = 10000;  // PostgreSQL statement_timeout
  bool migrate = true;               // run migrate() on open
  /// SQLite synchronous=FULL (an fsync per commit, durable across power loss) instead of
  /// NORMAL (WAL: durable across a process crash). mt5-api's trade store turns it on.
  bool sqlite_full_sync = false;
  /// Open without ever writing (plan_migrations): SQLite read-only and never created,
  /// PostgreSQL transactions READ ONLY. Not for a Storage, which must write.
  bool read_only = false;
  /// PostgreSQL: server-side prepared statements, kept per pooled connection (parsed and
  /// planned once, not per call). Off for a proxy that hands each transaction to any server
  /// connection (pgbouncer in transaction mode before 1.21, or without max_prepared_statements).
  bool prepared_statements = true;
};

/// `sqlite:///abs/path.db`, `sqlite://relative.db`, or `postgresql://…` / `postgres://…`.
/// Invalid for an unknown scheme; Unavailable when the database cannot be reached.
StorageResult<std::unique_ptr<Storage>> open_storage(std::string_view url, const StorageOptions& options = {});

}  // namespace permiso::storage
