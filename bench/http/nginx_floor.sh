#!/usr/bin/env bash
# The floor for a protected read: nginx answering a fixed body from memory (no upstream, no
# logging), measured like our services: wrk on the same machine, nginx's CPU per request summed
# over its workers from /proc/<pid>/stat. Usage:
#   [ACCESS_LOG=on] [WRK_BATCH=1] bench/http/nginx_floor.sh [connections] [seconds] [body]   (body: "[]")
# ACCESS_LOG=on writes nginx's default access log line per request (one write(2) each), as
# a front door does; off by default, like the services under benchmark (LOG_LEVEL=WARNING).
set -euo pipefail
conns=${1:-64}
secs=${2:-10}
body=${3:-[]}
cd "$(dirname "$0")/../.."
command -v nginx >/dev/null || { echo "nginx is missing (scripts/bootstrap)" >&2; exit 1; }
tmp=$(mktemp -d)
access_log=off
[ "${ACCESS_LOG:-off}" = on ] && access_log="$tmp/access.log"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/nginx.conf" <<CONF
worker_processes $(nproc);
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
events { worker_connections 8192; }
http {
  access_log $access_log;
  keepalive_requests 1000000;
  client_body_temp_path $tmp;
  server {
    listen 127.0.0.1:$port;
    location / { default_type application/json; return 200 '$body'; }
  }
}
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf"
trap 'nginx -p "$tmp" -c "$tmp/nginx.conf" -s quit 2>/dev/null || true; sleep 0.2; rm -rf "$tmp"' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
workers() { pgrep -P "$(cat "$tmp/nginx.pid")"; }
cpu_all() { for w in $(workers); do awk '{print $14, $15}' "/proc/$w/stat"; done | awk '{u += $1; s += $2} END {print u, s}'; }
wrk -t2 -c"$conns" -d2s -s bench/http/get.lua "http://127.0.0.1:$port/" >/dev/null
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///') fixed '$body', access log ${ACCESS_LOG:-off}, $conns connections, ${secs}s, wrk -t2 on the same $(nproc)-core machine"
source bench/http/cpu.sh
t0=$(cpu_all)
result=$(run_wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/get.lua "http://127.0.0.1:$port/" | grep RESULT)
echo "$result"
cpu_ticks_per_request "nginx workers" "$t0" "$(cpu_all)" "$result"
