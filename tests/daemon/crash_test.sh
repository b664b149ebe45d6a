#!/bin/sh
# The short version of `make crash`: the daemon killed with SIGKILL 3 times in a 300k-event
# followermaze run (paced at 100k events/s, so the kills land mid-stream) and restarted on the
# same data directory; passes when the harness (--survive-restarts) verifies every notification
# exactly once, in order. Loopback, free ports, everything in a temp dir removed at the end.
# usage: crash_test.sh SOURCE_DIR EVENTSERVER FOLLOWERMAZE
# Exit 77 (skipped) when the daemon has no event log yet (it refuses the `dataDir` key).
set -eu
source_dir=$1
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
DAEMON=$2 HARNESS=$3 RESULTS_DIR=$results CRASH_KILLS=${CRASH_KILLS:-3} CRASH_EVENTS=${CRASH_EVENTS:-300000} \
  CRASH_RATE=${CRASH_RATE:-100000} CRASH_CLIENTS=${CRASH_CLIENTS:-50} CRASH_FSYNC=${CRASH_FSYNC:-interval} \
  CRASH_DOWN_MS=${CRASH_DOWN_MS:-200} CRASH_TIMEOUT=${CRASH_TIMEOUT:-240} \
  bash "$source_dir/bench/crash/run.sh" || status=$?
[ "$status" -ne 3 ] || exit 77
[ ! -f "$results/crash.md" ] || cat "$results/crash.md"
exit "$status"
