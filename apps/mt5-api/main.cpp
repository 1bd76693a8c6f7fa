// mt5-api: the composition root of the trading gateway: what the service is made of, in the
// order it starts. Components are declared in start order, so leaving serve() — after the
// drain, or when a start-up step fails — stops them newest first (components.hpp builds
// each one; src/app holds the lifecycle both services share).
#include "api/documents.hpp"
#include "app/command_line.hpp"
#include "app/lifecycle.hpp"
#include "app/migrate_command.hpp"
#include "app/server_setup.hpp"
#include "app/startup.hpp"
#include "common/worker_pool.hpp"
#include "components.hpp"
#include "ratelimit/memory_limiter.hpp"

#include <spdlog/spdlog.h>

#include <iostream>
#include <thread>

#ifndef PERMISO_VERSION
#define PERMISO_VERSION "0.0.0"
#endif

namespace {

using namespace permiso;
using config::GatewayConfig;
namespace th = trading::handlers;

int run(const app::StopSignals& signals, const GatewayConfig& cfg) {
  SystemClock clock;
  http::Registry metrics;                        // first: the verifier observes into it from its own threads
  auto http_client = mt5_app::auth_client(cfg);  // JWKS and revocation feed from permiso-auth
  if (!http_client) return app::kExitConfig;
  auto auth = mt5_app::start_authenticator(cfg, clock, *http_client);
  if (!auth) return app::kExitConfig;
  mt5_app::collect_verifier_metrics(metrics, *auth);
  auto store = mt5_app::open_store(cfg, clock, metrics);
  if (!store) return app::kExitStartup;

  trading::BarBuilder bars;
  auto backend = mt5_app::open_broker(cfg, bars);  // MT5_BROKER: the simulator or a terminal
  if (!backend) return app::kExitStartup;
  trading::Broker& broker = backend->broker();
  const th::Instruments instruments(broker.symbols_get());
  th::StreamHub stream(instruments);
  th::GatewayMetrics gateway_metrics(metrics);
  mt5_app::feed_quotes(broker, bars, stream, gateway_metrics, clock);
  auto service = mt5_app::start_service(cfg, broker, *store, clock, stream, gateway_metrics);
  if (!service) return app::kExitStartup;
  // Trading calls block briefly (broker, idempotency lookups) and storage reads do: they run
  // here, never on an I/O thread; a full queue is a fast 503.
  WorkerPool pool(2 * std::max(1U, std::thread::hardware_concurrency()) + 2, 4096);
  // Live until the scope ends (before the pool and the service stop): the simulation clock
  // brought to now and ticking, or the terminal re-read.
  backend->go_live(cfg, clock);
  const app::AtScopeExit stop_quotes([&] { backend->stop(); });

  th::GatewayContext ctx{*service, broker,          bars,   *auth, instruments,
                         pool,     gateway_metrics, stream, clock, th::GatewaySettings{cfg.version, cfg.environment}};
  th::StreamSweeper sweeper(stream, clock);
  auth->on_revocation([&sweeper] { sweeper.poke(); });
  const app::AtScopeExit stop_verifier([&] {  // before the sweeper it pokes goes
    http_client->shutdown();                  // cut the revocation long-poll in flight
    auth->stop();
  });
  mt5_app::collect_metrics(metrics, *service, pool, stream, broker);
  if (backend->fix) mt5_app::collect_fix_metrics(metrics, *backend->fix);
  if (backend->terminal) mt5_app::collect_terminal_metrics(metrics, *backend->terminal);
  mt5_app::collect_dependency_metrics(metrics, *service, *auth);
  http::Router router;
  mt5_app::register_routes(router, ctx, metrics);
  if (!app::serve_api_document(router, api::mt5_api_document())) return app::kExitStartup;
  ratelimit::MemoryRateLimiter limiter;
  auto hooks = app::standard_hooks(metrics);
  app::limit_api_per_address(hooks, limiter, config::parse_rate(cfg.rate_limit_api).value_or(ratelimit::Rate{}));
  auto server = app::listen(app::server_config(cfg), router, std::move(hooks));
  if (!server) return app::kExitStartup;

  spdlog::info("mt5-api {} ({}, {}, {}, {}) listening on {}://{}:{}", cfg.version, cfg.environment, store->backend(),
               broker.name(), cfg.jwt_algorithm, cfg.tls_cert_file.empty() ? "http" : "https", cfg.host,
               server->port());
  // Streams never end on their own: they get their goodbye (1001) before the drain.
  app::serve_until_stopped(signals, *server, [&stream] { stream.close_all(); });
  return 0;
}

int serve() {
  const app::StopSignals signals;  // first: every thread started later inherits the mask
  auto cfg = app::load_valid_config<GatewayConfig>(config::load_gateway_config, PERMISO_VERSION);
  if (!cfg || !app::start_logging(cfg->log_config())) return app::kExitConfig;
  mt5_app::warn_about_unused_settings(*cfg);
  app::ensure_private_dir(cfg->data_dir);
  const int code = run(signals, *cfg);
  if (code == 0) spdlog::info("mt5-api stopped");
  spdlog::shutdown();
  return code;
}

/// `mt5-api migrate [--dry-run]`: the configured database's mt5_* schema, migrated as `serve`
/// migrates it at start.
int migrate(bool dry_run) {
  auto cfg = app::load_valid_config<GatewayConfig>(config::load_gateway_config, PERMISO_VERSION);
  if (!cfg) return app::kExitConfig;
  const auto url = cfg->effective_database_url();
  const auto options = mt5_app::store_options(*cfg).storage;
  if (!dry_run) app::ensure_private_dir(cfg->data_dir);  // as serve does: a SQLite file lives there
  const app::SchemaMigrations schema{"mt5-api", url, [&] { return trading::TradeStore::plan_migrations(url, options); },
                                     [&] { return trading::TradeStore::migrate(url, options); }};
  return app::migrate_command(schema, dry_run, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  return app::run_command_line(
      argc, argv,
      {"mt5-api: the Permiso trading gateway (MetaTrader 5 model; a simulated broker or an MT5 terminal)",
       "Run the gateway (the default)", PERMISO_VERSION, serve,
       [] { return app::config_check<GatewayConfig>(config::load_gateway_config, PERMISO_VERSION); }, migrate});
}
