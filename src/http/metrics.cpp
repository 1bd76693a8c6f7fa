// Prometheus text rendering and the probe routes.
#include "http/metrics.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace permiso::http {
namespace {

std::string format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  // Shortest of 15..17 significant digits that reads back exactly ("0.1", not 0.1000...01).
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

void append_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
}

void append_help(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out += "# HELP ";
  out += name;
  out.push_back(' ');
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  out += "\n# TYPE ";
  out += name;
  out.push_back(' ');
  out += type;
  out.push_back('\n');
}

/// `{a="x",b="y"}` plus an optional extra label (for `le`).
std::string labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += names[i];
    out += "=\"";
    append_escaped(out, values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out.push_back(',');
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

template <class Map, class... Args>
auto& find_or_add(Map& map, std::string name, Args&&... args) {
  auto it = map.find(name);
  if (it != map.end()) return *it->second;
  using FamilyT = typename Map::mapped_type::element_type;
  auto family = std::make_unique<FamilyT>(name, std::forward<Args>(args)...);
  auto& ref = *family;
  map.emplace(std::move(name), std::move(family));
  return ref;
}

}  // namespace

std::size_t metrics_detail::next_stripe() {
  static std::atomic<std::size_t> dealt{0};
  return dealt.fetch_add(1, std::memory_order_relaxed) % kStripes;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      lines_per_stripe_((bounds_.size() + 1 + 7) / 8),
      lines_(std::make_unique<Line[]>(metrics_detail::kStripes * lines_per_stripe_)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // le: v <= bound
  slot(metrics_detail::stripe(), static_cast<std::size_t>(it - bounds_.begin()))
      .fetch_add(1, std::memory_order_relaxed);
  sum_.add(v);
}

std::uint64_t Histogram::bucket(std::size_t i) const {
  std::uint64_t n = 0;
  for (std::size_t stripe = 0; stripe < metrics_detail::kStripes; ++stripe) {
    n += slot(stripe, i).load(std::memory_order_relaxed);
  }
  return n;
}

std::uint64_t Histogram::count() const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) n += bucket(i);
  return n;
}

std::vector<double> default_latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

CounterFamily& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  if (gauges_.count(name) != 0 || histograms_.count(name) != 0) {
    throw std::logic_error("metric registered with another type: " + name);
  }
  return find_or_add(counters_, std::move(name), std::move(help), std::move(label_names),
                     [] { return std::make_unique<Counter>(); });
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  if (counters_.count(name) != 0 || histograms_.count(name) != 0) {
    throw std::logic_error("metric registered with another type: " + name);
  }
  return find_or_add(gauges_, std::move(name), std::move(help), std::move(label_names),
                     [] { return std::make_unique<Gauge>(); });
}

HistogramFamily& Registry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                     std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  if (counters_.count(name) != 0 || gauges_.count(name) != 0) {
    throw std::logic_error("metric registered with another type: " + name);
  }
  return find_or_add(histograms_, std::move(name), std::move(help), std::move(label_names),
                     [b = std::move(buckets)] { return std::make_unique<Histogram>(b); });
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [family_name, family] : counters_) {
    const auto& name = family_name;  // a plain reference: lambdas may not capture bindings before clang 16
    const auto& fam = family;
    append_help(out, name, fam->help(), "counter");
    fam->for_each([&](const std::vector<std::string>& values, const Counter& c) {
      out += name + labels(fam->label_names(), values) + ' ' + format_double(c.value()) + '\n';
    });
  }
  for (const auto& [family_name, family] : gauges_) {
    const auto& name = family_name;  // a plain reference: lambdas may not capture bindings before clang 16
    const auto& fam = family;
    append_help(out, name, fam->help(), "gauge");
    fam->for_each([&](const std::vector<std::string>& values, const Gauge& g) {
      out += name + labels(fam->label_names(), values) + ' ' + format_double(g.value()) + '\n';
    });
  }
  for (const auto& [family_name, family] : histograms_) {
    const auto& name = family_name;  // a plain reference: lambdas may not capture bindings before clang 16
    const auto& fam = family;
    append_help(out, name, fam->help(), "histogram");
    fam->for_each([&](const std::vector<std::string>& values, const Histogram& h) {
      std::uint64_t cumulative = 0;
      const auto& bounds = h.bounds();
      for (std::size_t i = 0; i <= bounds.size(); ++i) {
        cumulative += h.bucket(i);
        auto le = i < bounds.size() ? format_double(bounds[i]) : std::string("+Inf");
        out +=
            name + "_bucket" + labels(fam->label_names(), values, "le", le) + ' ' + std::to_string(cumulative) + '\n';
      }
      out += name + "_sum" + labels(fam->label_names(), values) + ' ' + format_double(h.sum()) + '\n';
      // The +Inf bucket's cumulative count, as the format requires, read once with the buckets.
      out += name + "_count" + labels(fam->label_names(), values) + ' ' + std::to_string(cumulative) + '\n';
    });
  }
  for (const auto& [name, c] : collected_) {
    append_help(out, name, c.help, c.kind == Kind::Counter ? "counter" : "gauge");
    for (const auto& sample : c.read()) {
      out += name + labels(c.label_names, sample.label_values) + ' ' + format_double(sample.value) + '\n';
    }
  }
  return out;
}

void Registry::collect(std::string name, std::string help, Kind kind, std::function<double()> read) {
  collect(std::move(name), std::move(help), kind, {}, [r = std::move(read)] {
    return std::vector<Sample>{Sample{{}, r()}};
  });
}

void Registry::collect(std::string name, std::string help, Kind kind, std::vector<std::string> label_names,
                       std::function<std::vector<Sample>()> read) {
  std::lock_guard lock(mutex_);
  collected_.insert_or_assign(std::move(name),
                              Collected{std::move(help), kind, std::move(label_names), std::move(read)});
}

void add_metrics_route(Router& router, const Registry& registry, std::string path) {
  router.add_sync("GET", path, [&registry](Request&) {
    Response res;
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    res.body = registry.render();
    return res;
  });
}

void add_health_route(Router& router, std::function<boost::json::value()> body, std::string path) {
  router.add_sync("GET", path, [b = std::move(body)](Request&) { return json_response(200, b()); });
}

void add_ready_route(Router& router, std::function<bool()> ready, std::string path) {
  router.add_sync("GET", path, [r = std::move(ready)](Request&) {
    const bool ok = r();
    return json_response(ok ? 200 : 503, boost::json::object{{"status", ok ? "ready" : "not_ready"}});
  });
}

void add_ready_route(Router& router, std::function<ReadyReport()> report, std::string path) {
  router.add_sync("GET", path, [r = std::move(report)](Request&) {
    auto now = r();
    boost::json::object body;
    body["status"] = now.ready ? "ready" : "not_ready";
    body["checks"] = std::move(now.checks);
    return json_response(now.ready ? 200 : 503, std::move(body));
  });
}

}  // namespace permiso::http
