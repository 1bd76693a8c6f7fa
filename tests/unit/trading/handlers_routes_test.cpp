// mt5-api's route table end to end below the socket: the real GatewayService on the
// SimulatedBroker and a SQLite TradeStore, the real Authenticator (HS256 profile), requests
// dispatched through the Router. Each route demands exactly the contract's scope, one client
// never sees another's trades, the trade round trip answers the contract's shapes, and the
// Link header pages through the list.
#include "common/clock.hpp"
#include "common/worker_pool.hpp"
#include "http/client.hpp"
#include "jose/jwt.hpp"
#include "jose/key.hpp"
#include "resource/authenticator.hpp"
#include "trading/bars.hpp"
#include "trading/handlers/handlers.hpp"
#include "trading/service/gateway_service.hpp"
#include "trading/sim/simulated_broker.hpp"
#include "trading/store/trade_store.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <random>
#include <set>

namespace permiso::trading::handlers {
namespace {
namespace fs = std::filesystem;

constexpr const char* kSecret = "route-test-hs256-secret-32-bytes!!";
const std::vector<std::string> kTradingScopes = {"trade:read",   "trade:open",      "trade:close", "trade:modify",
                                                 "account:read", "account:balance", "market:data"};

struct Answer {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  [[nodiscard]] boost::json::value json() const { return boost::json::parse(body); }
  [[nodiscard]] std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

class GatewayRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("permiso-routes-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    auto store = TradeStore::open("sqlite://" + (dir_ / "mt5.db").string(), clock_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    sim::SimOptions options;
    options.seed = 42;
    options.slippage_points = 0;
    options.max_fill_lots = {{"GBPUSD", 0.3}};  // partial fills; every other test trades EURUSD
    sim_ = std::make_unique<sim::SimulatedBroker>(options);
    instruments_ = Instruments(sim_->symbols_get());
    hub_ = std::make_unique<StreamHub>(instruments_);
    service_ = std::make_unique<GatewayService>(*sim_, *store_, clock_);
    service_->set_committed_listener([this](const Changes& c) { hub_->on_changes(c); });
    ASSERT_TRUE(service_->start());

    resource::ResourceConfig rc;
    rc.auth_url = "http://127.0.0.1:9";  // never contacted: HS256 and no revocation feed
    rc.issuer = "permiso-auth-dev";
    rc.audience = "permiso";
    rc.algorithms = {jose::Algorithm::HS256};
    rc.hs256_secret = kSecret;
    rc.follow_revocations = false;
    auth_ = std::make_unique<resource::Authenticator>(rc, clock_, client_);
    auth_->start();

    metrics_ = std::make_unique<GatewayMetrics>(registry_);
    service_->set_broker_timer([this](TradeAction action, std::chrono::nanoseconds took) {  // as mt5-api wires it
      metrics_->broker_order(action, std::chrono::duration<double>(took).count());
    });
    ctx_ = std::make_unique<GatewayContext>(GatewayContext{*service_, *sim_, bars_, *auth_, instruments_, pool_,
                                                           *metrics_, *hub_, clock_, GatewaySettings{}});
    register_routes(router_, *ctx_);
  }

  void TearDown() override {
    pool_.shutdown();
    service_.reset();
    auth_->stop();
    store_.reset();
    fs::remove_all(dir_);
  }

  std::string token(const std::vector<std::string>& scopes, const std::string& client = "client-a",
                    bool trusted = false) {
    std::string scope;
    for (const auto& s : scopes) scope += (scope.empty() ? "" : " ") + s;
    const auto now = clock_.now_seconds();
    boost::json::object claims{{"iss", "permiso-auth-dev"},
                               {"aud", "permiso"},
                               {"sub", client},
                               {"client_id", client},
                               {"exp", now + 600},
                               {"iat", now},
                               {"nbf", now},
                               {"jti", "jti-" + std::to_string(++jti_)},
                               {"scope", scope},
                               {"type", "service"},
                               {"is_trusted", trusted}};
    return jose::sign_jwt(*jose::SigningKey::from_hmac_secret(kSecret), claims, "at+jwt");
  }

  Answer call(std::string method, std::string target, const std::string& bearer, std::string body = {},
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request req;
    req.method = std::move(method);
    req.target = target;
    const auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string_view rest = std::string_view(target).substr(q + 1);
      while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        const auto eq = pair.find('=');
        req.query.emplace_back(std::string(pair.substr(0, eq)),
                               eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1)));
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
      }
    }
    req.body = std::move(body);
    req.request_id = "rid-test";
    req.remote_ip = "127.0.0.1";
    if (!bearer.empty()) req.headers.emplace_back("authorization", "Bearer " + bearer);
    if (!req.body.empty()) req.headers.emplace_back("content-type", "application/json");
    for (auto& h : headers) req.headers.push_back(std::move(h));
    const auto match = router_.match(req);
    if (match.handler == nullptr) return Answer{match.method_not_allowed ? 405 : 404, {}, {}};
    std::promise<http::Response> done;
    auto answered = done.get_future();
    (*match.handler)(req, [&done](http::Response res) { done.set_value(std::move(res)); });
    // A hang guard, not a timing assertion: every handler answers.
    EXPECT_EQ(answered.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    auto res = answered.get();
    return Answer{res.status, std::move(res.body), std::move(res.headers)};
  }

  Answer open(const std::string& bearer, const std::string& symbol = "EURUSD", double volume = 0.1) {
    return call("POST", "/api/v1/trades", bearer,
                R"({"symbol":")" + symbol + R"(","volume":)" + std::to_string(volume) + R"(,"trade_type":"buy"})");
  }

  fs::path dir_;
  SystemClock clock_;
  http::Client client_;
  std::unique_ptr<TradeStore> store_;
  std::unique_ptr<sim::SimulatedBroker> sim_;
  Instruments instruments_;
  std::unique_ptr<StreamHub> hub_;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<resource::Authenticator> auth_;
  BarBuilder bars_;
  WorkerPool pool_{2, 64};
  http::Registry registry_;
  std::unique_ptr<GatewayMetrics> metrics_;
  std::unique_ptr<GatewayContext> ctx_;
  http::Router router_;
  int jti_ = 0;
};

TEST_F(GatewayRoutes, EveryRouteDemandsExactlyItsContractScope) {
  const auto opened = open(token(kTradingScopes));
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string id = std::to_string(opened.json().at("id").to_number<std::uint64_t>());
  struct Route {
    const char* method;
    std::string target;
    const char* scope;
    std::string body;
  };
  const std::vector<Route> routes = {
      {"GET", "/api/v1/trades", "trade:read", ""},
      {"POST", "/api/v1/trades", "trade:open", R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy"})"},
      {"GET", "/api/v1/trades/" + id, "trade:read", ""},
      {"PATCH", "/api/v1/trades/" + id, "trade:modify", R"({"take_profit":2})"},
      {"DELETE", "/api/v1/trades/" + id, "trade:close", ""},
      {"GET", "/api/v1/account", "account:read", ""},
      {"GET", "/api/v1/account/balance", "account:balance", ""},
      {"GET", "/api/v1/market/EURUSD", "market:data", ""},
      {"GET", "/api/v1/symbols", "market:data", ""},
      {"GET", "/api/v1/market/EURUSD/rates?timeframe=M1&count=5", "market:data", ""},
      {"GET", "/api/v1/orders", "trade:read", ""},
      {"GET", "/api/v1/history/deals", "trade:read", ""},
      {"GET", "/api/v1/admin/stats", "admin:system", ""},
  };
  for (const auto& r : routes) {
    std::vector<std::string> others;
    for (const auto& s : kTradingScopes) {
      if (s != r.scope) others.push_back(s);
    }
    const auto refused = call(r.method, r.target, token(others, "client-a", true), r.body);
    ASSERT_EQ(refused.status, 403) << r.method << " " << r.target << ": " << refused.body;
    const auto body = refused.json().as_object();
    EXPECT_EQ(body.at("error").as_string(), "insufficient_scope");
    EXPECT_EQ(body.at("missing_scopes").as_array(), boost::json::array({r.scope})) << r.target;
    EXPECT_EQ(call(r.method, r.target, "", r.body).status, 401) << r.target;
    EXPECT_EQ(call(r.method, r.target, "not.a.token", r.body).status, 401) << r.target;
    auto all = kTradingScopes;
    all.emplace_back("admin:system");
    const auto allowed = call(r.method, r.target, token(all, "client-a", true), r.body);
    EXPECT_LT(allowed.status, 400) << r.method << " " << r.target << ": " << allowed.body;
  }
}

TEST_F(GatewayRoutes, ATradeFromOpenToCloseInTheContractsShapes) {
  const auto t = token(kTradingScopes);
  const auto opened = open(t);
  ASSERT_EQ(opened.status, 201) << opened.body;
  const auto trade = opened.json().as_object();
  for (const char* key : {"id", "symbol", "volume", "type", "open_price", "current_price", "profit", "stop_loss",
                          "take_profit", "open_time", "status", "comment"}) {
    EXPECT_TRUE(trade.contains(key)) << key;
  }
  EXPECT_EQ(trade.at("status").as_string(), "open");
  const std::string path = "/api/v1/trades/" + std::to_string(trade.at("id").to_number<std::uint64_t>());

  const auto list = call("GET", "/api/v1/trades", t);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json().as_array().size(), 1U);
  EXPECT_EQ(call("GET", path, t).json().at("id"), trade.at("id"));

  const auto modified = call("PATCH", path, t, R"({"take_profit":5})");
  ASSERT_EQ(modified.status, 200) << modified.body;
  EXPECT_DOUBLE_EQ(modified.json().at("take_profit").to_number<double>(), 5);

  const auto closed = call("DELETE", path, t);
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_TRUE(closed.json().as_object().contains("message"));
  EXPECT_EQ(closed.json().at("trade_id"), trade.at("id"));
  const auto again = call("DELETE", path, t);
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(again.json().at("error").as_string(), "conflict");

  EXPECT_TRUE(call("GET", "/api/v1/trades", t).json().as_array().empty());
  const auto deals = call("GET", "/api/v1/history/deals", t);
  ASSERT_EQ(deals.status, 200);
  int of_trade = 0;
  const auto deal_list = deals.json();
  for (const auto& d : deal_list.as_array()) {
    if (d.at("position_id") == trade.at("id")) ++of_trade;
  }
  EXPECT_EQ(of_trade, 2) << "the in and the out deal of the closed trade: " << deals.body;
  const auto history = call("GET", "/api/v1/trades?status=closed", t);
  ASSERT_EQ(history.status, 200);
  ASSERT_EQ(history.json().as_array().size(), 1U);
  EXPECT_EQ(history.json().as_array()[0].at("status").as_string(), "closed");

  const auto account = call("GET", "/api/v1/account", t).json().as_object();
  for (const char* key : {"balance", "equity", "margin", "free_margin", "margin_level", "currency", "leverage"}) {
    EXPECT_TRUE(account.contains(key)) << key;
  }
  const auto quote = call("GET", "/api/v1/market/eurusd", t).json().as_object();
  for (const char* key : {"symbol", "bid", "ask", "spread", "last_update"}) EXPECT_TRUE(quote.contains(key)) << key;
}

TEST_F(GatewayRoutes, APartialFillIsASuccessThatSaysWhatWasFilled) {
  const auto t = token(kTradingScopes);
  const std::string order = R"({"symbol":"GBPUSD","volume":1,"trade_type":"buy","filling":")";
  const auto partial = call("POST", "/api/v1/trades", t, order + R"(ioc"})");
  ASSERT_EQ(partial.status, 201) << partial.body;
  const auto trade = partial.json().as_object();
  EXPECT_DOUBLE_EQ(trade.at("volume").to_number<double>(), 0.3);
  EXPECT_DOUBLE_EQ(trade.at("requested_volume").to_number<double>(), 1.0);
  EXPECT_EQ(trade.at("broker_retcode").to_number<int>(), 10010);
  EXPECT_EQ(trade.at("broker_retcode_name").as_string(), "TRADE_RETCODE_DONE_PARTIAL");
  const std::string path = "/api/v1/trades/" + std::to_string(trade.at("id").to_number<std::uint64_t>());
  EXPECT_DOUBLE_EQ(call("GET", path, t).json().at("volume").to_number<double>(), 0.3);
  EXPECT_TRUE(call("GET", "/api/v1/orders", t).json().as_array().empty());  // IOC: the rest is gone

  const auto fok = call("POST", "/api/v1/trades", t, order + R"(fok"})");
  EXPECT_EQ(fok.status, 422) << fok.body;
  EXPECT_EQ(fok.json().at("error").as_string(), "order_rejected");
  EXPECT_EQ(fok.json().at("broker_retcode").to_number<int>(), 10006);

  // RETURN: 0.3 now, the rest a working order.
  const auto working = call("POST", "/api/v1/trades", t, order + R"(return"})");
  ASSERT_EQ(working.status, 201) << working.body;
  EXPECT_EQ(working.json().at("broker_retcode").to_number<int>(), 10010);
  const auto orders = call("GET", "/api/v1/orders", t).json().as_array();
  ASSERT_EQ(orders.size(), 1U);
  EXPECT_DOUBLE_EQ(orders[0].at("volume_current").to_number<double>(), 0.7);

  // A whole fill says so too.
  const auto whole = open(t);
  ASSERT_EQ(whole.status, 201) << whole.body;
  EXPECT_EQ(whole.json().at("broker_retcode").to_number<int>(), 10009);
  EXPECT_DOUBLE_EQ(whole.json().at("requested_volume").to_number<double>(),
                   whole.json().at("volume").to_number<double>());
}

TEST_F(GatewayRoutes, OrdersAndBrokerRoundTripsAreCountedByTypeAndAction) {
  const auto t = token(kTradingScopes);
  const auto opened = open(t);
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string path = "/api/v1/trades/" + std::to_string(opened.json().at("id").to_number<std::uint64_t>());
  ASSERT_EQ(call("PATCH", path, t, R"({"take_profit":5})").status, 200);
  ASSERT_GE(open(t, "XAUUSD", 50).status, 400);  // no money: refused by the broker
  ASSERT_EQ(call("DELETE", path, t).status, 200);
  const std::string text = registry_.render();
  for (const char* line :
       {"mt5_orders_total{type=\"buy\"} 2", "mt5_fills_total 1", "mt5_order_rejections_total{reason=\"no_money\"} 1",
        "mt5_broker_order_seconds_count{action=\"deal\"} 3", "mt5_broker_order_seconds_count{action=\"sltp\"} 1"}) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << " in\n" << text;
  }
  EXPECT_NE(text.find("# TYPE mt5_broker_order_seconds histogram"), std::string::npos) << text;
}

TEST_F(GatewayRoutes, OneClientNeverSeesAnothersTrades) {
  const auto a = token(kTradingScopes, "client-a");
  const auto b = token(kTradingScopes, "client-b");
  const auto opened = open(a);
  ASSERT_EQ(opened.status, 201);
  const std::string path = "/api/v1/trades/" + std::to_string(opened.json().at("id").to_number<std::uint64_t>());
  EXPECT_TRUE(call("GET", "/api/v1/trades?status=all", b).json().as_array().empty());
  EXPECT_EQ(call("GET", path, b).status, 404);
  EXPECT_EQ(call("PATCH", path, b, R"({"take_profit":5})").status, 404);
  EXPECT_EQ(call("DELETE", path, b).status, 404);
  EXPECT_EQ(call("GET", path, a).status, 200);  // still there, untouched
  EXPECT_NE(call("GET", "/api/v1/account", a).json().at("login"), call("GET", "/api/v1/account", b).json().at("login"));
}

TEST_F(GatewayRoutes, TheLinkHeaderPagesThroughTheTrades) {
  const auto t = token(kTradingScopes);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(open(t).status, 201);
  auto first = call("GET", "/api/v1/trades?limit=2", t);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(first.json().as_array().size(), 2U);
  const auto link = first.header("Link");
  ASSERT_FALSE(link.empty());
  ASSERT_EQ(link.front(), '<');
  const auto next = link.substr(1, link.find('>') - 1);
  SCOPED_TRACE(link);
  auto second = call("GET", next, t);
  ASSERT_EQ(second.status, 200) << next;
  ASSERT_EQ(second.json().as_array().size(), 1U);
  EXPECT_TRUE(second.header("Link").empty());
  std::set<std::uint64_t> ids;
  for (const auto& page : {first, second}) {
    const auto v = page.json();
    for (const auto& trade : v.as_array()) ids.insert(trade.at("id").to_number<std::uint64_t>());
  }
  EXPECT_EQ(ids.size(), 3U);
}

TEST_F(GatewayRoutes, ClientInputNeverBecomesA500) {
  const auto t = token(kTradingScopes);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"POST /api/v1/trades", R"({"symbol":"NOPE","volume":0.1,"trade_type":"buy"})"},
      {"POST /api/v1/trades", R"({"symbol":"EURUSD","volume":0.001,"trade_type":"buy"})"},
      {"POST /api/v1/trades", R"({"symbol":"EURUSD","volume":0.1,"trade_type":"buy","stop_loss":99})"},
      {"POST /api/v1/trades", "\xff\xfe"},
      {"POST /api/v1/trades", R"({"symbol":"EURUSD","volume":-0.0,"trade_type":"buy"})"},
      {"PATCH /api/v1/trades/18446744073709551615", R"({"stop_loss":1})"},
      {"GET /api/v1/trades/0", ""},
      {"GET /api/v1/market/%00", ""},
      {"GET /api/v1/market/EURUSD/rates?timeframe=Y1", ""},
      {"GET /api/v1/history/deals?from=tomorrow", ""},
  };
  for (const auto& [route, body] : cases) {
    const auto space = route.find(' ');
    const auto answer = call(route.substr(0, space), route.substr(space + 1), t, body);
    EXPECT_GE(answer.status, 400) << route << " " << body;
    EXPECT_LT(answer.status, 500) << route << " " << body << ": " << answer.body;
    EXPECT_NO_THROW((void)answer.json().at("error")) << answer.body;
  }
  const auto unknown = call("POST", "/api/v1/trades", t, R"({"symbol":"NOPE","volume":0.1,"trade_type":"buy"})");
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(unknown.json().at("field").as_string(), "symbol");
}

TEST_F(GatewayRoutes, AdminStatsNeedATrustedClientWithAdminSystem) {
  EXPECT_EQ(call("GET", "/api/v1/admin/stats", token({"admin:system"}, "admin", false)).status, 403);
  const auto ok = call("GET", "/api/v1/admin/stats", token({"admin:system"}, "admin", true));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(ok.json().as_object().contains("trading"));
}

}  // namespace
}  // namespace permiso::trading::handlers
