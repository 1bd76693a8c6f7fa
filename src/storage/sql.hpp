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

/// Where a schema stands against the migrations a binary knows: the version recorded now and
/// the migrations still to apply, in version order. apply_migrations returns the plan it
/// carried out (`pending` is then what it applied).
struct MigrationPlan {
  bool database_exists = true;       // false: no SQLite file yet (plan_migrations created none)
  std::int64_t current_version = 0;  // the highest recorded version; 0 when none is
  std::int64_t latest_version = 0;   // the highest version of the binary's migrations
  std::vector<Migration> pending;
};

/// `sqlite:///abs/path.db`, `sqlite://relative.db` (its directory is created), or
/// `postgresql://…` / `postgres://…`. Invalid (field "database_url") for an unknown scheme;
/// Unavailable when the database cannot be reached. `options.migrate` is not used here.
StorageResult<std::unique_ptr<Db>> open_db(std::string_view url, const StorageOptions& options = {});

/// Applies, in one write transaction, every migration whose version is not yet recorded in
/// `table` (created if missing: version, name, applied_at). `table` must be a plain
/// identifier ([a-z0-9_]+, Invalid otherwise). On PostgreSQL the transaction first takes the
/// advisory lock `lock_key`, so replicas starting together apply each migration once.
/// SchemaTooNew (nothing applied) when `table` records a version above the latest of
/// `migrations`: schemas only move forward, so an older binary never runs on a newer one.
StorageResult<MigrationPlan> apply_migrations(Db& db, std::string_view table, const std::vector<Migration>& migrations,
                                              std::int64_t lock_key);

/// What apply_migrations would do on the database at `url`, found without changing it: a
/// SQLite file that does not exist is not created (database_exists false, every migration
/// pending) and one that does is opened read-only; PostgreSQL is read in one READ ONLY
/// transaction. SchemaTooNew as apply_migrations.
StorageResult<MigrationPlan> plan_migrations(std::string_view url, std::string_view table,
                                             const std::vector<Migration>& migrations,
                                             const StorageOptions& options = {});

/// permiso-auth's own schema (`schema_migrations`): its plan, and applying it by the path
/// open_storage takes at start (the same transaction and advisory lock).
StorageResult<MigrationPlan> plan_auth_migrations(std::string_view url, const StorageOptions& options = {});
StorageResult<MigrationPlan> apply_auth_migrations(std::string_view url, const StorageOptions& options = {});

}  // namespace permiso::storage
