#!/usr/bin/env bash
# The default followermaze run (10M events, 100 clients, unpaced, verified) three ways on this
# machine, each on fresh directories and free loopback ports:
#   standalone   one daemon on the shipped config/config.json (dataDir a fresh directory)
#   r1-1edge     nats-server, an ingest, one edge; the stream R1
#   r3-3edges    three nats-server nodes routed into one cluster, an ingest, three edges (the
#                harness's clients spread over them, --clientPorts); the stream R3
# Each: the harness's wall time and p99, and the CPU seconds (utime + stime, /proc/PID/stat, read
# before the SIGTERM) of every process (daemons and nats-servers), with the load average at the
# end of the run (the machine is shared). Writes RESULTS_DIR/cluster.md.
#
# Environment: BENCH_EVENTS (default 10000000), BENCH_CLIENTS (100), BENCH_ROUNDS (3, the three
# set-ups interleaved in each), BENCH_SETUPS ("standalone r1-1edge r3-3edges"), BENCH_RATE (the
# harness's --maxRate, default 0: unpaced), BUILD_DIR (build), RESULTS_DIR (bench/results),
# KEEP_LOGS=1. A failed run is a row saying why (an edge that stopped quotes its error line); the
# exit status is then 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
RESULTS_DIR=${RESULTS_DIR:-bench/results}
BENCH_EVENTS=${BENCH_EVENTS:-10000000}
BENCH_CLIENTS=${BENCH_CLIENTS:-100}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_SETUPS=${BENCH_SETUPS:-standalone r1-1edge r3-3edges}
BENCH_RATE=${BENCH_RATE:-0}
DAEMON=${DAEMON:-$BUILD_DIR/eventserver}
HARNESS=${HARNESS:-$BUILD_DIR/followermaze}
# shellcheck disable=SC1091
source bench/lib.sh
# shellcheck disable=SC1091
source bench/cluster/lib.sh
require_binaries "$DAEMON" "$HARNESS"
command -v nats-server >/dev/null || { echo "run.sh: nats-server is not installed" >&2; exit 2; }

top=$(mktemp -d "${TMPDIR:-/tmp}/eventserver-cluster-bench.XXXXXX")
work=""
harness_pid=""
cleanup() {
  [[ -z "$harness_pid" ]] || kill -KILL "$harness_pid" 2>/dev/null || true
  stop_cluster
  if [[ "${KEEP_LOGS:-0}" == 1 ]]; then echo "run.sh: logs kept in $top"; else rm -rf "$top"; fi
}
trap cleanup EXIT

rows=()
failures=0
# cpu_of NAMES...: "name cpu_s" for each running role and nats node, one string.
cpu_all() {
  local out="" name i
  for name in $(printf '%s\n' "${!role_pid[@]}" | sort); do
    [[ -z "${role_pid[$name]}" ]] || out+="$name $(cpu_seconds "${role_pid[$name]}"), "
  done
  for ((i = 0; i < ${#nats_pids[@]}; i++)); do
    [[ -z "${nats_pids[i]}" ]] || out+="nats-${nats_names[i]} $(cpu_seconds "${nats_pids[i]}"), "
  done
  echo "${out%, }"
}

# run_setup SETUP ROUND
run_setup() {
  local setup=$1 round=$2 ports=() nodes=1 replicas=1 edges=1 e
  work="$top/$setup.$round"
  mkdir -p "$work"
  nats_pids=() nats_names=() nats_ports=() nats_http=()
  role_pid=() role_admin=()
  local harness_args=(--totalEvents="$BENCH_EVENTS" --concurrencyLevel="$BENCH_CLIENTS" --randomSeed="$round"
    --maxRate="$BENCH_RATE")
  if [[ "$setup" == standalone ]]; then
    local event client admin
    pick_ports event client admin
    jq --arg d "$work/data" --argjson e "$event" --argjson c "$client" --argjson a "$admin" \
      '.eventListenerPort = $e | .clientListenerPort = $c | .clientListenerAddress = "127.0.0.1"
       | .adminListenerPort = $a | .wsListenerPort = 0 | .dataDir = $d' config/config.json >"$work/standalone.json"
    mkdir -p "$work/data"
    start_role standalone "$work/standalone.json" "$admin" || return 1
    harness_args+=(--eventListenerPort="$event" --clientListenerPort="$client")
  else
    if [[ "$setup" == r3-3edges ]]; then nodes=3 replicas=3 edges=3; fi
    start_nats "$nodes" || return 1
    local event admin client ws
    pick_ports event admin
    role_config "$work/ingest.json" ingest "$event" 0 0 "$admin" "$replicas"
    start_role ingest "$work/ingest.json" "$admin" || return 1
    for ((e = 0; e < edges; e++)); do
      pick_ports client ws admin
      ports+=("$client")
      role_config "$work/edge$e.json" edge 0 "$client" "$ws" "$admin" "$replicas"
      start_role "edge$e" "$work/edge$e.json" "$admin" || return 1
    done
    harness_args+=(--eventListenerPort="$event" --clientPorts="$(IFS=,; echo "${ports[*]}")")
  fi
  "$HARNESS" "${harness_args[@]}" >"$work/harness.log" 2>&1 &
  harness_pid=$!
  local status=0
  wait "$harness_pid" || status=$?
  harness_pid=""
  local cpu load result
  cpu=$(cpu_all)
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  result=$(grep '^RESULT ' "$work/harness.log" | tail -n 1 || true)
  stop_cluster
  # Client writes of every daemon, from the `totals:` line each logs when it stops.
  local writes
  writes=$(grep -ho ' in [0-9]* writes' "$work"/*.log 2>/dev/null | awk '{ n += $2 } END { print n + 0 }')
  if ((status != 0)) || ! grep -q "ALL NOTIFICATIONS RECEIVED" "$work/harness.log"; then
    local why
    why=$(grep -h -m1 -o "edge: stopped following.*this edge stops" "$work"/edge*.log 2>/dev/null | head -n 1 || true)
    [[ -n "$why" ]] || why=$(grep -m1 "^FAILED" "$work/harness.log" || echo "harness exit $status")
    echo "run.sh: $setup round $round FAILED: $why" >&2
    rows+=("| $setup | $round | FAILED: ${why//|/\\|} | | | $cpu | $load |")
    failures=$((failures + 1))
    [[ "${KEEP_LOGS:-0}" == 1 ]] || rm -rf "$work"
    return 0
  fi
  local wall p99
  wall=$(sed -E 's/.* wall_s=([0-9.]+).*/\1/' <<<"$result")
  p99=$(sed -E 's/.* p99_us=([0-9]+).*/\1/' <<<"$result")
  echo "   $setup round $round: wall ${wall} s, p99 $((p99 / 1000)) ms, client writes $writes, CPU s: $cpu; load $load"
  rows+=("| $setup | $round | $wall | $((p99 / 1000)) | $writes | $cpu | $load |")
  [[ "${KEEP_LOGS:-0}" == 1 ]] || rm -rf "$work"
}

echo "== cluster bench: $BENCH_EVENTS events, $BENCH_CLIENTS clients, $BENCH_ROUNDS rounds of: $BENCH_SETUPS"
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
  for setup in $BENCH_SETUPS; do
    run_setup "$setup" "$round" || exit 1
  done
done

mkdir -p "$RESULTS_DIR"
md="$RESULTS_DIR/cluster.md"
{
  echo "# The default run standalone and on a cluster (NATS JetStream)"
  echo
  echo "Generated by \`bench/cluster/run.sh\` (BENCH_EVENTS=$BENCH_EVENTS BENCH_CLIENTS=$BENCH_CLIENTS" \
    "BENCH_ROUNDS=$BENCH_ROUNDS BENCH_RATE=$BENCH_RATE) on $(date -u '+%Y-%m-%d %H:%M UTC'), commit" \
    "\`$(git describe --always --dirty 2>/dev/null || echo unknown)\`, $(nproc) cores, every process on this" \
    "machine, nats-server $(nats-server --version 2>/dev/null | awk '{ print $2 }'). Every run verified by the harness" \
    "(ALL NOTIFICATIONS RECEIVED). Wall and p99 are the harness's (\`wall_s\`, \`p99_us\`); CPU is utime + stime" \
    "of each process from /proc/PID/stat at the end of the run; client writes are the daemons' (their" \
    "\`totals:\` lines at shutdown); load is /proc/loadavg then."
  echo
  echo "| set-up | round | wall s | p99 ms | client writes | CPU s per process | load average |"
  echo "|---|---:|---:|---:|---:|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$md"
echo "run.sh: wrote $md"
((failures == 0))
