#!/usr/bin/env bash
# mt5-api read throughput and latency: GET /api/v1/trades with valid ES256 service tokens
# (verified from the JWKS, then from the gateway's verified-token cache), wrk on the same
# machine. Usage: [OPEN_TRADES=5] [WRK_BATCH=1] bench/http/trades_read.sh [build-dir] [connections] [seconds] [sqlite|postgres]
# OPEN_TRADES=0 answers `[]`, the body of bench/http/nginx_floor.sh's fixed answer.
# WRK_BATCH=1 runs the measured wrk under SCHED_BATCH (bench/http/cpu.sh run_wrk).
set -euo pipefail
build=${1:-build/release}
conns=${2:-64}
secs=${3:-10}
db=${4:-sqlite}
cd "$(dirname "$0")/../.."
source bench/http/gateway_stack.sh
start_gateway_stack "$build" "$db" 4

# A few open trades per account, so the answer is a realistic non-empty array.
IFS=, read -ra toks <<<"$TOKENS"
for tok in "${toks[@]}"; do
  for i in $(seq 1 "${OPEN_TRADES:-5}"); do
    side=$([ $((i % 2)) = 1 ] && echo buy || echo sell)
    curl -fs -o /dev/null -X POST "$base/trades" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
      -d "{\"symbol\":\"EURUSD\",\"volume\":0.01,\"trade_type\":\"$side\"}"
  done
done

measure_gateway read "mt5-api GET /api/v1/trades (ES256 tokens, $db)" "$conns" "$secs"
