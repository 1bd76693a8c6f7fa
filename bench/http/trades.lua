-- wrk script for mt5-api: GET /api/v1/trades (MODE=read) or durable POST /api/v1/trades with a
-- unique client_order_id per request (MODE=write). TOKENS (comma list, one account each) comes
-- from the environment; requests rotate over them.
local mode = os.getenv("MODE") or "read"
local tokens = {}
for t in string.gmatch(os.getenv("TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end
local run = os.getenv("RUN_ID") or tostring(os.time())

local threads = {}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  threads[#threads + 1] = thread
end

local n = 0
bad = 0  -- global: done() reads it from each thread
local headers_by_token = {}
function init(args)
  for i, t in ipairs(tokens) do
    headers_by_token[i] = {["Authorization"] = "Bearer " .. t, ["Content-Type"] = "application/json"}
  end
end

function request()
  n = n + 1
  local h = headers_by_token[(n % #tokens) + 1]
  if mode == "write" then
    local side = (n % 2 == 0) and "buy" or "sell"
    local body = string.format(
      '{"symbol":"EURUSD","volume":0.01,"trade_type":"%s","client_order_id":"%s-%d-%d"}', side, run, tid, n)
    return wrk.format("POST", "/api/v1/trades", h, body)
  end
  return wrk.format("GET", "/api/v1/trades", h)
end

function response(status, headers, body)
  local want = (mode == "write") and 201 or 200
  if status ~= want then
    bad = bad + 1
    if bad <= 3 then io.stderr:write("unexpected " .. status .. ": " .. string.sub(body or "", 1, 200) .. "\n") end
  end
end

function done(summary, latency, requests)
  local unexpected = 0
  for _, t in ipairs(threads) do unexpected = unexpected + (t:get("bad") or 0) end
  io.write(string.format(
    "RESULT mode=%s rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f p999_ms=%.2f requests=%d unexpected_status=%d errors=%d\n",
    mode, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, summary.requests, unexpected,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
