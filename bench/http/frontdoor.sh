#!/usr/bin/env bash
# What the front door costs: GET /.well-known/jwks.json (answered inline by permiso-auth, so
# nginx's share is visible) directly, through nginx over HTTP, and through nginx over HTTPS
# (kept-alive connections: the handshake is amortised, the record layer is not). Prints
# throughput and latency, and CPU per request of permiso-auth and of nginx (master and
# workers) separately. wrk on the same machine.
#   bench/http/frontdoor.sh [build-dir] [connections] [seconds]
set -euo pipefail
build=${1:-build/release}
conns=${2:-32}
secs=${3:-10}
cd "$(dirname "$0")/../.."
source bench/http/cpu.sh

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dir=$(mktemp -d /tmp/permiso-bench-frontdoor.XXXXXX)
auth_port=$(free_port) mt5_port=$(free_port) http_port=$(free_port) https_port=$(free_port)
PERMISO_DATA_DIR="$dir/data" PERMISO_PORT=$auth_port MT5_API_PORT=$mt5_port \
  PERMISO_EDGE_HTTP_PORT=$http_port PERMISO_EDGE_HTTPS_PORT=$https_port \
  PERMISO_EDGE_API_RATE=1000000r/s PERMISO_EDGE_API_BURST=100000 NGINX_ACCESS_LOG=/dev/null \
  LOG_LEVEL=WARNING setsid scripts/run-stack "$build" >"$dir/stack.log" 2>&1 &
stack=$!
trap 'kill -TERM $stack 2>/dev/null; wait $stack 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 300); do grep -q "Permiso is up" "$dir/stack.log" && break; sleep 0.1; done
grep -q "Permiso is up" "$dir/stack.log" || { cat "$dir/stack.log"; exit 1; }

auth_pid=$(pgrep -f -n "permiso-auth serve")
nginx_master=$(pgrep -f -n "nginx -p .*permiso-frontdoor")
nginx_pids="$nginx_master $(pgrep -P "$nginx_master" | tr '\n' ' ')"
cpu_sum() { for p in $1; do cpu_times "$p"; done | awk '{u += $1; s += $2} END {print u, s}'; }

echo "GET /.well-known/jwks.json, $conns connections, ${secs}s, wrk -t2 on the same $(nproc)-core machine"
for target in "direct http://127.0.0.1:$auth_port" "nginx-http http://127.0.0.1:$http_port" \
  "nginx-https https://127.0.0.1:$https_port"; do
  read -r name url <<<"$target"
  wrk -t2 -c"$conns" -d2s -s bench/http/get.lua "$url/.well-known/jwks.json" >/dev/null
  a0=$(cpu_times "$auth_pid")
  n0=$(cpu_sum "$nginx_pids")
  result=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/get.lua "$url/.well-known/jwks.json" | grep RESULT)
  echo "$name $result"
  echo "  permiso-auth $(cpu_per_request "$auth_pid" "$a0" "$result")"
  # cpu_per_request reads one pid: sum nginx's processes into a pseudo-stat.
  n1=$(cpu_sum "$nginx_pids")
  awk -v b="$n0" -v a="$n1" -v r="$result" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    match(r, /requests=[0-9]+/); n = substr(r, RSTART + 9, RLENGTH - 9);
    split(b, x, " "); split(a, y, " "); if (n == 0) exit;
    printf "  nginx CPU total_us_per_req=%.1f\n", ((y[1] - x[1]) + (y[2] - x[2])) / hz * 1e6 / n }'
done
