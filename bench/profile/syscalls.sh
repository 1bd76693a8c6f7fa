#!/usr/bin/env bash
# System calls per request of a server under one of the HTTP benchmarks: runs the benchmark
# as it is, counts the server's syscalls (perf's syscalls:sys_enter_* tracepoints, no PMU
# needed) while its measured wrk run (the one with --latency) lasts, and divides by the
# requests that run reports. On a paravirtualised host a null syscall costs about a
# microsecond, so the count is a cost (docs/benchmarks.md). The CPU line printed is with the
# tracepoints on, which costs the kernel: read CPU per request from a run without this.
# perf opens its tracepoints a moment after the measured run begins (0.1–0.2 s here, from nginx's
# one recv per request: 0.99 of it counted in 8 s, 0.93 in 3 s), so the
# counts are low by that share of the run (a few per cent in 8 s): compare runs of one length.
# Usage: bench/profile/syscalls.sh PROCESS-NAME -- BENCHMARK...
#   bench/profile/syscalls.sh mt5-api -- env OPEN_TRADES=0 bench/http/trades_read.sh build/release 64 8
#   bench/profile/syscalls.sh permiso-auth -- bench/http/token_issuance.sh build/release ES256 32 8
#   bench/profile/syscalls.sh nginx -- bench/http/nginx_floor.sh 64 8
set -euo pipefail
if [ $# -lt 3 ] || [ "$2" != -- ]; then sed -n "11,14p" "$0" >&2; exit 2; fi
name=$1
shift 2
# shellcheck source=bench/http/cpu.sh
source "$(dirname "$0")/../http/cpu.sh"
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$@" >"$tmp/bench.out" 2>&1 &
bench=$!
measured() { pgrep -f '^wrk .*--latency' | head -1; }
until wrk_pid=$(measured) && [ -n "$wrk_pid" ]; do
  kill -0 "$bench" 2>/dev/null || { cat "$tmp/bench.out" >&2; echo "the benchmark ended before its measured run" >&2; exit 1; }
  sleep 0.02
done
pids=$(pgrep -x "$name" | paste -sd,)
[ -n "$pids" ] || { echo "no process named $name" >&2; exit 1; }
perf stat -x, -e 'syscalls:sys_enter_*' -p "$pids" -o "$tmp/perf.csv" &
perf_pid=$!
while kill -0 "$wrk_pid" 2>/dev/null; do sleep 0.02; done
kill -INT "$perf_pid"
wait "$perf_pid" || true
wait "$bench"

grep -E '^RESULT|^CPU' "$tmp/bench.out"
requests=$(requests_in "$(cat "$tmp/bench.out")")
echo "syscalls per request, $name (pids $pids), over the measured run's $requests requests:"
awk -F, -v n="$requests" '
  $1 ~ /^[0-9]+$/ && $1 > 0 { sub("syscalls:sys_enter_", "", $3); per = $1 / n; total += per;
                              if (per >= 0.005) printf "  %-16s %6.3f\n", $3, per }
  END { printf "  %-16s %6.3f\n", "total", total }' "$tmp/perf.csv" | sort -k2 -rn
