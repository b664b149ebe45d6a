#!/usr/bin/env bash
# Crash: the daemon killed with SIGKILL at random moments of a followermaze run and started again
# on the same data directory each time. Passes when the harness, run with --survive-restarts,
# reports ALL NOTIFICATIONS RECEIVED: every notification to every client exactly once and in
# order across every restart (the source resends from the durable position the restarted daemon
# reports, clients resume with <user>|<last>|<epoch>; see harness/README.md).
#
# The kill points are event counts drawn from CRASH_SEED, sorted; the script follows the
# harness's progress lines ("events sent N", every 100 ms) and kills the daemon at the first
# line at or past the next point, once the harness has sent more since the last restart or, when
# the source has sent everything (clients still catching up), 500 ms after it.
# After a kill it waits a random 0..CRASH_DOWN_MS ms (clients and source find the port closed and
# retry), starts the daemon again and waits until it listens.
#
# Writes RESULTS_DIR/crash.md: kills, events, wall time, restart times, the harness's RESULT line.
#
# Environment:
#   CRASH_KILLS    kills (default 20)                 CRASH_EVENTS   events (default 10000000)
#   CRASH_CLIENTS  connected users (default 100)      CRASH_RATE     events/s, 0 unpaced (default 0)
#   CRASH_FSYNC    the daemon's logFsync: always, interval or never (default interval)
#   CRASH_SEED     seed of the kill points, the pauses and the harness's stream (default 1)
#   CRASH_DOWN_MS  most a killed daemon stays down (default 300)
#   CRASH_TIMEOUT  seconds the whole run may take before it is stopped as failed (default 1200)
#   CRASH_HARNESS_ARGS  more followermaze flags (e.g. "--chaos-client-reconnect=5")
#   BUILD_DIR (default build), DAEMON and HARNESS (default BUILD_DIR's binaries),
#   RESULTS_DIR (default bench/results), KEEP_LOGS=1 keeps the work directory
# Exit status: 0 PASS, 1 FAIL, 2 set-up error (binaries missing, the daemon does not start), 3 the
# daemon refuses the `dataDir` key (it has no event log yet).
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
RESULTS_DIR=${RESULTS_DIR:-bench/results}
CRASH_KILLS=${CRASH_KILLS:-20}
CRASH_EVENTS=${CRASH_EVENTS:-10000000}
CRASH_CLIENTS=${CRASH_CLIENTS:-100}
CRASH_RATE=${CRASH_RATE:-0}
CRASH_FSYNC=${CRASH_FSYNC:-interval}
CRASH_SEED=${CRASH_SEED:-1}
CRASH_DOWN_MS=${CRASH_DOWN_MS:-300}
CRASH_TIMEOUT=${CRASH_TIMEOUT:-1200}
CRASH_HARNESS_ARGS=${CRASH_HARNESS_ARGS:-}
DAEMON=${DAEMON:-$BUILD_DIR/eventserver}
HARNESS=${HARNESS:-$BUILD_DIR/followermaze}

# shellcheck source-path=SCRIPTDIR/../.. disable=SC1091
source bench/lib.sh
require_binaries "$DAEMON" "$HARNESS"
case "$CRASH_FSYNC" in always | interval | never) ;; *)
  echo "run.sh: CRASH_FSYNC must be always, interval or never" >&2
  exit 2
  ;;
esac

pick_ports event_port client_port admin_port
work=$(mktemp -d "${TMPDIR:-/tmp}/eventserver-crash.XXXXXX")
daemon_pid=""
harness_pid=""
cleanup() {
  local pid
  for pid in "$harness_pid" "$daemon_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  if [[ "${KEEP_LOGS:-0}" == 1 ]]; then echo "run.sh: logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

mkdir -p "$work/data"
config="$work/config.json"
# shellcheck disable=SC2154  # the ports are set by pick_ports
cat >"$config" <<EOF
{
  "eventListenerAddress": "127.0.0.1",
  "eventListenerPort": $event_port,
  "clientListenerAddress": "127.0.0.1",
  "clientListenerPort": $client_port,
  "adminListenerAddress": "127.0.0.1",
  "adminListenerPort": $admin_port,
  "maxClients": $((CRASH_CLIENTS + 1000)),
  "dataDir": "$work/data",
  "logFsync": "$CRASH_FSYNC",
  "newStreamPolicy": "restart",
  "logLevel": "info"
}
EOF

now_ms() { date +%s%3N; }
starts=0
# start_daemon: starts the daemon on the config, its output in daemon.<n>.log; waits (10 s, plus
# whatever recovery takes, up to 120 s) until it listens. Returns 1 if it exits or never listens.
start_daemon() {
  starts=$((starts + 1))
  local log="$work/daemon.$starts.log"
  "$DAEMON" -config "$config" >"$log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 1 1200); do
    if grep -q "listening for event sources" "$log" 2>/dev/null; then return 0; fi
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
      wait "$daemon_pid" 2>/dev/null || true
      daemon_pid=""
      return 1
    fi
    sleep 0.1
  done
  return 1
}

if ! start_daemon; then
  echo "run.sh: the daemon did not start:" >&2
  tail -n 5 "$work/daemon.1.log" >&2 || true
  # A daemon without the event log refuses its keys; say so plainly (crash_test.sh skips on it).
  if grep -q 'unknown key "dataDir"' "$work/daemon.1.log" 2>/dev/null; then
    echo "run.sh: this daemon has no event log (dataDir); nothing to test" >&2
    exit 3
  fi
  exit 2
fi

# The kill points: CRASH_KILLS event counts in [1, CRASH_EVENTS), sorted.
RANDOM=$CRASH_SEED
points=()
for ((i = 0; i < CRASH_KILLS; i++)); do
  points+=($((1 + (RANDOM * 32768 + RANDOM) % (CRASH_EVENTS > 1 ? CRASH_EVENTS - 1 : 1))))
done
mapfile -t points < <(printf '%s\n' "${points[@]}" | sort -n)

harness_args=(
  --eventListenerPort="$event_port" --clientListenerPort="$client_port" --totalEvents="$CRASH_EVENTS"
  --concurrencyLevel="$CRASH_CLIENTS" --randomSeed="$CRASH_SEED" --maxRate="$CRASH_RATE" --logInterval=100
  --survive-restarts
)
# shellcheck disable=SC2206  # word splitting of the extra flags is the point
harness_args+=($CRASH_HARNESS_ARGS)
echo "== crash: $CRASH_EVENTS events, $CRASH_CLIENTS clients, $CRASH_KILLS kills (SIGKILL), logFsync $CRASH_FSYNC," \
  "ports $event_port/$client_port, seed $CRASH_SEED"
start=$(now_ms)
"$HARNESS" "${harness_args[@]}" >"$work/harness.log" 2>&1 &
harness_pid=$!

kills=0
restart_ms=()
died=""
progress_at_restart=-1
restarted_at=0
deadline=$((start + CRASH_TIMEOUT * 1000))
while kill -0 "$harness_pid" 2>/dev/null; do
  if (($(now_ms) > deadline)); then
    echo "run.sh: the run took more than $CRASH_TIMEOUT s; stopping it" >&2
    kill -TERM "$harness_pid" 2>/dev/null || true
    break
  fi
  if [[ -n "$daemon_pid" ]] && ! kill -0 "$daemon_pid" 2>/dev/null; then
    died="the daemon exited by itself (start $starts): $(tail -n 3 "$work/daemon.$starts.log" | tr '\n' ' ')"
    echo "run.sh: $died" >&2
    kill -TERM "$harness_pid" 2>/dev/null || true
    break
  fi
  if ((kills < CRASH_KILLS)); then
    progress=$(grep -o 'events sent [0-9]*' "$work/harness.log" 2>/dev/null | tail -n 1 | grep -o '[0-9]*$' || true)
    progress=${progress:-0}
    if ((progress >= points[kills] && (progress > progress_at_restart || $(now_ms) - restarted_at > 500))); then
      kill -KILL "$daemon_pid"
      wait "$daemon_pid" 2>/dev/null || true
      daemon_pid=""
      kills=$((kills + 1))
      killed_at=$(now_ms)
      down_ms=$((RANDOM % (CRASH_DOWN_MS + 1)))
      echo "   kill $kills at $progress events sent (point ${points[kills - 1]}), down ${down_ms} ms"
      sleep "$(awk -v m="$down_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
      if ! start_daemon; then
        died="the daemon did not come back after kill $kills: $(tail -n 3 "$work/daemon.$starts.log" | tr '\n' ' ')"
        echo "run.sh: $died" >&2
        kill -TERM "$harness_pid" 2>/dev/null || true
        break
      fi
      restarted_at=$(now_ms)
      restart_ms+=($((restarted_at - killed_at)))
      progress_at_restart=$progress
    fi
  fi
  sleep 0.05
done
harness_status=0
wait "$harness_pid" || harness_status=$?
harness_pid=""
wall_ms=$(($(now_ms) - start))

daemon_exit=na
if [[ -n "$daemon_pid" ]]; then
  daemon_exit=0
  terminate_daemon "$daemon_pid" || daemon_exit=$?
  daemon_pid=""
fi

banner=no
grep -q "ALL NOTIFICATIONS RECEIVED" "$work/harness.log" && banner=yes
result=$(grep '^RESULT ' "$work/harness.log" | tail -n 1 || true)
failure=$(grep -E "^FAILED" "$work/harness.log" | head -n 3 || true)
restart_summary="none"
if ((${#restart_ms[@]} > 0)); then
  restart_summary=$(printf '%s\n' "${restart_ms[@]}" | sort -n |
    awk '{ v[NR] = $1; s += $1 } END { printf "mean %.0f ms, median %d ms, max %d ms (kill to listening, down time included)", s / NR, v[int((NR + 1) / 2)], v[NR] }')
fi
reasons=()
[[ "$harness_status" == 0 && "$banner" == yes ]] ||
  reasons+=("the harness did not report ALL NOTIFICATIONS RECEIVED (exit $harness_status)")
[[ -z "$died" ]] || reasons+=("$died")
# The banner decides; a run that ended before every kill point is only worth less.
((kills > 0 || CRASH_KILLS == 0)) || reasons+=("the run ended before the first kill")
short=""
((kills == CRASH_KILLS)) || short=" (the run ended before the last $((CRASH_KILLS - kills)) kill points)"
verdict=PASS
((${#reasons[@]} == 0)) || verdict=FAIL

mkdir -p "$RESULTS_DIR"
md="$RESULTS_DIR/crash.md"
{
  echo "# Crash: SIGKILL and restart on the same data directory, mid-stream"
  echo
  echo "Generated by \`bench/crash/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit" \
    "\`$(git describe --always --dirty 2>/dev/null || echo unknown)\`, $(nproc) cores, Linux $(uname -r)."
  echo
  echo "**Verdict: $verdict**"
  for reason in "${reasons[@]}"; do echo "- $reason"; done
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| stream | $CRASH_EVENTS events$( ((CRASH_RATE > 0)) && echo " at $CRASH_RATE/s"), $CRASH_CLIENTS connected users, seed $CRASH_SEED |"
  echo "| daemon | \`logFsync\` $CRASH_FSYNC, \`newStreamPolicy\` restart, $starts starts, exit after SIGTERM at the end: $daemon_exit |"
  echo "| kills | $kills of $CRASH_KILLS (SIGKILL)$short, each down 0..$CRASH_DOWN_MS ms |"
  echo "| restarts | $restart_summary |"
  echo "| wall time | $(awk -v m="$wall_ms" 'BEGIN { printf "%.1f", m / 1000 }') s, harness start to exit |"
  echo "| harness | $([[ "$banner" == yes ]] && echo "ALL NOTIFICATIONS RECEIVED" || echo "FAILED"), exit $harness_status |"
  echo
  echo "Harness (\`followermaze ${harness_args[*]}\`):"
  echo
  echo '```'
  grep -E "^(events|notifications|latency|stream|restarts|reconnecting|slow readers|chaos|harness) " "$work/harness.log" || true
  [[ -z "$failure" ]] || echo "$failure"
  echo "${result:-no RESULT line}"
  echo '```'
} >"$md"
echo "== $verdict: $kills of $CRASH_KILLS kills, harness banner: $banner, wall $(awk -v m="$wall_ms" 'BEGIN { printf "%.1f", m / 1000 }') s"
for reason in "${reasons[@]}"; do echo "   $reason"; done
[[ -z "$failure" ]] || echo "$failure"
[[ -z "$result" ]] || echo "$result"
echo "run.sh: wrote $md"
[[ "$verdict" == PASS ]]
