#!/usr/bin/env bash
# bench/cluster/clients.sh in small (300 connections, 3 harness processes, 20,000 events): one
# followermaze process sends the stream, two others (--observe) verify their share of the users
# from the stream they generate themselves; all three spread their connections over three edges.
# The sender settles 1.5 s before its first event: the window in which the script sees the edges
# hold every connection at once. Passes when the script does (every harness process verified
# every notification it was owed, and together every line the edges delivered) and its results
# show every connection held and all three processes passed, each having verified notifications.
# usage: clients_test.sh SOURCE_DIR EVENTSERVER FOLLOWERMAZE
# Exit 77 (skipped) when nats-server is not installed.
set -euo pipefail
cd "$1"
if ! command -v nats-server >/dev/null; then
  [[ -z "${CI:-}" ]] || { echo "nats-server is not installed (the Makefile installs it)"; exit 1; }
  echo "nats-server is not installed: skipped"
  exit 77
fi
results=$(mktemp -d "${TMPDIR:-/tmp}/eventserver-clients-test.XXXXXX")
trap 'rm -rf "$results"' EXIT
status=0
DAEMON=$2 HARNESS=$3 RESULTS_DIR=$results CLIENTS_TOTAL=300 CLIENTS_PROCS=3 CLIENTS_EVENTS=20000 \
  CLIENTS_USERS=3000 CLIENTS_SETTLE_MS=1500 CLIENTS_DEADLINE_S=120 bash bench/cluster/clients.sh || status=$?
md=$results/cluster_clients.md
[[ -f "$md" ]] || { echo "FAIL: no results (exit $status)"; exit 1; }
cat "$md"
((status == 0)) || { echo "FAIL: clients.sh exited $status"; exit 1; }
grep -q '^\*\*300 connections held at once over 3 edges' "$md" || { echo "FAIL: not every connection was held"; exit 1; }
# Passed, and verified something: an observer that expected nothing could finish before the
# stream reached it and pass.
passed=$(grep -c '^| harness [0-9] (.*) | [1-9][0-9]* | [1-9][0-9]* | passed |$' "$md" || true)
((passed == 3)) || { echo "FAIL: $passed of 3 harness processes passed having verified notifications"; exit 1; }
echo PASS
