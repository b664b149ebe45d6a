#!/usr/bin/env bash
# Two daemons against the I/O floor, interleaved: ROUNDS rounds of bench/floor/run.sh DAEMON 1
# for OLD and NEW in turn, the order alternating (OLD first in odd rounds), so that the load
# of a shared machine falls on both alike. One line per run ("old round=N ..." then run.sh's
# figures); take medians and per-round ratios from them.
#
# usage: bench/default/interleave.sh OLD_DAEMON NEW_DAEMON [ROUNDS]   (default 7 rounds)
# Environment: as bench/floor/run.sh (HARNESS, HARNESS_ARGS, CONFIG, FLOOR).
set -euo pipefail
cd "$(dirname "$0")/../.."
OLD=${1:?usage: interleave.sh OLD_DAEMON NEW_DAEMON [ROUNDS]}
NEW=${2:?usage: interleave.sh OLD_DAEMON NEW_DAEMON [ROUNDS]}
ROUNDS=${3:-7}
for round in $(seq "$ROUNDS"); do
  if ((round % 2)); then order="old new"; else order="new old"; fi
  for which in $order; do
    if [[ $which == old ]]; then daemon=$OLD; else daemon=$NEW; fi
    echo "$which round=$round $(bench/floor/run.sh "$daemon" 1 | head -n 1)"
  done
done
