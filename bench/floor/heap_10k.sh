#!/usr/bin/env bash
# One run of the 10k-client shape (followermaze --concurrencyLevel=10000 --numberOfUsers=100000)
# against DAEMON on the shipped config with a fresh dataDir; prints the daemon's peak RSS (VmHWM)
# and the harness's RESULT line. With WRAP=heaptrack the daemon runs under heaptrack and its
# profile goes to OUT.zst (heaptrack_print -f OUT.zst --print-peaks 1 for where the heap is).
#
# usage: bench/floor/heap_10k.sh DAEMON OUT [EVENTS]     (EVENTS default 2000000)
#   WRAP (heaptrack or empty), HARNESS (default build/followermaze)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source-path=SCRIPTDIR/../.. disable=SC1091
source bench/lib.sh
daemon=${1:?usage: heap_10k.sh DAEMON OUT [EVENTS]}
out=${2:?usage: heap_10k.sh DAEMON OUT [EVENTS]}
events=${3:-2000000}
harness=${HARNESS:-build/followermaze}
require_binaries "$daemon" "$harness"
ulimit -Sn "$(ulimit -Hn)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ep="" cp="" ap=""
pick_ports ep cp ap
loopback_config config/config.json "$work/config.json" "$ep" "$cp" "$ap" "$work/data"
if [[ "${WRAP:-}" == heaptrack ]]; then
  heaptrack -o "$out" "$daemon" -config "$work/config.json" >"$work/daemon.log" 2>&1 &
else
  "$daemon" -config "$work/config.json" >"$work/daemon.log" 2>&1 &
fi
pid=$!
dpid=$(wrapped_daemon_pid "$daemon" "$work/config.json" "$work/daemon.log" "$pid")
"$harness" --eventListenerPort="$ep" --clientListenerPort="$cp" --totalEvents="$events" --concurrencyLevel=10000 \
  --numberOfUsers=100000 --daemonPid="$dpid" --timeout=600000 >"$work/harness.log" 2>&1 || true
grep VmHWM "/proc/$dpid/status" || true
kill -TERM "$dpid"
wait "$pid" || true
grep -E '^RESULT|ALL NOTIFICATIONS' "$work/harness.log"
