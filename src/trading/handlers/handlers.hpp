// mt5-api's routes under /api/v1 (contract: mt5-api table), each a thin handler: authenticate
// and check the route's scopes (resource::require_scopes, from the verified-token cache),
// parse and validate, call the TradingService, render. Reads of open state answer on the I/O
// thread (memory only: the hot GET /trades path makes no storage call); trading calls and
// storage reads run on the worker pool, and their Done callbacks answer from the storage
// writer's thread, so no thread waits for a commit.
#pragma once

#include "common/clock.hpp"
#include "common/worker_pool.hpp"
#include "http/http.hpp"
#include "http/metrics.hpp"
#include "resource/authenticator.hpp"
#include "trading/bars.hpp"
#include "trading/broker.hpp"
#include "trading/handlers/render.hpp"
#include "trading/handlers/stream.hpp"
#include "trading/service.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace permiso::trading::handlers {

/// The gateway's own Prometheus series (the server adds http_* beside them).
class GatewayMetrics {
 public:
  explicit GatewayMetrics(http::Registry& registry);
  /// An order reached the broker (mt5_orders_total{type}).
  void order(OrderType type);
  /// A market order was filled and committed (mt5_fills_total).
  void fill();
  /// An order was refused (mt5_order_rejections_total{reason}: "no_money", "invalid_stops",
  /// "validation", "broker_unavailable", …).
  void rejection(std::string_view reason);
  /// Age of a quote when the gateway received it (mt5_quote_lag_seconds).
  void quote_lag(double seconds);
  /// Open WebSocket streams (mt5_stream_connections).
  void stream_connections(double n);
  /// How long one broker order_send took, by trade action (mt5_broker_order_seconds{action}:
  /// "deal", "pending", "sltp", "modify", "remove", "close_by").
  void broker_order(TradeAction action, double seconds);

 private:
  http::CounterFamily& orders_;
  http::Counter& fills_;
  http::CounterFamily& rejections_;
  http::Histogram& quote_lag_;
  http::Gauge& streams_;
  http::HistogramFamily& broker_orders_;
};

struct GatewaySettings {
  std::string version = "0.1.0";
  std::string environment = "development";
};

/// What the handlers use; everything is owned by the composition root and outlives the router.
struct GatewayContext {
  TradingService& service;
  Broker& broker;
  const BarBuilder& bars;
  const resource::Authenticator& auth;
  const Instruments& instruments;
  WorkerPool& pool;  // trading calls and storage reads (never on an I/O thread)
  GatewayMetrics& metrics;
  StreamHub& stream;
  const Clock& clock;
  GatewaySettings settings;
};

/// Every /api/v1 route of the contract's mt5-api table, and GET /api/v1/stream (WebSocket).
void register_routes(http::Router& router, GatewayContext& ctx);

/// GET /health: {status, service: "mt5-api", version, environment, broker}.
boost::json::value health_body(const GatewayContext& ctx);
/// GET /ready: ready when storage is reachable with the state restored, the broker connected
/// and the token keys loaded; its checks also say whether permiso-auth is reachable.
http::ReadyReport ready_report(const GatewayContext& ctx);

/// The principal's account key and display name as the TradingService sees them.
Caller caller_of(const resource::Principal& principal);

/// Where a WebSocket client put its token: `Authorization: Bearer …`, an `access_token` query
/// parameter, or (browsers, which cannot set headers) Sec-WebSocket-Protocol
/// "bearer, <token>" / "access_token, <token>". Empty when none.
struct StreamToken {
  std::string token;
  /// The marker ("bearer" or "access_token") when the token came in Sec-WebSocket-Protocol:
  /// the handshake must then select it as the subprotocol, or browsers drop the connection.
  std::string subprotocol;
};
StreamToken stream_token(const http::Request& req);

}  // namespace permiso::trading::handlers
