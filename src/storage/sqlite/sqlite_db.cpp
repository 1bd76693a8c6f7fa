// SQLite backend of the Db layer: WAL, one writer connection behind a mutex (BEGIN IMMEDIATE)
// and a small pool of reader connections, so reads never wait on a write.
#include "storage/sql_db.hpp"

#include <sqlite3.h>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace permiso::storage::detail {
namespace {

StorageFailure sqlite_failure(sqlite3* db, int rc) {
  const std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  // sqlite3_step reports the primary code unless extended codes are on: ask for the detail
  // (UNIQUE vs FOREIGNKEY) explicitly.
  if (db != nullptr && (rc & 0xff) == SQLITE_CONSTRAINT) rc = sqlite3_extended_errcode(db);
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return failure(StorageError::Conflict, msg, field_from_constraint(msg));
      }
      return failure(StorageError::Invalid, msg, field_from_constraint(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
      return failure(StorageError::Unavailable, msg);
    default:
      return failure(StorageError::Internal, msg);
  }
}

// A prepared statement and where each of its parameters goes: slot[i] is the SQLite index of
// `$<i+1>`, 0 when the statement does not use it. Found once per statement, from the names
// SQLite reports, instead of a search of the statement's parameter names per bound value.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  std::vector<int> slot;
};

Statement with_slots(sqlite3_stmt* stmt) {
  Statement out{stmt, {}};
  const int n = sqlite3_bind_parameter_count(stmt);
  for (int idx = 1; idx <= n; ++idx) {
    const char* name = sqlite3_bind_parameter_name(stmt, idx);
    if (name == nullptr || name[0] != '$') continue;  // only $N is used by this layer
    std::size_t number = 0;
    const std::string_view digits(name + 1);
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (r.ec != std::errc{} || r.ptr != digits.data() + digits.size() || number == 0) continue;
    if (out.slot.size() < number) out.slot.resize(number, 0);
    out.slot[number - 1] = idx;
  }
  return out;
}

// Prepared statements kept per connection, keyed by their SQL, so a statement the server runs
// all the time (an audit row per token) is parsed once, not per row: parsing was half the
// audit writer's CPU. Bounded: when full, the whole cache is dropped and refills with what is
// used next (queries built from filters vary; the hot statements come back at once).
class StatementCache {
 public:
  static constexpr std::size_t kCapacity = 128;

  StatementCache() = default;
  ~StatementCache() { clear(); }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  [[nodiscard]] const Statement* find(std::string_view sql) const {
    const auto it = statements_.find(sql);
    return it == statements_.end() ? nullptr : &it->second;
  }
  const Statement& keep(std::string_view sql, Statement statement) {
    if (statements_.size() >= kCapacity) clear();
    return statements_.emplace(std::string(sql), std::move(statement)).first->second;
  }
  void clear() {
    for (auto& [sql, statement] : statements_) sqlite3_finalize(statement.stmt);
    statements_.clear();
  }

 private:
  struct Hash : std::hash<std::string_view> {
    using is_transparent = void;
  };
  std::unordered_map<std::string, Statement, Hash, std::equal_to<>> statements_;
};

// Renders one result column the way PostgreSQL's text output would.
std::string column_text(sqlite3_stmt* stmt, int c) {
  if (sqlite3_column_type(stmt, c) == SQLITE_FLOAT) {
    // sqlite3_column_text renders REALs with 15 digits, which loses bits: the shortest exact
    // form instead, as PostgreSQL's float8 output gives.
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, sqlite3_column_double(stmt, c));
    return {buf, r.ptr};
  }
  const auto* t = sqlite3_column_text(stmt, c);
  const int len = sqlite3_column_bytes(stmt, c);
  return {reinterpret_cast<const char*>(t), static_cast<std::size_t>(len)};
}

int bind(sqlite3_stmt* stmt, int idx, const Param& p) {
  switch (p.kind) {
    case Param::Kind::Null:
      return sqlite3_bind_null(stmt, idx);
    case Param::Kind::Int:
    case Param::Kind::Bool:
      return sqlite3_bind_int64(stmt, idx, p.i);
    case Param::Kind::Double:
      return sqlite3_bind_double(stmt, idx, p.d);
    case Param::Kind::Text:
      // SQLITE_STATIC, not a copy: the parameters outlive the statement's run, and exec clears
      // the bindings before it returns (Release), so SQLite never reads them after that.
      return sqlite3_bind_text(stmt, idx, p.s.data(), static_cast<int>(p.s.size()), SQLITE_STATIC);
  }
  return SQLITE_MISUSE;
}

// A connection is only ever used by one thread at a time (the writer behind its mutex, a
// reader taken from the pool), so it is opened without SQLite's own per-call mutex.
class SqliteConn final : public SqlConn {
 public:
  explicit SqliteConn(sqlite3* db) : db_(db) {}
  ~SqliteConn() override {
    cache_.clear();
    sqlite3_close_v2(db_);
  }
  SqliteConn(const SqliteConn&) = delete;
  SqliteConn& operator=(const SqliteConn&) = delete;

  StorageResult<Rows> exec(std::string_view sql, const Params& params) override {
    auto prepared = prepare(sql);
    if (!prepared) return prepared.error();
    const Statement& statement = **prepared;
    sqlite3_stmt* stmt = statement.stmt;
    // A cached statement is reset for its next use; any other is finalised.
    struct Release {
      sqlite3_stmt* stmt;
      bool cached;
      ~Release() {
        if (!cached) {
          sqlite3_finalize(stmt);
          return;
        }
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
      }
    } guard{stmt, &statement != &one_off_};
    if (const int rc = bind_all(statement, params); rc != SQLITE_OK) return sqlite_failure(db_, rc);
    Rows out;
    int rc = SQLITE_OK;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const int n = sqlite3_column_count(stmt);
      Row row(static_cast<std::size_t>(n));
      for (int c = 0; c < n; ++c) {
        if (sqlite3_column_type(stmt, c) != SQLITE_NULL) row[static_cast<std::size_t>(c)] = column_text(stmt, c);
      }
      out.rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) return sqlite_failure(db_, rc);
    out.affected = sqlite3_changes64(db_);
    return out;
  }

 private:
  // Statements without parameters (BEGIN, COMMIT, PRAGMA, migrations) are cheap to parse or
  // run once: they are not kept, but prepared into one_off_ and finalised after their run.
  StorageResult<const Statement*> prepare(std::string_view sql) {
    if (const Statement* kept = cache_.find(sql)) return kept;
    sqlite3_stmt* stmt = nullptr;
    const int rc =
        sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return sqlite_failure(db_, rc);
    if (sqlite3_bind_parameter_count(stmt) > 0) return &cache_.keep(sql, with_slots(stmt));
    one_off_ = Statement{stmt, {}};
    return &one_off_;
  }

  static int bind_all(const Statement& statement, const Params& params) {
    const std::size_t n = std::min(params.size(), statement.slot.size());
    for (std::size_t i = 0; i < n; ++i) {
      const int idx = statement.slot[i];
      if (idx == 0) continue;  // parameter not used by this statement
      if (const int rc = bind(statement.stmt, idx, params[i]); rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
  }

  sqlite3* db_;
  StatementCache cache_;
  Statement one_off_;  // the statement being run that is not kept (exec is never re-entered)
};

// SQLite keeps memory statistics by default, under one mutex that every allocation of every
// connection takes (a tenth of the audit writer's time). Nothing here reads them (no
// sqlite3_memory_used, no soft heap limit), so they are off. It must be set before SQLite
// initialises; a later call is refused harmlessly (SQLITE_MISUSE).
void configure_sqlite_once() {
  static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)configured;
}

StorageResult<std::unique_ptr<SqliteConn>> open_conn(const std::string& path, const StorageOptions& options) {
  configure_sqlite_once();
  sqlite3* raw = nullptr;
  const int mode = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, mode | SQLITE_OPEN_NOMUTEX, nullptr);
  auto conn = std::make_unique<SqliteConn>(raw);
  if (rc != SQLITE_OK) return sqlite_failure(raw, rc);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  // journal_mode and synchronous are settings of a writer (setting WAL writes the file header).
  if (options.read_only) return conn;
  const char* sync = options.sqlite_full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  for (const char* pragma : {"PRAGMA journal_mode=WAL", sync, "PRAGMA foreign_keys=ON"}) {
    if (auto r = conn->exec(pragma, {}); !r) return r.error();
  }
  return conn;
}

StorageStatus run_tx(SqliteConn& conn, const char* begin, const TxFn& fn) {
  if (auto b = conn.exec(begin, {}); !b) return b.error();
  auto st = fn(conn);
  if (!st) {
    (void)conn.exec("ROLLBACK", {});
    return st;
  }
  if (auto c = conn.exec("COMMIT", {}); !c) {
    (void)conn.exec("ROLLBACK", {});
    return c.error();
  }
  return {};
}

class SqliteDb final : public Db {
 public:
  SqliteDb(std::unique_ptr<SqliteConn> writer, std::vector<std::unique_ptr<SqliteConn>> readers, int acquire_timeout_ms)
      : writer_(std::move(writer)), readers_(std::move(readers)), acquire_timeout_(acquire_timeout_ms) {
    for (auto& r : readers_) idle_.push_back(r.get());
  }

  [[nodiscard]] Dialect dialect() const override { return Dialect::Sqlite; }

  StorageStatus read(const TxFn& fn) override {
    SqliteConn* conn = nullptr;
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, acquire_timeout_, [&] { return !idle_.empty(); })) {
        return failure(StorageError::Unavailable, "no free sqlite reader connection");
      }
      conn = idle_.back();
      idle_.pop_back();
    }
    auto st = run_tx(*conn, "BEGIN", fn);
    {
      std::lock_guard lock(mu_);
      idle_.push_back(conn);
    }
    cv_.notify_one();
    return st;
  }

  StorageStatus write(const TxFn& fn) override {
    std::lock_guard lock(write_mu_);
    return run_tx(*writer_, "BEGIN IMMEDIATE", fn);
  }

 private:
  std::mutex write_mu_;
  std::unique_ptr<SqliteConn> writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<SqliteConn>> readers_;
  std::vector<SqliteConn*> idle_;
  std::chrono::milliseconds acquire_timeout_;
};

}  // namespace

StorageResult<std::unique_ptr<Db>> open_sqlite_db(const std::string& path, const StorageOptions& options) {
  auto writer = open_conn(path, options);
  if (!writer) return writer.error();
  std::vector<std::unique_ptr<SqliteConn>> readers;
  for (int i = 0; i < std::max(1, options.pool_size); ++i) {
    auto r = open_conn(path, options);
    if (!r) return r.error();
    readers.push_back(std::move(*r));
  }
  return std::unique_ptr<Db>(
      std::make_unique<SqliteDb>(std::move(*writer), std::move(readers), options.acquire_timeout_ms));
}

}  // namespace permiso::storage::detail
