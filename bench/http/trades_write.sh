#!/usr/bin/env bash
# mt5-api durable write throughput: POST /api/v1/trades, each with a unique client_order_id
# (idempotency record + position + order + deal + account committed before the 201), on a
# throw-away PostgreSQL 15 with fsync and synchronous_commit on. wrk on the same machine.
# Usage: bench/http/trades_write.sh [build-dir] [connections] [seconds] [postgres|sqlite]
set -euo pipefail
build=${1:-build/release}
conns=${2:-64}
secs=${3:-10}
db=${4:-postgres}
cd "$(dirname "$0")/../.."
source bench/http/gateway_stack.sh
start_gateway_stack "$build" "$db" 8

export MODE=write RUN_ID="w$(date +%s)"
echo "mt5-api POST /api/v1/trades (durable, $db, fsync on), $conns connections, ${secs}s, wrk -t2 on the same $(nproc)-core machine"
source bench/http/cpu.sh
mt5_pid=${gw_pids[-1]}  # started last by start_gateway_stack
t0=$(cpu_times "$mt5_pid")
result=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/trades.lua "${base%/api/v1}" | grep RESULT)
echo "$result"
cpu_per_request "$mt5_pid" "$t0" "$result"
# What was acknowledged is what was stored: count the trades of one account.
IFS=, read -ra toks <<<"$TOKENS"
n=$(curl -fs "$base/trades?limit=1000" -H "Authorization: Bearer ${toks[0]}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "open trades listed for one of the 8 accounts (first page, limit 1000): $n"
