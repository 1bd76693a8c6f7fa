// The request parsers on the hot paths: the token endpoint's form body (parse_form and the
// OAuth parameter reader, form and JSON), a JSON request body (parse_json_object, as a trade
// order), the request target (path and query), the Basic and Bearer credentials, and the
// RATE_LIMIT_* format.
#include "http/body.hpp"
#include "http/http.hpp"
#include "ratelimit/rate_limiter.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {
using namespace permiso;

const std::string kTokenForm =
    "grant_type=client_credentials&client_id=bench-client&client_secret=s3cr3t%2Bvalue%2Fwith%3Descapes"
    "&scope=trade%3Aread+account%3Aread";
const std::string kTokenJson =
    R"({"grant_type":"client_credentials","client_id":"bench-client","client_secret":"s3cr3t+value/with=escapes",)"
    R"("scope":"trade:read account:read"})";
const std::string kOrderJson = R"({"symbol":"EURUSD","volume":0.01,"trade_type":"buy","sl":1.0512,"tp":1.0987,)"
                               R"("client_order_id":"w1700000000-1-123456","comment":"bench order"})";

http::Request request(std::string content_type, std::string body) {
  http::Request r;
  r.method = "POST";
  r.target = "/api/v1/auth/token";
  r.headers = {{"content-type", std::move(content_type)}};
  r.body = std::move(body);
  return r;
}

void BM_ParseFormTokenRequest(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(http::parse_form(kTokenForm));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kTokenForm.size()));
}

void BM_ReadOAuthParamsForm(benchmark::State& state) {
  const auto req = request("application/x-www-form-urlencoded", kTokenForm);
  for (auto _ : state) benchmark::DoNotOptimize(http::read_oauth_params(req));
}

void BM_ReadOAuthParamsJson(benchmark::State& state) {
  const auto req = request("application/json", kTokenJson);
  for (auto _ : state) benchmark::DoNotOptimize(http::read_oauth_params(req));
}

void BM_ParseJsonOrder(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(http::parse_json_object(kOrderJson));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kOrderJson.size()));
}

void BM_ParseTarget(benchmark::State& state) {
  http::Request req;
  for (auto _ : state) {
    req.target = "/api/v1/history/deals?from=2024-01-01T00%3A00%3A00Z&to=2024-02-01&symbol=EURUSD&limit=100";
    req.query.clear();
    benchmark::DoNotOptimize(http::parse_target(req));
  }
}

void BM_ParseBasicAuth(benchmark::State& state) {
  // base64("bench-client:s3cr3t-value-of-forty-three-characters-abcdefghij")
  const std::string header =
      "Basic YmVuY2gtY2xpZW50OnMzY3IzdC12YWx1ZS1vZi1mb3J0eS10aHJlZS1jaGFyYWN0ZXJzLWFiY2RlZmdoaWo=";
  for (auto _ : state) benchmark::DoNotOptimize(http::parse_basic_auth(header));
}

void BM_BearerToken(benchmark::State& state) {
  http::Request req;
  req.headers = {{"host", "127.0.0.1"}, {"accept", "*/*"}, {"authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig"}};
  for (auto _ : state) benchmark::DoNotOptimize(http::bearer_token(req));
}

void BM_ParseRate(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ratelimit::parse_rate("600/minute"));
}

}  // namespace

BENCHMARK(BM_ParseFormTokenRequest);
BENCHMARK(BM_ReadOAuthParamsForm);
BENCHMARK(BM_ReadOAuthParamsJson);
BENCHMARK(BM_ParseJsonOrder);
BENCHMARK(BM_ParseTarget);
BENCHMARK(BM_ParseBasicAuth);
BENCHMARK(BM_BearerToken);
BENCHMARK(BM_ParseRate);
BENCHMARK_MAIN();
