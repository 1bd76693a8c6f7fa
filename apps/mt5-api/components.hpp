// mt5-api's components as its configuration asks for them: each function builds or wires one
// part of the gateway, so main.cpp reads as the list of what the service is made of.
#pragma once

#include "common/clock.hpp"
#include "common/worker_pool.hpp"
#include "config/gateway_config.hpp"
#include "http/client.hpp"
#include "http/http.hpp"
#include "http/metrics.hpp"
#include "resource/authenticator.hpp"
#include "trading/bars.hpp"
#include "trading/fix/fix_broker.hpp"
#include "trading/handlers/handlers.hpp"
#include "trading/handlers/render.hpp"
#include "trading/handlers/stream.hpp"
#include "trading/service/gateway_service.hpp"
#include "trading/sim/simulated_broker.hpp"
#include "trading/store/trade_store.hpp"
#include "trading/terminal/terminal_broker.hpp"

#include <memory>

namespace permiso::mt5_app {

/// Logs what the configuration sets but this build does not use (never a secret's value).
void warn_about_unused_settings(const config::GatewayConfig& cfg);

/// The HTTP client mt5-api calls permiso-auth with: an https:// auth_url is verified against
/// PERMISO_AUTH_CA_FILE when set, else the system store. nullptr (after saying why) when the
/// CA file cannot be loaded.
std::unique_ptr<http::Client> auth_client(const config::GatewayConfig& cfg);

/// Token verification: keys from the auth server (or the HS256 secret), revocations from its
/// feed, started. nullptr (after saying why) when the settings are refused.
std::unique_ptr<resource::Authenticator> start_authenticator(const config::GatewayConfig& cfg, const Clock& clock,
                                                             http::Client& client);

/// The verifier's figures on /metrics: permiso_revocation_feed_lag_seconds (observed as each
/// revocation arrives), the revocations applied, the feed's failed reads, and the verified-token
/// cache's hits and misses (read at each scrape). `metrics` must outlive `auth`.
void collect_verifier_metrics(http::Registry& metrics, resource::Authenticator& auth);

/// The store's settings from the configuration (pool size, connect timeout; full sync).
trading::TradeStoreOptions store_options(const config::GatewayConfig& cfg);

/// The durable store: every acknowledged change is committed here first. nullptr (after
/// logging why) when it cannot be opened. Its latency by operation is observed into `metrics`
/// (mt5_store_seconds{op}), which must outlive it.
std::unique_ptr<trading::TradeStore> open_store(const config::GatewayConfig& cfg, const Clock& clock,
                                                http::Registry& metrics);

/// The simulated broker's options (the seed, random unless MT5_SIM_SEED fixes it).
trading::sim::SimOptions simulator_options(const config::GatewayConfig& cfg);

/// The backend MT5_BROKER names: exactly one of the two is set.
struct BrokerBackend {
  std::unique_ptr<trading::sim::SimulatedBroker> simulator;
  std::unique_ptr<trading::terminal::TerminalBroker> terminal;
  std::unique_ptr<trading::fix::FixBroker> fix;
  [[nodiscard]] trading::Broker& broker() const;
  /// Live from now on, once the gateway listens: the simulator's clock brought to now and
  /// ticking in real time; the terminal re-read (what it did while the gateway was down is
  /// delivered before the first request is served; its quotes already flow).
  void go_live(const config::GatewayConfig& cfg, const Clock& clock);
  void stop();
};

/// The simulator (with `bars` backfilled with its chart history), or the terminal connector,
/// connected: the gateway's instruments are the terminal's symbols. nullopt (after saying
/// why) when the terminal does not answer within its timeout.
std::optional<BrokerBackend> open_broker(const config::GatewayConfig& cfg, trading::BarBuilder& bars);

/// Quotes feed the bars, the stream and the quote-lag metric (on the quote thread: cheap
/// work only).
void feed_quotes(trading::Broker& broker, trading::BarBuilder& bars, trading::handlers::StreamHub& stream,
                 trading::handlers::GatewayMetrics& metrics, const Clock& clock);

/// The gateway service over `broker` and `store`, its trading state restored from storage,
/// trade events sent to the stream once committed, each broker round trip timed. nullptr
/// (after logging why) when the state cannot be restored.
std::unique_ptr<trading::GatewayService> start_service(const config::GatewayConfig& cfg, trading::Broker& broker,
                                                       trading::TradeStore& store, const Clock& clock,
                                                       trading::handlers::StreamHub& stream,
                                                       trading::handlers::GatewayMetrics& metrics);

/// Every route: the trading API and stream, /health, /ready and /metrics.
void register_routes(http::Router& router, trading::handlers::GatewayContext& ctx, http::Registry& metrics);

/// The gateway's figures on /metrics, read at each scrape: accounts and open positions, the
/// trade store's commits and group-commit batches, idempotent replays, the worker queue, the
/// stream's slow consumers dropped, whether the broker is connected.
void collect_metrics(http::Registry& metrics, const trading::TradingService& service, const WorkerPool& pool,
                     const trading::handlers::StreamHub& stream, const trading::Broker& broker);
/// mt5_fix_ledger{part}: whether the FIX connector keeps the positions or the collateral in its
/// own ledger (1) or reads them from the counterparty (0). MT5_BROKER=fix only.
void collect_fix_metrics(http::Registry& metrics, const trading::fix::FixBroker& fix);
/// mt5_terminal_server_utc_offset_seconds: the terminal's trade server clock minus UTC, as its
/// EA reports it (NaN before a hello, or from an EA too old to say). MT5_BROKER=terminal only.
void collect_terminal_metrics(http::Registry& metrics, const trading::terminal::TerminalBroker& terminal);
/// mt5_dependency_up{dependency}: the trade store's database, permiso-auth and (with
/// REDIS_URL) Redis, each 1 or 0, for the alert rules (deploy/prometheus).
void collect_dependency_metrics(http::Registry& metrics, const trading::TradingService& service,
                                const resource::Authenticator& auth);

}  // namespace permiso::mt5_app
