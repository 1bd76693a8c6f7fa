# shellcheck shell=bash disable=SC2034  # sets variables for the script that sources it
# Sourced by ws_fanout.sh and ws_frontdoor.sh, which take the same command line:
# [build-dir] [seconds] [tick-ms] [N ...]. Sets build, secs, tick and counts (N default 1 10 100).
stream_args() {
  build=${1:-build/release}
  secs=${2:-10}
  tick=${3:-50}
  shift $(($# < 3 ? $# : 3))
  counts=("$@")
  [ ${#counts[@]} -gt 0 ] || counts=(1 10 100)
}
