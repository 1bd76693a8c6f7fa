-- wrk script: RFC 7662 introspection (POST /api/v1/auth/introspect, form + client_secret_post)
-- of one access token. CLIENT_ID / CLIENT_SECRET / TOKEN come from the environment.
package.path = "bench/http/?.lua;" .. package.path
local result = require("result")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "token=" .. os.getenv("TOKEN") .. "&client_id=" .. os.getenv("CLIENT_ID") .. "&client_secret=" .. os.getenv("CLIENT_SECRET")

function setup(thread) result.setup(thread) end
function response(status, headers, body)
  -- An inactive answer is also a 200: count it as unexpected.
  if status == 200 and not string.find(body or "", '"active":true', 1, true) then status = 0 end
  result.check(status, 200, body)
end
function done(summary, latency, requests) result.done(summary, latency, "endpoint=introspect ") end
