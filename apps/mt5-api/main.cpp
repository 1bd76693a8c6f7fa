// mt5-api: the composition root of the trading gateway. Configuration → logging → HTTP client
// → token authenticator → trade store → broker (and its quote thread) → gateway service →
// bars and stream fed from the quote stream → handlers → HTTP server; no logic of its own
// beyond wiring and the process lifecycle (SIGINT/SIGTERM drain, then stop in order).
#include "common/clock.hpp"
#include "common/worker_pool.hpp"
#include "config/gateway_config.hpp"
#include "http/client.hpp"
#include "http/metrics.hpp"
#include "http/server.hpp"
#include "jose/key.hpp"
#include "log/log.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "resource/authenticator.hpp"
#include "trading/bars.hpp"
#include "trading/handlers/handlers.hpp"
#include "trading/handlers/render.hpp"
#include "trading/handlers/stream.hpp"
#include "trading/service/gateway_service.hpp"
#include "trading/sim/simulated_broker.hpp"
#include "trading/store/trade_store.hpp"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#ifndef PERMISO_VERSION
#define PERMISO_VERSION "0.0.0"
#endif

namespace {

namespace fs = std::filesystem;
using permiso::config::GatewayConfig;

constexpr int kExitConfig = 2;
constexpr int kExitStartup = 1;

void print_problems(const std::vector<permiso::config::ConfigProblem>& problems) {
  for (const auto& p : problems) std::cerr << "config error: " << p.field << ": " << p.rule << "\n";
}

int config_check() {
  auto cfg = permiso::config::load_gateway_config(permiso::config::process_env());
  if (!cfg) {
    print_problems(cfg.error());
    return kExitConfig;
  }
  cfg->version = PERMISO_VERSION;
  const auto problems = permiso::config::validate(*cfg);
  std::cout << permiso::config::render_redacted(*cfg);
  print_problems(problems);
  if (problems.empty()) std::cerr << "configuration is valid\n";
  return problems.empty() ? 0 : kExitConfig;
}

/// The verifier's settings from the gateway's configuration (validated before).
permiso::resource::ResourceConfig resource_config(const GatewayConfig& cfg) {
  permiso::resource::ResourceConfig rc;
  rc.auth_url = cfg.auth_url;
  rc.issuer = cfg.jwt_issuer;
  rc.audience = cfg.jwt_audience;
  bool hs256 = false;
  for (const auto& name : cfg.jwt_algorithms()) {
    if (auto alg = permiso::jose::algorithm_from_string(name)) {
      rc.algorithms.push_back(*alg);
      hs256 = hs256 || *alg == permiso::jose::Algorithm::HS256;
    }
  }
  if (hs256) rc.hs256_secret = cfg.jwt_secret_key;
  rc.leeway_s = cfg.leeway_s;
  rc.cache_capacity = static_cast<std::size_t>(cfg.token_cache_entries);
  rc.client_id = cfg.service_client_id;
  rc.client_secret = cfg.service_client_secret;
  rc.redis_url = cfg.redis_url;
  // Without the feed's credentials (development only: validate() requires them elsewhere)
  // tokens still expire, but revocations do not reach this gateway.
  rc.follow_revocations = !cfg.service_client_secret.empty();
  return rc;
}

std::uint64_t simulator_seed(const GatewayConfig& cfg) {
  if (cfg.sim_seed > 0) return static_cast<std::uint64_t>(cfg.sim_seed);
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) | rd();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int serve() {
  // Block the stop signals in every thread; one thread waits for them (no async-signal
  // restrictions on what the shutdown path may do).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto loaded = permiso::config::load_gateway_config(permiso::config::process_env());
  if (!loaded) {
    print_problems(loaded.error());
    return kExitConfig;
  }
  GatewayConfig cfg = std::move(*loaded);
  cfg.version = PERMISO_VERSION;
  if (const auto problems = permiso::config::validate(cfg); !problems.empty()) {
    print_problems(problems);
    return kExitConfig;
  }
  if (auto logged = permiso::log::init(cfg.log_config()); !logged) {
    std::cerr << "config error: LOG_LEVEL/LOG_FORMAT: " << permiso::log::to_string(logged.error()) << "\n";
    return kExitConfig;
  }
  if (!cfg.mt5_login.empty() || !cfg.mt5_server.empty()) {
    // Never the password: only that a real connector's settings were given and are unused.
    spdlog::warn("MT5_SERVER/MT5_LOGIN are set but MT5_BROKER=simulator: the simulator ignores them");
  }

  std::error_code ec;
  fs::create_directories(cfg.data_dir, ec);
  fs::permissions(cfg.data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);

  permiso::SystemClock clock;

  // Token verification: keys from the auth server (or the HS256 secret), revocations from its feed.
  permiso::http::Client http_client;
  std::unique_ptr<permiso::resource::Authenticator> auth;
  try {
    auth = std::make_unique<permiso::resource::Authenticator>(resource_config(cfg), clock, http_client);
  } catch (const std::exception& ex) {
    std::cerr << "config error: " << ex.what() << "\n";
    return kExitConfig;
  }
  if (cfg.service_client_secret.empty()) {
    spdlog::warn(
        "MT5_SERVICE_CLIENT_SECRET is not set: revoked tokens are honoured only when they expire "
        "(development only)");
  }
  auth->start();

  // Durable state: every acknowledged change is committed here first.
  permiso::trading::TradeStoreOptions store_options;
  store_options.storage.pool_size = static_cast<int>(cfg.pool_size);
  store_options.storage.connect_timeout_seconds = static_cast<int>(cfg.connect_timeout_s);
  auto opened = permiso::trading::TradeStore::open(cfg.effective_database_url(), clock, store_options);
  if (!opened) {
    spdlog::critical("cannot open the trade store: {}", opened.error().message);
    auth->stop();
    return kExitStartup;
  }
  auto& store = **opened;

  // The broker (the simulator is the only backend so far; validate() refused the others).
  permiso::trading::sim::SimOptions sim_options;
  sim_options.seed = simulator_seed(cfg);
  permiso::trading::sim::SimulatedBroker simulator(sim_options);
  permiso::trading::BarBuilder bars;
  simulator.backfill(bars);  // chart history before live ticks arrive
  const permiso::trading::handlers::Instruments instruments(simulator.symbols_get());
  permiso::trading::handlers::StreamHub stream(instruments);
  permiso::trading::Broker& broker = simulator;

  permiso::http::Registry metrics;
  permiso::trading::handlers::GatewayMetrics gateway_metrics(metrics);
  broker.set_tick_listener(
      [&bars, &stream, &gateway_metrics](std::string_view symbol, const permiso::trading::Tick& tick) {
        // The quote thread: cheap work only (bars under a per-symbol lock, queued stream frames).
        gateway_metrics.quote_lag(static_cast<double>(now_ms() - tick.time_msc) / 1000.0);
        bars.on_tick(symbol, tick);
        stream.on_tick(symbol, tick);
      });

  permiso::trading::GatewayOptions gateway_options;
  gateway_options.currency = cfg.demo_currency;
  gateway_options.leverage = static_cast<int>(cfg.demo_leverage);
  gateway_options.deposit = cfg.demo_deposit;
  // The simulator's state lives in this process, so this process is the store's only writer:
  // a new Idempotency-Key needs no database read (two mt5-api replicas over one simulator
  // store would diverge anyway; real connectors keep the broker's state on the broker).
  gateway_options.exclusive_store = true;
  auto service = std::make_unique<permiso::trading::GatewayService>(broker, store, clock, gateway_options);
  // Trade events follow durability: the stream hears of a change once storage committed it.
  service->set_committed_listener([&stream](const permiso::trading::Changes& changes) { stream.on_changes(changes); });
  if (auto started = service->start(); !started) {
    spdlog::critical("cannot restore the trading state from storage: {}", started.error().message);
    service.reset();
    auth->stop();
    return kExitStartup;
  }
  // The simulation clock started when the broker was built; bring it to now so quote times
  // (and trade times) are wall-clock times, then tick in real time.
  simulator.advance_to(now_ms());
  simulator.start(std::chrono::milliseconds(cfg.sim_tick_ms));

  // Trading calls block briefly (broker, idempotency lookups) and storage reads do: they run
  // here, never on an I/O thread; a full queue is a fast 503.
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  permiso::WorkerPool pool(2 * cores + 2, 4096);

  permiso::trading::handlers::GatewaySettings settings;
  settings.version = cfg.version;
  settings.environment = cfg.environment;
  permiso::trading::handlers::GatewayContext ctx{*service, broker,          bars,   *auth, instruments,
                                                 pool,     gateway_metrics, stream, clock, settings};
  permiso::trading::handlers::StreamSweeper sweeper(stream, clock);
  auth->on_revocation([&sweeper] { sweeper.poke(); });

  permiso::http::Router router;
  permiso::trading::handlers::register_routes(router, ctx);
  permiso::http::add_health_route(router, [&ctx] { return permiso::trading::handlers::health_body(ctx); });
  permiso::http::add_ready_route(router, [&ctx] { return permiso::trading::handlers::ready(ctx); });
  permiso::http::add_metrics_route(router, metrics);

  permiso::http::ServerConfig server_cfg;
  server_cfg.host = cfg.host;
  server_cfg.port = static_cast<std::uint16_t>(cfg.port);
  server_cfg.threads = static_cast<unsigned>(cfg.threads);
  server_cfg.body_limit = static_cast<std::size_t>(cfg.body_limit_bytes);
  server_cfg.header_limit = static_cast<std::size_t>(cfg.header_limit_bytes);
  server_cfg.header_timeout = std::chrono::seconds(cfg.header_timeout_s);
  server_cfg.read_timeout = std::chrono::seconds(cfg.read_timeout_s);
  server_cfg.idle_timeout = std::chrono::seconds(cfg.idle_timeout_s);
  server_cfg.handler_timeout = std::chrono::seconds(cfg.handler_timeout_s);
  server_cfg.shutdown_grace = std::chrono::seconds(cfg.shutdown_grace_s);
  server_cfg.trusted_proxies = cfg.trusted_proxies;
  server_cfg.cors.allowed_origins = cfg.allowed_origins;

  permiso::ratelimit::MemoryRateLimiter limiter;
  const auto api_rate = permiso::config::parse_rate(cfg.rate_limit_api).value_or(permiso::ratelimit::Rate{});
  permiso::http::ServerHooks hooks;
  hooks.metrics = &metrics;
  hooks.error_log = [](std::string_view m) { spdlog::error("{}", m); };
  hooks.access_log = [](const permiso::http::AccessLogEntry& e) {
    permiso::log::write_access(*spdlog::default_logger(),
                               permiso::log::AccessLogEntry{e.method, e.path, e.route, e.status, e.duration, e.bytes,
                                                            e.request_id, e.remote_ip, e.user_agent});
  };
  if (api_rate.count > 0) {
    hooks.admit = [&limiter, api_rate](const permiso::http::Request& req,
                                       std::string_view route) -> std::optional<permiso::http::Response> {
      // The per-address API limit (RATE_LIMIT_API): in memory, so it costs no I/O on this thread.
      if (!route.starts_with("/api/")) return std::nullopt;
      const auto d = limiter.consume("api:" + req.remote_ip, api_rate);
      if (d.allowed) return std::nullopt;
      auto res = permiso::http::error_response(req, 429, "rate_limited", "Too many requests from this address.");
      res.set_header("Retry-After", std::to_string(d.retry_after_s));
      return res;
    };
  }

  std::unique_ptr<permiso::http::Server> server;
  try {
    server = std::make_unique<permiso::http::Server>(server_cfg, router, hooks);
  } catch (const std::exception& ex) {
    spdlog::critical(std::string("cannot listen: ") + ex.what());
    sweeper.stop();
    simulator.stop();
    pool.shutdown();
    service.reset();
    auth->stop();
    return kExitStartup;
  }

  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", draining");
    stream.close_all();  // streams never end on their own: say goodbye (1001) before draining
    server->stop();
  });
  spdlog::info("mt5-api {} ({}, {}, {}, {}) listening on http://{}:{}", cfg.version, cfg.environment, store.backend(),
               broker.name(), cfg.jwt_algorithm, cfg.host, server->port());
  server->run();

  // Stop order: no new requests (server), then the stream sweeper and the quote thread (no
  // more listener changes), then the pool (its tasks may still submit commits), then the
  // service (waits for every commit it submitted), the authenticator's threads, and finally
  // the store, whose writer flushes what is queued.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);  // wakes sigwait if run() ended another way
  signal_waiter.join();
  sweeper.stop();
  simulator.stop();
  pool.shutdown();
  service.reset();
  http_client.shutdown();  // cut the revocation long-poll in flight: stop() need not wait it out
  auth->stop();
  opened->reset();
  spdlog::info("mt5-api stopped");
  spdlog::shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mt5-api: the Permiso trading gateway (MetaTrader 5 model, simulated broker)"};
  app.set_version_flag("--version", PERMISO_VERSION);
  app.require_subcommand(0, 1);
  auto* serve_cmd = app.add_subcommand("serve", "Run the gateway (the default)");
  auto* config_cmd = app.add_subcommand("config", "Configuration tools");
  auto* check_cmd =
      config_cmd->add_subcommand("check", "Validate and print the effective configuration, secrets redacted");
  config_cmd->require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  (void)serve_cmd;
  if (check_cmd->parsed()) return config_check();
  return serve();
}
