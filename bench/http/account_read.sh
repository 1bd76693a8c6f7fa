#!/usr/bin/env bash
# mt5-api GET /api/v1/account (balance, equity, margin from memory, at current quotes) with
# valid ES256 service tokens (verified-token cache after the first request), wrk on the same
# machine. Usage: bench/http/account_read.sh [build-dir] [connections] [seconds] [sqlite|postgres]
set -euo pipefail
build=${1:-build/release}
conns=${2:-64}
secs=${3:-10}
db=${4:-sqlite}
cd "$(dirname "$0")/../.."
source bench/http/gateway_stack.sh
start_gateway_stack "$build" "$db" 4

# An open position per account, so margin and equity have something to compute.
IFS=, read -ra toks <<<"$TOKENS"
for tok in "${toks[@]}"; do
  curl -fs -o /dev/null -X POST "$base/trades" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    -d '{"symbol":"EURUSD","volume":0.01,"trade_type":"buy"}'
done

export MODE=account
wrk -t2 -c"$conns" -d1s -s bench/http/trades.lua "${base%/api/v1}" >/dev/null
echo "mt5-api GET /api/v1/account (ES256 tokens, $db), $conns connections, ${secs}s, wrk -t2 on the same $(nproc)-core machine"
source bench/http/cpu.sh
mt5_pid=${gw_pids[-1]}  # started last by start_gateway_stack
t0=$(cpu_times "$mt5_pid")
result=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/trades.lua "${base%/api/v1}" | grep RESULT)
echo "$result"
cpu_per_request "$mt5_pid" "$t0" "$result"
