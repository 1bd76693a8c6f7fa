// See server_setup.hpp.
#include "app/server_setup.hpp"

#include "config/config.hpp"
#include "http/openapi.hpp"
#include "http/span_exporter.hpp"
#include "log/log.hpp"

#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace permiso::app {

namespace {

/// The OTLP exporter the OTEL_* variables ask for, or none (export off, or a setting that
/// is wrong: then it is logged and tracing stays in the logs only).
std::shared_ptr<http::SpanExporter> open_span_exporter(http::Registry& metrics) {
  // The OpenTelemetry default service name is the executable's.
  auto settings = http::otlp_config_from_env(config::process_env(), program_invocation_short_name);
  if (auto* problem = std::get_if<http::OtlpConfigProblem>(&settings)) {
    spdlog::error("{}: {}; spans are not exported", problem->variable, problem->reason);
    return nullptr;
  }
  auto* otlp = std::get_if<http::OtlpConfig>(&settings);
  if (otlp == nullptr) return nullptr;
  std::shared_ptr<http::SpanExporter> exporter;
  try {
    exporter =
        std::make_shared<http::SpanExporter>(std::move(*otlp), [](std::string_view m) { spdlog::warn("{}", m); });
  } catch (const std::exception& ex) {
    spdlog::error("OTLP exporter: {}; spans are not exported", ex.what());
    return nullptr;
  }
  spdlog::info("exporting server spans as OTLP/HTTP JSON to {} as service {}", exporter->config().traces_url,
               exporter->config().service_name);
  // The registry outlives the server that owns the exporter: it reads through a weak_ptr.
  const std::weak_ptr<http::SpanExporter> weak = exporter;
  const auto read = [weak](auto field) {
    return [weak, field] {
      auto e = weak.lock();
      return e ? static_cast<double>(((*e).*field)()) : 0.0;
    };
  };
  using Kind = http::Registry::Kind;
  metrics.collect("otel_spans_exported_total", "Server spans the OTLP collector accepted.", Kind::Counter,
                  read(&http::SpanExporter::exported));
  metrics.collect("otel_spans_dropped_total", "Server spans dropped because the export queue was full.", Kind::Counter,
                  read(&http::SpanExporter::dropped));
  metrics.collect("otel_spans_failed_total", "Server spans lost to failed OTLP exports.", Kind::Counter,
                  read(&http::SpanExporter::failed));
  metrics.collect("otel_spans_queued", "Server spans waiting for their OTLP export.", Kind::Gauge,
                  read(&http::SpanExporter::queued));
  return exporter;
}

/// The exported span of one answered request (only what the access log holds, minus the
/// path: the route template names it).
http::ServerSpan server_span(const http::AccessLogEntry& e) {
  http::ServerSpan s;
  std::copy_n(e.trace_id.begin(), std::min(e.trace_id.size(), s.trace_id.size()), s.trace_id.begin());
  std::copy_n(e.span_id.begin(), std::min(e.span_id.size(), s.span_id.size()), s.span_id.begin());
  s.has_parent = e.parent_span_id.size() == s.parent_id.size();
  if (s.has_parent) std::copy_n(e.parent_span_id.begin(), s.parent_id.size(), s.parent_id.begin());
  s.method = std::string(e.method);
  // The router's pattern; "unmatched", "invalid" and "preflight" are not routes.
  if (e.route.starts_with('/')) s.route = std::string(e.route);
  s.status = e.status;
  const auto start = std::chrono::duration_cast<std::chrono::nanoseconds>(e.started.time_since_epoch());
  s.start_unix_ns = static_cast<std::uint64_t>(start.count());
  s.end_unix_ns = static_cast<std::uint64_t>((start + std::chrono::nanoseconds(e.duration)).count());
  return s;
}

}  // namespace

http::ServerHooks standard_hooks(http::Registry& metrics) {
  http::ServerHooks hooks;
  hooks.metrics = &metrics;
  hooks.error_log = [](std::string_view m) { spdlog::error("{}", m); };
  hooks.access_log = [exporter = open_span_exporter(metrics)](const http::AccessLogEntry& e) {
    log::write_access(*spdlog::default_logger(),
                      log::AccessLogEntry{e.method, e.path, e.route, e.status, e.duration, e.bytes, e.request_id,
                                          e.remote_ip, e.user_agent, e.trace_id, e.span_id, e.parent_span_id});
    if (exporter && e.trace_id.size() == 32 && exporter->sampled(e.trace_id, !e.parent_span_id.empty(), e.sampled)) {
      exporter->record(server_span(e));
    }
  };
  return hooks;
}

void limit_api_per_address(http::ServerHooks& hooks, ratelimit::MemoryRateLimiter& limiter, ratelimit::Rate rate) {
  if (rate.count == 0) return;
  hooks.admit = [&limiter, rate](const http::Request& req, std::string_view route) -> std::optional<http::Response> {
    if (!route.starts_with("/api/")) return std::nullopt;
    const auto d = limiter.consume("api:" + req.remote_ip, rate);
    if (d.allowed) return std::nullopt;
    auto res = http::error_response(req, 429, "rate_limited", "Too many requests from this address.");
    res.set_header("Retry-After", std::to_string(d.retry_after_s));
    return res;
  };
}

std::size_t connections_within(std::uint64_t limit, std::size_t wanted) {
  if (limit <= kReservedFileDescriptors) return 1;
  return static_cast<std::size_t>(std::min<std::uint64_t>(limit - kReservedFileDescriptors, wanted));
}

std::size_t fit_open_files_limit(std::size_t wanted) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return wanted;
  const rlim_t needed = wanted + kReservedFileDescriptors;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? needed : std::min(needed, lim.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? wanted : connections_within(lim.rlim_cur, wanted);
}

bool serve_api_document(http::Router& router, std::string_view document) {
  http::add_openapi_route(router, document);
  const auto differences = http::api_document_differences(router, document);
  for (const auto& d : differences) spdlog::critical("the built-in OpenAPI document and the routes differ: {}", d);
  return differences.empty();
}

std::unique_ptr<http::Server> listen(http::ServerConfig config, http::Router& router, http::ServerHooks hooks) {
  const std::size_t fits = fit_open_files_limit(config.max_connections);
  if (fits < config.max_connections) {
    spdlog::warn(
        "the open-files limit allows {} connections, not the configured {}: raise the hard limit "
        "(ulimit -Hn, LimitNOFILE=, --ulimit nofile=) to serve more",
        fits, config.max_connections);
    config.max_connections = fits;
  }
  try {
    return std::make_unique<http::Server>(std::move(config), router, std::move(hooks));
  } catch (const std::exception& ex) {
    spdlog::critical("cannot listen: {}", ex.what());
    return nullptr;
  }
}

}  // namespace permiso::app
