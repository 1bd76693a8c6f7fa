#!/usr/bin/env bash
# What the audit trail costs in storage per issued token: issues tokens with wrk for a few
# seconds against permiso-auth, then measures the audit_events table and its indexes and
# divides by the rows written. SQLite: the file shrinks by that much when the rows go and the
# database is vacuumed. PostgreSQL (a throw-away server from scripts/pg-server):
# pg_total_relation_size. Usage: bench/audit/storage_per_token.sh [build-dir] [sqlite|postgresql] [seconds]
set -euo pipefail
build=${1:-build/release}
backend=${2:-sqlite}
secs=${3:-5}
bin="$build/apps/permiso-auth/permiso-auth"
[ -x "$bin" ] || { echo "build $bin first (make build)" >&2; exit 1; }
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin_pw='Bench-Admin-1!'
pid='' pgdir=''
cleanup() {
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  [ -n "$pgdir" ] && scripts/pg-server stop "$pgdir"
  rm -rf "$tmp"
}
trap cleanup EXIT

db_url="sqlite://$tmp/permiso.db"
if [ "$backend" = postgresql ]; then
  pgdir=$(mktemp -d /tmp/permiso-pg-XXXXXX)  # outside $tmp, which the postgres user cannot enter
  db_url=$(scripts/pg-server start "$pgdir" 2>/dev/null)
fi
source bench/http/bench_auth.sh
start_permiso_auth "$bin" "$tmp" "$port" "$admin_pw" DATABASE_URL="$db_url" JWT_ALGORITHM=ES256

base="http://127.0.0.1:$port/api/v1"
create_bench_client "$base" "$admin_pw"
wrk -t2 -c16 -d"${secs}s" -s bench/http/client_credentials.lua "$base/auth/token" >/dev/null
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=''  # a clean stop flushes the audit writer

if [ "$backend" = postgresql ]; then
  read -r rows tokens bytes < <(psql -At -F' ' "$db_url" -c \
    "SELECT count(*), count(*) FILTER (WHERE action = 'token.issue'), pg_total_relation_size('audit_events')
     FROM audit_events")
else
  db="$tmp/permiso.db"
  sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE); VACUUM;' >/dev/null
  read -r rows tokens < <(sqlite3 -separator ' ' "$db" \
    "SELECT count(*), sum(action = 'token.issue') FROM audit_events")
  full=$(stat -c %s "$db")
  sqlite3 "$db" 'DELETE FROM audit_events; VACUUM;'
  bytes=$((full - $(stat -c %s "$db")))
fi
echo "permiso-auth on $backend: $tokens tokens issued, $rows audit rows, $bytes bytes of audit table and indexes"
python3 -c "import sys; r,t,b=map(int,sys.argv[1:]); print(f'{b/r:.0f} bytes per audit row; {b/t:.0f} bytes per issued token; 1 million tokens a day for 90 days: {b/t*90e6/2**30:.1f} GiB')" \
  "$rows" "$tokens" "$bytes"
