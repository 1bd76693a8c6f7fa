// PostgreSQL backend of the Db layer over libpq: a bounded connection pool, typed parameters,
// SQLSTATE-to-StorageError mapping, and reconnection after the server goes away.
#include "storage/sql_db.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
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

class PgConn final : public SqlConn {
 public:
  explicit PgConn(PgConnPtr conn) : conn_(std::move(conn)) {}

  [[nodiscard]] bool healthy() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

  StorageResult<Rows> exec(std::string_view sql, const Params& params) override {
    std::vector<Oid> types;
    std::vector<std::string> storage;
    std::vector<const char*> values;
    types.reserve(params.size());
    storage.reserve(params.size());
    for (const auto& p : params) {
      switch (p.kind) {
        case Param::Kind::Null:
          types.push_back(0);
          storage.emplace_back();
          break;
        case Param::Kind::Int:
          types.push_back(kInt8Oid);
          storage.push_back(std::to_string(p.i));
          break;
        case Param::Kind::Bool:
          types.push_back(kBoolOid);
          storage.emplace_back(p.i ? "t" : "f");
          break;
        case Param::Kind::Text:
          types.push_back(kTextOid);
          storage.push_back(p.s);
          break;
        case Param::Kind::Double:
          types.push_back(kFloat8Oid);
          storage.push_back(double_text(p.d));
          break;
      }
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      values.push_back(params[i].kind == Param::Kind::Null ? nullptr : storage[i].c_str());
    }
    const std::string text(sql);
    PgResultPtr res(PQexecParams(conn_.get(), text.c_str(), static_cast<int>(params.size()), types.data(),
                                 values.data(), nullptr, nullptr, 0));
    const auto status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return map_error(res.get());
    }
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

 private:
  StorageFailure map_error(const PGresult* res) const {
    if (!healthy()) {
      return failure(StorageError::Unavailable, first_line(PQerrorMessage(conn_.get())));
    }
    const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    const std::string code = state != nullptr ? state : "";
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
        capacity_(std::max(1, options.pool_size)) {}

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
    return std::make_unique<PgConn>(std::move(c));
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
