#!/usr/bin/env bash
# Client-credentials issuance throughput and latency of a Release permiso-auth, with wrk on
# the same machine. Usage: [WRK_BATCH=1] bench/http/token_issuance.sh [build-dir] [ALG] [connections] [seconds]
# WRK_BATCH=1 runs the measured wrk under SCHED_BATCH (bench/http/cpu.sh run_wrk).
set -euo pipefail
build=${1:-build/release}
alg=${2:-ES256}
conns=${3:-32}
secs=${4:-10}
source bench/http/bench_auth.sh
start_token_bench "$build" "$alg"

# Warm up, then measure.
wrk -t2 -c"$conns" -d2s -s bench/http/client_credentials.lua "$base/auth/token" >/dev/null
echo "permiso-auth $alg client_credentials, $conns connections, ${secs}s, wrk -t2 on the same $(nproc)-core machine"
source bench/http/cpu.sh
t0=$(cpu_times "$pid")
result=$(run_wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/client_credentials.lua "$base/auth/token" | grep RESULT)
echo "$result"
cpu_per_request "$pid" "$t0" "$result"
