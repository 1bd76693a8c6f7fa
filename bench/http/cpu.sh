# shellcheck shell=bash
# Server CPU time per request around a wrk run, sourced by the HTTP benchmarks. It does not
# depend on how the load generator shares the cores with the server, unlike throughput.
#   t0=$(cpu_times "$pid"); result=$(wrk … | grep RESULT); cpu_per_request "$pid" "$t0" "$result"
# prints "CPU pid=… user_us_per_req=… sys_us_per_req=… total_us_per_req=…".

# wrk for a measured run: as usual, or with WRK_BATCH=1 under SCHED_BATCH (`chrt -b 0`), so that
# its threads, woken by answers, do not preempt the server's (bench/profile/preemption.sh and
# docs/benchmarks.md: on 2 shared cores that preemption is part of the server's kernel time).
run_wrk() {
  if [ "${WRK_BATCH:-0}" = 1 ]; then chrt -b 0 wrk "$@"; else wrk "$@"; fi
}

# requests_in RESULT: the request count of wrk's RESULT line (the last one, if several).
requests_in() { sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$1" | tail -1; }

# utime and stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat; the
# command name in field 2 has no spaces for our binaries).
cpu_times() { awk '{print $14, $15}' "/proc/$1/stat"; }

cpu_per_request() {
  local pid=$1 before=$2 result=$3
  cpu_ticks_per_request "pid=$pid" "$before" "$(cpu_times "$pid")" "$result"
}

# cpu_ticks_per_request WHO BEFORE AFTER RESULT: the same line for any "utime stime" tick pair
# (a process group's sum, say), "CPU WHO user_us_per_req=… sys_us_per_req=… total_us_per_req=…".
cpu_ticks_per_request() {
  local who=$1 before=$2 after=$3 result=$4 requests
  requests=$(requests_in "$result")
  awk -v b="$before" -v a="$after" -v n="$requests" -v hz="$(getconf CLK_TCK)" -v who="$who" 'BEGIN {
    split(b, x, " "); split(a, y, " ");
    if (n == 0) { print "CPU no requests"; exit }
    u = (y[1] - x[1]) / hz * 1e6 / n; s = (y[2] - x[2]) / hz * 1e6 / n;
    printf "CPU %s user_us_per_req=%.1f sys_us_per_req=%.1f total_us_per_req=%.1f\n", who, u, s, u + s }'
}

# utime and stime of a whole PostgreSQL server, in clock ticks: the postmaster, every process it
# has now (backends, walwriter, checkpointer, ...), and its cutime and cstime (children it has
# reaped: backends that ended between two readings still count). DATA_DIR holds postmaster.pid.
pg_cpu_times() {
  local postmaster
  postmaster=$(head -1 "$1/postmaster.pid")
  # A process may end between the glob and its read: awk skips the file it cannot open.
  awk -v pm="$postmaster" '
    FNR == 1 && ($1 == pm || $4 == pm) { u += $14; s += $15; if ($1 == pm) { u += $16; s += $17 } }
    END { print u + 0, s + 0 }' /proc/[0-9]*/stat 2>/dev/null || true
}

# Like cpu_per_request, for pg_cpu_times readings: prints "PGCPU user_us_per_req=… …" (not
# "CPU": bench/suite.py reads a "CPU" line as the service's own).
pg_cpu_per_request() {
  local dir=$1 before=$2 result=$3 after requests
  after=$(pg_cpu_times "$dir")
  requests=$(requests_in "$result")
  awk -v b="$before" -v a="$after" -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(b, x, " "); split(a, y, " ");
    if (n == 0) { print "PGCPU no requests"; exit }
    u = (y[1] - x[1]) / hz * 1e6 / n; s = (y[2] - x[2]) / hz * 1e6 / n;
    printf "PGCPU user_us_per_req=%.1f sys_us_per_req=%.1f total_us_per_req=%.1f\n", u, s, u + s }'
}
