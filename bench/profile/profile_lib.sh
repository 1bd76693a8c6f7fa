# shellcheck shell=bash
# Sourced by the profiles (token.sh, read.sh, threads_paired.sh): CPU per request by thread
# around a run without perf attached, then the same load with perf sampling the server's
# stacks, drawn as a flame graph (bench/profile/flamegraph.py) beside perf's flat profile by
# library.

source bench/http/cpu.sh  # requests_in

# thread_cpu PID: "tid utime+stime" per thread, in clock ticks.
thread_cpu() { for t in /proc/"$1"/task/*; do echo "$(basename "$t") $(awk '{print $14 + $15}' "$t/stat")"; done; }

# cpu_by_thread REQUESTS BEFORE AFTER: µs of CPU per request by thread, and the total.
cpu_by_thread() {
  join "$2" "$3" | awk -v n="$1" -v hz="$(getconf CLK_TCK)" '
    { d = ($3 - $2) / hz * 1e6 / n; s += d; if (d >= 0.05) printf "  thread %s  %.1f\n", $1, d }
    END { printf "  total      %.1f\n", s }'
}

# run_by_thread PID SECONDS OUT -- LOAD...: LOAD (a wrk command without -d) for 2 s to warm
# up, then for SECONDS with --latency while the server's CPU by thread is read around it.
# Prints wrk's RESULT line; writes the µs per request by thread (cpu_by_thread) to OUT.
run_by_thread() {
  local pid=$1 secs=$2 out=$3 result
  shift 4
  "$@" -d2s >/dev/null
  thread_cpu "$pid" >"$out.before"
  result=$("$@" -d"${secs}s" --latency | grep RESULT)
  thread_cpu "$pid" >"$out.after"
  cpu_by_thread "$(requests_in "$result")" "$out.before" "$out.after" >"$out"
  echo "$result"
}

# perf_flame PID SECONDS TMP REPORT TITLE ROOTS SVG FOLDED -- LOAD...: runs LOAD in the
# background for SECONDS + 2, samples PID's stacks for SECONDS (DWARF unwinding: Release builds
# keep no frame pointers), appends the share by library to REPORT and draws the flame graph
# (stacks rooted at a frame matching ROOTS).
perf_flame() {
  local pid=$1 secs=$2 tmp=$3 report=$4 title=$5 roots=$6 svg=$7 folded=$8
  shift 9
  "$@" >/dev/null &
  local load=$!
  sleep 1
  perf record -q -F 499 --call-graph dwarf,16384 -o "$tmp/perf.data" -p "$pid" -- sleep "$secs" 2>/dev/null
  wait "$load"
  {
    echo "perf, share of the server's samples by library:"
    perf report -i "$tmp/perf.data" --no-children --sort dso -g none 2>/dev/null | grep -E '^ +[0-9]'
  } >>"$report"
  perf script -i "$tmp/perf.data" 2>/dev/null |
    python3 bench/profile/flamegraph.py --title "$title" --root "$roots" --svg "$svg" --folded "$folded"
}
