// The OTLP span exporter: settings from the OTEL_* variables, the samplers, the OTLP JSON
// document, and batches posted to a collector stand-in (our own server on loopback), with a
// full queue dropping and counting rather than waiting.
#include "http/span_exporter.hpp"
#include "http/server.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

namespace permiso::http {
namespace {

using namespace std::chrono_literals;

EnvGet env_of(std::map<std::string, std::string, std::less<>> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

ServerSpan span_of(std::string_view traceparent_header, std::string method, std::string route, int status) {
  const auto ctx = continue_trace(traceparent_header);
  ServerSpan s;
  s.trace_id = ctx.trace_id;
  s.span_id = ctx.span_id;
  s.parent_id = ctx.parent_id;
  s.has_parent = ctx.has_parent;
  s.method = std::move(method);
  s.route = std::move(route);
  s.status = status;
  s.start_unix_ns = 1'700'000'000'000'000'000ULL;
  s.end_unix_ns = 1'700'000'000'001'500'000ULL;
  return s;
}

constexpr std::string_view kCaller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(OtlpConfig, NoEndpointMeansNoExport) {
  EXPECT_TRUE(std::holds_alternative<std::monostate>(otlp_config_from_env(env_of({}), "svc")));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(otlp_config_from_env(
      env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_SDK_DISABLED", "true"}}), "svc")));
}

TEST(OtlpConfig, TheBaseEndpointGetsTheTracesPath) {
  auto c = otlp_config_from_env(env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}}), "permiso-auth");
  ASSERT_TRUE(std::holds_alternative<OtlpConfig>(c));
  EXPECT_EQ(std::get<OtlpConfig>(c).traces_url, "http://collector:4318/v1/traces");
  EXPECT_EQ(std::get<OtlpConfig>(c).service_name, "permiso-auth");
  EXPECT_EQ(std::get<OtlpConfig>(c).sampler, Sampler::ParentBasedAlwaysOn);
  c = otlp_config_from_env(env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector/otlp/"},
                                   {"OTEL_SERVICE_NAME", "auth-eu-1"},
                                   {"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
                                   {"OTEL_TRACES_SAMPLER_ARG", "0.25"},
                                   {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
                                   {"OTEL_BSP_MAX_QUEUE_SIZE", "100"},
                                   {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"}}),
                           "permiso-auth");
  ASSERT_TRUE(std::holds_alternative<OtlpConfig>(c));
  const auto& cfg = std::get<OtlpConfig>(c);
  EXPECT_EQ(cfg.traces_url, "https://collector/otlp/v1/traces");
  EXPECT_EQ(cfg.service_name, "auth-eu-1");
  EXPECT_EQ(cfg.sampler, Sampler::ParentBasedTraceIdRatio);
  EXPECT_DOUBLE_EQ(cfg.ratio, 0.25);
  EXPECT_EQ(cfg.timeout, 2500ms);
  EXPECT_EQ(cfg.queue_capacity, 100U);
  EXPECT_EQ(cfg.batch_size, 100U);  // never more than the queue holds
}

TEST(OtlpConfig, TheTracesEndpointIsUsedAsGiven) {
  auto c = otlp_config_from_env(env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"},
                                        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:9999/custom"}}),
                                "svc");
  ASSERT_TRUE(std::holds_alternative<OtlpConfig>(c));
  EXPECT_EQ(std::get<OtlpConfig>(c).traces_url, "http://b:9999/custom");
}

TEST(OtlpConfig, BadValuesNameTheirVariable) {
  const auto problem = [](std::map<std::string, std::string, std::less<>> vars) {
    vars.emplace("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
    auto c = otlp_config_from_env(env_of(std::move(vars)), "svc");
    return std::holds_alternative<OtlpConfigProblem>(c) ? std::get<OtlpConfigProblem>(c).variable : std::string();
  };
  EXPECT_EQ(problem({{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}}), "OTEL_EXPORTER_OTLP_PROTOCOL");
  EXPECT_EQ(problem({{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}}), "");
  EXPECT_EQ(problem({{"OTEL_TRACES_SAMPLER", "sometimes"}}), "OTEL_TRACES_SAMPLER");
  EXPECT_EQ(problem({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "1.5"}}),
            "OTEL_TRACES_SAMPLER_ARG");
  EXPECT_EQ(problem({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "half"}}),
            "OTEL_TRACES_SAMPLER_ARG");
  EXPECT_EQ(problem({{"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"}}), "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT");
  EXPECT_EQ(problem({{"OTEL_BSP_MAX_QUEUE_SIZE", "0"}}), "OTEL_BSP_MAX_QUEUE_SIZE");
  auto c = otlp_config_from_env(env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"}}), "svc");
  EXPECT_TRUE(std::holds_alternative<OtlpConfigProblem>(c));
}

TEST(Sampling, ParentBasedFollowsTheCallerAndRatioFollowsTheTraceId) {
  const std::string_view id = "4bf92f3577b34da6a3ce929d0e0e4736";
  EXPECT_TRUE(should_sample(Sampler::ParentBasedAlwaysOn, 1, id, false, true));
  EXPECT_FALSE(should_sample(Sampler::ParentBasedAlwaysOn, 1, id, true, false));
  EXPECT_TRUE(should_sample(Sampler::ParentBasedAlwaysOff, 1, id, true, true));
  EXPECT_FALSE(should_sample(Sampler::ParentBasedAlwaysOff, 1, id, false, true));
  EXPECT_TRUE(should_sample(Sampler::AlwaysOn, 1, id, true, false));
  EXPECT_FALSE(should_sample(Sampler::AlwaysOff, 1, id, true, true));
  EXPECT_FALSE(should_sample(Sampler::TraceIdRatio, 0, id, false, true));
  EXPECT_TRUE(should_sample(Sampler::TraceIdRatio, 1, id, false, true));
  // A ratio keeps about that share of random traces, and decides the same for the same id.
  int kept = 0;
  for (int i = 0; i < 4000; ++i) {
    const auto ctx = start_trace();
    const bool once = should_sample(Sampler::TraceIdRatio, 0.25, ctx.trace_id_hex(), false, true);
    EXPECT_EQ(once, should_sample(Sampler::TraceIdRatio, 0.25, ctx.trace_id_hex(), false, true));
    kept += once ? 1 : 0;
  }
  EXPECT_GT(kept, 800);
  EXPECT_LT(kept, 1200);
}

TEST(OtlpJson, ServerSpansInTheOtlpJsonEncoding) {
  const auto doc = boost::json::parse(
      otlp_json("permiso-auth", {span_of(kCaller, "GET", "/api/v1/users/{id}", 200), span_of({}, "POST", "", 503)}));
  const auto& rs = doc.at("resourceSpans").as_array().at(0).as_object();
  const auto& resource_attributes = rs.at("resource").at("attributes").as_array();
  EXPECT_EQ(resource_attributes.at(0).at("key"), "service.name");
  EXPECT_EQ(resource_attributes.at(0).at("value").at("stringValue"), "permiso-auth");
  const auto& spans = rs.at("scopeSpans").as_array().at(0).at("spans").as_array();
  ASSERT_EQ(spans.size(), 2U);
  const auto& s = spans[0].as_object();
  EXPECT_EQ(s.at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(s.at("parentSpanId"), "00f067aa0ba902b7");
  EXPECT_EQ(s.at("spanId").as_string().size(), 16U);
  EXPECT_EQ(s.at("name"), "GET /api/v1/users/{id}");
  EXPECT_EQ(s.at("kind"), 2);  // SPAN_KIND_SERVER
  EXPECT_EQ(s.at("startTimeUnixNano"), "1700000000000000000");
  EXPECT_EQ(s.at("endTimeUnixNano"), "1700000000001500000");
  std::map<std::string, boost::json::value> attributes;
  for (const auto& a : s.at("attributes").as_array()) {
    attributes[std::string(a.at("key").as_string())] = a.at("value");
  }
  EXPECT_EQ(attributes.at("http.request.method").at("stringValue"), "GET");
  EXPECT_EQ(attributes.at("http.route").at("stringValue"), "/api/v1/users/{id}");
  EXPECT_EQ(attributes.at("http.response.status_code").at("intValue"), "200");
  EXPECT_TRUE(s.at("status").as_object().empty());
  // No route matched: the method alone names it; no parent: no parentSpanId; 5xx is an error.
  const auto& root = spans[1].as_object();
  EXPECT_EQ(root.at("name"), "POST");
  EXPECT_FALSE(root.contains("parentSpanId"));
  EXPECT_EQ(root.at("status").at("code"), 2);
}

/// A collector stand-in: our own server answering POST /v1/traces and keeping the bodies.
class Collector {
 public:
  explicit Collector(int status = 200) {
    router_.add_sync("POST", "/v1/traces", [this, status](Request& r) {
      std::lock_guard lock(mutex_);
      posts_.push_back({std::string(r.header("content-type").value_or("")), r.body});
      return json_response(status, boost::json::object{});
    });
    server_ = std::make_unique<Server>(ServerConfig{}, router_);
    thread_ = std::thread([this] { server_->run(); });
  }
  ~Collector() {
    server_->stop();
    thread_.join();
  }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1/traces"; }
  struct Post {
    std::string content_type;
    std::string body;
  };
  std::vector<Post> posts() {
    std::lock_guard lock(mutex_);
    return posts_;
  }
  /// The spans posted so far, waiting up to `deadline` for `n` of them.
  std::vector<boost::json::value> spans(std::size_t n, std::chrono::milliseconds deadline = 5s) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      std::vector<boost::json::value> out;
      for (const auto& p : posts()) {
        const auto doc = boost::json::parse(p.body);
        for (const auto& s : doc.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array()) {
          out.push_back(s);
        }
      }
      if (out.size() >= n || std::chrono::steady_clock::now() > until) return out;
      std::this_thread::sleep_for(10ms);
    }
  }

 private:
  Router router_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Post> posts_;
};

OtlpConfig config_for(const Collector& c) {
  OtlpConfig cfg;
  cfg.traces_url = c.url();
  cfg.service_name = "unit";
  cfg.delay = 20ms;
  cfg.timeout = 2s;
  return cfg;
}

TEST(SpanExporter, PostsBatchesAsJsonToTheCollector) {
  Collector collector;
  SpanExporter exporter(config_for(collector), {});
  exporter.record(span_of(kCaller, "GET", "/a", 200));
  exporter.record(span_of(kCaller, "POST", "/b", 201));
  const auto spans = collector.spans(2);
  ASSERT_EQ(spans.size(), 2U);
  EXPECT_EQ(spans[0].at("name"), "GET /a");
  EXPECT_EQ(spans[1].at("name"), "POST /b");
  for (const auto& p : collector.posts()) EXPECT_EQ(p.content_type, "application/json");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (exporter.exported() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(exporter.exported(), 2U);
  EXPECT_EQ(exporter.dropped(), 0U);
}

TEST(SpanExporter, AFullQueueDropsAndCountsAndStopFlushesTheRest) {
  Collector collector;
  {
    auto cfg = config_for(collector);
    cfg.queue_capacity = 3;
    cfg.batch_size = 1000;
    cfg.delay = 10min;  // nothing leaves before a batch is full or the exporter stops
    SpanExporter exporter(cfg, {});
    for (int i = 0; i < 5; ++i) exporter.record(span_of({}, "GET", "/n/" + std::to_string(i), 200));
    EXPECT_EQ(exporter.dropped(), 2U);
  }  // the destructor sends the three queued spans
  const auto spans = collector.spans(3, 0ms);
  ASSERT_EQ(spans.size(), 3U);
  EXPECT_EQ(spans[2].at("name"), "GET /n/2");
}

TEST(SpanExporter, AHungCollectorDoesNotHoldTheStop) {
  // A socket that listens and never answers: connects complete (the backlog), nothing comes back.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  OtlpConfig cfg;
  cfg.traces_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1/traces";
  cfg.delay = 10ms;
  cfg.timeout = 60s;  // an export would wait this long on its own
  cfg.final_flush_timeout = 200ms;
  std::chrono::steady_clock::time_point stopping;
  {
    SpanExporter exporter(cfg, {});
    exporter.record(span_of({}, "GET", "/x", 200));
    // Until the span has left the queue and its export is in flight (neither sent nor failed).
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (exporter.queued() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    ASSERT_EQ(exporter.queued(), 0U);
    EXPECT_EQ(exporter.exported() + exporter.failed(), 0U);
    stopping = std::chrono::steady_clock::now();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 10s) << "the stop waited for the hung collector";
  ::close(fd);
}

TEST(SpanExporter, AFailingCollectorIsCountedAndReported) {
  Collector collector(503);
  std::mutex m;
  std::vector<std::string> warnings;
  SpanExporter exporter(config_for(collector), [&](std::string_view w) {
    std::lock_guard lock(m);
    warnings.emplace_back(w);
  });
  exporter.record(span_of({}, "GET", "/x", 200));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (exporter.failed() < 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(exporter.failed(), 1U);
  EXPECT_EQ(exporter.exported(), 0U);
  std::lock_guard lock(m);
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("status 503"), std::string::npos) << warnings[0];
}

}  // namespace
}  // namespace permiso::http
