// The SQL layer, public for services that keep their own schema beside permiso-auth's (mt5-api):
// open a Db (SQLite file or PostgreSQL pool) from a database URL, and apply versioned
// migrations tracked in a table of the caller's choosing, so several services can share one
// PostgreSQL database, each with its own prefixed tables and its own migration table.
#pragma once

#include "storage/sql_db.hpp"
#include "storage/storage.hpp"

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace permiso::storage {

using detail::Db;
using detail::Dialect;
using detail::Param;
using detail::Params;
using detail::Row;
using detail::Rows;
using detail::SqlConn;
using detail::TxFn;

/// One schema version: its statements run in order, in one transaction with the bookkeeping
/// row. Never edit an applied migration: add a new one.
struct Migration {
  int version = 0;
  std::string_view name;
  std::vector<std::string_view> statements;  // one statement each
};

/// `sqlite:///abs/path.db`, `sqlite://relative.db` (its directory is created), or
/// `postgresql://…` / `postgres://…`. Invalid (field "database_url") for an unknown scheme;
/// Unavailable when the database cannot be reached. `options.migrate` is not used here.
StorageResult<std::unique_ptr<Db>> open_db(std::string_view url, const StorageOptions& options = {});

/// Applies, in one write transaction, every migration whose version is not yet recorded in
/// `table` (created if missing: version, name, applied_at). `table` must be a plain
/// identifier ([a-z0-9_]+, Invalid otherwise). On PostgreSQL the transaction first takes the
/// advisory lock `lock_key`, so replicas starting together apply each migration once.
StorageStatus apply_migrations(Db& db, std::string_view table, const std::vector<Migration>& migrations,
                               std::int64_t lock_key);

}  // namespace permiso::storage
