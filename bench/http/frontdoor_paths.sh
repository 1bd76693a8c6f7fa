#!/usr/bin/env bash
# The API paths directly and through nginx: client-credentials issuance (POST
# /api/v1/auth/token, permiso-auth) and GET /api/v1/trades (mt5-api), each straight to the
# service, through nginx over HTTP and over HTTPS (kept-alive connections). The stack is
# scripts/run-stack (SQLite, JWT_ALGORITHM as given, default ES256) with the edge and service
# rate limits out of the way. Prints per path and route a RESULT line, the service's CPU per
# request and nginx's (master and workers summed). wrk on the same machine.
#   bench/http/frontdoor_paths.sh [build-dir] [connections] [seconds] [ALG]
set -euo pipefail
build=${1:-build/release}
conns=${2:-32}
secs=${3:-10}
alg=${4:-ES256}
cd "$(dirname "$0")/../.."
source bench/http/cpu.sh
source bench/http/bench_auth.sh

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dir=$(mktemp -d /tmp/permiso-bench-frontdoor.XXXXXX)
auth_port=$(free_port) mt5_port=$(free_port) http_port=$(free_port) https_port=$(free_port)
admin_pw='Bench-Admin-1!'
PERMISO_DATA_DIR="$dir/data" PERMISO_PORT=$auth_port MT5_API_PORT=$mt5_port \
  PERMISO_EDGE_HTTP_PORT=$http_port PERMISO_EDGE_HTTPS_PORT=$https_port \
  PERMISO_EDGE_API_RATE=1000000r/s PERMISO_EDGE_API_BURST=100000 \
  PERMISO_EDGE_AUTH_RATE=1000000r/s PERMISO_EDGE_AUTH_BURST=100000 NGINX_ACCESS_LOG=/dev/null \
  PERMISO_BOOTSTRAP_ADMIN_PASSWORD="$admin_pw" JWT_ALGORITHM="$alg" MT5_BROKER=simulator \
  RATE_LIMIT_API=100000000/second RATE_LIMIT_SERVICE_TOKEN=100000000/second \
  LOG_LEVEL=WARNING setsid scripts/run-stack "$build" >"$dir/stack.log" 2>&1 &
stack=$!
trap 'kill -TERM $stack 2>/dev/null; wait $stack 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 300); do grep -q "Permiso is up" "$dir/stack.log" && break; sleep 0.1; done
grep -q "Permiso is up" "$dir/stack.log" || { cat "$dir/stack.log"; exit 1; }

# This stack's processes: children of run-stack (not any other Permiso on the machine).
auth_pid=$(pgrep -P "$stack" -f "permiso-auth serve")
mt5_pid=$(pgrep -P "$stack" -f "mt5-api serve")
nginx_master=$(pgrep -f -n "nginx -p .* -c $dir/data/frontdoor/")
nginx_pids="$nginx_master $(pgrep -P "$nginx_master" | tr '\n' ' ')"
cpu_sum() { for p in $1; do cpu_times "$p"; done | awk '{u += $1; s += $2} END {print u, s}'; }

create_bench_client "http://127.0.0.1:$auth_port/api/v1" "$admin_pw"
TOKENS=$(curl -fs -X POST "http://127.0.0.1:$auth_port/api/v1/auth/token" -d grant_type=client_credentials \
  -d "client_id=$CLIENT_ID" -d "client_secret=$CLIENT_SECRET" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
export TOKENS MODE=read

for path in token trades; do
  if [ $path = token ]; then
    port=$auth_port pid=$auth_pid service=permiso-auth script=bench/http/client_credentials.lua p=/api/v1/auth/token
    echo "permiso-auth $alg client_credentials directly and through nginx, $conns connections, ${secs}s, wrk -t2 on the same $(nproc)-core machine"
  else
    port=$mt5_port pid=$mt5_pid service=mt5-api script=bench/http/trades.lua p=
    echo "mt5-api GET /api/v1/trades ($alg token) directly and through nginx, $conns connections, ${secs}s, wrk -t2 on the same $(nproc)-core machine"
  fi
  for target in "direct http://127.0.0.1:$port" "nginx-http http://127.0.0.1:$http_port" \
    "nginx-https https://127.0.0.1:$https_port"; do
    read -r name url <<<"$target"
    wrk -t2 -c"$conns" -d1s -s "$script" "$url$p" >/dev/null
    s0=$(cpu_times "$pid")
    n0=$(cpu_sum "$nginx_pids")
    result=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$script" "$url$p" | grep RESULT)
    n1=$(cpu_sum "$nginx_pids")
    echo "$path $name $result"
    echo "  $service $(cpu_per_request "$pid" "$s0" "$result")"
    awk -v b="$n0" -v a="$n1" -v r="$result" -v hz="$(getconf CLK_TCK)" 'BEGIN {
      match(r, /requests=[0-9]+/); n = substr(r, RSTART + 9, RLENGTH - 9);
      split(b, x, " "); split(a, y, " "); if (n == 0) exit;
      printf "  nginx CPU total_us_per_req=%.1f\n", ((y[1] - x[1]) + (y[2] - x[2])) / hz * 1e6 / n }'
  done
done
