// MemoryRateLimiter::consume, the check in front of every request: one key hit again and
// again (one shard, one bucket) on 1 and 2 threads, a distinct key per thread, and keys spread
// over many buckets (a per-client-address limit under many clients), all allowed.
#include "ratelimit/memory_limiter.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {
using namespace permiso;

// Never refuses within a run, and a bucket is never full again (so never evicted): the allowed
// path on a live bucket.
constexpr ratelimit::Rate kRate{4'000'000'000U, 3600};

ratelimit::MemoryRateLimiter& limiter() {
  static ratelimit::MemoryRateLimiter l;
  return l;
}

void BM_ConsumeSharedKey(benchmark::State& state) {
  auto& l = limiter();
  for (auto _ : state) benchmark::DoNotOptimize(l.consume("api:127.0.0.1", kRate));
  state.SetItemsProcessed(state.iterations());
}

void BM_ConsumeOwnKey(benchmark::State& state) {
  auto& l = limiter();
  const std::string key = "api:10.0.0." + std::to_string(state.thread_index());
  for (auto _ : state) benchmark::DoNotOptimize(l.consume(key, kRate));
  state.SetItemsProcessed(state.iterations());
}

void BM_ConsumeManyKeys(benchmark::State& state) {
  auto& l = limiter();
  std::vector<std::string> keys;
  for (int i = 0; i < state.range(0); ++i) keys.push_back("client:svc-" + std::to_string(i) + ":minute");
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(l.consume(keys[i], kRate));
    if (++i == keys.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_ConsumeSharedKey)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_ConsumeOwnKey)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_ConsumeManyKeys)->Arg(10'000)->UseRealTime();
BENCHMARK_MAIN();
