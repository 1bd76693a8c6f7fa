#!/usr/bin/env bash
# mt5-api durable write throughput: POST /api/v1/trades, each with a unique client_order_id
# (idempotency record + position + order + deal + account committed before the 201), on a
# throw-away PostgreSQL 15 with fsync and synchronous_commit on. wrk on the same machine.
# With `terminal` as the broker, mt5-api trades through the MT5 terminal bridge against mt5-sim
# (the PermisoBridge protocol over ZeroMQ on loopback); with `fix`, through a FIX 4.4 session to
# mt5-sim's acceptor (docs/fix.md): the figure then includes the bridge or the session.
# Prints the RESULT line, mt5-api's CPU per request, and on PostgreSQL the server's (PGCPU).
# The caller's environment reaches both services (e.g. PERMISO_PG_PREPARED_STATEMENTS=false).
# Usage: bench/http/trades_write.sh [build-dir] [connections] [seconds] [postgres|sqlite] [simulator|terminal|fix]
set -euo pipefail
build=${1:-build/release}
conns=${2:-64}
secs=${3:-10}
db=${4:-postgres}
broker=${5:-simulator}
cd "$(dirname "$0")/../.."
source bench/http/gateway_stack.sh
broker_env=()
if [ "$broker" = terminal ]; then
  sim_bin="$build/apps/mt5-sim/mt5-sim"
  [ -x "$sim_bin" ] || { echo "build $sim_bin first" >&2; exit 1; }
  cmd_port=$(free_port)
  evt_port=$(free_port)
  bridge_token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  MT5_TERMINAL_TOKEN="$bridge_token" "$sim_bin" --command-url "tcp://127.0.0.1:$cmd_port" \
    --event-url "tcp://127.0.0.1:$evt_port" --seed 1 >/dev/null 2>&1 &
  sim_pid=$!
  broker_env=(MT5_BROKER=terminal MT5_TERMINAL_COMMAND_URL="tcp://127.0.0.1:$cmd_port"
    MT5_TERMINAL_EVENT_URL="tcp://127.0.0.1:$evt_port" MT5_TERMINAL_TOKEN="$bridge_token")
elif [ "$broker" = fix ]; then
  sim_bin="$build/apps/mt5-sim/mt5-sim"
  [ -x "$sim_bin" ] || { echo "build $sim_bin first" >&2; exit 1; }
  fix_port=$(free_port)
  fix_password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  fix_dir=$(mktemp -d)
  MT5_FIX_PASSWORD="$fix_password" "$sim_bin" --no-bridge --fix-port "$fix_port" --fix-store-dir "$fix_dir/sim" \
    --seed 1 >/dev/null 2>&1 &
  sim_pid=$!
  broker_env=(MT5_BROKER=fix MT5_SERVER="127.0.0.1:$fix_port" MT5_PASSWORD="$fix_password"
    MT5_FIX_STORE_DIR="$fix_dir/gateway")
fi
start_gateway_stack "$build" "$db" 8 "${broker_env[@]}"
[ -n "${sim_pid:-}" ] && gw_pids=("$sim_pid" "${gw_pids[@]}")  # stopped with the stack

export MODE=write RUN_ID="w$(date +%s)"
echo "mt5-api POST /api/v1/trades (durable, $db, fsync on, broker $broker), $conns connections, ${secs}s, wrk -t2 on the same $(nproc)-core machine"
source bench/http/cpu.sh
mt5_pid=${gw_pids[-1]}  # started last by start_gateway_stack
t0=$(cpu_times "$mt5_pid")
[ -n "$gw_pg_dir" ] && pg0=$(pg_cpu_times "$gw_pg_dir/data")
result=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/trades.lua "${base%/api/v1}" | grep RESULT)
echo "$result"
cpu_per_request "$mt5_pid" "$t0" "$result"
# On PostgreSQL, the server's own CPU per request too (every postgres process of the stack's server).
[ -n "$gw_pg_dir" ] && pg_cpu_per_request "$gw_pg_dir/data" "$pg0" "$result"
# What was acknowledged is what was stored: count the trades of one account.
IFS=, read -ra toks <<<"$TOKENS"
n=$(curl -fs "$base/trades?limit=1000" -H "Authorization: Bearer ${toks[0]}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "open trades listed for one of the 8 accounts (first page, limit 1000): $n"
