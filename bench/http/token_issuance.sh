#!/usr/bin/env bash
# Client-credentials issuance throughput and latency of a Release permiso-auth, with wrk on
# the same machine. Usage: bench/http/token_issuance.sh [build-dir] [ALG] [connections] [seconds]
set -euo pipefail
build=${1:-build/release}
alg=${2:-ES256}
conns=${3:-32}
secs=${4:-10}
bin="$build/apps/permiso-auth/permiso-auth"
[ -x "$bin" ] || { echo "build $bin first (make build)" >&2; exit 1; }
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin_pw='Bench-Admin-1!'
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT

source bench/http/bench_auth.sh
start_permiso_auth "$bin" "$tmp" "$port" "$admin_pw" JWT_ALGORITHM="$alg"

base="http://127.0.0.1:$port/api/v1"
create_bench_client "$base" "$admin_pw"

# Warm up, then measure.
wrk -t2 -c"$conns" -d2s -s bench/http/client_credentials.lua "$base/auth/token" >/dev/null
echo "permiso-auth $alg client_credentials, $conns connections, ${secs}s, wrk -t2 on the same $(nproc)-core machine"
source bench/http/cpu.sh
t0=$(cpu_times "$pid")
result=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/client_credentials.lua "$base/auth/token" | grep RESULT)
echo "$result"
cpu_per_request "$pid" "$t0" "$result"
