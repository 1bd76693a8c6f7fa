#!/usr/bin/env bash
# Where a protected read's CPU goes: a Release mt5-api serving GET /api/v1/trades (ES256
# service tokens, from the verified-token cache after the first use) under wrk, as
# bench/http/trades_read.sh runs it, sampled by perf with call stacks. Writes, under OUT
# (build/profile by default):
#   read.svg      the flame graph (bench/profile/flamegraph.py)
#   read.folded   the folded stacks behind it
#   read.txt      wrk's result, CPU per request by thread, and perf's flat profile by library
# Usage: [LABEL=…] bench/profile/read.sh [build-dir] [connections] [seconds] [open-trades] [out-dir]
# open-trades per account (default 0: the answer is `[]`, as nginx_floor.sh's fixed answer).
set -euo pipefail
build=${1:-build/release}
conns=${2:-64}
secs=${3:-8}
trades=${4:-0}
out=${5:-build/profile}
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 1; }
cd "$(dirname "$0")/../.."
label=${LABEL:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
mkdir -p "$out"
source bench/http/gateway_stack.sh
start_gateway_stack "$build" sqlite 4
IFS=, read -ra toks <<<"$TOKENS"
for tok in "${toks[@]}"; do
  for _ in $(seq 1 "$trades"); do
    curl -fs -o /dev/null -X POST "$base/trades" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
      -d '{"symbol":"EURUSD","volume":0.01,"trade_type":"buy"}'
  done
done
pid=${gw_pids[-1]}  # mt5-api, started last
export MODE=read
load=(wrk -t2 -c"$conns" -s bench/http/trades.lua "${base%/api/v1}")

source bench/profile/profile_lib.sh
result=$(run_by_thread "$pid" "$secs" "$gw_tmp/threads" -- "${load[@]}")
report="$out/read.txt"
{
  echo "mt5-api GET /api/v1/trades ($trades open trades per account), $conns connections, ${secs}s, $label"
  echo "$result"
  echo "CPU per request by thread (µs; the busiest are the I/O threads):"
  cat "$gw_tmp/threads"
} >"$report"
perf_flame "$pid" "$secs" "$gw_tmp" "$report" "mt5-api: GET /api/v1/trades, $trades open trades ($label)" \
  'scheduler::run$' "$out/read.svg" "$out/read.folded" -- "${load[@]}" -d"$((secs + 2))s"
cat "$report"
