# Sourced by the mt5-api benchmarks (trades_read.sh, trades_write.sh): starts permiso-auth
# (ES256) and mt5-api in a temp dir, on SQLite or on a throw-away PostgreSQL 15 with fsync on
# (durable), and registers trading clients. Leaves: $base (mt5-api /api/v1), $TOKENS (comma
# list of service tokens, one account each), $auth_base (permiso-auth /api/v1) and
# $admin_password (the bootstrap admin's), cleanup on EXIT. GW_SCOPES (a JSON list's items)
# replaces the clients' scopes (trade:read, trade:open, account:read).
#   start_gateway_stack BUILD_DIR sqlite|postgres CLIENTS [extra mt5-api env assignments...]
set -euo pipefail

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

gw_pids=()
gw_pg_dir=""
gw_cleanup() {
  for pid in "${gw_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${gw_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$gw_pg_dir" ] && scripts/pg-server stop "$gw_pg_dir"
  rm -rf "$gw_tmp"
}

gw_wait() {  # NAME URL LOG
  for _ in $(seq 1 300); do
    curl -fs "$2/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$1 did not start; its log:" >&2
  tail -30 "$3" >&2
  exit 1
}

start_gateway_stack() {
  local build=$1 db=$2 clients=$3
  shift 3
  local auth_bin="$build/apps/permiso-auth/permiso-auth" mt5_bin="$build/apps/mt5-api/mt5-api"
  [ -x "$auth_bin" ] || { echo "build $auth_bin first (make build)" >&2; exit 1; }
  [ -x "$mt5_bin" ] || { echo "build $mt5_bin first (make build)" >&2; exit 1; }
  gw_tmp=$(mktemp -d)
  trap gw_cleanup EXIT
  local auth_port mt5_port auth_db mt5_db admin_pw='Bench-Admin-1!' svc_secret
  auth_port=$(free_port)
  mt5_port=$(free_port)
  svc_secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  auth_db="sqlite:///$gw_tmp/auth/permiso.db"
  mt5_db="sqlite:///$gw_tmp/mt5/mt5.db"
  mkdir -p "$gw_tmp/auth" "$gw_tmp/mt5"
  if [ "$db" = postgres ]; then
    gw_pg_dir=$(mktemp -d /tmp/permiso-bench-pg-XXXXXX)
    local url pgport
    url=$(PG_FSYNC=on scripts/pg-server start "$gw_pg_dir" 2>/dev/null)
    pgport=${url##*:}
    pgport=${pgport%%/*}
    for name in permiso_auth permiso_mt5; do
      /usr/lib/postgresql/15/bin/createdb -h 127.0.0.1 -p "$pgport" -U postgres "$name"
    done
    auth_db="postgresql://postgres@127.0.0.1:$pgport/permiso_auth"
    mt5_db="postgresql://postgres@127.0.0.1:$pgport/permiso_mt5"
  fi

  env PERMISO_ENV=development PERMISO_DATA_DIR="$gw_tmp/auth" PERMISO_PORT="$auth_port" \
    PERMISO_CONFIG_DIR="$PWD/config" DATABASE_URL="$auth_db" JWT_ALGORITHM=ES256 \
    LOG_LEVEL=WARNING RATE_LIMIT_API=100000000/second RATE_LIMIT_SERVICE_TOKEN=100000000/second \
    MT5_SERVICE_CLIENT_SECRET="$svc_secret" PERMISO_BOOTSTRAP_ADMIN_PASSWORD="$admin_pw" \
    "$auth_bin" serve >"$gw_tmp/auth.log" 2>&1 &
  gw_pids+=($!)
  gw_wait permiso-auth "http://127.0.0.1:$auth_port" "$gw_tmp/auth.log"

  env PERMISO_ENV=development PERMISO_DATA_DIR="$gw_tmp/mt5" PERMISO_CONFIG_DIR="$PWD/config" \
    MT5_API_HOST=127.0.0.1 MT5_API_PORT="$mt5_port" PERMISO_AUTH_URL="http://127.0.0.1:$auth_port" \
    MT5_DATABASE_URL="$mt5_db" JWT_ALGORITHM=ES256 MT5_SERVICE_CLIENT_SECRET="$svc_secret" \
    MT5_BROKER=simulator MT5_SIM_SEED=1 MT5_DEMO_DEPOSIT=1000000000 LOG_LEVEL=WARNING \
    RATE_LIMIT_API=100000000/second "$@" \
    "$mt5_bin" serve >"$gw_tmp/mt5.log" 2>&1 &
  gw_pids+=($!)
  gw_wait mt5-api "http://127.0.0.1:$mt5_port" "$gw_tmp/mt5.log"

  local auth="http://127.0.0.1:$auth_port/api/v1" admin created id secret token i
  admin=$(json_field "$(curl -fs -X POST "$auth/auth/token" -d username=admin -d "password=$admin_pw")" access_token)
  TOKENS=""
  for i in $(seq 1 "$clients"); do
    id="bench-trader-$i"
    created=$(curl -fs -X POST "$auth/admin/service-clients" -H "Authorization: Bearer $admin" \
      -H 'Content-Type: application/json' \
      -d "{\"client_id\":\"$id\",\"name\":\"bench\",\"access_token_lifetime\":86400,\"scope_ids\":[${GW_SCOPES:-\"trade:read\",\"trade:open\",\"account:read\"}]}")
    secret=$(json_field "$created" client_secret)
    token=$(json_field "$(curl -fs -X POST "$auth/auth/service-token" -d "client_id=$id" -d "client_secret=$secret")" access_token)
    TOKENS="${TOKENS:+$TOKENS,}$token"
  done
  export TOKENS
  base="http://127.0.0.1:$mt5_port/api/v1"
  auth_base=$auth
  admin_password=$admin_pw
}

# measure_gateway MODE TITLE CONNECTIONS SECONDS: warms up, then runs bench/http/trades.lua in
# MODE against the stack's mt5-api and prints its RESULT and mt5-api's CPU per request.
measure_gateway() {
  local mode=$1 title=$2 conns=$3 secs=$4 t0 result
  export MODE=$mode
  wrk -t2 -c"$conns" -d2s -s bench/http/trades.lua "${base%/api/v1}" >/dev/null
  echo "$title, $conns connections, ${secs}s, wrk -t2 on the same $(nproc)-core machine"
  source bench/http/cpu.sh
  t0=$(cpu_times "${gw_pids[-1]}")  # mt5-api, started last by start_gateway_stack
  result=$(run_wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/trades.lua "${base%/api/v1}" | grep RESULT)
  echo "$result"
  cpu_per_request "${gw_pids[-1]}" "$t0" "$result"
}
