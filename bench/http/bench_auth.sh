# Sourced by the benchmarks that drive permiso-auth.

# start_permiso_auth BIN DATA_DIR PORT ADMIN_PASSWORD [VAR=value ...]: starts BIN serve in the
# background (development profile, limits out of the way, warnings only, the extra variables
# on top), sets `pid` and returns once /health answers.
start_permiso_auth() {
  local bin=$1 dir=$2 port=$3 admin_pw=$4
  shift 4
  env PERMISO_ENV=development PERMISO_DATA_DIR="$dir" PERMISO_PORT="$port" PERMISO_CONFIG_DIR="$PWD/config" \
    LOG_LEVEL=WARNING RATE_LIMIT_API=100000000/second RATE_LIMIT_SERVICE_TOKEN=100000000/second \
    PERMISO_BOOTSTRAP_ADMIN_PASSWORD="$admin_pw" "$@" "$bin" serve >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && return 0; sleep 0.1; done
  echo "permiso-auth did not start: $dir/server.log" >&2
  return 1
}

# create_bench_client BASE ADMIN_PASSWORD [SCOPES]: signs in as the bootstrap admin at BASE
# (…/api/v1), creates the service client bench-client (SCOPES, JSON strings comma-separated,
# default "trade:read"; no per-client limit) and exports CLIENT_ID and CLIENT_SECRET for
# bench/http/client_credentials.lua.
create_bench_client() {
  local base=$1 admin_pw=$2 scopes=${3:-'"trade:read"'} admin created
  admin=$(curl -fs -X POST "$base/auth/token" -d username=admin -d "password=$admin_pw" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  created=$(curl -fs -X POST "$base/admin/service-clients" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' \
    -d '{"client_id":"bench-client","name":"bench","scope_ids":['"$scopes"'],"rate_limit_per_minute":null}')
  export CLIENT_ID=bench-client
  CLIENT_SECRET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_secret"])' "$created")
  export CLIENT_SECRET
}

# start_token_bench BUILD_DIR ALG: the client-credentials benchmarks' server. Starts BUILD_DIR's
# permiso-auth signing with ALG in a temp dir (stopped and removed on exit) and creates the
# bench client; sets pid, tmp and base (…/api/v1), and exports CLIENT_ID and CLIENT_SECRET.
start_token_bench() {
  local bin="$1/apps/permiso-auth/permiso-auth" alg=$2 port admin_pw='Bench-Admin-1!'
  [ -x "$bin" ] || { echo "build $bin first (make build)" >&2; exit 1; }
  tmp=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
  start_permiso_auth "$bin" "$tmp" "$port" "$admin_pw" JWT_ALGORITHM="$alg"
  base="http://127.0.0.1:$port/api/v1"
  create_bench_client "$base" "$admin_pw"
}
