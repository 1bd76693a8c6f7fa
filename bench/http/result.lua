-- What every wrk script of bench/http shares: the count of unexpected answers (per thread, in
-- the thread's global `bad`) and the RESULT line (bench/http/cpu.sh reads requests= from it).
-- Scripts run from the repository root load it with
--   package.path = "bench/http/?.lua;" .. package.path
--   local result = require("result")
local M = {}
local threads = {}

-- From wrk's setup(): remember the thread, so done() can read its count.
function M.setup(thread)
  threads[#threads + 1] = thread
end

-- From wrk's response(): counts (and shows the first three of) answers other than `want`.
function M.check(status, want, body)
  if status ~= want then
    bad = (bad or 0) + 1
    if bad <= 3 then io.stderr:write("unexpected " .. status .. ": " .. string.sub(body or "", 1, 200) .. "\n") end
  end
end

-- From wrk's done(): one RESULT line; `label` (e.g. "mode=read ") goes first.
function M.done(summary, latency, label)
  local unexpected = 0
  for _, t in ipairs(threads) do unexpected = unexpected + (t:get("bad") or 0) end
  io.write(string.format(
    "RESULT %srps=%.0f p50_ms=%.2f p90_ms=%.2f p95_ms=%.2f p99_ms=%.2f p999_ms=%.2f requests=%d unexpected_status=%d errors=%d\n",
    label or "", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, summary.requests, unexpected,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

return M
