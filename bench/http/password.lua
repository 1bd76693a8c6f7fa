-- wrk script: the password grant (POST /api/v1/auth/token, grant_type=password), one Argon2id
-- verification per request by design. BENCH_USERNAME / BENCH_PASSWORD come from the environment.
package.path = "bench/http/?.lua;" .. package.path
local result = require("result")
local function enc(s) return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end)) end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&username=" .. enc(os.getenv("BENCH_USERNAME")) .. "&password=" .. enc(os.getenv("BENCH_PASSWORD"))

function setup(thread) result.setup(thread) end
function response(status, headers, body) result.check(status, 200, body) end
function done(summary, latency, requests) result.done(summary, latency, "grant=password ") end
