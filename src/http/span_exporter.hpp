// Optional OpenTelemetry export of the server's spans: one SERVER span per request, sent as
// OTLP/HTTP JSON (POST {endpoint}/v1/traces) in batches by one background thread. The request
// path only appends to a bounded queue under a short lock (never I/O, never a wait): when the
// queue is full the span is dropped and counted. Configured by the standard OTEL_* variables.
#pragma once

#include "http/trace_context.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

namespace permiso::http {

class Client;

/// OTEL_TRACES_SAMPLER's values (the OpenTelemetry SDK's names).
enum class Sampler {
  AlwaysOn,
  AlwaysOff,
  TraceIdRatio,
  ParentBasedAlwaysOn,  // the default
  ParentBasedAlwaysOff,
  ParentBasedTraceIdRatio,
};

struct OtlpConfig {
  /// Where spans are POSTed: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or
  /// OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces".
  std::string traces_url;
  std::string service_name;  // OTEL_SERVICE_NAME, else the executable's name
  Sampler sampler = Sampler::ParentBasedAlwaysOn;
  double ratio = 1.0;                         // OTEL_TRACES_SAMPLER_ARG for the ratio samplers
  std::chrono::milliseconds timeout{10'000};  // OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT: one export
  std::chrono::milliseconds delay{1'000};     // OTEL_BSP_SCHEDULE_DELAY: longest a span waits
  std::size_t queue_capacity = 2048;          // OTEL_BSP_MAX_QUEUE_SIZE: beyond it, spans are dropped
  std::size_t batch_size = 512;               // OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  std::string ca_file;                        // OTEL_EXPORTER_OTLP_(TRACES_)CERTIFICATE for https
  /// A stop waits at most this long for the last batch (a dead collector must not hold a drain).
  std::chrono::milliseconds final_flush_timeout{2'000};
};

using EnvGet = std::function<std::optional<std::string>(std::string_view)>;

/// The export settings from OTEL_* variables: nullopt when no endpoint is set or
/// OTEL_SDK_DISABLED=true (export off); an error naming the variable when a value is invalid
/// (an unsupported OTEL_EXPORTER_OTLP_PROTOCOL, a ratio outside [0, 1], a malformed number).
struct OtlpConfigProblem {
  std::string variable;
  std::string reason;
};
[[nodiscard]] std::variant<std::monostate, OtlpConfig, OtlpConfigProblem> otlp_config_from_env(
    const EnvGet& env, std::string_view default_service_name);

/// What is exported of one request: no header, no query string, no body, so no credential
/// can reach the collector.
struct ServerSpan {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_id{};
  bool has_parent = false;
  std::string method;
  std::string route;  // the router's pattern ("/api/v1/users/{id}"), never the raw path; "" when unmatched
  int status = 0;
  std::uint64_t start_unix_ns = 0;
  std::uint64_t end_unix_ns = 0;
};

/// Whether `sampler` keeps a span of trace `trace_id` (32 hex); `sampled` is the caller's flag
/// when the request came with a traceparent (`has_parent`).
[[nodiscard]] bool should_sample(Sampler sampler, double ratio, std::string_view trace_id, bool has_parent,
                                 bool sampled);

/// The OTLP JSON document (ExportTraceServiceRequest) for `spans` of `service_name`.
[[nodiscard]] std::string otlp_json(std::string_view service_name, const std::vector<ServerSpan>& spans);

class SpanExporter {
 public:
  /// `warn` reports export failures (once when they start, once when export recovers).
  /// Throws std::runtime_error when the CA file cannot be loaded (a start-up failure).
  SpanExporter(OtlpConfig config, std::function<void(std::string_view)> warn);
  /// Sends what is queued and stops the thread, within final_flush_timeout: an export still
  /// in flight then (a hung collector) is cut.
  ~SpanExporter();
  SpanExporter(const SpanExporter&) = delete;
  SpanExporter& operator=(const SpanExporter&) = delete;

  [[nodiscard]] const OtlpConfig& config() const { return config_; }
  /// Whether a span of this request is exported (the configured sampler).
  [[nodiscard]] bool sampled(std::string_view trace_id, bool has_parent, bool sampled) const {
    return should_sample(config_.sampler, config_.ratio, trace_id, has_parent, sampled);
  }

  /// Non-blocking: queues the span, or drops and counts it when the queue is full.
  void record(ServerSpan span);

  /// Spans waiting for their batch.
  [[nodiscard]] std::size_t queued() const;
  [[nodiscard]] std::uint64_t exported() const { return exported_.load(); }
  [[nodiscard]] std::uint64_t dropped() const { return dropped_.load(); }
  [[nodiscard]] std::uint64_t failed() const { return failed_.load(); }

 private:
  void run();
  /// One POST; true when the collector accepted it (2xx).
  bool send(const std::vector<ServerSpan>& batch, std::chrono::milliseconds timeout);

  const OtlpConfig config_;
  const std::function<void(std::string_view)> warn_;
  std::unique_ptr<Client> client_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<ServerSpan> queue_;
  std::condition_variable finished_cv_;
  bool stopping_ = false;
  bool finished_ = false;  // the writer thread has sent its last batch
  bool failing_ = false;   // the writer thread's own: whether the last export failed
  std::atomic<std::uint64_t> exported_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::thread thread_;
};

}  // namespace permiso::http
