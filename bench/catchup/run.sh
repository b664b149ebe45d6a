#!/usr/bin/env bash
# Catch-up speed: a client EVENTS events behind (it resumes with `1|0` after a stream it never
# saw) reads its notifications out of history. Goal: >= 2M events/s of history scanned.
#
# For each history (log: a fresh dataDir, logFsync interval; memory: no dataDir, historyBytes
# HISTORY_BYTES) and each stream (default: the harness's default mix over 1000 users; stable: 5000
# follows, then only broadcasts, private messages and status updates, so that the in-memory
# history, which knows whom a user followed only through a ring of the last 8192 follow changes,
# can resume from 0) a daemon is started, catchup.py feeds it EVENTS events ending with a
# broadcast with no client connected, then times RUNS resumes
# of user 1 from connect to the final broadcast's line: rate = EVENTS / that time. CONNZ_RUNS more
# resumes also poll /connz every 5 ms for the moment the connection turns "live" (the polling
# loads the daemon's one thread, so they are kept apart from the clean runs).
#
# usage: bench/catchup/run.sh
#   EVENTS (default 1000000)  RUNS (default 5)  CONNZ_RUNS (default 3)
#   HISTORY_BYTES (default 67108864)  DAEMON (default build/eventserver)  DAEMON_COMMIT (for the
#   results: the commit DAEMON was built from, default HEAD)
#   OUT (default bench/results/catch_up.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh

events=${EVENTS:-1000000}
runs=${RUNS:-5}
connz_runs=${CONNZ_RUNS:-3}
history_bytes=${HISTORY_BYTES:-67108864}
daemon=${DAEMON:-build/eventserver}
out=${OUT:-bench/results/catch_up.md}
require_binaries "$daemon"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A raw

# measure NAME KEYS MIX: a daemon with those config keys, fed once; RUNS clean resumes, CONNZ_RUNS polled.
measure() {
  local name=$1 keys=$2 event_port client_port admin_port
  export MIX=$3
  rm -rf "$work/data" && mkdir -p "$work/data"
  pick_ports event_port client_port admin_port
  printf '{"eventListenerPort": %s, "clientListenerPort": %s, "clientListenerAddress": "127.0.0.1", "adminListenerPort": %s%s}\n' \
    "$event_port" "$client_port" "$admin_port" "$keys" >"$work/config.json"
  "$daemon" -config "$work/config.json" >"$work/daemon.${name/\//.}.log" 2>&1 &
  local pid=$!
  sleep 0.3
  echo "== $name"
  raw[$name]=$(python3 bench/catchup/catchup.py "$event_port" "$client_port" "$admin_port" "$events" "$runs" | tee /dev/stderr)
  raw[$name-connz]=$(FEED=0 CONNZ=1 python3 bench/catchup/catchup.py "$event_port" "$client_port" "$admin_port" "$events" "$connz_runs" 2>/dev/null |
    tee /dev/stderr || true)
  curl -s "http://127.0.0.1:$admin_port/metrics" | grep -E '^eventserver_(history_notifications_total|catch_up_total|resumes_total)' >"$work/metrics.${name/\//.}" || true
  terminate_daemon "$pid" || true
}
log_keys=", \"dataDir\": \"$work/data\", \"logFsync\": \"interval\""
memory_keys=", \"historyBytes\": $history_bytes"
measure log/default "$log_keys" default
measure log/stable "$log_keys" stable
measure memory/stable "$memory_keys" stable
measure memory/default "$memory_keys" default
names="log/default log/stable memory/stable memory/default"

median() {
  grep -oE "(^| )$1=[0-9.]+" | cut -d= -f2 | sort -g | awk '{v[NR]=$1} END {if (NR) print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; else print "-"}'
}
{
  echo "# Catch-up from history"
  echo
  echo "$(date -u '+%F %H:%M UTC'), daemon \`$daemon\` (built from commit \`${DAEMON_COMMIT:-$(git rev-parse --short HEAD)}\`), $(nproc) cores," \
    "noisy shared machine. \`bench/catchup/run.sh\` (EVENTS=$events RUNS=$runs CONNZ_RUNS=$connz_runs HISTORY_BYTES=$history_bytes)."
  echo
  echo "A client for user 1 connects with \`1|0\` after $events events it never saw (1000 users, the last a" \
    "broadcast) and reads everything for user 1 from history. done = connect to the final broadcast's line;" \
    "rate = $events / done. Streams: default = the harness's default mix; stable = 5000 follows, then no" \
    "follow changes (0.01% broadcasts, ~21% private messages, ~79% status updates). Goal: >= 2M events/s."
  echo
  echo "| history/stream | runs | resumed | notifications | first line ms | done ms | rate M events/s | /connz live ms |"
  echo "|---|---:|---|---:|---:|---:|---:|---:|"
  for name in $names; do
    r=${raw[$name]}
    c=$(grep '^run' <<<"${raw[$name-connz]}" || true)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(grep -c '^run' <<<"$r")" \
      "$(grep -oE 'resumed=[a-z]+' <<<"$r" | sort | uniq -c | awk '{printf "%s %s ", $1, $2}' | sed 's/resumed=//g')" \
      "$(median lines <<<"$r")" "$(median first_ms <<<"$r")" "$(median done_ms <<<"$r")" "$(median rate_meps <<<"$r")" \
      "$(median live_ms <<<"$c")"
  done
  echo
  echo "/connz live ms: the separate runs polled every 5 ms (done ms of those runs in the raw lines)."
  echo
  echo "Raw:"
  echo
  echo '```'
  for name in $names; do
    sed "s|^|$name: |" <<<"${raw[$name]}"
    sed "s|^|$name (polling /connz): |" <<<"${raw[$name-connz]}"
    sed "s|^|$name metrics at the end: |" "$work/metrics.${name/\//.}"
  done
  echo '```'
} >"$out"
cat "$out"
