// The resource server's per-request cost of token verification: a cache hit (SHA-256 of the
// token, one shard lookup, the revocation check) on 1 and 2 threads sharing one token, a
// cache hit with a distinct token per thread, and a miss (full HS256 verification) for
// comparison. HS256 profile: no auth server needed.
#include "http/client.hpp"
#include "jose/jwt.hpp"
#include "resource/authenticator.hpp"

#include <benchmark/benchmark.h>

namespace {
using namespace permiso;

constexpr const char* kSecret = "benchmark-secret-of-at-least-32-bytes";

boost::json::object claims(std::int64_t now, const std::string& jti) {
  return {{"iss", "permiso-auth"},
          {"sub", "svc-bench"},
          {"aud", "permiso"},
          {"iat", now},
          {"nbf", now},
          {"exp", now + 3600},
          {"jti", jti},
          {"client_id", "svc-bench"},
          {"scope", "trade:read account:read"},
          {"type", "service"}};
}

struct Fixture {
  ManualClock clock{1'700'000'000};
  http::Client client;
  resource::Authenticator hit{config(100000), clock, client};
  resource::Authenticator miss{config(0), clock, client};
  jose::SigningKey key = *jose::SigningKey::from_hmac_secret(kSecret);

  static resource::ResourceConfig config(std::size_t capacity) {
    resource::ResourceConfig c;
    c.issuer = "permiso-auth";
    c.algorithms = {jose::Algorithm::HS256};
    c.hs256_secret = kSecret;
    c.follow_revocations = false;
    c.cache_capacity = capacity;
    return c;
  }
  std::string token(const std::string& jti) { return jose::sign_jwt(key, claims(clock.now_seconds(), jti)); }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_CacheHitSharedToken(benchmark::State& state) {
  static const std::string token = fixture().token("0123456789abcdef0123456789abcdef");
  auto& auth = fixture().hit;
  for (auto _ : state) benchmark::DoNotOptimize(auth.authenticate(token));
  state.SetItemsProcessed(state.iterations());
}

void BM_CacheHitOwnToken(benchmark::State& state) {
  const std::string token = fixture().token("jti-thread-" + std::to_string(state.thread_index()));
  auto& auth = fixture().hit;
  for (auto _ : state) benchmark::DoNotOptimize(auth.authenticate(token));
  state.SetItemsProcessed(state.iterations());
}

void BM_CacheMissHs256(benchmark::State& state) {
  const std::string token = fixture().token("jti-miss");
  auto& auth = fixture().miss;
  for (auto _ : state) benchmark::DoNotOptimize(auth.authenticate(token));
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_CacheHitSharedToken)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_CacheHitOwnToken)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_CacheMissHs256)->Threads(1)->UseRealTime();
BENCHMARK_MAIN();
