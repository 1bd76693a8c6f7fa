// See span_exporter.hpp.
#include "http/span_exporter.hpp"

#include "http/client.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace permiso::http {
namespace {

// OTLP's Span.SpanKind and Status.StatusCode (the JSON encoding writes enums as integers).
constexpr int kSpanKindServer = 2;
constexpr int kStatusCodeError = 2;

std::optional<std::string> first_of(const EnvGet& env, std::string_view specific, std::string_view general) {
  if (auto v = env(specific); v && !v->empty()) return v;
  if (auto v = env(general); v && !v->empty()) return v;
  return std::nullopt;
}

template <class Int>
bool parse_whole(std::string_view s, Int& out) {
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end;
}

std::optional<Sampler> parse_sampler(std::string_view s) {
  if (s == "always_on") return Sampler::AlwaysOn;
  if (s == "always_off") return Sampler::AlwaysOff;
  if (s == "traceidratio") return Sampler::TraceIdRatio;
  if (s == "parentbased_always_on") return Sampler::ParentBasedAlwaysOn;
  if (s == "parentbased_always_off") return Sampler::ParentBasedAlwaysOff;
  if (s == "parentbased_traceidratio") return Sampler::ParentBasedTraceIdRatio;
  return std::nullopt;
}

/// The trace id's last 16 hex digits read as a number: uniformly random for ids we or a
/// W3C-conforming caller generated, and the same on every service of the trace.
bool ratio_keeps(double ratio, std::string_view id) {
  if (ratio >= 1.0) return true;
  if (ratio <= 0.0) return false;
  std::uint64_t low = 0;
  if (id.size() != 32) return false;
  std::from_chars(id.data() + 16, id.data() + 32, low, 16);
  return static_cast<double>(low >> 11) < ratio * static_cast<double>(std::uint64_t{1} << 53);
}

boost::json::object attribute(std::string_view key, boost::json::object value) {
  return {{"key", key}, {"value", std::move(value)}};
}

boost::json::object string_attribute(std::string_view key, std::string_view value) {
  return attribute(key, {{"stringValue", value}});
}

}  // namespace

std::variant<std::monostate, OtlpConfig, OtlpConfigProblem> otlp_config_from_env(
    const EnvGet& env, std::string_view default_service_name) {
  if (auto disabled = env("OTEL_SDK_DISABLED"); disabled && *disabled == "true") return std::monostate{};
  OtlpConfig c;
  if (auto url = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); url && !url->empty()) {
    c.traces_url = *url;  // the signal's own endpoint is used as given (the OTLP exporter spec)
  } else if (auto base = env("OTEL_EXPORTER_OTLP_ENDPOINT"); base && !base->empty()) {
    c.traces_url = *base;
    if (!c.traces_url.ends_with('/')) c.traces_url += '/';
    c.traces_url += "v1/traces";
  } else {
    return std::monostate{};
  }
  if (!c.traces_url.starts_with("http://") && !c.traces_url.starts_with("https://")) {
    return OtlpConfigProblem{"OTEL_EXPORTER_OTLP_ENDPOINT", "must be an http:// or https:// URL"};
  }
  if (auto protocol = first_of(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL");
      protocol && *protocol != "http/json") {
    return OtlpConfigProblem{"OTEL_EXPORTER_OTLP_PROTOCOL", "only http/json is supported, not " + *protocol};
  }
  const auto name = env("OTEL_SERVICE_NAME");
  c.service_name = name && !name->empty() ? *name : std::string(default_service_name);
  if (auto sampler = env("OTEL_TRACES_SAMPLER"); sampler && !sampler->empty()) {
    auto parsed = parse_sampler(*sampler);
    if (!parsed) {
      return OtlpConfigProblem{"OTEL_TRACES_SAMPLER",
                               "one of always_on, always_off, traceidratio, parentbased_always_on, "
                               "parentbased_always_off, parentbased_traceidratio"};
    }
    c.sampler = *parsed;
  }
  if (auto arg = env("OTEL_TRACES_SAMPLER_ARG");
      arg && !arg->empty() && (c.sampler == Sampler::TraceIdRatio || c.sampler == Sampler::ParentBasedTraceIdRatio)) {
    double ratio = 0;
    if (!parse_whole(*arg, ratio) || !(ratio >= 0.0 && ratio <= 1.0)) {
      return OtlpConfigProblem{"OTEL_TRACES_SAMPLER_ARG", "a ratio between 0 and 1"};
    }
    c.ratio = ratio;
  }
  const auto millis = [&](std::string_view specific, std::string_view general,
                          std::chrono::milliseconds& out) -> std::optional<OtlpConfigProblem> {
    auto v = general.empty() ? env(specific) : first_of(env, specific, general);
    if (!v || v->empty()) return std::nullopt;
    std::int64_t ms = 0;
    if (!parse_whole(*v, ms) || ms <= 0 || ms > 600'000) {
      return OtlpConfigProblem{std::string(specific), "milliseconds between 1 and 600000"};
    }
    out = std::chrono::milliseconds(ms);
    return std::nullopt;
  };
  const auto count = [&](std::string_view variable, std::size_t& out) -> std::optional<OtlpConfigProblem> {
    auto v = env(variable);
    if (!v || v->empty()) return std::nullopt;
    std::size_t n = 0;
    if (!parse_whole(*v, n) || n == 0 || n > 1'000'000) {
      return OtlpConfigProblem{std::string(variable), "a whole number between 1 and 1000000"};
    }
    out = n;
    return std::nullopt;
  };
  if (auto p = millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", c.timeout)) return *p;
  if (auto p = millis("OTEL_BSP_SCHEDULE_DELAY", {}, c.delay)) return *p;
  if (auto p = count("OTEL_BSP_MAX_QUEUE_SIZE", c.queue_capacity)) return *p;
  if (auto p = count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", c.batch_size)) return *p;
  c.batch_size = std::min(c.batch_size, c.queue_capacity);
  if (auto ca = first_of(env, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE"))
    c.ca_file = *ca;
  return c;
}

bool should_sample(Sampler sampler, double ratio, std::string_view trace_id, bool has_parent, bool sampled) {
  const bool parent_based = sampler == Sampler::ParentBasedAlwaysOn || sampler == Sampler::ParentBasedAlwaysOff ||
                            sampler == Sampler::ParentBasedTraceIdRatio;
  if (parent_based && has_parent) return sampled;
  switch (sampler) {
    case Sampler::AlwaysOn:
    case Sampler::ParentBasedAlwaysOn:
      return true;
    case Sampler::AlwaysOff:
    case Sampler::ParentBasedAlwaysOff:
      return false;
    case Sampler::TraceIdRatio:
    case Sampler::ParentBasedTraceIdRatio:
      return ratio_keeps(ratio, trace_id);
  }
  return false;
}

std::string otlp_json(std::string_view service_name, const std::vector<ServerSpan>& spans) {
  boost::json::array out;
  out.reserve(spans.size());
  for (const auto& s : spans) {
    // The semantic conventions' name: the method and the route template; the method alone
    // when no route matched (a raw path would carry ids and explode the name's cardinality).
    std::string name = s.method;
    if (!s.route.empty()) name += " " + s.route;
    boost::json::array attributes{string_attribute("http.request.method", s.method)};
    if (!s.route.empty()) attributes.push_back(string_attribute("http.route", s.route));
    attributes.push_back(attribute("http.response.status_code", {{"intValue", std::to_string(s.status)}}));
    boost::json::object span{{"traceId", std::string_view(s.trace_id.data(), s.trace_id.size())},
                             {"spanId", std::string_view(s.span_id.data(), s.span_id.size())},
                             {"name", std::move(name)},
                             {"kind", kSpanKindServer},
                             // 64-bit integers are decimal strings in the OTLP JSON encoding.
                             {"startTimeUnixNano", std::to_string(s.start_unix_ns)},
                             {"endTimeUnixNano", std::to_string(s.end_unix_ns)},
                             {"attributes", std::move(attributes)}};
    if (s.has_parent) span["parentSpanId"] = std::string_view(s.parent_id.data(), s.parent_id.size());
    // A server span's status is an error only for 5xx (4xx is the client's mistake).
    span["status"] = s.status >= 500 ? boost::json::object{{"code", kStatusCodeError}} : boost::json::object{};
    out.push_back(std::move(span));
  }
  boost::json::object resource{{"attributes", boost::json::array{string_attribute("service.name", service_name),
                                                                 string_attribute("telemetry.sdk.name", "permiso"),
                                                                 string_attribute("telemetry.sdk.language", "cpp")}}};
  boost::json::object scope_spans{{"scope", {{"name", "permiso.http.server"}}}, {"spans", std::move(out)}};
  boost::json::object resource_spans{{"resource", std::move(resource)},
                                     {"scopeSpans", boost::json::array{std::move(scope_spans)}}};
  return boost::json::serialize(boost::json::object{{"resourceSpans", boost::json::array{std::move(resource_spans)}}});
}

SpanExporter::SpanExporter(OtlpConfig config, std::function<void(std::string_view)> warn)
    : config_(std::move(config)), warn_(std::move(warn)) {
  ClientOptions options;
  options.ca_file = config_.ca_file;
  options.max_idle_per_origin = 1;
  options.max_body_bytes = 64 * 1024;  // the collector's answer is a small status document
  options.user_agent = "permiso-otlp/0.1";
  client_ = std::make_unique<Client>(options);
  thread_ = std::thread([this] { run(); });
}

SpanExporter::~SpanExporter() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  wake_.notify_all();
  // A service's stop must not wait out a hung collector: past the grace, the call is cut.
  if (!finished_cv_.wait_for(lock, config_.final_flush_timeout, [this] { return finished_; })) {
    client_->shutdown();
  }
  lock.unlock();
  thread_.join();
}

void SpanExporter::record(ServerSpan span) {
  // The I/O thread's whole cost: a push under a lock the writer holds only to swap batches out.
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() < config_.queue_capacity && !stopping_) {
      queue_.push_back(std::move(span));
      if (queue_.size() < config_.batch_size) return;
    } else {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  wake_.notify_one();  // a whole batch is ready
}

std::size_t SpanExporter::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void SpanExporter::run() {
  std::vector<ServerSpan> batch;
  for (;;) {
    bool last = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, config_.delay, [this] { return stopping_ || queue_.size() >= config_.batch_size; });
      last = stopping_;
      const auto n = std::min(queue_.size(), last ? queue_.size() : config_.batch_size);
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    if (!batch.empty()) {
      const auto timeout = last ? std::min(config_.timeout, config_.final_flush_timeout) : config_.timeout;
      if (send(batch, timeout)) {
        exported_.fetch_add(batch.size(), std::memory_order_relaxed);
      } else {
        failed_.fetch_add(batch.size(), std::memory_order_relaxed);
      }
      batch.clear();
    }
    if (last) break;
  }
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  finished_cv_.notify_all();
}

bool SpanExporter::send(const std::vector<ServerSpan>& batch, std::chrono::milliseconds timeout) {
  ClientRequest req;
  req.method = "POST";
  req.url = config_.traces_url;
  req.headers = {{"Content-Type", "application/json"}};
  req.body = otlp_json(config_.service_name, batch);
  req.timeout = timeout;
  auto res = client_->fetch(req);
  const bool ok = res && res->status >= 200 && res->status < 300;
  if (!ok && !failing_ && warn_) {
    warn_("OTLP export to " + config_.traces_url + " failed (" +
          (res ? "status " + std::to_string(res->status) : std::string(to_string(res.error()))) + "); " +
          std::to_string(batch.size()) + " spans lost, further failures are counted in otel_spans_failed_total");
  } else if (ok && failing_ && warn_) {
    warn_("OTLP export to " + config_.traces_url + " works again");
  }
  failing_ = !ok;
  return ok;
}

}  // namespace permiso::http
