#!/usr/bin/env bash
# permiso-auth beyond client credentials, throughput and latency with wrk on the same machine:
#   password    the password grant (Argon2id per request, deliberately slow: use few connections)
#   refresh     refresh-token rotation, each connection following its own token chain
#   introspect  RFC 7662 introspection of a client-credentials access token (client_secret_post)
# Prints the RESULT line and permiso-auth's CPU per request (bench/http/cpu.sh).
# Usage: bench/http/auth_endpoints.sh [build-dir] password|refresh|introspect [connections] [seconds] [ALG]
set -euo pipefail
build=${1:-build/release}
workload=${2:?password, refresh or introspect}
conns=${3:-4}
secs=${4:-10}
alg=${5:-ES256}
cd "$(dirname "$0")/../.."
bin="$build/apps/permiso-auth/permiso-auth"
[ -x "$bin" ] || { echo "build $bin first (make build)" >&2; exit 1; }
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin_pw='Bench-Admin-1!'
pid=""
trap '[ -n "$pid" ] && { kill $pid 2>/dev/null; wait $pid 2>/dev/null; }; rm -rf "$tmp"' EXIT

source bench/http/bench_auth.sh
source bench/http/cpu.sh
start_permiso_auth "$bin" "$tmp" "$port" "$admin_pw" JWT_ALGORITHM="$alg" RATE_LIMIT_LOGIN=100000000/second
base="http://127.0.0.1:$port/api/v1"
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
login() { curl -fs -X POST "$base/auth/token" -d grant_type=password -d username=admin -d "password=$admin_pw"; }

threads=2
case "$workload" in
  password)
    export BENCH_USERNAME=admin BENCH_PASSWORD="$admin_pw"
    script=bench/http/password.lua path=/auth/token what="password grant (Argon2id)"
    [ "$conns" -lt 2 ] && threads=$conns
    ;;
  refresh)
    # One thread per connection, one refresh-token chain per thread (bench/http/refresh.lua).
    threads=$conns
    toks=""
    for _ in $(seq 1 "$conns"); do toks="${toks:+$toks,}$(login | field refresh_token)"; done
    export REFRESH_TOKENS=$toks
    script=bench/http/refresh.lua path=/auth/token what="refresh_token grant (rotation)"
    ;;
  introspect)
    create_bench_client "$base" "$admin_pw"
    TOKEN=$(curl -fs -X POST "$base/auth/token" -d grant_type=client_credentials -d "client_id=$CLIENT_ID" \
      -d "client_secret=$CLIENT_SECRET" | field access_token)
    export TOKEN
    script=bench/http/introspect.lua path=/auth/introspect what="introspection (RFC 7662)"
    ;;
  *) echo "unknown workload $workload (password, refresh or introspect)" >&2; exit 2 ;;
esac

# Warm up (not for refresh: the chains are spent as they go, a warm-up would only shorten them),
# then measure.
[ "$workload" = refresh ] || wrk -t"$threads" -c"$conns" -d1s -s "$script" "$base$path" >/dev/null
echo "permiso-auth $alg $what, $conns connections, ${secs}s, wrk -t$threads on the same $(nproc)-core machine"
t0=$(cpu_times "$pid")
result=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s "$script" "$base$path" | grep RESULT)
echo "$result"
cpu_per_request "$pid" "$t0" "$result"
