// Signing and verification cost per algorithm: the CPU floor under token issuance and
// verification (one core).
#include "jose/jwt.hpp"

#include <benchmark/benchmark.h>

namespace {
using permiso::jose::Algorithm;

boost::json::object claims() {
  return {{"iss", "permiso-auth"},
          {"sub", "svc-bench"},
          {"aud", "permiso"},
          {"iat", 1'700'000'000},
          {"nbf", 1'700'000'000},
          {"exp", 1'700'003'600},
          {"jti", "0123456789abcdef0123456789abcdef"},
          {"client_id", "svc-bench"},
          {"scope", "trade:read account:read"},
          {"type", "service"}};
}

void BM_Sign(benchmark::State& state, Algorithm alg) {
  const auto key = *permiso::jose::SigningKey::generate(alg);
  const auto c = claims();
  for (auto _ : state) {
    benchmark::DoNotOptimize(permiso::jose::sign_jwt(key, c));
  }
  state.SetItemsProcessed(state.iterations());
}

// One key shared by every thread, as the server signs: shows whether signing scales.
void BM_SignShared(benchmark::State& state, Algorithm alg) {
  static const auto key = *permiso::jose::SigningKey::generate(alg);
  const auto c = claims();
  for (auto _ : state) {
    benchmark::DoNotOptimize(permiso::jose::sign_jwt(key, c));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Verify(benchmark::State& state, Algorithm alg) {
  const auto key = *permiso::jose::SigningKey::generate(alg);
  permiso::ManualClock clock(1'700'000'000);
  permiso::jose::VerifyPolicy policy;
  policy.algorithms = {alg};
  policy.issuer = "permiso-auth";
  policy.audience = "permiso";
  policy.typ = "at+jwt";
  permiso::jose::Verifier verifier(policy, clock);
  verifier.set_keys({key});
  const auto token = permiso::jose::sign_jwt(key, claims());
  for (auto _ : state) {
    auto r = verifier.verify(token);
    if (!r) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(BM_Sign, HS256, Algorithm::HS256);
BENCHMARK_CAPTURE(BM_Sign, RS256, Algorithm::RS256);
BENCHMARK_CAPTURE(BM_Sign, ES256, Algorithm::ES256);
BENCHMARK_CAPTURE(BM_Sign, EdDSA, Algorithm::EdDSA);
BENCHMARK_CAPTURE(BM_SignShared, ES256, Algorithm::ES256)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_Verify, HS256, Algorithm::HS256);
BENCHMARK_CAPTURE(BM_Verify, RS256, Algorithm::RS256);
BENCHMARK_CAPTURE(BM_Verify, ES256, Algorithm::ES256);
BENCHMARK_CAPTURE(BM_Verify, EdDSA, Algorithm::EdDSA);

}  // namespace

BENCHMARK_MAIN();
