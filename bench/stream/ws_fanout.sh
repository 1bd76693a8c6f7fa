#!/usr/bin/env bash
# WebSocket fan-out: N subscribers (for each N given) to mt5-api's quote stream, every symbol,
# the simulator ticking every TICK_MS; quotes delivered per second in total and per subscriber,
# and mt5-api's CPU per delivered quote. Client (bench/stream/ws_fanout.py, python3-websockets)
# on the same machine; it counts without parsing, and reports its own CPU share.
# Usage: bench/stream/ws_fanout.sh [build-dir] [seconds] [tick-ms] [N ...]   (N default 1 10 100)
set -euo pipefail
build=${1:-build/release}
secs=${2:-10}
tick=${3:-50}
shift $(( $# < 3 ? $# : 3 ))
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 10 100)
cd "$(dirname "$0")/../.."
/usr/bin/python3 -c 'import websockets' 2>/dev/null || { echo "needs python3-websockets (apt-get install python3-websockets)" >&2; exit 1; }
source bench/http/gateway_stack.sh
GW_SCOPES='"trade:read","market:data"' start_gateway_stack "$build" sqlite 4 MT5_SIM_TICK_MS="$tick"
url="ws://${base#http://}/stream"
mt5_pid=${gw_pids[-1]}
for n in "${counts[@]}"; do
  echo "mt5-api WebSocket quote fan-out to $n subscribers (every symbol, tick ${tick} ms), ${secs}s, client on the same $(nproc)-core machine"
  /usr/bin/python3 bench/stream/ws_fanout.py "$url" "$TOKENS" "$n" "$secs" 1 "$mt5_pid"
done
