#!/usr/bin/env bash
# Instruction counts of the default shape: DAEMON under valgrind --tool=callgrind on the shipped
# config/config.json (free loopback ports, admin on, a fresh dataDir), driven by followermaze
# with EVENTS events (default 2,000,000; 100 clients; 10 s for the clients to register, which
# valgrind slows) and stopped by SIGTERM. The counts include
# start-up, the log's writer thread and shutdown; instruction counts barely move between runs,
# so one run of each build compares them (the machine's load does not enter).
#
# usage: bench/callgrind/run.sh DAEMON OUT_FILE [EVENTS]
# Prints the harness's RESULT line and the total; OUT_FILE is the callgrind output
# (callgrind_annotate --inclusive=no OUT_FILE for the functions).
# Environment: HARNESS (default build/followermaze), CONFIG (default config/config.json),
# HARNESS_FLAGS (more followermaze flags, e.g. --chaos-slow-readers=10), TIMEOUT_MS (the
# harness's --timeout, default 120000).
set -euo pipefail
cd "$(dirname "$0")/../.."
DAEMON=${1:?usage: run.sh DAEMON OUT_FILE [EVENTS]}
OUT=${2:?usage: run.sh DAEMON OUT_FILE [EVENTS]}
EVENTS=${3:-2000000}
HARNESS=${HARNESS:-build/followermaze}
CONFIG=${CONFIG:-config/config.json}
# shellcheck source-path=SCRIPTDIR/../.. disable=SC1091
source bench/lib.sh
require_binaries "$DAEMON" "$HARNESS"
read -r -a harness_flags <<<"${HARNESS_FLAGS:-}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
event_port="" client_port="" admin_port=""
pick_ports event_port client_port admin_port
loopback_config "$CONFIG" "$work/config.json" "$event_port" "$client_port" "$admin_port" "$work/data"
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$DAEMON" -config "$work/config.json" >"$work/daemon.log" 2>&1 &
pid=$!
wait_listening "$work/daemon.log" 180 || true
"$HARNESS" --eventListenerPort="$event_port" --clientListenerPort="$client_port" --totalEvents="$EVENTS" \
  --timeout="${TIMEOUT_MS:-120000}" --settle=10000 "${harness_flags[@]}" | tee "$work/harness.log" | grep -E '^RESULT|ALL NOTIFICATIONS' || { echo "run.sh: the harness failed; daemon log:" >&2; tail -n 5 "$work/daemon.log" "$work/harness.log" >&2; kill -TERM "$pid"; exit 1; }
kill -TERM "$pid"
wait "$pid" || true
grep -E '^(summary|totals):' "$OUT" | head -1
