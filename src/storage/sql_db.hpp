// Internal: the small SQL layer both backends implement (typed parameters, text cells,
// transactions), so one SqlStorage holds every query.
#pragma once

#include "storage/storage.hpp"

#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::storage::detail {

enum class Dialect { Sqlite, Postgres };

/// A bound parameter ($1, $2, …). Typed, so PostgreSQL never has to guess an operator.
struct Param {
  enum class Kind { Null, Int, Text, Bool, Double };
  Kind kind = Kind::Null;
  std::int64_t i = 0;
  double d = 0;  // Double: sent as float8 / REAL; read back as its shortest exact text
  std::string s;

  Param() = default;
  Param(std::nullopt_t) {}  // NOLINT(google-explicit-constructor)
  template <std::integral T>
  requires(!std::same_as<T, bool>) Param(T v) : kind(Kind::Int), i(static_cast<std::int64_t>(v)) {}  // NOLINT
  Param(bool v) : kind(Kind::Bool), i(v ? 1 : 0) {}                                                  // NOLINT
  Param(double v) : kind(Kind::Double), d(v) {}                                                      // NOLINT
  Param(std::string_view v) : kind(Kind::Text), s(v) {}                                              // NOLINT
  Param(const std::string& v) : kind(Kind::Text), s(v) {}                                            // NOLINT
  Param(const char* v) : kind(Kind::Text), s(v) {}                                                   // NOLINT
  Param(const std::optional<std::string>& v) {                                                       // NOLINT
    if (v) {
      kind = Kind::Text;
      s = *v;
    }
  }
  Param(const std::optional<std::int64_t>& v) {  // NOLINT
    if (v) {
      kind = Kind::Int;
      i = *v;
    }
  }
};
using Params = std::vector<Param>;

/// Every cell as text (NULL as nullopt): integers, booleans and doubles are parsed by the
/// reader (a double's text is its shortest exact form, so it round-trips bit for bit).
using Row = std::vector<std::optional<std::string>>;
struct Rows {
  std::vector<Row> rows;
  std::int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
};

class SqlConn {
 public:
  virtual ~SqlConn() = default;
  virtual StorageResult<Rows> exec(std::string_view sql, const Params& params = {}) = 0;
};

/// A function run inside one transaction on one connection.
using TxFn = std::function<StorageStatus(SqlConn&)>;

class Db {
 public:
  virtual ~Db() = default;
  [[nodiscard]] virtual Dialect dialect() const = 0;
  /// Runs `fn` in a read transaction; its failure rolls back.
  virtual StorageStatus read(const TxFn& fn) = 0;
  /// Runs `fn` in a write transaction (SQLite: BEGIN IMMEDIATE on the single writer),
  /// committed only when `fn` succeeds.
  virtual StorageStatus write(const TxFn& fn) = 0;
  /// One statement on its own (autocommit): one round trip where read() takes three on
  /// PostgreSQL (BEGIN, the statement, COMMIT). For reads and idempotent statements only: a
  /// connection found dead is retried once on a fresh one.
  virtual StorageResult<Rows> query(std::string_view sql, const Params& params = {});
};

inline StorageFailure failure(StorageError code, std::string message, std::string field = {}) {
  return StorageFailure{code, std::move(field), std::move(message)};
}

/// The file path of a `sqlite://` URL (empty for `sqlite://` alone); nullopt for another scheme.
std::optional<std::string> sqlite_path(std::string_view url);

/// Maps a unique/foreign-key constraint name or SQLite message to the column callers know.
std::string field_from_constraint(std::string_view text);

}  // namespace permiso::storage::detail
