// See migrate_command.hpp.
#include "app/migrate_command.hpp"

#include "app/startup.hpp"
#include "config/config.hpp"

#include <ostream>

namespace permiso::app {
namespace {

void print_up_to_date(const storage::MigrationPlan& plan, std::ostream& out) {
  out << "schema is up to date (version " << plan.current_version << ")\n";
}

/// Each pending migration with its statements, runnable as they are printed.
void print_pending(const storage::MigrationPlan& plan, std::ostream& out) {
  out << plan.pending.size() << " pending migration(s), up to version " << plan.latest_version << ":\n";
  for (const auto& m : plan.pending) {
    out << "\n-- version " << m.version << ": " << m.name << "\n";
    for (auto stmt : m.statements) out << stmt << ";\n";
  }
}

int preview(const storage::MigrationPlan& plan, std::ostream& out) {
  if (!plan.database_exists) out << "no database yet: every migration is pending\n";
  if (plan.pending.empty()) {
    print_up_to_date(plan, out);
    return 0;
  }
  out << "schema version now: " << plan.current_version << "\n";
  print_pending(plan, out);
  out << "\ndry run: nothing was changed\n";
  return 0;
}

int report_applied(const storage::MigrationPlan& plan, std::ostream& out) {
  if (plan.pending.empty()) {
    print_up_to_date(plan, out);
    return 0;
  }
  for (const auto& m : plan.pending) out << "applied version " << m.version << ": " << m.name << "\n";
  out << "schema is now at version " << plan.latest_version << " (was " << plan.current_version << ")\n";
  return 0;
}

}  // namespace

int migrate_command(const SchemaMigrations& schema, bool dry_run, std::ostream& out, std::ostream& err) {
  // The URL may carry a password (postgresql://user:secret@…): never printed as it is.
  out << schema.schema << " schema on " << config::redact_url(schema.database_url) << "\n";
  auto plan = dry_run ? schema.plan() : schema.apply();
  if (!plan) {
    err << "migrate: " << storage::to_string(plan.error().code) << ": " << plan.error().message << "\n";
    return kExitStartup;
  }
  return dry_run ? preview(*plan, out) : report_applied(*plan, out);
}

}  // namespace permiso::app
