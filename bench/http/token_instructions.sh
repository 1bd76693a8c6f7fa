#!/usr/bin/env bash
# Instructions (valgrind callgrind's Ir) permiso-auth executes for N client-credentials tokens
# on one kept-alive connection, start-up and set-up included. Run it for two N and divide the
# difference by their difference: the instructions of one token, a figure that does not move
# with the VM's noise (CPU time per request here varies by ±15% from run to run).
# Usage: bench/http/token_instructions.sh <build-dir> <N>   (prints the total Ir)
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd); n=${2:?N}
tmp=$(mktemp -d); port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cd "$(dirname "$0")/../.."
PERMISO_ENV=development PERMISO_DATA_DIR="$tmp" PERMISO_PORT=$port PERMISO_CONFIG_DIR="$PWD/config" PERMISO_THREADS=1 \
JWT_ALGORITHM=ES256 LOG_LEVEL=WARNING RATE_LIMIT_API=100000000/second RATE_LIMIT_SERVICE_TOKEN=100000000/second \
PERMISO_BOOTSTRAP_ADMIN_PASSWORD='Bench-Admin-1!' \
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$build/apps/permiso-auth/permiso-auth" serve >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
base="http://127.0.0.1:$port/api/v1"
source bench/http/bench_auth.sh
create_bench_client "$base" 'Bench-Admin-1!'
python3 - "$port" "$CLIENT_SECRET" "$n" <<'PY'
import http.client, sys, urllib.parse
port, secret, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "bench-client", "client_secret": secret})
for _ in range(n):
    c.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
kill -TERM $pid; wait $pid 2>/dev/null || true
grep -h "^summary:\|^totals:" "$tmp"/cg.out* | head -1 | awk '{print $2}'
rm -rf "$tmp"
