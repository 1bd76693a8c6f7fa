#!/usr/bin/env bash
# The issue's peer for token issuance, measured as bench/http/token_issuance.sh measures
# permiso-auth: node-oidc-provider (bench/peers/oidc-provider, npm) issuing ES256 JWT access
# tokens by client credentials (client_secret_post), WORKERS node processes (default: one per
# core), wrk -t2 on the same machine; CPU per token sums every node process.
# Usage: bench/peers/oidc_provider.sh [connections] [seconds]
set -euo pipefail
conns=${1:-32}
secs=${2:-10}
cd "$(dirname "$0")/../.."
dir=bench/peers/oidc-provider
command -v node >/dev/null || { echo "needs node (Node.js 20 or later)" >&2; exit 1; }
[ -d "$dir/node_modules/oidc-provider" ] || (cd "$dir" && npm ci --no-audit --no-fund --silent)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CLIENT_ID=bench-client CLIENT_SECRET
CLIENT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
log=$(mktemp)
PORT=$port node "$dir/server.js" >"$log" 2>&1 &
pid=$!
trap 'pkill -P $pid 2>/dev/null; kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT
url="http://127.0.0.1:$port/token"
issued=false
for _ in $(seq 1 100); do
  if curl -fs -X POST "$url" -d "grant_type=client_credentials&client_id=$CLIENT_ID&client_secret=$CLIENT_SECRET&scope=trade:read" |
    grep -q '"access_token":"eyJ'; then
    issued=true
    break
  fi
  sleep 0.1
done
$issued || { echo "node-oidc-provider did not issue a token: $(cat "$log")" >&2; exit 1; }

# utime and stime, in clock ticks, of the primary and every worker.
node_cpu() { cat "/proc/$pid/stat" $(pgrep -P "$pid" | sed 's|.*|/proc/&/stat|') | awk '{u += $14; s += $15} END {print u, s}'; }
wrk -t2 -c"$conns" -d2s -s bench/http/client_credentials.lua "$url" >/dev/null
echo "node-oidc-provider $(node -p 'require("./'"$dir"'/node_modules/oidc-provider/package.json").version') ES256" \
  "client_credentials, $(pgrep -cP "$pid") workers, node $(node --version), $conns connections, ${secs}s, wrk -t2 on the same $(nproc)-core machine"
source bench/http/cpu.sh
t0=$(node_cpu)
result=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/client_credentials.lua "$url" | grep RESULT)
echo "$result"
cpu_ticks_per_request node "$t0" "$(node_cpu)" "$result"
