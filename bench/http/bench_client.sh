# Sourced by the benchmarks: create_bench_client BASE ADMIN_PASSWORD signs in as the bootstrap
# admin at BASE (…/api/v1), creates the service client bench-client (trade:read, no per-client
# limit) and exports CLIENT_ID and CLIENT_SECRET for bench/http/client_credentials.lua.
create_bench_client() {
  local base=$1 admin_pw=$2 admin created
  admin=$(curl -fs -X POST "$base/auth/token" -d username=admin -d "password=$admin_pw" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  created=$(curl -fs -X POST "$base/admin/service-clients" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' \
    -d '{"client_id":"bench-client","name":"bench","scope_ids":["trade:read"],"rate_limit_per_minute":null}')
  export CLIENT_ID=bench-client
  CLIENT_SECRET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_secret"])' "$created")
  export CLIENT_SECRET
}
