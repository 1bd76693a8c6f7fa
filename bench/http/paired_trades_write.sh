#!/usr/bin/env bash
# Paired runs of the durable POST /api/v1/trades benchmark (trades_write.sh, PostgreSQL) of two
# builds, alternating A B A B … so that drift in the machine's state (other load, frequency,
# page cache) falls on both alike. Each run starts its own PostgreSQL and services.
# Usage: bench/http/paired_trades_write.sh BUILD_A BUILD_B [pairs] [connections] [seconds]
# Prints one line per run and each build's means: trades/s, p99, and CPU per trade of mt5-api
# and of the PostgreSQL server (every postgres process).
set -euo pipefail
a=$1
b=$2
pairs=${3:-3}
conns=${4:-64}
secs=${5:-10}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
total_us() { sed -n "s/^$1 .*total_us_per_req=\([0-9.]*\).*/\1/p" <<<"$2"; }
for i in $(seq 1 "$pairs"); do
  for side in A B; do
    build=$a
    [ "$side" = B ] && build=$b
    out=$(bench/http/trades_write.sh "$build" "$conns" "$secs" postgres)
    rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<<"$out")
    p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$out")
    bad=$(sed -n 's/.*unexpected_status=\([0-9]*\) errors=\([0-9]*\).*/\1+\2/p' <<<"$out")
    mt5=$(total_us CPU "$out")
    pg=$(total_us PGCPU "$out")
    echo "$side $rps $p99 $mt5 $pg" >>"$tmp/runs"
    printf 'pair %d %s: %s trades/s, p99 %s ms, µs CPU/trade mt5-api %s postgres %s (unexpected+errors %s)\n' \
      "$i" "$side" "$rps" "$p99" "$mt5" "$pg" "$bad"
  done
done
awk -v a="$a" -v b="$b" '
  { r[$1] += $2; p[$1] += $3; m[$1] += $4; g[$1] += $5; n[$1]++ }
  END {
    for (k = 0; k < 2; k++) {
      side = k == 0 ? "A" : "B"; name = k == 0 ? a : b
      printf "mean %s (%s): %.0f trades/s, p99 %.1f ms, µs CPU/trade mt5-api %.1f postgres %.1f (sum %.1f) over %d runs\n",
        side, name, r[side] / n[side], p[side] / n[side], m[side] / n[side], g[side] / n[side],
        (m[side] + g[side]) / n[side], n[side]
    }
  }' "$tmp/runs"
