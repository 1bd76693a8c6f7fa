// See handlers.hpp. Each route: guard (401/403) → parse (422) → service → render. The order
// matters: a caller without the scope learns nothing about the validity of its input.
#include "trading/handlers/handlers.hpp"

#include "http/offload.hpp"
#include "resource/guard.hpp"
#include "trading/handlers/errors.hpp"
#include "trading/handlers/json_writer.hpp"
#include "trading/handlers/requests.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <utility>

namespace permiso::trading::handlers {

// ---- metrics ----

GatewayMetrics::GatewayMetrics(http::Registry& registry)
    : orders_(registry.counter("mt5_orders_total", "Orders sent to the broker, by order type", {"type"})),
      fills_(registry.counter("mt5_fills_total", "Market orders filled and committed").with({})),
      rejections_(registry.counter("mt5_order_rejections_total", "Orders refused, by reason", {"reason"})),
      quote_lag_(registry
                     .histogram("mt5_quote_lag_seconds", "Age of a quote when the gateway received it", {},
                                {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})
                     .with({})),
      streams_(registry.gauge("mt5_stream_connections", "Open WebSocket streams").with({})),
      // The simulator answers in microseconds, a terminal over the network in milliseconds,
      // up to its timeout (MT5_TERMINAL_TIMEOUT_MS).
      broker_orders_(registry.histogram(
          "mt5_broker_order_seconds", "Broker order_send round trips, by trade action", {"action"},
          {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})) {}

void GatewayMetrics::order(OrderType type) {
  orders_.with({to_string(type)}).inc();
}
void GatewayMetrics::fill() {
  fills_.inc();
}
void GatewayMetrics::rejection(std::string_view reason) {
  rejections_.with({reason}).inc();
}
void GatewayMetrics::quote_lag(double seconds) {
  quote_lag_.observe(seconds < 0 ? 0 : seconds);
}
void GatewayMetrics::stream_connections(double n) {
  streams_.set(n);
}
void GatewayMetrics::broker_order(TradeAction action, double seconds) {
  broker_orders_.with({to_string(action)}).observe(seconds);
}

// ---- helpers ----

Caller caller_of(const resource::Principal& p) {
  Caller c;
  c.account_key = p.account_key();
  c.display_name = !p.username.empty() ? p.username : !p.client_id.empty() ? p.client_id : p.subject;
  return c;
}

StreamToken stream_token(const http::Request& req) {
  if (auto auth = req.header("authorization")) {
    std::string_view v = *auth;
    if (v.size() > 7) {
      std::string scheme(v.substr(0, 7));
      std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (scheme == "bearer ") {
        v.remove_prefix(7);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        return {std::string(v), {}};
      }
    }
  }
  if (auto q = req.query_param("access_token"); q && !q->empty()) return {std::string(*q), {}};
  if (auto proto = req.header("sec-websocket-protocol")) {
    // "bearer, <token>" or "access_token, <token>": the element after the marker.
    std::string_view list = *proto;
    std::string_view marker;
    while (!list.empty()) {
      const auto comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!marker.empty() && !item.empty()) return {std::string(item), std::string(marker)};
      marker = item == "bearer" || item == "access_token" ? item : std::string_view{};
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return {};
}

namespace {

using Ctx = GatewayContext;

http::Response json_text(int status, std::string body) {
  http::Response res;
  res.status = status;
  res.body = std::move(body);
  return res;
}

/// Runs `task(req, reply)` on the worker pool: the trading calls may block briefly (broker,
/// an idempotency lookup), and storage reads do.
void on_pool(Ctx& ctx, http::Request& req, http::Reply reply, http::PoolTask task) {
  http::offload(ctx.pool, req, std::move(reply), std::move(task));
}

/// The symbol of a {symbol} capture, known to the broker; else the 404/422 to send.
Result<const SymbolInfo*, http::Response> known_symbol(const Ctx& ctx, const http::Request& req) {
  auto s = parse_symbol(req.param("symbol"));
  if (!s) return invalid_response(req, s.error());
  const auto* info = ctx.instruments.find(*s);
  if (info == nullptr) return http::error_response(req, 404, "not_found", "Unknown symbol " + *s + ".");
  return info;
}

std::string render_answer_trade(const Ctx& ctx, const Position& p) {
  return render_trade(p, ctx.instruments.digits(p.symbol));
}

/// A pending order accepted by the broker (retcode Placed): not a trade yet.
std::string render_placed(const Position& p, const TradeResult& r, int digits) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.member("id", static_cast<std::uint64_t>(r.order != 0 ? r.order : p.ticket));
  w.member("order_id", static_cast<std::uint64_t>(r.order != 0 ? r.order : p.ticket));
  w.member("symbol", p.symbol);
  w.member("volume", p.volume, kVolumeDigits);
  w.member("price", p.price_open, digits);
  w.key("stop_loss");
  if (p.sl != 0)
    w.number(p.sl, digits);
  else
    w.null();
  w.key("take_profit");
  if (p.tp != 0)
    w.number(p.tp, digits);
  else
    w.null();
  w.member("comment", p.comment);
  w.member("status", "placed");
  w.member("broker_retcode", static_cast<int>(r.retcode));
  w.member_time("time_setup", p.time_msc);
  w.end_object();
  return out;
}

// ---- /trades ----

void list_trades(Ctx& ctx, http::Request& req, http::Reply reply) {
  // Hot path: the token comes from the verified-token cache, open trades from memory, and
  // the array is written straight into the body. No storage call, no DOM, no lock held.
  auto who = resource::require_scopes(ctx.auth, req, {"trade:read"});
  if (!who) return reply(std::move(who.error()));
  auto query = parse_trade_list_query(req);
  if (!query) return reply(invalid_response(req, query.error()));
  auto caller = caller_of(**who);
  const bool in_memory = ctx.service.answers_from_memory(caller);
  auto run = [&ctx, caller = std::move(caller), q = *query](http::Request& r) {
    auto page = ctx.service.list_trades(caller, q);
    if (!page) return failure_response(r, page.error());
    auto res = json_text(200, render_trades(page->trades, ctx.instruments));
    if (page->next_cursor) res.set_header("Link", next_link("/api/v1/trades", q, *page->next_cursor));
    return res;
  };
  if (query->status == TradeListQuery::Status::Open && in_memory) {
    return reply(run(req));
  }
  // Closed trades are read from storage (and an account another replica opened, from the
  // broker): off the I/O thread.
  on_pool(ctx, req, std::move(reply), [run](http::Request& r, const http::Reply& answer) { answer(run(r)); });
}

void open_trade(Ctx& ctx, http::Request& req, http::Reply reply) {
  auto who = resource::require_scopes(ctx.auth, req, {"trade:open"});
  if (!who) return reply(std::move(who.error()));
  auto parsed = parse_open_trade(req);
  if (!parsed) {
    ctx.metrics.rejection("validation");
    return reply(invalid_response(req, parsed.error()));
  }
  if (ctx.instruments.find(parsed->symbol) == nullptr) {
    ctx.metrics.rejection("validation");
    return reply(validation_response(req, "symbol", "unknown symbol " + parsed->symbol + " (see GET /api/v1/symbols)"));
  }
  auto caller = caller_of(**who);
  if (!parsed->idempotency_key.empty()) {
    parsed->broker_order_id = broker_order_id(caller.account_key, parsed->idempotency_key);
  }
  on_pool(ctx, req, std::move(reply),
          [&ctx, caller = std::move(caller), order = std::move(*parsed)](http::Request& r,
                                                                         const http::Reply& answer) mutable {
            ctx.metrics.order(order.type);
            const int digits = ctx.instruments.digits(order.symbol);
            const double requested = order.volume;
            auto placed = std::make_shared<std::atomic<bool>>(false);
            TradingService::Render render = [digits, requested, placed](const Position& p, const TradeResult& result) {
              StoredAnswer a;
              a.status = 201;
              if (result.retcode == Retcode::Placed) {
                placed->store(true);
                a.body = render_placed(p, result, digits);
              } else {
                a.body = render_filled_trade(p, result, requested, digits);
              }
              return a;
            };
            ctx.service.open_trade(caller, std::move(order), std::move(render),
                                   [&ctx, &r, answer, placed](ServiceResult<StoredAnswer> result) {
                                     if (!result) {
                                       if (result.error().code != ServiceError::OutcomePending) {
                                         ctx.metrics.rejection(rejection_reason(result.error()));
                                       }
                                       return answer(failure_response(r, result.error()));
                                     }
                                     if (!result->replayed && !placed->load() && result->status == 201)
                                       ctx.metrics.fill();
                                     auto res = json_text(result->status, std::move(result->body));
                                     if (result->replayed) res.set_header("Idempotent-Replayed", "true");
                                     answer(std::move(res));
                                   });
          });
}

void get_trade(Ctx& ctx, http::Request& req, http::Reply reply) {
  auto who = resource::require_scopes(ctx.auth, req, {"trade:read"});
  if (!who) return reply(std::move(who.error()));
  auto ticket = parse_ticket(req.param("id"));
  if (!ticket) return reply(invalid_response(req, ticket.error()));
  // A trade no longer open is read from storage.
  on_pool(ctx, req, std::move(reply),
          [&ctx, caller = caller_of(**who), id = *ticket](http::Request& r, const http::Reply& answer) {
            auto trade = ctx.service.get_trade(caller, id);
            if (!trade) return answer(failure_response(r, trade.error()));
            answer(json_text(200, render_answer_trade(ctx, *trade)));
          });
}

void modify_trade(Ctx& ctx, http::Request& req, http::Reply reply) {
  auto who = resource::require_scopes(ctx.auth, req, {"trade:modify"});
  if (!who) return reply(std::move(who.error()));
  auto ticket = parse_ticket(req.param("id"));
  if (!ticket) return reply(invalid_response(req, ticket.error()));
  auto change = parse_modify_trade(req);
  if (!change) return reply(invalid_response(req, change.error()));
  on_pool(ctx, req, std::move(reply),
          [&ctx, caller = caller_of(**who), id = *ticket, m = *change](http::Request& r, const http::Reply& answer) {
            ctx.service.modify_trade(caller, id, m.sl, m.tp, [&ctx, &r, answer](ServiceResult<Position> result) {
              if (!result) return answer(failure_response(r, result.error()));
              answer(json_text(200, render_answer_trade(ctx, *result)));
            });
          });
}

void close_trade(Ctx& ctx, http::Request& req, http::Reply reply) {
  auto who = resource::require_scopes(ctx.auth, req, {"trade:close"});
  if (!who) return reply(std::move(who.error()));
  auto ticket = parse_ticket(req.param("id"));
  if (!ticket) return reply(invalid_response(req, ticket.error()));
  on_pool(ctx, req, std::move(reply),
          [&ctx, caller = caller_of(**who), id = *ticket](http::Request& r, const http::Reply& answer) {
            ctx.service.close_trade(caller, id, [&ctx, &r, answer, id](ServiceResult<Position> result) {
              if (!result) return answer(failure_response(r, result.error()));
              std::string out;
              JsonWriter w(out);
              w.begin_object();
              w.member("message", "Trade " + std::to_string(id) + " closed");
              w.member("trade_id", static_cast<std::uint64_t>(id));
              w.key("trade").raw(render_answer_trade(ctx, *result));
              w.end_object();
              answer(json_text(200, std::move(out)));
            });
          });
}

// ---- /account ----

void account(Ctx& ctx, http::Request& req, http::Reply reply, std::string_view scope) {
  auto who = resource::require_scopes(ctx.auth, req, {scope});
  if (!who) return reply(std::move(who.error()));
  // The first call opens the caller's account (a committed write): on the pool, answered
  // from the commit's completion.
  on_pool(ctx, req, std::move(reply), [&ctx, caller = caller_of(**who)](http::Request& r, const http::Reply& answer) {
    ctx.service.account(caller, [&r, answer](ServiceResult<AccountInfo> result) {
      if (!result) return answer(failure_response(r, result.error()));
      answer(json_text(200, render_account(*result)));
    });
  });
}

// ---- /market, /symbols ----

http::Response market(Ctx& ctx, http::Request& req) {
  auto who = resource::require_scopes(ctx.auth, req, {"market:data"});
  if (!who) return std::move(who.error());
  auto info = known_symbol(ctx, req);
  if (!info) return std::move(info.error());
  const auto tick = ctx.broker.symbol_info_tick((*info)->name);
  if (!tick) {
    auto res = http::error_response(req, 503, "broker_unavailable", "No quote for " + (*info)->name + " yet.");
    res.set_header("Retry-After", "1");
    return res;
  }
  return json_text(200, render_quote((*info)->name, *tick, (*info)->digits));
}

http::Response symbols(Ctx& ctx, http::Request& req) {
  auto who = resource::require_scopes(ctx.auth, req, {"market:data"});
  if (!who) return std::move(who.error());
  return json_text(200, render_symbols(ctx.broker.symbols_get()));
}

http::Response rates(Ctx& ctx, http::Request& req) {
  auto who = resource::require_scopes(ctx.auth, req, {"market:data"});
  if (!who) return std::move(who.error());
  auto info = known_symbol(ctx, req);
  if (!info) return std::move(info.error());
  auto q = parse_rates_query(req);
  if (!q) return invalid_response(req, q.error());
  const auto bars = ctx.bars.rates((*info)->name, q->timeframe, q->count, q->start);
  return json_text(200, render_rates((*info)->name, q->timeframe, bars, (*info)->digits));
}

// ---- /orders, /history/deals ----

void orders(Ctx& ctx, http::Request& req, http::Reply reply) {
  auto who = resource::require_scopes(ctx.auth, req, {"trade:read"});
  if (!who) return reply(std::move(who.error()));
  auto caller = caller_of(**who);
  const bool in_memory = ctx.service.answers_from_memory(caller);
  auto run = [&ctx, caller = std::move(caller)](http::Request& r) {
    auto list = ctx.service.orders(caller);
    if (!list) return failure_response(r, list.error());
    return json_text(200, render_orders(*list, ctx.instruments));
  };
  if (in_memory) return reply(run(req));
  on_pool(ctx, req, std::move(reply), [run](http::Request& r, const http::Reply& answer) { answer(run(r)); });
}

void deals(Ctx& ctx, http::Request& req, http::Reply reply) {
  auto who = resource::require_scopes(ctx.auth, req, {"trade:read"});
  if (!who) return reply(std::move(who.error()));
  auto query = parse_deals_query(req, ctx.clock.now_seconds() * 1000);
  if (!query) return reply(invalid_response(req, query.error()));
  // Deals are read from storage: off the I/O thread.
  on_pool(ctx, req, std::move(reply),
          [&ctx, caller = caller_of(**who), q = *query](http::Request& r, const http::Reply& answer) {
            auto page = ctx.service.deals(caller, q);
            if (!page) return answer(failure_response(r, page.error()));
            auto res = json_text(200, render_deals(page->deals, ctx.instruments));
            if (page->next_cursor) res.set_header("Link", next_deals_link(q, *page->next_cursor));
            answer(std::move(res));
          });
}

// ---- /admin/stats ----

http::Response admin_stats(Ctx& ctx, http::Request& req) {
  auto who = resource::require_scopes(ctx.auth, req, {"admin:system"});
  if (!who) return std::move(who.error());
  if (!(*who)->is_trusted) {
    return http::error_response(req, 403, "access_denied",
                                "Gateway statistics are for trusted clients (is_trusted) holding admin:system.");
  }
  const auto s = ctx.service.stats();
  const auto a = ctx.auth.stats();
  boost::json::object body{
      {"service", "mt5-api"},
      {"version", ctx.settings.version},
      {"broker", {{"name", ctx.broker.name()}, {"connected", ctx.broker.connected()}}},
      {"trading",
       {{"accounts", s.accounts},
        {"open_positions", s.open_positions},
        {"orders_sent", s.orders_sent},
        {"fills", s.fills},
        {"rejections", s.rejections},
        {"commits", s.commits},
        {"commit_batches", s.commit_batches},
        {"idempotent_replays", s.idempotent_replays}}},
      {"stream",
       {{"connections", ctx.stream.connections()},
        {"messages_sent", ctx.stream.messages_sent()},
        {"messages_dropped", ctx.stream.messages_dropped()}}},
      {"auth",
       {{"ready", a.ready},
        {"cache_hits", a.cache_hits},
        {"cache_misses", a.cache_misses},
        {"cache_entries", a.cache_entries},
        {"keys", a.keys},
        {"revocations_held", a.revocations_held},
        {"feed_cursor", a.feed_cursor}}},
      {"pool", {{"threads", ctx.pool.thread_count()}, {"queued", ctx.pool.queued()}}},
  };
  return http::json_response(200, body);
}

// ---- /stream ----

std::variant<http::Response, http::WebSocketAccept> open_stream(Ctx& ctx, http::Request& req) {
  const auto [token, subprotocol] = stream_token(req);
  if (token.empty()) return resource::unauthorized(req, resource::AuthFailure::MissingToken);
  auto verified = ctx.auth.authenticate(token);
  if (!verified) return resource::unauthorized(req, verified.error());
  std::shared_ptr<const resource::Principal> principal = *verified;
  const bool quotes = principal->has_scope("market:data");
  const bool trades = principal->has_scope("trade:read");
  if (!quotes && !trades) {
    return resource::insufficient_any_scope(req, {"trade:read", "market:data"});
  }
  // Browsers can name their first symbols in the URL: ?symbols=EURUSD,GBPUSD.
  std::string initial;
  if (auto list = req.query_param("symbols"); list && !list->empty()) {
    if (!quotes) return resource::insufficient_scope(req, {"market:data"}, {"market:data"});
    boost::json::array symbols;
    std::string_view rest = *list;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      auto s = parse_symbol(rest.substr(0, comma), "symbols");
      if (!s) return invalid_response(req, s.error());
      if (ctx.instruments.find(*s) == nullptr) return validation_response(req, "symbols", "unknown symbol " + *s);
      symbols.emplace_back(*s);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    initial = boost::json::serialize(boost::json::object{{"action", "subscribe"}, {"symbols", symbols}});
  }
  http::WebSocketAccept accept;
  accept.subprotocol = subprotocol;
  accept.on_open = [&ctx, principal, quotes, trades, initial](std::shared_ptr<http::WebSocketPeer> peer) {
    const resource::Authenticator& auth = ctx.auth;
    auto h = ctx.stream.add(std::move(peer), principal->expires_at, quotes, trades,
                            [&auth, principal] { return auth.is_revoked(*principal); });
    ctx.metrics.stream_connections(static_cast<double>(ctx.stream.connections()));
    if (!initial.empty()) ctx.stream.on_message(h, initial);
    if (trades) {
      // Trade events need the caller's login; learning it may open the account (a commit), so
      // it happens on the pool and the events start once it is known.
      std::weak_ptr<StreamHub::Subscription> weak = h;
      (void)ctx.pool.try_submit([&ctx, weak, caller = caller_of(*principal)] {
        ctx.service.account(caller, [&ctx, weak](ServiceResult<AccountInfo> a) {
          if (auto sub = weak.lock(); sub && a) ctx.stream.set_login(sub, a->login);
        });
      });
    }
    // The hub owns the subscription (which owns the peer); the callbacks only point at it,
    // so a closed connection leaves no cycle behind.
    std::weak_ptr<StreamHub::Subscription> weak = h;
    http::WebSocketCallbacks callbacks;
    callbacks.on_message = [&ctx, weak](std::string_view text) {
      if (auto sub = weak.lock()) ctx.stream.on_message(sub, text);
    };
    callbacks.on_close = [&ctx, weak] {
      if (auto sub = weak.lock()) ctx.stream.remove(sub);
      ctx.metrics.stream_connections(static_cast<double>(ctx.stream.connections()));
    };
    return callbacks;
  };
  return accept;
}

}  // namespace

void register_routes(http::Router& router, GatewayContext& ctx) {
  router.add("GET", "/api/v1/trades",
             [&ctx](http::Request& r, http::Reply reply) { list_trades(ctx, r, std::move(reply)); });
  router.add("POST", "/api/v1/trades",
             [&ctx](http::Request& r, http::Reply reply) { open_trade(ctx, r, std::move(reply)); });
  router.add("GET", "/api/v1/trades/{id}",
             [&ctx](http::Request& r, http::Reply reply) { get_trade(ctx, r, std::move(reply)); });
  router.add("PATCH", "/api/v1/trades/{id}",
             [&ctx](http::Request& r, http::Reply reply) { modify_trade(ctx, r, std::move(reply)); });
  router.add("DELETE", "/api/v1/trades/{id}",
             [&ctx](http::Request& r, http::Reply reply) { close_trade(ctx, r, std::move(reply)); });
  router.add("GET", "/api/v1/account",
             [&ctx](http::Request& r, http::Reply reply) { account(ctx, r, std::move(reply), "account:read"); });
  router.add("GET", "/api/v1/account/balance",
             [&ctx](http::Request& r, http::Reply reply) { account(ctx, r, std::move(reply), "account:balance"); });
  router.add_sync("GET", "/api/v1/market/{symbol}", [&ctx](http::Request& r) { return market(ctx, r); });
  router.add_sync("GET", "/api/v1/market/{symbol}/rates", [&ctx](http::Request& r) { return rates(ctx, r); });
  router.add_sync("GET", "/api/v1/symbols", [&ctx](http::Request& r) { return symbols(ctx, r); });
  router.add("GET", "/api/v1/orders",
             [&ctx](http::Request& r, http::Reply reply) { orders(ctx, r, std::move(reply)); });
  router.add("GET", "/api/v1/history/deals",
             [&ctx](http::Request& r, http::Reply reply) { deals(ctx, r, std::move(reply)); });
  router.add_sync("GET", "/api/v1/admin/stats", [&ctx](http::Request& r) { return admin_stats(ctx, r); });
  router.add_websocket("/api/v1/stream", [&ctx](http::Request& r) { return open_stream(ctx, r); });
}

boost::json::value health_body(const GatewayContext& ctx) {
  return boost::json::object{{"status", "healthy"},
                             {"service", "mt5-api"},
                             {"version", ctx.settings.version},
                             {"environment", ctx.settings.environment},
                             {"broker", ctx.broker.name()}};
}

http::ReadyReport ready_report(const GatewayContext& ctx) {
  const bool storage = ctx.service.ready();
  const bool broker = ctx.broker.connected();
  const bool keys = ctx.auth.keys_loaded();
  const bool follows = ctx.auth.follows_revocations();
  const bool revocations = ctx.auth.revocations_loaded();
  // Each part says its own state: a gateway waiting only for the revocation feed (e.g. a
  // wrong mt5-service secret) must not look like one without keys. permiso-auth unreachable
  // does not take the gateway out: tokens of the keys it holds still verify, and every
  // replica would be out at once. It is reported for the operator.
  return {storage && broker && ctx.auth.ready(),
          {{"storage", storage ? "ok" : "unavailable"},
           {"broker", broker ? "connected" : "disconnected"},
           {"verification_keys", keys ? "loaded" : "not_loaded"},
           {"revocations", !follows      ? "not_followed"
                           : revocations ? "loaded"
                                         : "not_loaded"},
           {"permiso_auth", ctx.auth.auth_server_reachable() ? "reachable" : "unreachable"}}};
}

}  // namespace permiso::trading::handlers
