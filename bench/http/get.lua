-- wrk script: GET one path (wrk's URL), expecting 200.
package.path = "bench/http/?.lua;" .. package.path
local result = require("result")

function setup(thread) result.setup(thread) end
function response(status, headers, body) result.check(status, 200, body) end
function done(summary, latency, requests) result.done(summary, latency) end
