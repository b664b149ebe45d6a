#!/usr/bin/env bash
# Soak: the daemon under a steady, paced followermaze stream with every chaos mode at once, for
# SOAK_SECONDS, its RSS sampled every second. Passes when the harness reports ALL NOTIFICATIONS
# RECEIVED, the daemon exits 0 on SIGTERM, and its RSS has reached a plateau:
#
#   PLATEAU RULE. Split the samples taken while the harness ran by time: the first quarter is
#   warm-up (graph, reorder ring and client queues growing to their working size) and is ignored;
#   "middle" is the second quarter, "last half" the rest. The plateau holds when
#       max RSS(last half) <= max RSS(middle) + max(512 KiB, 3% of max RSS(middle))
#   i.e. nothing grew after the first half beyond allocator noise. A leak of one byte per event
#   at the default rate is 6 MB over the last half of 600 s, far past the allowance. At least
#   40 samples are needed to judge.
#
# Chaos, all at once (see harness/README.md): stuck readers and bad clients connect at the start
# (stuck readers receive their private messages all along the stream; the daemon keeps history,
# so it does not cut them off at the queue bound but disconnects them once their socket has taken
# nothing for clientWriteTimeoutMs, and the harness checks that with the same --chaos-stuck-timeout),
# garbage lines and bare-LF endings run through the whole stream, and the
# source reconnects mid-batch every ~30 s; duplicate connections are verified in full.
#
# Writes bench/results/soak.csv (one row a second) and bench/results/soak.md (the verdict).
#
# Environment:
#   SOAK_SECONDS        stream duration at the paced rate (default 600)
#   SOAK_RATE           events per second (default 20000)
#   SOAK_CLIENTS        connected users (default 1000, of 10x as many user ids)
#   SOAK_STUCK          stuck readers (default 4)     SOAK_BAD        bad clients (default 28)
#   SOAK_DUPLICATES     duplicate connections (10)    SOAK_GARBAGE    garbage rate (default 0.01)
#   SOAK_RECONNECTS     source reconnects (default: one per 30 s of stream)
#   SOAK_QUEUE_BOUND    the daemon's maxClientQueueBytes (default 65536, see below)
#   SOAK_STUCK_TIMEOUT  the daemon's clientWriteTimeoutMs and the harness's --chaos-stuck-timeout
#                       (default 5000, see below; 0 fails: a daemon with history then keeps them)
#   SOAK_PORTS          "event client admin" ports (default: free ports below the ephemeral range)
#   BUILD_DIR, RESULTS_DIR, KEEP_LOGS=1 as in bench/e2e/run.sh
# Exit status: 0 PASS, 1 FAIL, 2 set-up error.
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
RESULTS_DIR=${RESULTS_DIR:-bench/results}
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_RATE=${SOAK_RATE:-20000}
SOAK_CLIENTS=${SOAK_CLIENTS:-1000}
SOAK_STUCK=${SOAK_STUCK:-4}
SOAK_BAD=${SOAK_BAD:-28}
SOAK_DUPLICATES=${SOAK_DUPLICATES:-10}
SOAK_GARBAGE=${SOAK_GARBAGE:-0.01}
SOAK_RECONNECTS=${SOAK_RECONNECTS:-$(((SOAK_SECONDS + 29) / 30))}
SOAK_PORTS=${SOAK_PORTS:-}
DAEMON="$BUILD_DIR/eventserver"
HARNESS="$BUILD_DIR/followermaze"
total_events=$((SOAK_RATE * SOAK_SECONDS))
# The daemon's maxClientQueueBytes, and the harness's --chaos-queue-bound. The daemon keeps its
# default in-memory history, so a stuck reader past the bound switches to catch-up and holds at
# most the bound; at the default 256 KiB the stuck readers' queues would add ~1 MiB for as long as
# they are connected. At 64 KiB (still 2,500 notifications of headroom, far above what a
# well-behaved client here ever has queued) that stays within the plateau's allowance.
queue_bound=${SOAK_QUEUE_BOUND:-65536}
# The daemon's clientWriteTimeoutMs, and the harness's --chaos-stuck-timeout: what disconnects a
# stuck reader when the daemon keeps history. A stuck reader's socket fills after ~50 KB of its
# traffic (a few per cent into the stream), so at 5 s they are gone within the warm-up quarter,
# and the harness, which waits up to this plus ~2 s after the last message to each, needs no
# wait at the end (it sees the daemon's end of each connection closed in /proc/net/tcp). The
# daemon's default, 30 s, would do as well at the cost of keeping them (and their queues) longer.
stuck_timeout=${SOAK_STUCK_TIMEOUT:-5000}

# Helpers shared by the bench scripts (shellcheck -x follows them; plain shellcheck does not).
# shellcheck source-path=SCRIPTDIR/../.. disable=SC1091
source bench/lib.sh
require_binaries "$DAEMON" "$HARNESS"

if [[ -n "$SOAK_PORTS" ]]; then
  read -r event_port client_port admin_port <<<"$SOAK_PORTS"
else
  pick_ports event_port client_port admin_port
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/eventserver-soak.XXXXXX")
daemon_pid=""
harness_pid=""
cleanup() {
  local pid
  for pid in "$harness_pid" "$daemon_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  if [[ "${KEEP_LOGS:-0}" == 1 ]]; then echo "run.sh: logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

config="$work/config.json"
cat >"$config" <<EOF
{
  "eventListenerAddress": "127.0.0.1",
  "eventListenerPort": $event_port,
  "clientListenerAddress": "127.0.0.1",
  "clientListenerPort": $client_port,
  "adminListenerPort": $admin_port,
  "maxClients": $((SOAK_CLIENTS + SOAK_DUPLICATES + SOAK_STUCK + SOAK_BAD + 1000)),
  "maxClientQueueBytes": $queue_bound,
  "clientWriteTimeoutMs": $stuck_timeout,
  "logLevel": "info",
  "logFile": "$work/daemon.log"
}
EOF
log="$work/daemon.log"
"$DAEMON" -config "$config" >"$work/daemon.out" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do  # 10 s to start listening
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "run.sh: the daemon exited at start-up:" >&2
    cat "$work/daemon.out" "$log" >&2 2>/dev/null || true
    daemon_pid=""
    exit 2
  fi
  grep -q "admin HTTP" "$log" 2>/dev/null && break
  sleep 0.1
done
grep -q "admin HTTP" "$log" 2>/dev/null || { echo "run.sh: the daemon did not start listening" >&2; exit 2; }

harness_args=(
  --eventListenerPort="$event_port" --clientListenerPort="$client_port" --daemonPid="$daemon_pid"
  --totalEvents="$total_events" --maxRate="$SOAK_RATE" --concurrencyLevel="$SOAK_CLIENTS" --logInterval=10000
  --chaos-stuck-readers="$SOAK_STUCK" --chaos-queue-bound="$queue_bound" --chaos-stuck-timeout="$stuck_timeout"
  --chaos-bad-clients="$SOAK_BAD"
  --chaos-duplicate-connections="$SOAK_DUPLICATES" --chaos-garbage="$SOAK_GARBAGE" --chaos-reconnect="$SOAK_RECONNECTS"
)
echo "== soak: daemon pid $daemon_pid (ports $event_port/$client_port/$admin_port), $total_events events at $SOAK_RATE/s" \
  "(~${SOAK_SECONDS} s), $SOAK_CLIENTS clients, chaos: $SOAK_STUCK stuck (write timeout $stuck_timeout ms), $SOAK_BAD bad, $SOAK_DUPLICATES duplicate," \
  "garbage $SOAK_GARBAGE, $SOAK_RECONNECTS reconnects"
"$HARNESS" "${harness_args[@]}" >"$work/harness.log" 2>&1 &
harness_pid=$!

# One row a second while the harness runs; bounded so that it ends even if the harness hangs
# (the harness has its own timeouts): twice the planned duration plus ten minutes.
csv_tmp="$work/soak.csv"
echo "elapsed_s,rss_kb,hwm_kb,cpu_s,client_connections,client_queue_bytes,events_processed" >"$csv_tmp"
clock_ticks=$(getconf CLK_TCK)
metric() { awk -v m="$1" '$1 == m { printf "%d", $2; found = 1 } END { if (!found) printf "na" }' "$work/metrics"; }
start=$(date +%s.%N)
max_samples=$((2 * SOAK_SECONDS + 600))
next_progress=60
for ((sample = 0; sample < max_samples; sample++)); do
  kill -0 "$harness_pid" 2>/dev/null || break
  kill -0 "$daemon_pid" 2>/dev/null || break
  rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null || echo na)
  hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null || echo na)
  cpu=$(awk -v hz="$clock_ticks" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$daemon_pid/stat" 2>/dev/null || echo na)
  curl -s -m 1 "http://127.0.0.1:$admin_port/metrics" >"$work/metrics" 2>/dev/null || : >"$work/metrics"
  elapsed=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
  echo "$elapsed,$rss,$hwm,$cpu,$(metric eventserver_client_connections),$(metric eventserver_client_queue_bytes),$(metric eventserver_events_processed_total)" >>"$csv_tmp"
  if ((sample >= next_progress)); then
    echo "   ${elapsed%.*} s: RSS $rss kB, daemon CPU $cpu s, $(metric eventserver_events_processed_total) events processed"
    next_progress=$((next_progress + 60))
  fi
  # Sample on whole seconds from the start: the sample itself takes a few tens of ms.
  sleep "$(awk -v s="$start" -v k="$sample" -v n="$(date +%s.%N)" 'BEGIN { d = s + k + 1 - n; printf "%.3f", (d > 0 ? d : 0) }')"
done
harness_status=0
if kill -0 "$harness_pid" 2>/dev/null; then
  echo "run.sh: the harness was still running after $max_samples samples; killing it" >&2
  kill -TERM "$harness_pid" 2>/dev/null || true
fi
wait "$harness_pid" || harness_status=$?
harness_pid=""
daemon_survived=yes
kill -0 "$daemon_pid" 2>/dev/null || daemon_survived=no
rss_end=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null || echo na)

daemon_exit=0
terminate_daemon "$daemon_pid" || daemon_exit=$?
daemon_pid=""

mkdir -p "$RESULTS_DIR"
cp "$csv_tmp" "$RESULTS_DIR/soak.csv"

# The plateau rule (see the top of this file), on the rows with an RSS.
# Also the RSS change across the last half (its first sample to the last), to show any creep.
read -r samples duration rss_first rss_min rss_max max_mid max_last allowance plateau last_half_change <<<"$(awk -F, '
  BEGIN { n = 0 }
  NR > 1 && $2 != "na" { t[n] = $1; r[n] = $2; n++ }
  END {
    if (n == 0) { print "0 0 na na na na na na no na"; exit }
    span = t[n - 1] - t[0]; min = r[0]; max = r[0]; mid = 0; last = 0; half = -1
    for (i = 0; i < n; i++) {
      if (r[i] < min) min = r[i]
      if (r[i] > max) max = r[i]
      f = span > 0 ? (t[i] - t[0]) / span : 0
      if (f >= 0.25 && f < 0.5 && r[i] > mid) mid = r[i]
      if (f >= 0.5 && r[i] > last) last = r[i]
      if (f >= 0.5 && half < 0) half = r[i]
    }
    allow = mid * 0.03; if (allow < 512) allow = 512
    ok = (n >= 40 && mid > 0 && last <= mid + allow) ? "yes" : "no"
    printf "%d %.0f %d %d %d %d %d %.0f %s %+d\n", n, span, r[0], min, max, mid, last, allow, ok, r[n - 1] - half
  }' "$csv_tmp")"

banner=no
grep -q "ALL NOTIFICATIONS RECEIVED" "$work/harness.log" && banner=yes
result=$(grep '^RESULT ' "$work/harness.log" | tail -1 || true)
failure=$(grep -E "FAILED|error|mismatch|missing|unexpected" "$work/harness.log" | head -3 || true)
totals=$(daemon_totals "$log")
reasons=()
[[ "$harness_status" == 0 && "$banner" == yes ]] || reasons+=("the harness did not report ALL NOTIFICATIONS RECEIVED (exit $harness_status)")
if [[ "$plateau" != yes ]]; then
  if ((samples < 40)); then
    reasons+=("too few RSS samples to judge a plateau ($samples, at least 40)")
  else
    reasons+=("no RSS plateau (max of the last half ${max_last} kB, of the middle ${max_mid} kB, allowance ${allowance} kB)")
  fi
fi
if [[ "$daemon_survived" == no ]]; then
  reasons+=("the daemon died during the run (exit status $daemon_exit)")
elif [[ "$daemon_exit" != 0 ]]; then
  reasons+=("the daemon exited with $daemon_exit after SIGTERM")
fi
verdict=PASS
((${#reasons[@]} == 0)) || verdict=FAIL

kib_to_mib() { awk -v x="$1" 'BEGIN { if (x == "na" || x == "") print "na"; else printf "%.2f", x / 1024 }'; }
md="$RESULTS_DIR/soak.md"
{
  echo "# Soak: steady paced stream with every chaos mode"
  echo
  echo "Generated by \`bench/soak/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit" \
    "\`$(git describe --always --dirty 2>/dev/null || echo unknown)\`, $(nproc) cores, Linux $(uname -r)."
  echo
  echo "**Verdict: $verdict**"
  for reason in "${reasons[@]}"; do echo "- $reason"; done
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| stream | $total_events events at $SOAK_RATE/s (planned ${SOAK_SECONDS} s), default mix, $SOAK_CLIENTS connected users of $((SOAK_CLIENTS * 10)); maxClientQueueBytes $queue_bound, clientWriteTimeoutMs $stuck_timeout |"
  echo "| chaos | \`--chaos-stuck-readers=$SOAK_STUCK --chaos-stuck-timeout=$stuck_timeout --chaos-bad-clients=$SOAK_BAD --chaos-duplicate-connections=$SOAK_DUPLICATES --chaos-garbage=$SOAK_GARBAGE --chaos-reconnect=$SOAK_RECONNECTS\` |"
  echo "| harness | $([[ "$banner" == yes ]] && echo "ALL NOTIFICATIONS RECEIVED" || echo "FAILED"), exit $harness_status |"
  echo "| sampled | ${duration} s, $samples RSS samples (one a second, in \`soak.csv\`) |"
  echo "| RSS first sample, min, max | $(kib_to_mib "$rss_first"), $(kib_to_mib "$rss_min"), $(kib_to_mib "$rss_max") MiB |"
  echo "| plateau: max RSS of the middle (25-50%), of the last half | $(kib_to_mib "$max_mid") MiB, $(kib_to_mib "$max_last") MiB (allowance $(kib_to_mib "$allowance") MiB): $([[ "$plateau" == yes ]] && echo holds || echo "does NOT hold") |"
  echo "| RSS change across the last half (its first sample to the last) | $last_half_change KiB |"
  echo "| RSS at the end of the stream | $(kib_to_mib "$rss_end") MiB |"
  echo "| daemon exit after SIGTERM | $daemon_exit |"
  echo
  echo "Plateau rule: ignore the first quarter of the samples (warm-up); the plateau holds when the largest RSS of the"
  echo "last half is at most the largest of the second quarter plus max(512 KiB, 3%). At least 40 samples."
  if [[ -n "$result" ]]; then
    echo
    echo "Harness:"
    echo
    echo '```'
    grep -E "^(events|notifications|latency|daemon|chaos|stuck|bad|duplicate|garbage|reconnect)" "$work/harness.log" || true
    echo "$result"
    echo '```'
  fi
  if [[ -n "$failure" && "$verdict" == FAIL ]]; then
    echo
    echo '```'
    echo "$failure"
    echo '```'
  fi
  totals_markdown "$totals"
} >"$md"
echo "== $verdict: $samples samples over ${duration} s; RSS max middle $(kib_to_mib "$max_mid") MiB, max last half" \
  "$(kib_to_mib "$max_last") MiB; harness banner: $banner; daemon exit $daemon_exit"
for reason in "${reasons[@]}"; do echo "   $reason"; done
echo "run.sh: wrote $md and $RESULTS_DIR/soak.csv"
[[ "$verdict" == PASS ]]
