// A small Prometheus registry (counters, gauges, fixed-bucket histograms with label sets)
// rendered in the text exposition format, plus /metrics, /health and /ready route helpers.
#pragma once

#include "http/http.hpp"

#include <boost/json/object.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::http {

namespace metrics_detail {
/// How many cache lines a metric spreads its additions over.
inline constexpr std::size_t kStripes = 8;
/// This thread's stripe: threads are dealt stripes in turn as they first add to a metric, so
/// the I/O threads, started together, add to lines of their own.
std::size_t next_stripe();
inline thread_local std::size_t this_thread_stripe = kStripes;  // kStripes: not dealt yet
inline std::size_t stripe() {
  if (this_thread_stripe == kStripes) [[unlikely]]
    this_thread_stripe = next_stripe();
  return this_thread_stripe;
}
}  // namespace metrics_detail

/// A sum spread over a few cache lines, each thread adding to its own. Every request adds to
/// the same few metrics from every I/O thread: on one shared line, each addition was a
/// compare-and-swap on a line the other core had just written (one request's metrics: 38-41 ns
/// on one thread, 555-575 ns of CPU each on two; bench/metrics). Reading sums the lines.
class StripedSum {
 public:
  void add(double v) { cells_[metrics_detail::stripe()].value.fetch_add(v, std::memory_order_relaxed); }
  [[nodiscard]] double value() const {
    double sum = 0.0;
    for (const auto& cell : cells_) sum += cell.value.load(std::memory_order_relaxed);
    return sum;
  }
  /// Not atomic against a concurrent add(): for a value that is only ever set.
  void assign(double v) {
    for (auto& cell : cells_) cell.value.store(0.0, std::memory_order_relaxed);
    cells_[0].value.store(v, std::memory_order_relaxed);
  }

 private:
  struct alignas(64) Cell {
    std::atomic<double> value{0.0};
  };
  std::array<Cell, metrics_detail::kStripes> cells_{};
};

/// Hot path: a relaxed atomic add on this thread's line, no lock.
class Counter {
 public:
  void inc(double v = 1.0) { sum_.add(v); }
  [[nodiscard]] double value() const { return sum_.value(); }

 private:
  StripedSum sum_;
};

/// Either set, or moved up and down; not both at once (set() does not see a concurrent inc()).
class Gauge {
 public:
  void set(double v) { sum_.assign(v); }
  void inc(double v = 1.0) { sum_.add(v); }
  void dec(double v = 1.0) { sum_.add(-v); }
  [[nodiscard]] double value() const { return sum_.value(); }

 private:
  StripedSum sum_;
};

class Histogram {
 public:
  /// `bounds` ascending upper bounds; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  [[nodiscard]] const std::vector<double>& bounds() const { return bounds_; }
  /// Non-cumulative count of bucket i (i == bounds().size() is +Inf).
  [[nodiscard]] std::uint64_t bucket(std::size_t i) const;
  /// The buckets' total: never out of step with them.
  [[nodiscard]] std::uint64_t count() const;
  [[nodiscard]] double sum() const { return sum_.value(); }

 private:
  // Each stripe's bucket counts fill whole cache lines of their own.
  struct alignas(64) Line {
    std::array<std::atomic<std::uint64_t>, 8> counts{};
  };
  [[nodiscard]] std::atomic<std::uint64_t>& slot(std::size_t stripe, std::size_t i) const {
    return lines_[stripe * lines_per_stripe_ + i / 8].counts[i % 8];
  }

  std::vector<double> bounds_;
  std::size_t lines_per_stripe_;
  std::unique_ptr<Line[]> lines_;
  StripedSum sum_;
};

/// Default latency buckets, in seconds.
[[nodiscard]] std::vector<double> default_latency_buckets();

/// One metric name with its label names; children are created on first use and live as
/// long as the family. Lookup takes a shared (reader) lock; only a new label set writes.
template <class Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), make_(std::move(make)) {}

  /// The child for these label values (same count and order as the label names).
  Metric& with(const std::vector<std::string>& label_values);
  Metric& with(std::initializer_list<std::string_view> label_values) {
    return with(std::vector<std::string>(label_values.begin(), label_values.end()));
  }

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& help() const { return help_; }
  [[nodiscard]] const std::vector<std::string>& label_names() const { return label_names_; }
  /// Calls f(label_values, metric) for each child, in label order.
  void for_each(const std::function<void(const std::vector<std::string>&, const Metric&)>& f) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::shared_mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

/// Owned by the composition root and handed by reference to whoever records metrics.
/// Registering the same name twice returns the existing family (its type must match).
class Registry {
 public:
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string name, std::string help, std::vector<std::string> label_names = {},
                             std::vector<double> buckets = default_latency_buckets());

  /// A value the service keeps anyway (a queue depth, a count of its own), read when
  /// /metrics is scraped rather than mirrored on every change. `read` runs on the scraping
  /// thread: it must be cheap, thread-safe and outlive the registry's use.
  enum class Kind { Counter, Gauge };
  void collect(std::string name, std::string help, Kind kind, std::function<double()> read);
  /// One series of a labelled collected metric: its label values, in label-name order.
  struct Sample {
    std::vector<std::string> label_values;
    double value = 0;
  };
  /// The same for a metric with labels whose values the service knows (an enum's values):
  /// `read` returns the series to render at this scrape, under one HELP and TYPE.
  void collect(std::string name, std::string help, Kind kind, std::vector<std::string> label_names,
               std::function<std::vector<Sample>()> read);

  /// Prometheus text exposition format 0.0.4.
  [[nodiscard]] std::string render() const;

 private:
  struct Collected {
    std::string help;
    Kind kind;
    std::vector<std::string> label_names;
    std::function<std::vector<Sample>()> read;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Collected> collected_;
  std::map<std::string, std::unique_ptr<CounterFamily>> counters_;
  std::map<std::string, std::unique_ptr<GaugeFamily>> gauges_;
  std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_;
};

/// GET /metrics: the registry in text format (Content-Type text/plain; version=0.0.4).
void add_metrics_route(Router& router, const Registry& registry, std::string path = "/metrics");
/// GET /health: 200 with the JSON the service builds (e.g. {status, service, version}).
void add_health_route(Router& router, std::function<boost::json::value()> body, std::string path = "/health");
/// GET /ready: 200 {"status":"ready"} when `ready()` holds, else 503 {"status":"not_ready"}.
void add_ready_route(Router& router, std::function<bool()> ready, std::string path = "/ready");

/// What a service says of its readiness: whether it takes traffic, and the state of each
/// dependency by name (e.g. {"storage": "ok", "permiso_auth": "unreachable"}), so an operator
/// sees a degraded dependency that does not (yet) stop the service.
struct ReadyReport {
  bool ready = false;
  boost::json::object checks;
};
/// GET /ready: 200 {"status":"ready","checks":{…}} when the report is ready, else 503
/// {"status":"not_ready","checks":{…}}.
void add_ready_route(Router& router, std::function<ReadyReport()> report, std::string path = "/ready");

// ---- template definitions ----

template <class Metric>
Metric& Family<Metric>::with(const std::vector<std::string>& label_values) {
  {
    std::shared_lock lock(mutex_);
    auto it = children_.find(label_values);
    if (it != children_.end()) return *it->second;
  }
  std::unique_lock lock(mutex_);
  auto& slot = children_[label_values];
  if (!slot) slot = make_();
  return *slot;
}

template <class Metric>
void Family<Metric>::for_each(const std::function<void(const std::vector<std::string>&, const Metric&)>& f) const {
  std::shared_lock lock(mutex_);
  for (const auto& [labels, metric] : children_) f(labels, *metric);
}

}  // namespace permiso::http
