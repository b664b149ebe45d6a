#!/usr/bin/env bash
# shellcheck disable=SC2154  # pick_ports sets the ports
# The cluster's client benchmark: three edges holding together more client connections than one
# process may open (RLIMIT_NOFILE's hard limit, 20,000 here, which only CAP_SYS_RESOURCE can
# raise), every notification verified on every connection.
#
# nats-server (one node; the stream R1), one ingest, three edges (maxClients CLIENTS_MAX_PER_EDGE)
# and CLIENTS_PROCS followermaze processes sharing out CLIENTS_TOTAL connected users
# (--shard=K/N, every N-th of the one seeded choice): process 0 sends the stream to the ingest and
# verifies its share; the others (--observe) send nothing, generate the same stream from the same
# options and verify theirs. Every process spreads its connections over the three edges
# (--clientPorts), so each edge holds CLIENTS_TOTAL / 3, and every process checks each of its
# connections for exactly the notifications the whole stream owes it, in order: every broadcast,
# and the private messages, follows and status updates of its user. The observers connect first;
# the sender starts once the edges report every observer's user registered.
#
# Reported per process (edges, ingest, nats-server, harnesses): CPU seconds (utime + stime) and
# peak RSS (VmHWM; the harnesses' from /usr/bin/time). Per edge: the most client connections it
# held (eventserver_client_connections, sampled every 0.1 s until all are held, then every 0.5 s),
# and the notifications it delivered; the most held by all three in one sample.
# The sender's wall time and latency (p50/p99/max; observers measure none). Writes
# RESULTS_DIR/cluster_clients.md.
#
# Environment: CLIENTS_TOTAL (45000), CLIENTS_PROCS (4), CLIENTS_EVENTS (10000), CLIENTS_MIX
# (broadcast-heavy: 10% broadcasts), CLIENTS_USERS (100000), CLIENTS_MAX_PER_EDGE (16000),
# CLIENTS_SEED (1), CLIENTS_SETTLE_MS (the sender's --settle; default the harness's),
# CLIENTS_DEADLINE_S (900: every process is killed past it), BUILD_DIR (build),
# RESULTS_DIR (bench/results), KEEP_LOGS=1.
# Exit status: 0 every harness passed; 1 a failure (a row says which); 2 a set-up error (limits).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
RESULTS_DIR=${RESULTS_DIR:-bench/results}
TOTAL=${CLIENTS_TOTAL:-45000}
PROCS=${CLIENTS_PROCS:-4}
EVENTS=${CLIENTS_EVENTS:-10000}
MIX=${CLIENTS_MIX:-broadcast-heavy}
USERS=${CLIENTS_USERS:-100000}
MAX_PER_EDGE=${CLIENTS_MAX_PER_EDGE:-16000}
SEED=${CLIENTS_SEED:-1}
SETTLE_MS=${CLIENTS_SETTLE_MS:-}
DEADLINE_S=${CLIENTS_DEADLINE_S:-900}
EDGES=3
DAEMON=${DAEMON:-$BUILD_DIR/eventserver}
HARNESS=${HARNESS:-$BUILD_DIR/followermaze}
# shellcheck disable=SC1091
source bench/lib.sh
# shellcheck disable=SC1091
source bench/cluster/lib.sh
require_binaries "$DAEMON" "$HARNESS" /usr/bin/time
command -v nats-server >/dev/null || { echo "clients.sh: nats-server is not installed" >&2; exit 2; }

# --- What the machine allows ------------------------------------------------------------------
per_proc=$(((TOTAL + PROCS - 1) / PROCS))  # shard 0 is the largest
per_edge=$(((TOTAL + EDGES - 1) / EDGES))
hard=$(ulimit -Hn)
read -r port_low port_high </proc/sys/net/ipv4/ip_local_port_range
ephemeral=$((port_high - port_low + 1))
mem_avail_mb=$(awk '$1 == "MemAvailable:" { printf "%d", $2 / 1024 }' /proc/meminfo)
problems=()
if [[ "$hard" != unlimited ]]; then
  ((per_proc + 64 <= hard)) ||
    problems+=("a harness process needs $((per_proc + 64)) descriptors ($per_proc connections), the hard limit is $hard: raise CLIENTS_PROCS")
  ((MAX_PER_EDGE + 200 <= hard)) ||
    problems+=("an edge needs about $((MAX_PER_EDGE + 200)) descriptors (maxClients $MAX_PER_EDGE), the hard limit is $hard")
fi
((per_edge <= MAX_PER_EDGE)) || problems+=("$per_edge connections per edge exceed CLIENTS_MAX_PER_EDGE $MAX_PER_EDGE")
# One local port serves one connection per destination: each edge's port takes per_edge of them.
((per_edge + 1000 <= ephemeral)) ||
  problems+=("$per_edge connections to one edge's port need as many ephemeral ports; the range $port_low-$port_high has $ephemeral")
((USERS >= TOTAL)) || problems+=("CLIENTS_USERS $USERS is below CLIENTS_TOTAL $TOTAL")
# Loopback: two sockets a connection, a few KB of kernel memory each when idle; the edges' and
# harnesses' own memory is measured. 64 KB a connection is a generous bound.
((TOTAL * 64 / 1024 < mem_avail_mb)) ||
  problems+=("$TOTAL connections may need about $((TOTAL * 64 / 1024)) MB; $mem_avail_mb MB are available")
if ((${#problems[@]} > 0)); then
  printf 'clients.sh: %s\n' "${problems[@]}" >&2
  exit 2
fi
ulimit -Sn "$hard"
limits="descriptor hard limit $hard per process; ephemeral ports $port_low-$port_high ($ephemeral, one local port serves one connection per destination); tcp_tw_reuse $(cat /proc/sys/net/ipv4/tcp_tw_reuse); $mem_avail_mb MB available"
echo "== cluster clients: $TOTAL connections ($per_proc per harness process at most, $per_edge per edge) over $EDGES edges," \
  "$PROCS harness processes, $EVENTS events ($MIX), seed $SEED"
echo "   $limits"

work=$(mktemp -d "${TMPDIR:-/tmp}/eventserver-cluster-clients.XXXXXX")
timer_pids=()  # /usr/bin/time, one per harness process; the harness is its child
harness_pid_of() { pgrep -P "$1" 2>/dev/null | head -n 1; }  # time's child
stop_harnesses() {
  local t h
  for t in "${timer_pids[@]}"; do
    [[ -n "$t" ]] || continue
    h=$(harness_pid_of "$t")
    [[ -z "$h" ]] || kill -KILL "$h" 2>/dev/null || true
    wait "$t" 2>/dev/null || true
  done
  timer_pids=()
}
cleanup() {
  stop_harnesses
  stop_cluster
  if [[ "${KEEP_LOGS:-0}" == 1 ]]; then echo "clients.sh: logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
# A signal (Ctrl-C, a closed pipe on stdout) exits through the EXIT trap too, so nothing is left.
trap 'exit 130' INT TERM HUP PIPE
fail_setup() {
  echo "clients.sh: $*" >&2
  exit 1
}

# --- The cluster ------------------------------------------------------------------------------
start_nats 1 || fail_setup "nats-server did not start"
pick_ports event_port ingest_admin
role_config "$work/ingest.json" ingest "$event_port" 0 0 "$ingest_admin" 1
start_role ingest "$work/ingest.json" "$ingest_admin" || fail_setup "the ingest did not start"
client_ports=()
for ((e = 0; e < EDGES; e++)); do
  pick_ports client admin
  client_ports+=("$client")
  ROLE_MAX_CLIENTS=$MAX_PER_EDGE role_config "$work/edge$e.json" edge 0 "$client" 0 "$admin" 1
  start_role "edge$e" "$work/edge$e.json" "$admin" || fail_setup "edge$e did not start"
done

# sum_metric METRIC: METRIC summed over the edges.
sum_metric() {
  local e total=0 v
  for ((e = 0; e < EDGES; e++)); do
    v=$(metric "edge$e" "$1")
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
peak=()  # per edge: the most client connections sampled
held=0   # the most over all the edges in one sample
sample_connections() {
  local e v sum=0
  for ((e = 0; e < EDGES; e++)); do
    v=$(metric "edge$e" eventserver_client_connections)
    ((${v:-0} <= ${peak[e]:-0})) || peak[e]=$v
    sum=$((sum + ${v:-0}))
  done
  ((sum <= held)) || held=$sum
}

# --- The harness processes --------------------------------------------------------------------
join() { local IFS=,; echo "$*"; }
common=(--eventListenerPort="$event_port" --clientPorts="$(join "${client_ports[@]}")" --totalEvents="$EVENTS"
  --concurrencyLevel="$TOTAL" --numberOfUsers="$USERS" --mix="$MIX" --randomSeed="$SEED" --timeout=60000
  --connectTimeout=30000 --logInterval=5000)
# start_harness K [FLAG...]: process K of PROCS under /usr/bin/time (wall, CPU, peak RSS).
start_harness() {
  local k=$1
  shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/harness$k.time" \
    "$HARNESS" "${common[@]}" --shard="$k/$PROCS" "$@" >"$work/harness$k.log" 2>&1 &
  timer_pids[k]=$!
}
started=$(date +%s)
started_ns=$(date +%s%N)
seconds_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
observer_users=0
for ((k = 1; k < PROCS; k++)); do
  start_harness "$k" --observe
  observer_users=$((observer_users + (TOTAL - k + PROCS - 1) / PROCS))
done
# The sender's first event must find every observer's user registered on its edge.
while (($(sum_metric eventserver_connected_users) < observer_users)); do
  for ((k = 1; k < PROCS; k++)); do
    kill -0 "${timer_pids[k]}" 2>/dev/null || fail_setup "harness $k ended while connecting: $(tail -n 3 "$work/harness$k.log")"
  done
  (($(date +%s) - started < 120)) || fail_setup "the observers' $observer_users users did not all register within 120 s"
  sleep 0.2
done
observers_s=$(seconds_since "$started_ns")
echo "   the $((PROCS - 1)) observers' $observer_users users registered on the edges (${observers_s} s); starting the sender"
sender_ns=$(date +%s%N)
start_harness 0 ${SETTLE_MS:+--settle="$SETTLE_MS"}

# Wait for every harness, sampling the edges: every 0.1 s until they hold every connection at once
# (the sender's settle time, before its first event, is the window: no observer can leave before
# the stream ends), every 0.5 s after. Past the deadline everything is killed.
statuses=()
while :; do
  sample_connections
  running=0
  for ((k = 0; k < PROCS; k++)); do
    [[ -z "${statuses[k]:-}" ]] || continue
    if kill -0 "${timer_pids[k]}" 2>/dev/null; then
      running=$((running + 1))
    else
      status=0
      wait "${timer_pids[k]}" || status=$?
      statuses[k]=$status
      timer_pids[k]=""
    fi
  done
  if ((running == 0)); then
    run_s=$(seconds_since "$sender_ns")  # to within this loop's sleep
    break
  fi
  if (($(date +%s) - started > DEADLINE_S)); then
    echo "clients.sh: past the deadline of $DEADLINE_S s; stopping the harnesses" >&2
    stop_harnesses
    for ((k = 0; k < PROCS; k++)); do statuses[k]=${statuses[k]:-killed}; done
    break
  fi
  if ((held >= TOTAL)); then sleep 0.5; else sleep 0.1; fi
done
load=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Figures, read before the daemons stop ----------------------------------------------------
# cpu_split PID: "total (user U, sys S)" seconds from /proc/PID/stat.
cpu_split() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f (user %.2f, sys %.2f)", ($12 + $13) / hz, $12 / hz, $13 / hz }' \
    "/proc/$1/stat" 2>/dev/null || echo na
}
vmhwm_mb() { awk '$1 == "VmHWM:" { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo na; }
process_rows=()
edge_rows=()
delivered_total=0
for ((e = 0; e < EDGES; e++)); do
  pid=${role_pid[edge$e]}
  delivered=$(metric "edge$e" eventserver_notifications_delivered_total)
  delivered_total=$((delivered_total + ${delivered:-0}))
  edge_rows+=("| edge$e | ${peak[e]:-0} | ${delivered:-na} | $(metric "edge$e" eventserver_events_processed_total) in $(metric "edge$e" eventserver_edge_batches_total) batches |")
  process_rows+=("| edge$e | $(cpu_split "$pid") | $(vmhwm_mb "$pid") |")
done
ingest_events=$(metric ingest eventserver_events_processed_total)
process_rows+=("| ingest | $(cpu_split "${role_pid[ingest]}") | $(vmhwm_mb "${role_pid[ingest]}") |")
process_rows+=("| nats-server | $(cpu_split "${nats_pids[0]}") | $(vmhwm_mb "${nats_pids[0]}") |")
edge_stops=$(grep -h -m1 "this edge stops" "$work"/edge*.log 2>/dev/null | head -n 1 || true)
stop_cluster

failures=0
verified_total=0
harness_rows=()
sender_result=""
for ((k = 0; k < PROCS; k++)); do
  log="$work/harness$k.log"
  result=$(grep '^RESULT ' "$log" | tail -n 1 || true)
  # time's last line (a failed command's status line comes first).
  read -r _ user sys rss_kb < <(tail -n 1 "$work/harness$k.time" 2>/dev/null) || { user=0 sys=0 rss_kb=0; }
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f (user %.2f, sys %.2f)", u + s, u, s }')
  role=$([[ $k == 0 ]] && echo "sender" || echo "observer")
  notes=$(sed -nE 's/.* notifications=([0-9]+).*/\1/p' <<<"$result")
  # An observer that expected nothing could pass before the stream reached it.
  if [[ "${statuses[k]}" == 0 ]] && grep -q "ALL NOTIFICATIONS RECEIVED" "$log" && ((${notes:-0} > 0)); then
    clients=$(sed -E 's/.* clients=([0-9]+).*/\1/' <<<"$result")
    verified_total=$((verified_total + notes))
    harness_rows+=("| harness $k ($role) | $clients | $notes | passed |")
    [[ $k != 0 ]] || sender_result=$result
  else
    why=$(grep -m1 "^FAILED" "$log" | sed "s/^FAILED: //" || true)
    if [[ -z "$why" && "${notes:-}" == 0 ]]; then why="verified no notification"; fi
    [[ -n "$why" ]] || why=$(tail -n 1 "$log")
    harness_rows+=("| harness $k ($role) | | | FAILED (exit ${statuses[k]}): ${why//|/\\|} |")
    failures=$((failures + 1))
    echo "clients.sh: harness $k FAILED: $why" >&2
  fi
  process_rows+=("| harness $k ($role) | $cpu | $((rss_kb / 1024)) |")
done
[[ -z "$edge_stops" ]] || echo "clients.sh: an edge stopped: $edge_stops" >&2
# Every line an edge wrote reached a connection some process verified.
if ((failures == 0 && verified_total != delivered_total)); then
  echo "clients.sh: the harnesses verified $verified_total notifications, the edges delivered $delivered_total" >&2
  failures=$((failures + 1))
fi

field() { sed -E "s/.* $1=([0-9.na]+).*/\1/" <<<"$sender_result"; }
# The sender's connecting, from its log's time stamps ("connecting ..." to "... clients connected").
sender_connect_s=$(awk '/ info connecting / { a = $1 } / clients connected; settling / { b = $1 }
  function s(t) { gsub(/[][]/, "", t); split(t, p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }
  END { if (a != "" && b != "") printf "%.1f", s(b) - s(a); else print "na" }' "$work/harness0.log")
summary="$held connections held at once over $EDGES edges"
if [[ -n "$sender_result" ]]; then
  summary+="; the sender: $(field events) events in $(field wall_s) s, p50 $(field p50_us) us, p99 $(field p99_us) us, max $(field max_us) us"
fi
summary+="; $verified_total notifications verified by the harnesses, $delivered_total delivered by the edges"
timings="the observers' $observer_users users connected and registered in $observers_s s; the sender connected its $per_proc in $sender_connect_s s; from the sender's start to the last harness's exit ${run_s:-na} s; load average at the end $load"
echo "   $summary"
echo "   $timings"

mkdir -p "$RESULTS_DIR"
md="$RESULTS_DIR/cluster_clients.md"
{
  echo "# Clients over three edges: more connections than one process may hold"
  echo
  echo "Generated by \`bench/cluster/clients.sh\` (CLIENTS_TOTAL=$TOTAL CLIENTS_PROCS=$PROCS CLIENTS_EVENTS=$EVENTS" \
    "CLIENTS_MIX=$MIX CLIENTS_USERS=$USERS CLIENTS_MAX_PER_EDGE=$MAX_PER_EDGE CLIENTS_SEED=$SEED) on" \
    "$(date -u '+%Y-%m-%d %H:%M UTC'), commit \`$(git describe --always --dirty 2>/dev/null || echo unknown)\`," \
    "$(nproc) cores, every process on this machine over loopback, nats-server" \
    "$(nats-server --version 2>/dev/null | awk '{ print $2 }') (one node, the stream R1). Limits: $limits."
  echo
  echo "One ingest and three edges (maxClients $MAX_PER_EDGE each); $PROCS followermaze processes share out the" \
    "$TOTAL connected users (\`--shard=K/$PROCS\`), each spreading its connections over the three edges" \
    "(\`--clientPorts\`). Harness 0 sends the stream to the ingest; the others (\`--observe\`) generate the same" \
    "stream and verify their connections against it. Every connection is checked for exactly what the stream owes" \
    "its user, in order: every broadcast, and its private messages, follows and status updates."
  echo
  echo "**$summary.**"
  echo
  echo "Timings: $timings."
  echo
  echo "| edge | most client connections held (sampled) | notifications delivered | events applied from the stream |"
  echo "|---|---:|---:|---:|"
  printf '%s\n' "${edge_rows[@]}"
  echo
  echo "| harness process | connections | notifications verified | outcome |"
  echo "|---|---:|---:|---|"
  printf '%s\n' "${harness_rows[@]}"
  echo
  echo "| process | CPU s | peak RSS MiB |"
  echo "|---|---:|---:|"
  printf '%s\n' "${process_rows[@]}"
  echo
  echo "Events through the ingest: ${ingest_events:-na}. CPU is utime + stime (daemons and nats-server from" \
    "/proc/PID/stat before they were stopped, harnesses from /usr/bin/time), peak RSS is VmHWM (harnesses: time's %M)."
  if [[ -n "$sender_result" ]]; then
    echo "The sender's latency runs from its batch being accepted by the kernel to the line arriving at one of its own" \
      "connections (ingest, NATS, an edge, the client)."
    echo
    echo '```'
    echo "$sender_result"
    echo '```'
  fi
  [[ -z "$edge_stops" ]] || printf '\nAn edge stopped: "%s"\n' "$edge_stops"
} >"$md"
echo "clients.sh: wrote $md"
((failures == 0))
