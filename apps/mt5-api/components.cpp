// See components.hpp.
#include "components.hpp"

#include "app/storage_metrics.hpp"

#include "jose/key.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <iostream>
#include <limits>
#include <random>

namespace permiso::mt5_app {
namespace {

using config::GatewayConfig;

/// Closed trades, historical orders and deals the simulator keeps in memory per account; the
/// trade store has all of them and serves the rest.
constexpr std::size_t kRecentHistoryPerAccount = 256;

/// The verifier's settings from the gateway's configuration (validated before).
resource::ResourceConfig resource_config(const GatewayConfig& cfg) {
  resource::ResourceConfig rc;
  rc.auth_url = cfg.auth_url;
  rc.issuer = cfg.jwt_issuer;
  rc.audience = cfg.jwt_audience;
  for (const auto& name : cfg.jwt_algorithms()) {
    if (auto alg = jose::algorithm_from_string(name)) {
      rc.algorithms.push_back(*alg);
      if (*alg == jose::Algorithm::HS256) rc.hs256_secret = cfg.jwt_secret_key;
    }
  }
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

}  // namespace

void warn_about_unused_settings(const GatewayConfig& cfg) {
  // Never a secret's value: only that a setting was given and is unused.
  if (cfg.broker == "simulator" && (!cfg.mt5_login.empty() || !cfg.mt5_server.empty())) {
    spdlog::warn("MT5_SERVER/MT5_LOGIN are set but MT5_BROKER=simulator: the simulator ignores them");
  }
  if (cfg.broker == "terminal" && (!cfg.mt5_server.empty() || !cfg.mt5_password.empty())) {
    spdlog::warn("MT5_SERVER/MT5_PASSWORD are set but MT5_BROKER=terminal: the terminal logs in on its own");
  }
}

std::unique_ptr<http::Client> auth_client(const GatewayConfig& cfg) {
  try {
    return std::make_unique<http::Client>(http::ClientOptions{.ca_file = cfg.auth_ca_file});
  } catch (const std::exception& ex) {
    std::cerr << "config error: PERMISO_AUTH_CA_FILE: " << ex.what() << "\n";
    return nullptr;
  }
}

std::unique_ptr<resource::Authenticator> start_authenticator(const GatewayConfig& cfg, const Clock& clock,
                                                             http::Client& client) {
  std::unique_ptr<resource::Authenticator> auth;
  try {
    auth = std::make_unique<resource::Authenticator>(resource_config(cfg), clock, client);
  } catch (const std::exception& ex) {
    std::cerr << "config error: " << ex.what() << "\n";
    return nullptr;
  }
  if (cfg.service_client_secret.empty()) {
    spdlog::warn(
        "MT5_SERVICE_CLIENT_SECRET is not set: revoked tokens are honoured only when they expire "
        "(development only)");
  }
  auth->start();
  return auth;
}

void collect_verifier_metrics(http::Registry& metrics, resource::Authenticator& auth) {
  // The contract's bound is 2 s; Redis brings a revocation in milliseconds, a long-poll in
  // well under a second; revoked_at is whole seconds, so a lag reads up to 1 s high.
  auto& lag = metrics
                  .histogram("permiso_revocation_feed_lag_seconds",
                             "Time from a revocation at permiso-auth to this gateway applying it from the feed.", {},
                             {0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60})
                  .with({});
  auth.on_feed_lag([&lag](double seconds) { lag.observe(seconds); });
  using Kind = http::Registry::Kind;
  metrics.collect("permiso_revocations_applied_total",
                  "Revoked tokens and ended sessions this gateway applied from permiso-auth's revocation feed.",
                  Kind::Counter, [&auth] { return static_cast<double>(auth.stats().revocations_applied); });
  metrics.collect("permiso_revocation_feed_errors_total",
                  "Reads of the revocation feed that failed (permiso-auth unreachable, its answer refused).",
                  Kind::Counter, [&auth] { return static_cast<double>(auth.stats().feed_errors); });
  metrics.collect("permiso_verified_token_cache_lookups_total",
                  "Verified-token cache lookups by result: hit (no signature check) or miss (verified in full).",
                  Kind::Counter, {"result"}, [&auth] {
                    const auto st = auth.stats();
                    return std::vector<http::Registry::Sample>{{{"hit"}, static_cast<double>(st.cache_hits)},
                                                               {{"miss"}, static_cast<double>(st.cache_misses)}};
                  });
}

trading::TradeStoreOptions store_options(const GatewayConfig& cfg) {
  trading::TradeStoreOptions options;
  options.storage.pool_size = static_cast<int>(cfg.pool_size);
  options.storage.connect_timeout_seconds = static_cast<int>(cfg.connect_timeout_s);
  options.storage.prepared_statements = cfg.prepared_statements;
  return options;
}

trading::TradeStoreTimer store_latency_timer(http::Registry& metrics) {
  auto& latency = metrics.histogram("mt5_store_seconds",
                                    "Trade store latency by operation: commit is one group-commit transaction, "
                                    "commit_wait one order's wait from queueing to durable; the rest are reads.",
                                    {"op"}, app::storage_latency_buckets());
  return app::latency_by_op<trading::TradeStoreOp, trading::kTradeStoreOpCount>(latency);
}

std::unique_ptr<trading::TradeStore> open_store(const GatewayConfig& cfg, const Clock& clock, http::Registry& metrics) {
  auto options = store_options(cfg);
  options.timer = store_latency_timer(metrics);
  auto opened = trading::TradeStore::open(cfg.effective_database_url(), clock, std::move(options));
  if (!opened) {
    spdlog::critical("cannot open the trade store: {}", opened.error().message);
    return nullptr;
  }
  return std::move(*opened);
}

trading::sim::SimOptions simulator_options(const GatewayConfig& cfg) {
  trading::sim::SimOptions options;
  options.history_per_account = kRecentHistoryPerAccount;
  if (cfg.sim_max_fill_lots > 0) options.max_fill_lots = {{"*", cfg.sim_max_fill_lots}};  // "*": every symbol
  if (cfg.sim_seed > 0) {
    options.seed = static_cast<std::uint64_t>(cfg.sim_seed);
  } else {
    std::random_device rd;
    options.seed = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  }
  return options;
}

trading::Broker& BrokerBackend::broker() const {
  if (simulator) return *simulator;
  if (fix) return *fix;
  return *terminal;
}

void BrokerBackend::go_live(const GatewayConfig& cfg, const Clock& clock) {
  if (terminal) {
    if (!terminal->reconcile_now())
      spdlog::warn("the MT5 terminal did not answer the first re-read; retrying every second");
    return;
  }
  if (fix) {
    if (!fix->reconcile_now())
      spdlog::warn("the FIX counterparty did not answer the first re-read; retrying every second");
    return;
  }
  simulator->advance_to(clock.now_ms());
  simulator->start(std::chrono::milliseconds(cfg.sim_tick_ms));
}

void BrokerBackend::stop() {
  if (simulator) simulator->stop();
  if (terminal) terminal->stop();
  if (fix) fix->stop();
}

namespace {

trading::fix::FixOptions fix_options(const GatewayConfig& cfg) {
  trading::fix::FixOptions o;
  const auto server = config::parse_host_port(cfg.mt5_server);  // validated
  o.host = server ? server->host : "127.0.0.1";
  o.port = server ? server->port : 0;
  o.sender_comp_id = cfg.fix_sender_comp_id;
  o.target_comp_id = cfg.fix_target_comp_id;
  o.quote_target_comp_id = cfg.fix_quote_target_comp_id;
  o.username = !cfg.fix_username.empty() ? cfg.fix_username : !cfg.mt5_login.empty() ? cfg.mt5_login : "permiso";
  o.password = cfg.mt5_password;
  if (!cfg.mt5_login.empty()) o.expected_login = std::stoull(cfg.mt5_login);  // digits, validated
  o.store_dir = !cfg.fix_store_dir.empty() ? cfg.fix_store_dir : (std::filesystem::path(cfg.data_dir) / "fix").string();
  o.tls = cfg.fix_tls;
  o.ca_file = cfg.fix_ca_file;
  o.heartbeat_seconds = static_cast<int>(cfg.fix_heartbeat_s);
  o.timeout = std::chrono::milliseconds(cfg.fix_timeout_ms);
  o.full_read_interval = std::chrono::seconds(cfg.effective_fix_full_read_s());
  o.tags = cfg.fix_tag_map();
  o.ledger_positions = cfg.fix_ledger_keeps("positions");
  o.ledger_collateral = cfg.fix_ledger_keeps("collateral");
  o.ledger_currency = cfg.demo_currency;  // the gateway opens accounts with these
  o.ledger_leverage = static_cast<int>(cfg.demo_leverage);
  return o;
}

std::optional<BrokerBackend> open_fix(const GatewayConfig& cfg) {
  BrokerBackend backend;
  try {
    backend.fix = std::make_unique<trading::fix::FixBroker>(fix_options(cfg));
  } catch (const std::exception& e) {
    spdlog::critical("the FIX connector cannot start: {}", e.what());
    return std::nullopt;
  }
  if (const auto renumbered = fixtags::describe(cfg.fix_tag_map()); !renumbered.empty()) {
    spdlog::info("FIX custom fields renumbered for this broker: {}", renumbered);
  }
  backend.fix->start();
  // The instruments, the stream and the routes are built from the counterparty's security list.
  const auto patience = std::max(std::chrono::milliseconds(cfg.fix_timeout_ms), std::chrono::milliseconds(10'000));
  if (!backend.fix->wait_until_connected(patience)) {
    // Logged on but no instruments read is, most often, custom fields numbered otherwise than
    // the counterparty numbers them (QuickFIX rejects its SecurityList: a warning says so).
    spdlog::critical(
        "the FIX session to {} did not log on and read the instruments within {} ms (address, comp ids "
        "and password? the custom fields' numbers, MT5_FIX_TAGS?)",
        cfg.mt5_server, patience.count());
    return std::nullopt;
  }
  return backend;
}

}  // namespace

std::optional<BrokerBackend> open_broker(const GatewayConfig& cfg, trading::BarBuilder& bars) {
  BrokerBackend backend;
  if (cfg.broker == "simulator") {
    backend.simulator = std::make_unique<trading::sim::SimulatedBroker>(simulator_options(cfg));
    backend.simulator->backfill(bars);  // chart history before live ticks arrive
    return backend;
  }
  if (cfg.broker == "fix") return open_fix(cfg);
  trading::terminal::TerminalOptions options;
  options.command_url = cfg.terminal_command_url;
  options.event_url = cfg.terminal_event_url;
  options.token = cfg.terminal_token;
  options.timeout = std::chrono::milliseconds(cfg.terminal_timeout_ms);
  if (!cfg.mt5_login.empty()) options.expected_login = std::stoull(cfg.mt5_login);  // digits, validated
  backend.terminal = std::make_unique<trading::terminal::TerminalBroker>(std::move(options));
  backend.terminal->start();
  // The instruments, the stream and the routes are built from the terminal's symbols.
  const auto patience = std::max(std::chrono::milliseconds(cfg.terminal_timeout_ms), std::chrono::milliseconds(10'000));
  if (!backend.terminal->wait_until_connected(patience)) {
    spdlog::critical("the MT5 terminal at {} did not answer within {} ms (is PermisoBridge running?)",
                     cfg.terminal_command_url, patience.count());
    return std::nullopt;
  }
  // Chart history before live ticks arrive, as the simulator's backfill.
  spdlog::info("mt5 terminal: chart history loaded, {} bars", backend.terminal->backfill(bars));
  return backend;
}

void feed_quotes(trading::Broker& broker, trading::BarBuilder& bars, trading::handlers::StreamHub& stream,
                 trading::handlers::GatewayMetrics& metrics, const Clock& clock) {
  broker.set_tick_listener([&bars, &stream, &metrics, &clock](std::string_view symbol, const trading::Tick& tick) {
    metrics.quote_lag(static_cast<double>(clock.now_ms() - tick.time_msc) / 1000.0);
    bars.on_tick(symbol, tick);
    stream.on_tick(symbol, tick);
  });
}

std::unique_ptr<trading::GatewayService> start_service(const GatewayConfig& cfg, trading::Broker& broker,
                                                       trading::TradeStore& store, const Clock& clock,
                                                       trading::handlers::StreamHub& stream,
                                                       trading::handlers::GatewayMetrics& metrics) {
  trading::GatewayOptions options;
  options.currency = cfg.demo_currency;
  options.leverage = static_cast<int>(cfg.demo_leverage);
  options.deposit = cfg.demo_deposit;
  // The simulator's state lives in this process, so this process is the store's only writer:
  // a new Idempotency-Key needs no database read. A connector's broker is shared: replicas over
  // it share the store too, and a key or an account another replica recorded must be found.
  options.exclusive_store = cfg.broker == "simulator";
  options.restore_history = kRecentHistoryPerAccount;  // what the simulator keeps
  auto service = std::make_unique<trading::GatewayService>(broker, store, clock, options);
  // Trade events follow durability: the stream hears of a change once storage committed it.
  service->set_committed_listener([&stream](const trading::Changes& changes) { stream.on_changes(changes); });
  service->set_broker_timer([&metrics](trading::TradeAction action, std::chrono::nanoseconds took) {
    metrics.broker_order(action, std::chrono::duration<double>(took).count());
  });
  if (auto started = service->start(); !started) {
    spdlog::critical("cannot restore the trading state from storage: {}", started.error().message);
    return nullptr;
  }
  return service;
}

void register_routes(http::Router& router, trading::handlers::GatewayContext& ctx, http::Registry& metrics) {
  trading::handlers::register_routes(router, ctx);
  http::add_health_route(router, [&ctx] { return trading::handlers::health_body(ctx); });
  http::add_ready_route(router, [&ctx] { return trading::handlers::ready_report(ctx); });
  http::add_metrics_route(router, metrics);
}

void collect_metrics(http::Registry& metrics, const trading::TradingService& service, const WorkerPool& pool,
                     const trading::handlers::StreamHub& stream, const trading::Broker& broker) {
  using Kind = http::Registry::Kind;
  const auto stat = [&service](auto field) {
    return [&service, field] { return static_cast<double>(service.stats().*field); };
  };
  using Stats = trading::TradingService::Stats;
  metrics.collect("mt5_accounts", "Trading accounts the gateway has opened.", Kind::Gauge, stat(&Stats::accounts));
  metrics.collect("mt5_open_positions", "Open positions across every account.", Kind::Gauge,
                  stat(&Stats::open_positions));
  metrics.collect("mt5_store_commits_total", "Trade store transactions committed.", Kind::Counter,
                  stat(&Stats::commits));
  metrics.collect("mt5_store_commit_batches_total",
                  "Group commits of the trade store (commits / batches is the batching factor).", Kind::Counter,
                  stat(&Stats::commit_batches));
  metrics.collect("mt5_idempotent_replays_total", "Orders answered from their stored answer (a retried key).",
                  Kind::Counter, stat(&Stats::idempotent_replays));
  metrics.collect("mt5_worker_queue_depth", "Calls waiting for a trading worker.", Kind::Gauge,
                  [&pool] { return static_cast<double>(pool.queued()); });
  metrics.collect("mt5_worker_rejections_total", "Calls refused with 503 because the trading workers' queue was full.",
                  Kind::Counter, [&pool] { return static_cast<double>(pool.rejected()); });
  metrics.collect("mt5_stream_dropped_total", "WebSocket streams closed for falling behind (slow consumers).",
                  Kind::Counter, [&stream] { return static_cast<double>(stream.slow_consumers_dropped()); });
  metrics.collect("mt5_broker_connected", "Whether the broker backend can trade right now (1) or not (0).", Kind::Gauge,
                  [&broker] { return broker.connected() ? 1.0 : 0.0; });
}

void collect_fix_metrics(http::Registry& metrics, const trading::fix::FixBroker& fix) {
  metrics.collect("mt5_fix_ledger",
                  "Whether the FIX connector keeps a part of the account in mt5-api's own ledger (1: the "
                  "counterparty lacks RequestForPositions or CollateralInquiry, or MT5_FIX_LEDGER says so) or reads "
                  "it from the counterparty (0).",
                  http::Registry::Kind::Gauge, {"part"}, [&fix] {
                    const auto flag = [](bool b) { return b ? 1.0 : 0.0; };
                    return std::vector<http::Registry::Sample>{{{"positions"}, flag(fix.keeps_own_positions())},
                                                               {{"collateral"}, flag(fix.keeps_own_collateral())}};
                  });
}

void collect_terminal_metrics(http::Registry& metrics, const trading::terminal::TerminalBroker& terminal) {
  metrics.collect("mt5_terminal_server_utc_offset_seconds",
                  "The terminal's trade server clock minus UTC, as its EA reports it (times it sends are UTC).",
                  http::Registry::Kind::Gauge, [&terminal] {
                    const auto offset = terminal.server_utc_offset_s();
                    return offset ? static_cast<double>(*offset) : std::numeric_limits<double>::quiet_NaN();
                  });
}

void collect_dependency_metrics(http::Registry& metrics, const trading::TradingService& service,
                                const resource::Authenticator& auth) {
  const auto up = [](bool b) { return b ? 1.0 : 0.0; };
  metrics.collect("mt5_dependency_up",
                  "Whether a dependency answers (1) or not (0): database (the trade store, read back after an "
                  "outage), permiso_auth (the last JWKS and revocation-feed reads), redis (the revocation "
                  "notices' subscription; only with REDIS_URL).",
                  http::Registry::Kind::Gauge, {"dependency"}, [&service, &auth, up] {
                    std::vector<http::Registry::Sample> out{{{"database"}, up(service.ready())},
                                                            {{"permiso_auth"}, up(auth.auth_server_reachable())}};
                    if (const auto redis = auth.redis_subscribed()) out.push_back({{"redis"}, up(*redis)});
                    return out;
                  });
}

}  // namespace permiso::mt5_app
