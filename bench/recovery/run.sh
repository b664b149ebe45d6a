#!/usr/bin/env bash
# Recovery time after a long stream with a big follower graph. Goal: < 2 s from exec to serving
# after 100M events and ~1M follow edges.
#
# Builds a data directory with the real daemon and the harness (EVENTS events, USERS user ids,
# AVG_FOLLOWS follows each: the graph settles at USERS*AVG_FOLLOWS edges; few clients, so the
# stream goes fast). The default 104.9M events end 4.9M past the snapshot taken at ~100M, so a
# SIGKILL leaves close to the worst case (snapshot + nearly snapshotEveryEvents to replay).
# Then the daemon is restarted on that directory RESTARTS times after a SIGKILL, and RESTARTS
# times after a SIGTERM (which writes a snapshot at shutdown: nothing to replay). Each start is
# timed by restart.py from exec to the event port answering `durable?` (accepted, recovered);
# also the listen-backlog time, eventserver_log_recovery_seconds, the daemon's "recovered" line
# and VmHWM (peak RSS, which at that point is recovery's).
#
# usage: bench/recovery/run.sh
#   EVENTS (default 104900000)  USERS (default 100000)  AVG_FOLLOWS (default 10)
#   CLIENTS (default 10)  RESTARTS per stop mode (default 5)
#   DAEMON, HARNESS (default build/eventserver, build/followermaze); DAEMON_COMMIT names the
#   commit DAEMON was built from in the results (default HEAD)
#   OUT (default bench/results/recovery.md)  KEEP=1 keeps the work directory (~1.1 GB)
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh

events=${EVENTS:-104900000}
users=${USERS:-100000}
avg_follows=${AVG_FOLLOWS:-10}
clients=${CLIENTS:-10}
restarts=${RESTARTS:-5}
daemon=${DAEMON:-build/eventserver}
harness=${HARNESS:-build/followermaze}
out=${OUT:-bench/results/recovery.md}
require_binaries "$daemon" "$harness"

work=$(mktemp -d "${TMPDIR:-/tmp}/eventserver-recovery.XXXXXX")
pid=""
cleanup() {
  [[ -z "$pid" ]] || kill -KILL "$pid" 2>/dev/null || true
  if [[ "${KEEP:-0}" == 1 ]]; then echo "run.sh: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$work/data"
pick_ports event_port client_port admin_port
printf '{"eventListenerPort": %s, "clientListenerPort": %s, "clientListenerAddress": "127.0.0.1", "adminListenerPort": %s, "dataDir": "%s", "logFsync": "interval"}\n' \
  "$event_port" "$client_port" "$admin_port" "$work/data" >"$work/config.json"
metric() { grep -m1 "^$1 " "$work/metrics" | awk '{print $2}'; }

# 1. The long stream.
echo "== building: $events events, $users users, $avg_follows follows each, $clients clients"
"$daemon" -config "$work/config.json" >"$work/build.log" 2>&1 &
pid=$!
build_start=$(date +%s.%N)
result=$("$harness" --eventListenerPort="$event_port" --clientListenerPort="$client_port" --totalEvents="$events" \
  --numberOfUsers="$users" --avgFollows="$avg_follows" --concurrencyLevel="$clients" --daemonPid="$pid" 2>&1 |
  grep -E '^RESULT|ALL NOTIFICATIONS' | tr '\n' ' ')
build_s=$(awk -v a="$build_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
curl -s "http://127.0.0.1:$admin_port/metrics" >"$work/metrics"
edges=$(metric eventserver_follow_edges)
snap_pause=$(metric eventserver_log_snapshot_pause_seconds)
snap_duration=$(metric eventserver_log_snapshot_duration_seconds)
snaps=$(metric 'eventserver_log_snapshots_total{reason="ok"}')
build_rss=$(grep VmHWM "/proc/$pid/status" | awk '{print $2}')
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pid=""
log_du=$(du -sh --exclude='snapshot-*' "$work/data" | cut -f1)
snap_du=$(du -ch "$work/data"/snapshot-* | tail -1 | cut -f1)
newest_snap=$(ls "$work/data" | grep '^snapshot-' | sort | tail -1)
newest_snap_bytes=$(stat -c %s "$work/data/$newest_snap")
echo "   $result"
echo "   built in $build_s s; $edges edges; last snapshot pause $snap_pause s, duration $snap_duration s; log $log_du"

# 2. Timed restarts. The first RESTARTS+1 starts recover from the SIGKILL state (the last of them
# ends with SIGTERM), the next RESTARTS from the snapshot written at that shutdown.
declare -a kill_runs term_runs
for i in $(seq 1 $((2 * restarts + 1))); do
  stop=KILL
  ((i <= restarts)) || stop=TERM
  line=$(python3 bench/recovery/restart.py "$daemon" "$work/config.json" "$event_port" "$admin_port" "$work/start.$i.log" "$stop")
  recovered=$(grep -o 'recovered epoch.*' "$work/start.$i.log" | sed 's/recovered epoch [0-9]* at //')
  echo "   start $i (then SIG$stop): $line | $recovered"
  if ((i <= restarts + 1)); then kill_runs+=("$line | $recovered"); else term_runs+=("$line | $recovered"); fi
done
shutdown_snapshot=$(grep -ho 'snapshot .* written in .*' "$work/start.$((restarts + 1)).log" | sed 's|/.*/snapshot|snapshot|')

# median KEY LINES...: the median of KEY=value over the lines.
median() {
  local key=$1
  shift
  printf '%s\n' "$@" | grep -oE "(^| )$key=[0-9.]+" | cut -d= -f2 | sort -g |
    awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'
}
row() {
  local name=$1
  shift
  printf '| %s | %s | %s | %s | %.3f | %.1f |\n' "$name" "$#" "$(median ready_ms "$@")" "$(median bound_ms "$@")" \
    "$(median recovery_s "$@")" "$(awk -v k="$(median hwm_kb "$@")" 'BEGIN {print k / 1024}')"
}
{
  echo "# Recovery after a long stream with a big follower graph"
  echo
  echo "$(date -u '+%F %H:%M UTC'), daemon \`$daemon\` (built from commit \`${DAEMON_COMMIT:-$(git rev-parse --short HEAD)}\`), $(nproc) cores," \
    "noisy shared machine; \`bench/recovery/run.sh\` (EVENTS=$events USERS=$users AVG_FOLLOWS=$avg_follows CLIENTS=$clients" \
    "RESTARTS=$restarts). Config: shipped defaults (snapshotEveryEvents 5M, logRetentionBytes 1 GiB," \
    "logSegmentBytes 64 MiB), \`logFsync\` interval, a fresh data directory."
  echo
  echo "Goal: < 2 s from exec to serving after 100M events and 1M follow edges."
  echo
  echo "## The data directory"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| stream | \`followermaze --totalEvents=$events --numberOfUsers=$users --avgFollows=$avg_follows --concurrencyLevel=$clients\`: $build_s s |"
  echo "| harness | \`$result\` |"
  echo "| follow edges at the end | $edges |"
  echo "| snapshots written during the stream | $snaps |"
  echo "| last periodic snapshot | duration $snap_duration s, longest event-loop pause $snap_pause s |"
  echo "| snapshot at SIGTERM | $shutdown_snapshot |"
  echo "| log on disk (du, retention 1 GiB) | $log_du, snapshots $snap_du (newest $newest_snap_bytes bytes) |"
  echo "| daemon peak RSS during the stream | $build_rss KB |"
  echo
  echo "## Restarts on that directory"
  echo
  echo "ready = exec to the event port answering \`durable?\` (the listeners take connections only once the log is" \
    "recovered; until then they sit in the listen backlog); backlog = exec to the port taking a TCP connection;" \
    "recovery = \`eventserver_log_recovery_seconds\`; RSS = VmHWM once ready. Medians."
  echo
  echo "| after | starts | ready ms | backlog ms | recovery s | peak RSS MB |"
  echo "|---|---:|---:|---:|---:|---:|"
  row "SIGKILL (snapshot + replay)" "${kill_runs[@]}"
  row "SIGTERM (snapshot at shutdown)" "${term_runs[@]}"
  echo
  echo "Raw starts (restart.py's line | the daemon's \"recovered\" line):"
  echo
  echo '```'
  for r in "${kill_runs[@]}"; do echo "after SIGKILL: $r"; done
  for r in "${term_runs[@]}"; do echo "after SIGTERM: $r"; done
  echo '```'
} >"$out"
cat "$out"
