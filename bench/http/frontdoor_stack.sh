# The whole stack behind nginx for the front-door benchmarks (sourced): scripts/run-stack
# (SQLite, the simulated broker) with the edge's and the services' rate limits out of the way.
#   start_frontdoor_stack BUILD ALG SCOPES [VAR=value ...]
# starts it (stopped and removed on exit) with the extra environment given, creates the bench
# client with SCOPES (JSON strings, comma-separated) and sets: dir, auth_port, mt5_port,
# http_port, https_port, auth_pid, mt5_pid, nginx_pids (master and workers), ca (the CA that
# signed nginx's certificate) and TOKENS (one access token). cpu_sum PIDS sums their CPU ticks.
source bench/http/cpu.sh
source bench/http/bench_auth.sh

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_sum() { for p in $1; do cpu_times "$p"; done | awk '{u += $1; s += $2} END {print u, s}'; }

start_frontdoor_stack() {
  local build=$1 alg=$2 scopes=$3 admin_pw='Bench-Admin-1!' nginx_master
  shift 3
  dir=$(mktemp -d /tmp/permiso-bench-frontdoor.XXXXXX)
  auth_port=$(free_port) mt5_port=$(free_port) http_port=$(free_port) https_port=$(free_port)
  env "$@" PERMISO_DATA_DIR="$dir/data" PERMISO_PORT="$auth_port" MT5_API_PORT="$mt5_port" \
    PERMISO_EDGE_HTTP_PORT="$http_port" PERMISO_EDGE_HTTPS_PORT="$https_port" \
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
  ca="$dir/data/tls/ca.pem"

  create_bench_client "http://127.0.0.1:$auth_port/api/v1" "$admin_pw" "$scopes"
  TOKENS=$(curl -fs -X POST "http://127.0.0.1:$auth_port/api/v1/auth/token" -d grant_type=client_credentials \
    -d "client_id=$CLIENT_ID" -d "client_secret=$CLIENT_SECRET" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  export TOKENS
}
