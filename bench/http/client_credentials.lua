-- wrk script: client-credentials token requests (client_secret_post), the token hot path.
-- CLIENT_ID / CLIENT_SECRET come from the environment (set by token_issuance.sh).
local id = os.getenv("CLIENT_ID")
local secret = os.getenv("CLIENT_SECRET")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=" .. id .. "&client_secret=" .. secret .. "&scope=trade:read"

local failures = 0
response = function(status, headers, body)
  if status ~= 200 then failures = failures + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
