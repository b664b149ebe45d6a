#!/usr/bin/env bash
# One run of bench/slow/run.sh's shape (10M events, 100 clients, fresh dataDir, logFsync interval;
# variant B: 10 of them slow readers), printing where the daemon's CPU went: each thread's user
# and system time (/proc/PID/task/*/stat, read before the daemon is stopped), its peak RSS, the
# catch-up and write counters from /metrics, and the harness's figures. PREFIX wraps the daemon
# (e.g. PREFIX="strace -c -f -o FILE" for its system calls).
#
# usage: bench/slow/threads.sh DAEMON A|B [EVENTS]
#   HARNESS (default build/followermaze), PREFIX
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source-path=SCRIPTDIR/../.. disable=SC1091
source bench/lib.sh
daemon=${1:?usage: threads.sh DAEMON A|B [EVENTS]}
variant=${2:?usage: threads.sh DAEMON A|B [EVENTS]}
events=${3:-10000000}
harness=${HARNESS:-build/followermaze}
require_binaries "$daemon" "$harness"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data"
ep="" cp="" ap=""
pick_ports ep cp ap
printf '{"eventListenerPort": %s, "clientListenerPort": %s, "clientListenerAddress": "127.0.0.1", "adminListenerPort": %s, "dataDir": "%s", "logFsync": "interval"}\n' \
  "$ep" "$cp" "$ap" "$work/data" >"$work/config.json"
flags=()
[[ $variant == B ]] && flags=(--chaos-slow-readers=10)
read -r -a prefix <<<"${PREFIX:-}"
"${prefix[@]}" "$daemon" -config "$work/config.json" >"$work/daemon.log" 2>&1 &
pid=$!
dpid=$(wrapped_daemon_pid "$daemon" "$work/config.json" "$work/daemon.log" "$pid")
"$harness" --eventListenerPort="$ep" --clientListenerPort="$cp" --totalEvents="$events" --concurrencyLevel=100 \
  --daemonPid="$dpid" "${flags[@]}" >"$work/harness.log" 2>&1 || true
tick=$(getconf CLK_TCK)
for task in "/proc/$dpid/task/"*; do
  # Fields after the command name: utime is the 12th, stime the 13th.
  read -r -a stat < <(sed 's/.*) //' "$task/stat")
  awk -v name="$(cat "$task/comm")" -v u="${stat[11]}" -v s="${stat[12]}" -v t="$tick" \
    'BEGIN { printf "thread %-16s user %.2f s  system %.2f s\n", name, u / t, s / t }'
done
grep VmHWM "/proc/$dpid/status" || true
curl -s "http://127.0.0.1:$ap/metrics" |
  grep -E '^eventserver_(catch_up_total|history_notifications_total|client_writes_total|bytes_out)' || true
kill -TERM "$dpid"
wait "$pid" || true
if grep -q 'ALL NOTIFICATIONS RECEIVED' "$work/harness.log"; then
  echo "ALL NOTIFICATIONS RECEIVED"
else
  tail -n 3 "$work/harness.log"
fi
grep '^RESULT' "$work/harness.log" | tr ' ' '\n' | grep -E 'daemon_cpu_s|p99_us|daemon_peak|slow_|wall_s'
