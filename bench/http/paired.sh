#!/usr/bin/env bash
# Paired CPU-per-request runs of two builds, alternating A B B A A B … so that drift in the
# machine's state (other load, frequency, page cache) falls on both alike: a steady drift
# would favour whichever build always ran first in its pair. PAIRED=token (the
# default) issues client-credentials tokens from permiso-auth (bench/http/token_issuance.sh);
# PAIRED=read reads GET /api/v1/trades from mt5-api (bench/http/trades_read.sh; ALG unused).
# Usage: [PAIRED=token|read] bench/http/paired.sh BUILD_A BUILD_B [pairs] [ALG] [connections] [seconds]
# Prints one line per run and the mean of each build's server CPU per request (user, sys, total).
set -euo pipefail
a=$1
b=$2
pairs=${3:-4}
alg=${4:-ES256}
kind=${PAIRED:-token}
case $kind in
  token) conns=${5:-32} ;;
  read) conns=${5:-64} ;;
  *) echo "PAIRED is token or read" >&2; exit 2 ;;
esac
secs=${6:-10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 "$pairs"); do
  order="A B"
  [ $((i % 2)) = 0 ] && order="B A"
  for side in $order; do
    build=$a
    [ "$side" = B ] && build=$b
    if [ "$kind" = read ]; then
      out=$(bench/http/trades_read.sh "$build" "$conns" "$secs")
    else
      out=$(bench/http/token_issuance.sh "$build" "$alg" "$conns" "$secs")
    fi
    rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<<"$out")
    p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$out")
    cpu=$(grep '^CPU' <<<"$out" | sed 's/.*user_us_per_req=\([0-9.]*\) sys_us_per_req=\([0-9.]*\) total_us_per_req=\([0-9.]*\)/\1 \2 \3/')
    echo "$side $cpu $rps $p99" >>"$tmp/runs"
    read -r user sys total <<<"$cpu"
    printf 'pair %d %s: %s %s/s, p99 %s ms, µs CPU/%s user %s sys %s total %s\n' "$i" "$side" "$rps" "$kind" "$p99" "$kind" \
      "$user" "$sys" "$total"
  done
done
awk -v a="$a" -v b="$b" -v kind="$kind" '
  { u[$1] += $2; s[$1] += $3; t[$1] += $4; r[$1] += $5; n[$1]++ }
  END {
    for (k = 0; k < 2; k++) {
      side = k == 0 ? "A" : "B"; name = k == 0 ? a : b
      printf "mean %s (%s): user %.1f sys %.1f total %.1f µs CPU/%s, %.0f %s/s over %d runs\n",
        side, name, u[side] / n[side], s[side] / n[side], t[side] / n[side], kind, r[side] / n[side], kind, n[side]
    }
  }' "$tmp/runs"
