-- wrk script for scripts/soak: one of three paced workloads through the front door, chosen by
-- MODE. Each connection waits DELAY_MS between requests (wrk's delay()), so the rate is about
-- connections × 1000 / (DELAY_MS + latency) whatever the machine could do.
--   MODE=tokens  POST /api/v1/auth/token (client_credentials; CLIENT_ID, CLIENT_SECRET)
--   MODE=reads   GET /api/v1/trades (TOKEN)
--   MODE=trades  POST /api/v1/trades, then DELETE it (TOKEN): positions stay bounded
package.path = "bench/http/?.lua;" .. package.path
local result = require("result")
local mode = os.getenv("MODE") or "reads"
local pace = tonumber(os.getenv("DELAY_MS") or "10")
local bearer = {["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or ""),
                ["Content-Type"] = "application/json"}
local form = "grant_type=client_credentials&client_id=" .. (os.getenv("CLIENT_ID") or "") ..
             "&client_secret=" .. (os.getenv("CLIENT_SECRET") or "") .. "&scope=trade:read"
local open_ids = {}
local n = 0

function setup(thread) result.setup(thread) end
function delay() return pace end

function request()
  if mode == "tokens" then
    return wrk.format("POST", "/api/v1/auth/token", {["Content-Type"] = "application/x-www-form-urlencoded"}, form)
  elseif mode == "trades" then
    if #open_ids > 0 then
      return wrk.format("DELETE", "/api/v1/trades/" .. table.remove(open_ids, 1), bearer)
    end
    n = n + 1
    local side = (n % 2 == 0) and "buy" or "sell"
    return wrk.format("POST", "/api/v1/trades", bearer,
                      string.format('{"symbol":"EURUSD","volume":0.01,"trade_type":"%s"}', side))
  end
  return wrk.format("GET", "/api/v1/trades", bearer)
end

function response(status, headers, body)
  if mode == "trades" and status == 201 then
    local id = string.match(body, '"id"%s*:%s*"?([%w%-]+)"?')
    if id then open_ids[#open_ids + 1] = id end
    return
  end
  result.check(status, 200, body)
end

function done(summary, latency, requests) result.done(summary, latency, "mode=" .. mode .. " ") end
