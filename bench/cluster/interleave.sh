#!/usr/bin/env bash
# Two daemons on one set-up of bench/cluster/run.sh, interleaved: ROUNDS rounds of it with
# DAEMON=OLD and DAEMON=NEW in turn, the order alternating (OLD first in odd rounds), so that
# the load of a shared machine falls on both alike. One line per run ("old round=N" then
# run.sh's line: wall, p99, client writes, CPU of every process); take medians from them.
#
# usage: bench/cluster/interleave.sh OLD_DAEMON NEW_DAEMON [ROUNDS]   (default 5 rounds)
# Environment: SETUP (one of run.sh's set-ups, default r1-1edge), and run.sh's BENCH_EVENTS,
#              BENCH_CLIENTS, BENCH_RATE (BENCH_RATE=1000000 SETUP=standalone: a paced source).
set -euo pipefail
cd "$(dirname "$0")/../.."
OLD=${1:?usage: interleave.sh OLD_DAEMON NEW_DAEMON [ROUNDS]}
NEW=${2:?usage: interleave.sh OLD_DAEMON NEW_DAEMON [ROUNDS]}
ROUNDS=${3:-5}
SETUP=${SETUP:-r1-1edge}
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
for round in $(seq "$ROUNDS"); do
  if ((round % 2)); then order="old new"; else order="new old"; fi
  for which in $order; do
    if [[ $which == old ]]; then daemon=$OLD; else daemon=$NEW; fi
    line=$(DAEMON=$daemon BENCH_SETUPS=$SETUP BENCH_ROUNDS=1 RESULTS_DIR=$results bench/cluster/run.sh |
      grep " round 1:" | sed -E 's/^ +[^ ]+ round 1: //')
    echo "$which round=$round $line"
  done
done
