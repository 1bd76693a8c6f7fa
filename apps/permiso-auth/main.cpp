// permiso-auth: the composition root of the authorization server: what the service is made
// of, in the order it starts. Components are declared in start order, so leaving run() —
// after the drain, or when a start-up step fails — stops them newest first (components.hpp
// opens each one; src/app holds the lifecycle both services share).
#include "api/documents.hpp"
#include "app/command_line.hpp"
#include "app/lifecycle.hpp"
#include "app/migrate_command.hpp"
#include "app/server_setup.hpp"
#include "app/startup.hpp"
#include "app/storage_metrics.hpp"
#include "auth/audit_log.hpp"
#include "auth/client_cache.hpp"
#include "auth/client_secrets.hpp"
#include "auth/revocation_list.hpp"
#include "auth/services.hpp"
#include "common/worker_pool.hpp"
#include "components.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <iostream>
#include <utility>

#ifndef PERMISO_VERSION
#define PERMISO_VERSION "0.0.0"
#endif

namespace {

using namespace permiso;
using config::AuthConfig;

int run(const app::StopSignals& signals, const AuthConfig& cfg, auth::ServiceClientSeeds seeds) {
  SystemClock clock;
  http::Registry metrics;  // before the storage, whose every call it times
  auto storage = auth_app::open_storage(cfg);
  if (!storage) return app::kExitStartup;
  storage = app::timed_storage(std::move(storage), metrics);
  const auth::PasswordHasher passwords(auth_app::argon2_params(cfg));
  if (!auth_app::bootstrap_admin(cfg, *storage, passwords, clock)) return app::kExitStartup;
  const auto pepper = auth_app::client_secret_pepper(cfg, *storage);
  if (!pepper) return app::kExitStartup;
  const auth::ClientSecrets client_secrets(*pepper);
  auto keys = auth_app::open_keys(cfg, clock);
  if (!keys) return app::kExitStartup;
  // The per-address API limit is always in process (it runs on I/O threads and must not wait
  // on the network); logins and client limits are shared through Redis when it is configured.
  ratelimit::MemoryRateLimiter local_limiter;
  auto redis = auth_app::connect_redis(cfg, local_limiter);
  auto audit_export = auth_app::open_audit_export(cfg);
  if (!audit_export) return app::kExitStartup;
  auth::AuditLog audit(*storage, clock, auth::AuditLog::kDefaultCapacity,
                       auth_app::audit_listener(*audit_export, metrics));
  if (!auth_app::seed_service_clients(*storage, client_secrets, clock, audit, seeds)) return app::kExitStartup;
  if (!auth_app::seed_dashboard_client(*storage, clock, cfg)) return app::kExitStartup;
  const auto blocking = auth_app::open_worker_pool(cfg);  // stops before the audit trail flushes
  auth::ClientCache clients;
  auth::RevocationList revocations;
  const auth::AuthDeps deps{auth_app::auth_settings(cfg),
                            *storage,
                            *keys,
                            auth_app::shared_limiter(redis, local_limiter),
                            audit,
                            clients,
                            revocations,
                            passwords,
                            client_secrets,
                            clock,
                            auth_app::change_notifier(redis)};
  auth::AuthServices services(deps);
  // Verification follows the published keys (rotation, promotion, retirement).
  keys->on_change([&services](const std::vector<jose::VerificationKey>&) { services.tokens.refresh_keys(); });
  std::atomic<bool> draining{false};
  auth::AuthContext ctx{services, *blocking, draining};

  app::Maintenance maintenance(deps, {.secrets_ms = static_cast<int>(cfg.secrets_refresh_s * 1000)});
  maintenance.refresh_secrets_with(auth_app::secrets_refresher(cfg, *storage, client_secrets, clock, audit));
  maintenance.keep_audit_for(cfg.audit_retention_days);
  maintenance.run_once();
  if (redis.events) auth_app::follow_changes(*redis.events, deps, maintenance);
  const app::AtScopeExit stop_events([&redis] {  // before the maintenance it pokes goes
    if (redis.events) redis.events->stop();
  });
  auth_app::collect_metrics(metrics, services.counters, audit, deps, *blocking);
  auth_app::collect_dependency_metrics(metrics, maintenance, redis);
  http::Router router;
  auth_app::register_routes(router, ctx, cfg, maintenance, metrics);
  if (!app::serve_api_document(router, api::permiso_auth_document())) return app::kExitStartup;
  auto hooks = app::standard_hooks(metrics);
  app::limit_api_per_address(hooks, local_limiter, config::parse_rate(cfg.rate_limit_api).value_or(ratelimit::Rate{}));
  auto server = app::listen(app::server_config(cfg), router, std::move(hooks));
  if (!server) return app::kExitStartup;
  maintenance.start();

  spdlog::info("permiso-auth {} ({}, {}, {}) listening on {}://{}:{}", cfg.version, cfg.environment, storage->backend(),
               cfg.jwt_algorithm, cfg.tls_cert_file.empty() ? "http" : "https", cfg.host, server->port());
  // Revocation long-polls answer at once when the drain starts, instead of holding it up.
  app::serve_until_stopped(signals, *server, [&draining] { draining.store(true); });
  return 0;
}

/// The configuration from the process environment, whose variable names say which service
/// clients (<NAME>_CLIENT_SECRET) to ensure.
Result<AuthConfig, std::vector<config::ConfigProblem>> load_config(const config::EnvLookup& env) {
  return config::load_auth_config(env, config::process_env_names());
}

int serve() {
  const app::StopSignals signals;  // first: every thread started later inherits the mask
  auto cfg = app::load_valid_config<AuthConfig>(load_config, PERMISO_VERSION);
  if (!cfg) return app::kExitConfig;
  auto seeds = auth_app::check_start_inputs(*cfg);
  if (!seeds || !app::start_logging(cfg->log_config())) return app::kExitConfig;
  app::ensure_private_dir(cfg->data_dir);
  const int code = run(signals, *cfg, std::move(*seeds));
  if (code == 0) spdlog::info("permiso-auth stopped");
  spdlog::shutdown();
  return code;
}

/// `permiso-auth migrate [--dry-run]`: the configured database's schema, migrated as `serve`
/// migrates it at start.
int migrate(bool dry_run) {
  auto cfg = app::load_valid_config<AuthConfig>(load_config, PERMISO_VERSION);
  if (!cfg) return app::kExitConfig;
  const auto url = cfg->effective_database_url();
  const auto options = auth_app::storage_options(*cfg);
  if (!dry_run) app::ensure_private_dir(cfg->data_dir);  // as serve does: a SQLite file lives there
  const app::SchemaMigrations schema{"permiso-auth", url, [&] { return storage::plan_auth_migrations(url, options); },
                                     [&] { return storage::apply_auth_migrations(url, options); }};
  return app::migrate_command(schema, dry_run, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  return app::run_command_line(
      argc, argv,
      {"permiso-auth: the Permiso OAuth2 authorization server", "Run the server (the default)", PERMISO_VERSION, serve,
       [] { return app::config_check<AuthConfig>(load_config, PERMISO_VERSION); }, migrate});
}
