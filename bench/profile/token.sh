#!/usr/bin/env bash
# Where a client-credentials token's CPU goes: a Release permiso-auth under wrk (as
# bench/http/token_issuance.sh runs it), sampled by perf with call stacks while it serves.
# Writes, under OUT (build/profile by default):
#   token-<ALG>.svg      the flame graph (bench/profile/flamegraph.py)
#   token-<ALG>.folded   the folded stacks behind it
#   token-<ALG>.txt      wrk's result, CPU per token by thread, and perf's flat profile by library
# Usage: [LABEL=…] bench/profile/token.sh [build-dir] [ALG] [connections] [seconds] [out-dir]
# LABEL names the build in the title and report (default: this checkout's commit).
set -euo pipefail
build=${1:-build/release}
alg=${2:-ES256}
conns=${3:-32}
secs=${4:-8}
out=${5:-build/profile}
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 1; }
label=${LABEL:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
mkdir -p "$out"
source bench/http/bench_auth.sh
start_token_bench "$build" "$alg"
wrk -t2 -c"$conns" -d2s -s bench/http/client_credentials.lua "$base/auth/token" >/dev/null

# CPU per token by thread (/proc/<pid>/task), around a run without perf attached.
thread_cpu() { for t in /proc/"$pid"/task/*; do echo "$(basename "$t") $(awk '{print $14 + $15}' "$t/stat")"; done; }
thread_cpu >"$tmp/before"
result=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/client_credentials.lua "$base/auth/token" | grep RESULT)
thread_cpu >"$tmp/after"
report="$out/token-$alg.txt"
{
  echo "permiso-auth $alg client_credentials, $conns connections, ${secs}s, $label"
  echo "$result"
  n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$result")
  echo "CPU per token by thread (µs; the two busiest are the I/O threads, the next the audit writer):"
  join "$tmp/before" "$tmp/after" | awk -v n="$n" -v hz="$(getconf CLK_TCK)" '
    { d = ($3 - $2) / hz * 1e6 / n; s += d; if (d >= 0.05) printf "  thread %s  %.1f\n", $1, d }
    END { printf "  total      %.1f\n", s }'
} >"$report"

# Then the same load with perf sampling the server's stacks (DWARF unwinding: Release builds
# keep no frame pointers).
wrk -t2 -c"$conns" -d"$((secs + 2))s" -s bench/http/client_credentials.lua "$base/auth/token" >/dev/null &
load=$!
sleep 1
perf record -q -F 499 --call-graph dwarf,16384 -o "$tmp/perf.data" -p "$pid" -- sleep "$secs" 2>/dev/null
wait "$load"
{
  echo "perf, share of the server's samples by library:"
  perf report -i "$tmp/perf.data" --no-children --sort dso -g none 2>/dev/null | grep -E '^ +[0-9]'
} >>"$report"
perf script -i "$tmp/perf.data" 2>/dev/null |
  python3 bench/profile/flamegraph.py --title "permiso-auth: client-credentials token, $alg ($label)" \
    --root 'scheduler::run$|AuditLog::run$' --svg "$out/token-$alg.svg" --folded "$out/token-$alg.folded"
cat "$report"
