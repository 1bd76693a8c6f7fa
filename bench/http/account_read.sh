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

measure_gateway account "mt5-api GET /api/v1/account (ES256 tokens, $db)" "$conns" "$secs"
