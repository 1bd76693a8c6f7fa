#!/usr/bin/env bash
# The WebSocket quote fan-out directly and through nginx: N subscribers (for each N given) to
# GET /api/v1/stream, every symbol, the simulator ticking every TICK_MS, straight to mt5-api,
# through nginx over ws:// and over wss:// (the certificate checked against the stack's CA).
# The stack is scripts/run-stack (bench/http/frontdoor_stack.sh). Prints per route and N the
# client's RESULT line, mt5-api's CPU per delivered quote and nginx's (master and workers).
# The client is BUILD/bench/stream/ws_fanout_client, on the same machine.
# Usage: bench/stream/ws_frontdoor.sh [build-dir] [seconds] [tick-ms] [N ...]   (N default 1 10 100)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=stream_args.sh
source "$(dirname "$0")/stream_args.sh"
stream_args "$@"
cd "$(dirname "$0")/../.."
client="$build/bench/stream/ws_fanout_client"
[ -x "$client" ] || { echo "build $client first (cmake --build $build --target ws_fanout_client)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
source bench/http/frontdoor_stack.sh
start_frontdoor_stack "$build" ES256 '"trade:read","market:data"' MT5_SIM_TICK_MS="$tick"

for n in "${counts[@]}"; do
  echo "mt5-api WebSocket quote fan-out to $n subscribers (every symbol, tick ${tick} ms) directly and through" \
    "nginx, ${secs}s, client ws_fanout_client on the same $(nproc)-core machine"
  for target in "direct ws://127.0.0.1:$mt5_port" "nginx-ws ws://127.0.0.1:$http_port" \
    "nginx-wss wss://127.0.0.1:$https_port"; do
    read -r name url <<<"$target"
    n0=$(cpu_sum "$nginx_pids")
    out=$(WS_FANOUT_CA=$ca "$client" "$url/api/v1/stream" "$TOKENS" "$n" "$secs" 1 "$mt5_pid")
    n1=$(cpu_sum "$nginx_pids")
    echo "$name $(grep RESULT <<<"$out")"
    echo "  mt5-api $(grep '^CPU' <<<"$out")"
    awk -v b="$n0" -v a="$n1" -v r="$(grep RESULT <<<"$out")" -v hz="$(getconf CLK_TCK)" 'BEGIN {
      match(r, /quotes=[0-9]+/); q = substr(r, RSTART + 7, RLENGTH - 7);
      split(b, x, " "); split(a, y, " "); if (q == 0) exit;
      printf "  nginx CPU total_us_per_quote=%.2f\n", ((y[1] - x[1]) + (y[2] - x[2])) / hz * 1e6 / q }'
  done
done
