// `<service> migrate [--dry-run]`: show, or apply, a service's pending schema migrations on
// its configured database, so an operator can preview and run them before rolling out a new
// version (docs/operations.md, "Upgrades"). The storage layer finds the plan; this renders it.
#pragma once

#include "storage/sql.hpp"

#include <functional>
#include <iosfwd>
#include <string>

namespace permiso::app {

/// One service's schema, bound to its configured database.
struct SchemaMigrations {
  std::string schema;        // what the output calls it: "permiso-auth", "mt5-api"
  std::string database_url;  // as configured; only ever printed redacted
  /// The plan, read without changing the database (storage::plan_migrations).
  std::function<storage::StorageResult<storage::MigrationPlan>()> plan;
  /// Applies the plan by the path `serve` takes at start; the plan it carried out.
  std::function<storage::StorageResult<storage::MigrationPlan>()> apply;
};

/// Prints the schema version and every pending migration with its statements (`dry_run`), or
/// applies them and prints what was applied. 0; kExitStartup (the reason on `err`) when the
/// database cannot be read, its schema is newer than this binary, or a migration fails.
int migrate_command(const SchemaMigrations& schema, bool dry_run, std::ostream& out, std::ostream& err);

}  // namespace permiso::app
