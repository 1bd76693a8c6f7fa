#!/usr/bin/env bash
# WebSocket fan-out: N subscribers (for each N given) to mt5-api's quote stream, every symbol,
# the simulator ticking every TICK_MS; quotes delivered per second in total and per subscriber,
# and mt5-api's CPU per delivered quote. Client on the same machine: BUILD/bench/stream/ws_fanout_client
# (C++, Beast; keeps up at 1,000 subscribers) when built, else bench/stream/ws_fanout.py
# (python3-websockets; falls behind near 1,000); both count without parsing and report their own CPU share.
# Usage: bench/stream/ws_fanout.sh [build-dir] [seconds] [tick-ms] [N ...]   (N default 1 10 100)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=stream_args.sh
source "$(dirname "$0")/stream_args.sh"
stream_args "$@"
cd "$(dirname "$0")/../.."
client=("$build/bench/stream/ws_fanout_client")
if [ ! -x "${client[0]}" ]; then
  /usr/bin/python3 -c 'import websockets' 2>/dev/null ||
    { echo "needs ${client[0]} (a Release build) or python3-websockets" >&2; exit 1; }
  echo "note: ${client[0]} not built: the Python client, which falls behind near 1,000 subscribers" >&2
  client=(/usr/bin/python3 bench/stream/ws_fanout.py)
fi
ulimit -n "$(ulimit -Hn)"  # 1,000 subscribers: more sockets than the usual soft limit
source bench/http/gateway_stack.sh
GW_SCOPES='"trade:read","market:data"' start_gateway_stack "$build" sqlite 4 MT5_SIM_TICK_MS="$tick"
url="ws://${base#http://}/stream"
mt5_pid=${gw_pids[-1]}
for n in "${counts[@]}"; do
  echo "mt5-api WebSocket quote fan-out to $n subscribers (every symbol, tick ${tick} ms), ${secs}s," \
    "client $(basename "${client[-1]}") on the same $(nproc)-core machine"
  "${client[@]}" "$url" "$TOKENS" "$n" "$secs" 1 "$mt5_pid"
  # mt5-api's resident memory now and its peak so far (VmHWM is not reset between the counts)
  echo "MEM pid=$mt5_pid $(grep -E '^Vm(RSS|HWM):' "/proc/$mt5_pid/status" | tr -s ' \t' ' ' |
    sed 's/: /=/; s/ kB/_kB/' | tr '\n' ' ')"
done
