#!/usr/bin/env bash
# The 10,000-client shape against its floor, in the same round: followermaze
# --concurrencyLevel=10000 --numberOfUsers=100000 (10M events) against DAEMON on the shipped
# config, then bench/floor/floor moving the same bytes over 10,000 loopback connections with one
# write per client per clientWriteDelayMs, its source paced over the daemon run's wall time
# (FLOOR_PACE=1). bench/floor/run.sh does the work; OLD_DAEMON interleaves a second daemon.
#
# usage: bench/floor/run_10k.sh DAEMON [ROUNDS]     (default 3 rounds)
# Environment: as bench/floor/run.sh; EVENTS (default 10000000) sets --totalEvents.
# Descriptors: each side holds 10,000 sockets, so the harness and the floor's drive run as
# processes apart from the daemon and the floor's serve; the hard limit must be >= 10,100.
set -euo pipefail
cd "$(dirname "$0")/../.."
hard=$(ulimit -Hn)
if [[ "$hard" != unlimited ]] && ((hard < 10100)); then
  echo "run_10k.sh: 10,000 clients need about 10,100 open files per process; the hard limit is $hard" >&2
  exit 2
fi
ulimit -Sn "$hard"
export FLOOR_PACE=1
export HARNESS_ARGS="--concurrencyLevel=10000 --numberOfUsers=100000 --totalEvents=${EVENTS:-10000000} ${HARNESS_ARGS:-}"
exec bash bench/floor/run.sh "${1:?usage: run_10k.sh DAEMON [ROUNDS]}" "${2:-3}"
