#!/usr/bin/env bash
# Paired CPU-per-token runs of two permiso-auth builds, alternating A B A B … so that drift in
# the machine's state (other load, frequency, page cache) falls on both alike.
# Usage: bench/http/paired.sh BUILD_A BUILD_B [pairs] [ALG] [connections] [seconds]
# Prints one line per run and the mean of each build's server CPU per token (user, sys, total).
set -euo pipefail
a=$1
b=$2
pairs=${3:-4}
alg=${4:-ES256}
conns=${5:-32}
secs=${6:-10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 "$pairs"); do
  for side in A B; do
    build=$a
    [ "$side" = B ] && build=$b
    out=$(bench/http/token_issuance.sh "$build" "$alg" "$conns" "$secs")
    rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<<"$out")
    p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$out")
    cpu=$(grep '^CPU' <<<"$out" | sed 's/.*user_us_per_req=\([0-9.]*\) sys_us_per_req=\([0-9.]*\) total_us_per_req=\([0-9.]*\)/\1 \2 \3/')
    echo "$side $cpu $rps $p99" >>"$tmp/runs"
    printf 'pair %d %s: %s tokens/s, p99 %s ms, µs CPU/token user %s sys %s total %s\n' "$i" "$side" "$rps" "$p99" $cpu
  done
done
awk -v a="$a" -v b="$b" '
  { u[$1] += $2; s[$1] += $3; t[$1] += $4; r[$1] += $5; n[$1]++ }
  END {
    for (k = 0; k < 2; k++) {
      side = k == 0 ? "A" : "B"; name = k == 0 ? a : b
      printf "mean %s (%s): user %.1f sys %.1f total %.1f µs CPU/token, %.0f tokens/s over %d runs\n",
        side, name, u[side] / n[side], s[side] / n[side], t[side] / n[side], r[side] / n[side], n[side]
    }
  }' "$tmp/runs"
