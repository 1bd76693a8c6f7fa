#!/bin/sh
# Starts/stops a throw-away PostgreSQL 15 server for manual or integration testing.
#   tests/support/pg-server.sh start [DIR]   -> prints postgresql://postgres@127.0.0.1:PORT/postgres
#   tests/support/pg-server.sh stop DIR
# fsync is off (tests need no durability); PG_FSYNC=on keeps it for durable benchmarks.
set -eu
BIN=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-}" in
  start)
    DIR=${2:-$(mktemp -d /tmp/permiso-pg-XXXXXX)}
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$BIN/initdb" -D "$DIR/data" -A trust -U postgres --no-sync >"$DIR/initdb.log" 2>&1
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off}" -w start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$PORT/postgres"
    echo "$DIR" >&2
    ;;
  stop)
    DIR=${2:?usage: pg-server.sh stop DIR}
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$DIR"
    ;;
  *) echo "usage: $0 start [DIR] | stop DIR" >&2; exit 2 ;;
esac
