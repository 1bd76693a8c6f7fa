// PostgreSQL backend of the Db layer over libpq: a bounded connection pool, typed parameters,
// SQLSTATE-to-StorageError mapping, and reconnection after the server goes away.
#include "storage/sql_db.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace permiso::storage::detail {
namespace {

constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kBoolOid = 16;
constexpr Oid kFloat8Oid = 701;

// The shortest text that parses back to the same double (float8in reads it exactly).
std::string double_text(double d) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

std::string first_line(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

bool succeeded(const PGresult* res) {
  const auto status = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

std::string sqlstate(const PGresult* res) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  return state != nullptr ? state : "";
}

// A kept statement the server no longer runs as prepared: 26000, it does not exist (DEALLOCATE
// ALL or DISCARD ALL by a proxy, or a transaction-pooling proxy that moved us to another server
// connection); 0A000, "cached plan must not change result type" (a migration changed the
// columns of a `RETURNING *` or `SELECT *` under it).
bool stale_statement(const PGresult* res) {
  const auto state = sqlstate(res);
  return state == "26000" || state == "0A000";
}

// Parameters as libpq takes them: every value as text, with the type the server must read it as.
struct BoundParams {
  explicit BoundParams(const Params& params) {
    types.reserve(params.size());
    text.reserve(params.size());
    for (const auto& p : params) {
      switch (p.kind) {
        case Param::Kind::Null:
          types.push_back(0);
          text.emplace_back();
          break;
        case Param::Kind::Int:
          types.push_back(kInt8Oid);
          text.push_back(std::to_string(p.i));
          break;
        case Param::Kind::Bool:
          types.push_back(kBoolOid);
          text.emplace_back(p.i ? "t" : "f");
          break;
        case Param::Kind::Text:
          types.push_back(kTextOid);
          text.push_back(p.s);
          break;
        case Param::Kind::Double:
          types.push_back(kFloat8Oid);
          text.push_back(double_text(p.d));
          break;
      }
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      values.push_back(params[i].kind == Param::Kind::Null ? nullptr : text[i].c_str());
    }
  }
  [[nodiscard]] int count() const { return static_cast<int>(types.size()); }

  std::vector<Oid> types;
  std::vector<std::string> text;
  std::vector<const char*> values;
};

// A statement is prepared with its parameter types, and a NULL (type 0, "unknown") lets the
// server infer one: the same SQL bound with other types is another statement.
std::string statement_key(std::string_view sql, const std::vector<Oid>& types) {
  std::string key(sql);
  key.push_back('\0');
  for (const Oid t : types) key += std::to_string(t) + ',';
  return key;
}

// The server-side prepared statements of one connection, by SQL and parameter types, so a
// statement run all the time (the trade store's writes, token lookups) is parsed and planned
// once per connection instead of on every call. A new connection starts with none.
//
// Bounded, because some SQL is built per call (filters, multi-row VALUES of any length, the
// trade store's combined writes of 15-25 KiB): a statement is prepared only on its second
// sighting, so a one-off costs no extra PREPARE round trip and takes no slot, and the sightings
// set is dropped whenever it fills. The server holds each kept statement's parse tree and plan,
// about 45 bytes per byte of SQL for a multi-row INSERT (measured: 4.9 KiB of SQL, 220 KiB in
// its CachedPlan* contexts), so besides kCapacity statements the SQL kept is bounded too:
// kMaxKeptBytes per connection (~25 MB of server memory at worst), none over kMaxSqlBytes.
// Beyond a bound, statements run unnamed as before.
class StatementCache {
 public:
  static constexpr std::size_t kCapacity = 256;
  static constexpr std::size_t kMaxKeptBytes = 512 * 1024;
  static constexpr std::size_t kMaxSqlBytes = 64 * 1024;
  static constexpr std::size_t kMaxSightings = 1024;

  /// The name `key` was prepared under on this connection, or nullptr.
  [[nodiscard]] const std::string* find(const std::string& key) const {
    const auto it = names_.find(key);
    return it != names_.end() ? &it->second : nullptr;
  }

  /// Whether `key` (not kept yet) should be prepared now: seen before, and there is room.
  bool worth_preparing(const std::string& key) {
    if (names_.size() >= kCapacity || kept_bytes_ + key.size() > kMaxKeptBytes) return false;
    const auto h = std::hash<std::string>{}(key);  // a collision only prepares a statement early
    if (sightings_.contains(h)) return true;
    if (sightings_.size() >= kMaxSightings) sightings_.clear();
    sightings_.insert(h);
    return false;
  }

  /// A name no statement of this connection has had.
  std::string next_name() { return "permiso_s" + std::to_string(++named_); }
  void keep(std::string key, std::string name) {
    kept_bytes_ += key.size();
    names_.emplace(std::move(key), std::move(name));
  }

  /// The server dropped or invalidated our statements: forget every one, and have the server
  /// drop whatever of them it still holds before the next PREPARE, so nothing leaks there.
  void forget_all() {
    names_.clear();
    kept_bytes_ = 0;
    server_holds_unknown_ = true;
  }
  [[nodiscard]] bool must_deallocate_all() const { return server_holds_unknown_; }
  void deallocated_all() { server_holds_unknown_ = false; }

 private:
  std::unordered_map<std::string, std::string> names_;
  std::unordered_set<std::size_t> sightings_;
  std::size_t kept_bytes_ = 0;  // of the keys: the SQL texts and their type lists
  std::uint64_t named_ = 0;
  bool server_holds_unknown_ = false;
};

class PgConn final : public SqlConn {
 public:
  PgConn(PgConnPtr conn, bool prepare) : conn_(std::move(conn)) {
    if (prepare) statements_.emplace();
  }

  [[nodiscard]] bool healthy() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

  StorageResult<Rows> exec(std::string_view sql, const Params& params) override {
    const BoundParams bound(params);
    // Statements without parameters (BEGIN, COMMIT, ROLLBACK, a migration's DDL, ping) are not
    // prepared: transaction control and DDL have no plan worth keeping. SQLite keeps the same.
    if (!statements_ || params.empty() || sql.size() > StatementCache::kMaxSqlBytes) {
      return rows_of(exec_unnamed(sql, bound));
    }
    const std::string key = statement_key(sql, bound.types);
    auto [res, was_kept] = exec_keyed(sql, key, bound);
    if (was_kept && stale_statement(res.get())) {
      statements_->forget_all();
      // Both errors come before the statement runs (at Bind, at the plan's revalidation), and
      // outside a transaction block nothing else ran: running it again, prepared afresh, is
      // running it once. Inside one the transaction is aborted: no retry, the caller gets the
      // error as for any failed statement, and the next transaction prepares afresh.
      if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE) res = exec_keyed(sql, key, bound).first;
    }
    return rows_of(std::move(res));
  }

 private:
  PgResultPtr exec_unnamed(std::string_view sql, const BoundParams& bound) {
    const std::string text(sql);
    return PgResultPtr(PQexecParams(conn_.get(), text.c_str(), bound.count(), bound.types.data(), bound.values.data(),
                                    nullptr, nullptr, 0));
  }

  PgResultPtr exec_prepared(const std::string& name, const BoundParams& bound) {
    return PgResultPtr(
        PQexecPrepared(conn_.get(), name.c_str(), bound.count(), bound.values.data(), nullptr, nullptr, 0));
  }

  /// Runs a parameterised statement through the cache; the flag says whether it ran as an
  /// already kept statement (only those can be stale).
  std::pair<PgResultPtr, bool> exec_keyed(std::string_view sql, const std::string& key, const BoundParams& bound) {
    if (const std::string* name = statements_->find(key)) return {exec_prepared(*name, bound), true};
    if (!statements_->worth_preparing(key)) return {exec_unnamed(sql, bound), false};
    if (statements_->must_deallocate_all()) {
      PgResultPtr dropped(PQexec(conn_.get(), "DEALLOCATE ALL"));
      if (!succeeded(dropped.get())) return {std::move(dropped), false};
      statements_->deallocated_all();
    }
    std::string name = statements_->next_name();
    const std::string text(sql);
    PgResultPtr prepared(PQprepare(conn_.get(), name.c_str(), text.c_str(), bound.count(), bound.types.data()));
    if (!succeeded(prepared.get())) return {std::move(prepared), false};
    statements_->keep(key, name);
    return {exec_prepared(name, bound), false};
  }

  StorageResult<Rows> rows_of(PgResultPtr res) const {
    if (!succeeded(res.get())) return map_error(res.get());
    Rows out;
    const int nrows = PQntuples(res.get());
    const int ncols = PQnfields(res.get());
    out.rows.reserve(static_cast<std::size_t>(nrows));
    for (int r = 0; r < nrows; ++r) {
      Row row(static_cast<std::size_t>(ncols));
      for (int c = 0; c < ncols; ++c) {
        if (PQgetisnull(res.get(), r, c) != 0) continue;
        row[static_cast<std::size_t>(c)] =
            std::string(PQgetvalue(res.get(), r, c), static_cast<std::size_t>(PQgetlength(res.get(), r, c)));
      }
      out.rows.push_back(std::move(row));
    }
    const char* affected = PQcmdTuples(res.get());
    out.affected = (affected != nullptr && *affected != '\0') ? std::stoll(affected) : 0;
    return out;
  }

  StorageFailure map_error(const PGresult* res) const {
    if (!healthy()) {
      return failure(StorageError::Unavailable, first_line(PQerrorMessage(conn_.get())));
    }
    const std::string code = sqlstate(res);
    const std::string msg = first_line(res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_.get()));
    const char* constraint = res != nullptr ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : nullptr;
    const std::string cname = constraint != nullptr ? constraint : msg;
    if (code == "23505") return failure(StorageError::Conflict, msg, field_from_constraint(cname));
    if (code.starts_with("23") || code.starts_with("22")) {
      return failure(StorageError::Invalid, msg, field_from_constraint(cname));
    }
    if (code.starts_with("08") || code.starts_with("57") || code == "53300" || code == "40001" || code == "40P01") {
      return failure(StorageError::Unavailable, msg);
    }
    return failure(StorageError::Internal, msg);
  }

  PgConnPtr conn_;
  std::optional<StatementCache> statements_;  // none: every statement unnamed (the switch is off)
};

/// The server-side settings of every pooled session. A read-only Db (a migration plan) also
/// sets default_transaction_read_only, so the server refuses a write even from query().
std::string session_options(const StorageOptions& options) {
  std::string out = "-c statement_timeout=" + std::to_string(options.statement_timeout_ms);
  if (options.read_only) out += " -c default_transaction_read_only=on";
  return out;
}

class PgDb final : public Db {
 public:
  PgDb(std::string url, const StorageOptions& options)
      : url_(std::move(url)),
        connect_timeout_(std::to_string(std::max(1, options.connect_timeout_seconds))),
        pg_options_(session_options(options)),
        begin_(options.read_only ? "BEGIN READ ONLY" : "BEGIN"),
        tcp_user_timeout_(std::to_string(std::max(1000, options.statement_timeout_ms))),
        acquire_timeout_(options.acquire_timeout_ms),
        capacity_(std::max(1, options.pool_size)),
        prepared_statements_(options.prepared_statements) {}

  [[nodiscard]] Dialect dialect() const override { return Dialect::Postgres; }

  StorageStatus read(const TxFn& fn) override { return run(begin_, fn); }
  StorageStatus write(const TxFn& fn) override { return run(begin_, fn); }

  StorageResult<Rows> query(std::string_view sql, const Params& params) override {
    for (int attempt = 0;; ++attempt) {
      auto conn = acquire();
      if (!conn) return conn.error();
      auto r = (*conn)->exec(sql, params);
      const bool dead = !r && !(*conn)->healthy();
      if (dead) drop_idle();  // as in run(): the server went away, every idle one is dead too
      release(std::move(*conn));
      if (dead && attempt == 0) continue;
      return r;
    }
  }

  StorageResult<std::unique_ptr<PgConn>> connect() {
    // Keepalives and tcp_user_timeout bound how long a call can hang on a peer that vanished
    // without closing the socket; statement_timeout only covers a live server.
    const char* keys[] = {"dbname",           "connect_timeout",  "options",
                          "keepalives",       "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout", nullptr};
    const char* values[] = {
        url_.c_str(), connect_timeout_.c_str(), pg_options_.c_str(), "1", "5", "2", "3", tcp_user_timeout_.c_str(),
        nullptr};
    PgConnPtr c(PQconnectdbParams(keys, values, 1));
    if (!c || PQstatus(c.get()) != CONNECTION_OK) {
      return failure(StorageError::Unavailable, "postgresql connect failed: " + first_line(PQerrorMessage(c.get())));
    }
    // libpq prints server NOTICE/WARNING lines to stderr by default; that would corrupt the
    // service's structured logs ("relation already exists, skipping" on every migrate).
    PQsetNoticeProcessor(
        c.get(), [](void*, const char*) {}, nullptr);
    return std::make_unique<PgConn>(std::move(c), prepared_statements_);
  }

  void release(std::unique_ptr<PgConn> conn) {
    {
      std::lock_guard lock(mu_);
      if (conn && conn->healthy()) {
        idle_.push_back(std::move(conn));
      } else {
        --open_;  // a broken connection is dropped; the next acquire opens a fresh one
      }
    }
    cv_.notify_one();
  }

  void drop_idle() {
    std::vector<std::unique_ptr<PgConn>> dead;
    {
      std::lock_guard lock(mu_);
      dead.swap(idle_);
      open_ -= static_cast<int>(dead.size());
    }
    cv_.notify_all();
  }  // `dead` closes outside the lock

  void adopt(std::unique_ptr<PgConn> conn) {
    {
      std::lock_guard lock(mu_);
      ++open_;
    }
    release(std::move(conn));
  }

 private:
  StorageResult<std::unique_ptr<PgConn>> acquire() {
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, acquire_timeout_, [&] { return !idle_.empty() || open_ < capacity_; })) {
        return failure(StorageError::Unavailable, "postgresql pool exhausted");
      }
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      ++open_;
    }
    auto c = connect();
    if (!c) {
      {
        std::lock_guard lock(mu_);
        --open_;
      }
      cv_.notify_one();
    }
    return c;
  }

  StorageStatus run(const char* begin, const TxFn& fn) {
    // A pooled connection may have died with a restarted server; BEGIN discovers that before
    // any work, so one retry on a fresh connection is always safe.
    for (int attempt = 0;; ++attempt) {
      auto conn = acquire();
      if (!conn) return conn.error();
      auto b = (*conn)->exec(begin, {});
      if (!b) {
        const bool retry = attempt == 0 && b.error().code == StorageError::Unavailable;
        // The server went away: every idle connection is as dead as this one, so drop them
        // all and retry on a fresh connection instead of on the next stale one.
        if (!(*conn)->healthy()) drop_idle();
        release(std::move(*conn));
        if (retry) continue;
        return b.error();
      }
      auto st = fn(**conn);
      if (st) {
        if (auto c = (*conn)->exec("COMMIT", {}); !c) st = c.error();
      } else {
        (void)(*conn)->exec("ROLLBACK", {});
      }
      release(std::move(*conn));
      return st;
    }
  }

  std::string url_;
  std::string connect_timeout_;
  std::string pg_options_;
  const char* begin_;
  std::string tcp_user_timeout_;
  std::chrono::milliseconds acquire_timeout_;
  int capacity_;
  bool prepared_statements_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConn>> idle_;
  int open_ = 0;
};

}  // namespace

StorageResult<std::unique_ptr<Db>> open_pg_db(const std::string& url, const StorageOptions& options) {
  auto db = std::make_unique<PgDb>(url, options);
  // Fail at start-up when the server is unreachable; the connection joins the pool.
  auto first = db->connect();
  if (!first) return first.error();
  db->adopt(std::move(*first));
  return std::unique_ptr<Db>(std::move(db));
}

}  // namespace permiso::storage::detail
