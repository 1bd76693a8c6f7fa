#!/usr/bin/env bash
# Does a flood of password sign-ins (Argon2id on permiso-auth) slow token verification on the
# gateway beside it? mt5-api serves GET /api/v1/trades at a fixed pace (each connection waits
# DELAY_MS between requests, bench/soak/paced.lua), once alone and once while FLOOD
# connections sign in as fast as permiso-auth answers, both services and wrk on the same
# machine. The issue's bound: the gateway's p99 stays under 10 ms during the flood.
# Usage: bench/http/login_flood.sh [build-dir] [seconds] [flood-connections] [read-connections]
set -euo pipefail
build=${1:-build/release}
secs=${2:-10}
flood=${3:-8}
readers=${4:-16}
cd "$(dirname "$0")/../.."
source bench/http/gateway_stack.sh
source bench/http/cpu.sh
start_gateway_stack "$build" sqlite 1
auth_pid=${gw_pids[0]}
mt5_pid=${gw_pids[-1]}

paced_reads() {
  MODE=reads TOKEN=${TOKENS%%,*} DELAY_MS=${DELAY_MS:-5} \
    wrk -t2 -c"$readers" -d"${secs}s" --latency -s bench/soak/paced.lua "${base%/api/v1}" | grep RESULT
}
MODE=reads TOKEN=${TOKENS%%,*} wrk -t1 -c4 -d1s -s bench/soak/paced.lua "${base%/api/v1}" >/dev/null

echo "gateway alone: GET /api/v1/trades, $readers connections paced at ${DELAY_MS:-5} ms, ${secs}s"
t0=$(cpu_times "$mt5_pid")
alone=$(paced_reads)
echo "$alone"
cpu_per_request "$mt5_pid" "$t0" "$alone"

echo "with a sign-in flood: $flood connections of password grants to permiso-auth"
BENCH_USERNAME=admin BENCH_PASSWORD=$admin_password \
  wrk -t1 -c"$flood" -d"$((secs + 2))s" -s bench/http/password.lua "$auth_base/auth/token" >"$gw_tmp/flood.out" &
flood_pid=$!
sleep 1
a0=$(cpu_times "$auth_pid")
t0=$(cpu_times "$mt5_pid")
during=$(paced_reads)
a1=$(cpu_times "$auth_pid")
echo "$during"
cpu_per_request "$mt5_pid" "$t0" "$during"
wait "$flood_pid"
grep RESULT "$gw_tmp/flood.out" | sed 's/^/sign-ins: /'
awk -v a="$a0" -v b="$a1" -v s="$secs" -v hz="$(getconf CLK_TCK)" 'BEGIN {
  split(a, x, " "); split(b, y, " ");
  printf "permiso-auth used %.2f cores during the flood\n", ((y[1] - x[1]) + (y[2] - x[2])) / hz / s }'
