-- wrk script for mt5-api: GET /api/v1/trades (MODE=read), GET /api/v1/account (MODE=account)
-- or durable POST /api/v1/trades with a unique client_order_id per request (MODE=write).
-- TOKENS (comma list, one account each) comes from the environment; requests rotate over them.
-- PIPELINE=N (read and account modes) sends N requests at a time on each connection, without
-- waiting for their answers (HTTP/1.1 pipelining); wrk counts every answer.
package.path = "bench/http/?.lua;" .. package.path
local result = require("result")
local mode = os.getenv("MODE") or "read"
local tokens = {}
for t in string.gmatch(os.getenv("TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end
local run = os.getenv("RUN_ID") or tostring(os.time())
local pipeline = tonumber(os.getenv("PIPELINE") or "1")

local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  result.setup(thread)
end

local n = 0
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
  local path = (mode == "account") and "/api/v1/account" or "/api/v1/trades"
  local one = wrk.format("GET", path, h)
  return pipeline > 1 and string.rep(one, pipeline) or one
end

function response(status, headers, body)
  result.check(status, (mode == "write") and 201 or 200, body)
end

function done(summary, latency, requests)
  result.done(summary, latency, "mode=" .. mode .. " ")
end
