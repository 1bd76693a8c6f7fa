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
load=(wrk -t2 -c"$conns" -s bench/http/client_credentials.lua "$base/auth/token")

# CPU per token by thread (/proc/<pid>/task), around a run without perf attached.
source bench/profile/profile_lib.sh
result=$(run_by_thread "$pid" "$secs" "$tmp/threads" -- "${load[@]}")
report="$out/token-$alg.txt"
{
  echo "permiso-auth $alg client_credentials, $conns connections, ${secs}s, $label"
  echo "$result"
  echo "CPU per token by thread (µs; the two busiest are the I/O threads, the next the audit writer):"
  cat "$tmp/threads"
} >"$report"

# Then the same load with perf sampling the server's stacks.
perf_flame "$pid" "$secs" "$tmp" "$report" "permiso-auth: client-credentials token, $alg ($label)" \
  'scheduler::run$|AuditLog::run$' "$out/token-$alg.svg" "$out/token-$alg.folded" -- "${load[@]}" -d"$((secs + 2))s"
cat "$report"
