#!/usr/bin/env bash
# How often wrk's wakeups preempt permiso-auth, and what that costs a token: the server's
# context switches per token by thread (voluntary: it waited; involuntary: it was preempted)
# and its user and system CPU per token, with wrk as usual and then with wrk under SCHED_BATCH
# (`chrt -b 0`: a woken wrk thread no longer preempts the one running). Same machine, same
# build, alternating. Usage: bench/profile/preemption.sh [build-dir] [ALG] [connections] [seconds] [rounds]
set -euo pipefail
build=${1:-build/release}
alg=${2:-ES256}
conns=${3:-32}
secs=${4:-8}
rounds=${5:-2}
source bench/http/bench_auth.sh
source bench/http/cpu.sh
start_token_bench "$build" "$alg"
wrk -t2 -c"$conns" -d2s -s bench/http/client_credentials.lua "$base/auth/token" >/dev/null

# tid, then voluntary and involuntary switches and utime+stime ticks of each thread.
threads() {
  for t in /proc/"$pid"/task/*; do
    echo "$(basename "$t") $(awk '/^voluntary_ctxt/{v=$2} /^nonvoluntary_ctxt/{n=$2} END{print v, n}' "$t/status")" \
      "$(awk '{print $14 + $15}' "$t/stat")"
  done | sort
}

measure() {
  local label=$1 before after t0 result
  shift
  before=$(threads)
  t0=$(cpu_times "$pid")
  result=$("$@" wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/http/client_credentials.lua "$base/auth/token" |
    grep RESULT)
  after=$(threads)
  echo "wrk $label: $result"
  cpu_per_request "$pid" "$t0" "$result"
  join <(echo "$before") <(echo "$after") | awk -v n="$(requests_in "$result")" \
    -v hz="$(getconf CLK_TCK)" '{ v = $5 - $2; i = $6 - $3; c = $7 - $4
      if (c > 0) printf "  thread %s: %.3f voluntary, %.3f involuntary switches per token, %.1f us CPU per token\n",
        $1, v / n, i / n, c / hz * 1e6 / n }'
}

echo "permiso-auth $alg client_credentials, $conns connections, ${secs}s windows, $(nproc) cores, $rounds rounds"
for _ in $(seq 1 "$rounds"); do
  measure "as usual" env
  measure "under SCHED_BATCH" chrt -b 0
done
