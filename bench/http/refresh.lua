-- wrk script: refresh-token rotation (POST /api/v1/auth/token, grant_type=refresh_token). Each
-- answer carries the next refresh token and the one sent is spent (reusing it would revoke the
-- family), so every thread holds one connection (run wrk with -c equal to -t) and one token
-- chain: REFRESH_TOKENS is a comma list with one token per thread.
package.path = "bench/http/?.lua;" .. package.path
local result = require("result")
local tokens = {}
for t in string.gmatch(os.getenv("REFRESH_TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end

local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("rt", tokens[next_thread])
  result.setup(thread)
end

local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
function request()
  return wrk.format("POST", "/api/v1/auth/token", headers, "grant_type=refresh_token&refresh_token=" .. rt)
end

function response(status, headers, body)
  result.check(status, 200, body)
  local next_rt = string.match(body or "", '"refresh_token"%s*:%s*"([^"]+)"')
  if next_rt then rt = next_rt end
end

function done(summary, latency, requests) result.done(summary, latency, "grant=refresh_token ") end
