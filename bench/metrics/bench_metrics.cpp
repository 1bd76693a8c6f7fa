// What each request pays the metrics registry: every answer adds to a counter, a latency
// histogram and the in-flight gauge (up and down), all shared by the server's I/O threads.
// On 1 thread and on 2 adding to the same metrics at once, as two I/O threads do.
#include "http/metrics.hpp"

#include <benchmark/benchmark.h>

namespace {
using namespace permiso;

struct Metrics {
  http::Registry registry;
  http::Counter& requests = registry.counter("bench_requests_total", "Requests.", {"route"}).with({"/api/v1/trades"});
  http::Gauge& in_flight = registry.gauge("bench_in_flight", "Requests being handled.").with({});
  http::Histogram& duration =
      registry.histogram("bench_request_duration_seconds", "Latency.", {"route"}, http::default_latency_buckets())
          .with({"/api/v1/trades"});
};

Metrics& metrics() {
  static Metrics m;
  return m;
}

void BM_CounterInc(benchmark::State& state) {
  auto& counter = metrics().requests;
  for (auto _ : state) counter.inc();
  state.SetItemsProcessed(state.iterations());
}

void BM_GaugeUpAndDown(benchmark::State& state) {
  auto& gauge = metrics().in_flight;
  for (auto _ : state) {
    gauge.inc();
    gauge.dec();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_HistogramObserve(benchmark::State& state) {
  auto& histogram = metrics().duration;
  double v = 0.0003;
  for (auto _ : state) {
    histogram.observe(v);
    v = v < 0.5 ? v * 1.7 : 0.0003;  // walks the buckets
  }
  state.SetItemsProcessed(state.iterations());
}

// A request's whole share: the gauge up, then the counter, the histogram and the gauge down.
void BM_OneRequestsMetrics(benchmark::State& state) {
  auto& m = metrics();
  for (auto _ : state) {
    m.in_flight.inc();
    m.requests.inc();
    m.duration.observe(0.0011);
    m.in_flight.dec();
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_CounterInc)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_GaugeUpAndDown)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_OneRequestsMetrics)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_MAIN();
