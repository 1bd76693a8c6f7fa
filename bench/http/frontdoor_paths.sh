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
source bench/http/frontdoor_stack.sh
start_frontdoor_stack "$build" "$alg" '"trade:read"'
export MODE=read

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
