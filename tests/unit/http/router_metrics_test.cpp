// Router matching (captures, literal precedence, 405 with Allow), error_response shape and the
// Prometheus registry's text output.
#include "http/http.hpp"
#include "http/metrics.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace permiso::http {
namespace {

Request make(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

/// A handler answering `body`, to tell which route matched.
SyncHandler answer(std::string body) {
  return [body = std::move(body)](Request&) {
    Response r;
    r.body = body;
    return r;
  };
}

Response call(const Router::Match& m, Request& req) {
  Response out;
  (*m.handler)(req, [&](Response r) { out = std::move(r); });
  return out;
}

TEST(Router, CapturesPathParameters) {
  Router router;
  router.add_sync("GET", "/api/v1/users/{id}/roles/{role}", [](Request& r) {
    Response res;
    res.body = std::string(r.param("id")) + "," + std::string(r.param("role"));
    return res;
  });
  auto req = make("GET", "/api/v1/users/42/roles/admin");
  auto m = router.match(req);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.pattern, "/api/v1/users/{id}/roles/{role}");
  EXPECT_EQ(call(m, req).body, "42,admin");
  EXPECT_EQ(req.param("missing"), "");
}

TEST(Router, LiteralSegmentsWinOverCaptures) {
  Router router;
  router.add_sync("GET", "/users/{id}", [](Request&) {
    Response r;
    r.body = "by-id";
    return r;
  });
  router.add_sync("GET", "/users/me", [](Request&) {
    Response r;
    r.body = "me";
    return r;
  });
  auto me = make("GET", "/users/me");
  auto m = router.match(me);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(call(m, me).body, "me");
  EXPECT_TRUE(me.path_params.empty());
  auto other = make("GET", "/users/7");
  auto m2 = router.match(other);
  ASSERT_NE(m2.handler, nullptr);
  EXPECT_EQ(call(m2, other).body, "by-id");
}

TEST(Router, UnknownPathAndWrongMethod) {
  Router router;
  router.add_sync("GET", "/items/{id}", [](Request&) { return Response{}; });
  router.add_sync("DELETE", "/items/{id}", [](Request&) { return Response{}; });
  auto missing = make("GET", "/nothing");
  auto m = router.match(missing);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_FALSE(m.method_not_allowed);
  auto empty_capture = make("GET", "/items/");
  EXPECT_EQ(router.match(empty_capture).handler, nullptr);
  auto wrong = make("POST", "/items/3");
  auto m2 = router.match(wrong);
  EXPECT_EQ(m2.handler, nullptr);
  EXPECT_TRUE(m2.method_not_allowed);
  EXPECT_EQ(m2.allowed_methods, "GET, DELETE");
}

TEST(Router, RootAndDeepPathsDoNotCollide) {
  Router router;
  router.add_sync("GET", "/", [](Request&) {
    Response r;
    r.body = "root";
    return r;
  });
  auto root = make("GET", "/");
  ASSERT_NE(router.match(root).handler, nullptr);
  auto deeper = make("GET", "/x");
  EXPECT_EQ(router.match(deeper).handler, nullptr);
}

TEST(Router, ALiteralInAnEarlierSegmentWinsWhateverTheOrderAdded) {
  Router router;
  router.add_sync("GET", "/{kind}/b/c", answer("capture-first"));
  router.add_sync("GET", "/a/{x}/c", answer("literal-first"));
  router.add_sync("GET", "/a/{x}/{y}", answer("two-captures"));
  router.add_sync("PUT", "/{kind}/b/c", answer("put"));
  auto req = make("GET", "/a/b/c");
  auto m = router.match(req);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(call(m, req).body, "literal-first");
  EXPECT_EQ(req.param("x"), "b");
  auto other = make("GET", "/z/b/c");
  auto m2 = router.match(other);
  ASSERT_NE(m2.handler, nullptr);
  EXPECT_EQ(call(m2, other).body, "capture-first");
  EXPECT_EQ(other.param("kind"), "z");
  // 405 names the methods of the most specific shape that matches the path only.
  auto post = make("POST", "/a/b/c");
  auto m3 = router.match(post);
  EXPECT_TRUE(m3.method_not_allowed);
  EXPECT_EQ(m3.pattern, "/a/{x}/c");
  EXPECT_EQ(m3.allowed_methods, "GET");
}

TEST(Router, AFixedPathFindsItsMethodAndOtherwiseAnswers405) {
  Router router;
  router.add_sync("GET", "/api/v1/trades", answer("list"));
  router.add_sync("GET", "/api/v1/{thing}", answer("capture"));
  router.add_sync("POST", "/api/v1/trades", answer("open"));
  router.add_sync("GET", "/api/v1/trades", answer("shadowed"));  // the first one added wins
  auto get = make("GET", "/api/v1/trades");
  get.path_params["stale"] = "x";
  auto m = router.match(get);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(call(m, get).body, "list");
  EXPECT_EQ(m.pattern, "/api/v1/trades");
  EXPECT_TRUE(get.path_params.empty());
  auto post = make("POST", "/api/v1/trades");
  auto m2 = router.match(post);
  ASSERT_NE(m2.handler, nullptr);
  EXPECT_EQ(call(m2, post).body, "open");
  auto del = make("DELETE", "/api/v1/trades");
  auto m3 = router.match(del);
  EXPECT_TRUE(m3.method_not_allowed);
  EXPECT_EQ(m3.allowed_methods, "GET, POST");
  auto trailing = make("GET", "/api/v1/trades/");  // another path: not the fixed one
  EXPECT_EQ(router.match(trailing).handler, nullptr);
}

TEST(Router, PathsDeeperThanAnyRouteCanBeMatchNothing) {
  Router router;
  std::string deep;
  for (int i = 0; i < 64; ++i) deep += "/{s" + std::to_string(i) + "}";
  router.add_sync("GET", deep, [](Request&) { return Response{}; });
  std::string path64;
  for (int i = 0; i < 64; ++i) path64 += "/x";
  auto req = make("GET", path64);
  EXPECT_NE(router.match(req).handler, nullptr);
  auto deeper = make("GET", path64 + "/x");
  EXPECT_EQ(router.match(deeper).handler, nullptr);
  EXPECT_THROW(router.add_sync("GET", deep + "/{one_more}", [](Request&) { return Response{}; }),
               std::invalid_argument);
}

TEST(ErrorResponse, FollowsTheContract) {
  Request req;
  req.request_id = "rid-1";
  boost::json::object extra{{"field", "username"}, {"error", "ignored"}};
  auto res = error_response(req, 422, "validation_error", "username is too short", &extra);
  EXPECT_EQ(res.status, 422);
  EXPECT_EQ(res.content_type, "application/json");
  auto body = boost::json::parse(res.body).as_object();
  EXPECT_EQ(body.at("error").as_string(), "validation_error");
  EXPECT_EQ(body.at("error_description").as_string(), "username is too short");
  EXPECT_EQ(body.at("request_id").as_string(), "rid-1");
  EXPECT_EQ(body.at("field").as_string(), "username");
}

TEST(Metrics, RendersPrometheusText) {
  Registry reg;
  auto& c = reg.counter("app_events_total", "Events.", {"kind"});
  c.with({"a\"b"}).inc();
  c.with({"a\"b"}).inc(2);
  reg.gauge("app_level", "Level.").with({}).set(2.5);
  auto& h = reg.histogram("app_latency_seconds", "Latency.", {"route"}, {0.1, 1});
  h.with({"/x"}).observe(0.05);
  h.with({"/x"}).observe(0.5);
  h.with({"/x"}).observe(7);
  auto text = reg.render();
  EXPECT_NE(text.find("# TYPE app_events_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("app_events_total{kind=\"a\\\"b\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("app_level 2.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("app_latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("app_latency_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("app_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("app_latency_seconds_count{route=\"/x\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("app_latency_seconds_sum{route=\"/x\"} 7.55"), std::string::npos) << text;
}

TEST(Metrics, CollectedValuesAreReadAtEveryScrape) {
  Registry reg;
  std::atomic<int> depth{3};
  std::atomic<int> reads{0};
  reg.collect("app_queue_depth", "Waiting.", Registry::Kind::Gauge, [&] {
    reads.fetch_add(1);
    return static_cast<double>(depth.load());
  });
  reg.collect("app_done_total", "Done.", Registry::Kind::Counter, [] { return 42.0; });
  auto text = reg.render();
  EXPECT_NE(text.find("# TYPE app_queue_depth gauge\napp_queue_depth 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE app_done_total counter\napp_done_total 42\n"), std::string::npos) << text;
  depth = 7;
  EXPECT_NE(reg.render().find("app_queue_depth 7\n"), std::string::npos);
  EXPECT_EQ(reads.load(), 2);
}

TEST(Metrics, CollectedLabelledSeriesShareOneHelpAndType) {
  Registry reg;
  std::atomic<int> shipped{0};
  reg.collect("app_parcels_total", "Parcels.", Registry::Kind::Counter, {"carrier", "speed"}, [&] {
    return std::vector<Registry::Sample>{{{"post", "slow"}, static_cast<double>(shipped.load())},
                                         {{"courier", "fast"}, 2.0}};
  });
  shipped = 5;
  const auto text = reg.render();
  EXPECT_NE(text.find("# TYPE app_parcels_total counter\n"
                      "app_parcels_total{carrier=\"post\",speed=\"slow\"} 5\n"
                      "app_parcels_total{carrier=\"courier\",speed=\"fast\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("# TYPE app_parcels_total"), text.rfind("# TYPE app_parcels_total")) << text;
}

TEST(Metrics, SameNameReturnsSameFamilyAndTypeClashThrows) {
  Registry reg;
  auto& a = reg.counter("x_total", "X.");
  auto& b = reg.counter("x_total", "X.");
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(reg.gauge("x_total", "X."), std::logic_error);
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  Registry reg;
  auto& fam = reg.counter("hits_total", "Hits.", {"route"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&fam, t] {
      for (int i = 0; i < 10000; ++i) fam.with({t % 2 == 0 ? "/a" : "/b"}).inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fam.with({"/a"}).value(), 20000);
  EXPECT_EQ(fam.with({"/b"}).value(), 20000);
}

// Each thread adds to a line of its own; more threads than lines share them. Whatever the
// sharing, a gauge moved up and down comes back to zero, a histogram's count is its buckets'
// total and its sum every observation's, and set() replaces what the lines held.
TEST(Metrics, StripedGaugesAndHistogramsSumEveryThreadsAdditions) {
  Registry reg;
  auto& gauge = reg.gauge("app_in_flight", "In flight.").with({});
  auto& histogram = reg.histogram("app_seconds", "Latency.", {}, {0.1, 1}).with({});
  constexpr int kThreads = 12;  // more than the stripes
  constexpr int kEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        gauge.inc();
        histogram.observe(i % 2 == 0 ? 0.5 : 2.0);
        gauge.dec();
      }
      gauge.inc(0.25);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(gauge.value(), kThreads * 0.25);
  EXPECT_EQ(histogram.bucket(0), 0U);
  EXPECT_EQ(histogram.bucket(1), static_cast<std::uint64_t>(kThreads * kEach / 2));
  EXPECT_EQ(histogram.bucket(2), static_cast<std::uint64_t>(kThreads * kEach / 2));
  EXPECT_EQ(histogram.count(), static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_EQ(histogram.sum(), kThreads * kEach / 2 * 2.5);
  gauge.set(4);
  EXPECT_EQ(gauge.value(), 4);
  EXPECT_NE(reg.render().find("app_seconds_count " + std::to_string(kThreads * kEach) + "\n"), std::string::npos);
}

TEST(ProbeRoutes, HealthReadyMetrics) {
  Router router;
  Registry reg;
  reg.counter("c_total", "C.").with({}).inc();
  bool ready = false;
  add_metrics_route(router, reg);
  add_health_route(router, [] { return boost::json::value{{"status", "ok"}, {"service", "test"}}; });
  add_ready_route(router, [&] { return ready; });
  auto m = make("GET", "/metrics");
  auto metrics = call(router.match(m), m);
  EXPECT_EQ(metrics.content_type.rfind("text/plain", 0), 0U);
  EXPECT_NE(metrics.body.find("c_total 1"), std::string::npos);
  auto h = make("GET", "/health");
  EXPECT_EQ(boost::json::parse(call(router.match(h), h).body).at("service").as_string(), "test");
  auto r = make("GET", "/ready");
  EXPECT_EQ(call(router.match(r), r).status, 503);
  ready = true;
  EXPECT_EQ(call(router.match(r), r).status, 200);
}

TEST(ProbeRoutes, ReadinessNamesTheStateOfEachDependency) {
  Router router;
  ReadyReport report{true, {{"storage", "ok"}, {"permiso_auth", "unreachable"}}};
  add_ready_route(router, [&] { return report; });
  auto r = make("GET", "/ready");
  auto res = call(router.match(r), r);
  EXPECT_EQ(res.status, 200);  // a degraded dependency is reported without taking the service out
  auto body = boost::json::parse(res.body).as_object();
  EXPECT_EQ(body.at("status").as_string(), "ready");
  EXPECT_EQ(body.at("checks").at("permiso_auth").as_string(), "unreachable");
  report = {false, {{"storage", "unreachable"}}};
  res = call(router.match(r), r);
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(boost::json::parse(res.body).at("status").as_string(), "not_ready");
}

}  // namespace
}  // namespace permiso::http
