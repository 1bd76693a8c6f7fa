#!/usr/bin/env bash
# CPU per client-credentials token by server thread, two builds alternating A B B A … (as
# bench/http/paired.sh, which gives only the process's total). Shows a change confined to one
# thread, the audit writer say, that the whole token's run-to-run spread would hide.
# Prints per run: the build, wrk's RESULT, then µs per token by thread (ascending) and the total.
# Usage: bench/profile/threads_paired.sh BUILD_A BUILD_B [pairs] [ALG] [connections] [seconds]
set -euo pipefail
a=$1
b=$2
pairs=${3:-4}
alg=${4:-ES256}
conns=${5:-32}
secs=${6:-8}
cd "$(dirname "$0")/../.."
one_run() {
  local build=$1 result
  source bench/http/bench_auth.sh
  source bench/profile/profile_lib.sh
  start_token_bench "$build" "$alg" >/dev/null 2>&1
  result=$(run_by_thread "$pid" "$secs" "$tmp/threads" -- \
    wrk -t2 -c"$conns" -s bench/http/client_credentials.lua "$base/auth/token")
  echo "$build ${result% requests=*} µs/token by thread:" \
    "$(awk '$1 == "thread" { print $3 }' "$tmp/threads" | sort -n | tr '\n' ' ')total $(awk '$1 == "total" { print $2 }' "$tmp/threads")"
}
for i in $(seq 1 "$pairs"); do
  order=("$a" "$b")
  [ $((i % 2)) = 0 ] && order=("$b" "$a")  # a steady drift falls on both alike
  for build in "${order[@]}"; do
    (one_run "$build")  # a subshell each: start_token_bench stops its server on exit
  done
done
