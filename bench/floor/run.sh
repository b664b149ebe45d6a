#!/usr/bin/env bash
# The daemon's CPU as a multiple of the I/O floor, both measured in the same round: the default
# run (followermaze at its defaults, 10M events, 100 clients, or HARNESS_ARGS) against DAEMON on
# the shipped config/config.json (free loopback ports, admin on, a fresh dataDir); then
# bench/floor/floor moving the same bytes (what /metrics says the daemon read from the source and
# wrote to the clients) over as many loopback connections, with one write per client per
# clientWriteDelayMs. ROUNDS rounds; one line per round, then the medians.
# With OLD_DAEMON set, each round also runs that daemon (the order alternating, OLD first in odd
# rounds) against the same floor, and reports its CPU and its ratio to the new one's (old/new).
#
# usage: bench/floor/run.sh DAEMON [ROUNDS]      (default 5 rounds)
# Environment: HARNESS (default build/followermaze), HARNESS_ARGS (extra followermaze flags;
#              --concurrencyLevel=N also sets the floor's client count), CONFIG (default
#              config/config.json), FLOOR (default build/bench/floor/floor), OLD_DAEMON,
#              FLOOR_PACE=1: the floor's source is paced over the daemon's wall time (the
#              harness's wall_s), so the floor makes one write per client per tick over as
#              long a run (bench/floor/run_10k.sh sets it; without it the source comes at once
#              and the floor's passes are few).
set -euo pipefail
cd "$(dirname "$0")/../.."
DAEMON=${1:?usage: run.sh DAEMON [ROUNDS]}
ROUNDS=${2:-5}
HARNESS=${HARNESS:-build/followermaze}
HARNESS_ARGS=${HARNESS_ARGS:-}
CONFIG=${CONFIG:-config/config.json}
FLOOR=${FLOOR:-build/bench/floor/floor}
OLD_DAEMON=${OLD_DAEMON:-}
FLOOR_PACE=${FLOOR_PACE:-0}
# shellcheck source-path=SCRIPTDIR/../.. disable=SC1091
source bench/lib.sh
require_binaries "$DAEMON" "$HARNESS" "$FLOOR" ${OLD_DAEMON:+"$OLD_DAEMON"}
clients=$(grep -oE -- '--concurrencyLevel=[0-9]+' <<<"$HARNESS_ARGS" | cut -d= -f2 || true)
clients=${clients:-100}
tick_ms=$(jq '.clientWriteDelayMs // 50' "$CONFIG")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

metric() { awk -v name="$1" '$1 == name { printf "%.0f\n", $2 }' "$2"; }

# run_daemon DAEMON: one harness run against DAEMON; sets result (the RESULT line) and metrics.
run_daemon() {
  local daemon=$1
  metrics="$work/metrics.txt"
  result=$(harness_against "$daemon" "$work" "$metrics")
  if [[ -z "$result" ]]; then
    echo "run.sh: the harness failed against $daemon; daemon log:" >&2
    tail -n 5 "$work/daemon.log" >&2
    exit 1
  fi
}

# run_old: OLD_DAEMON's run of this round; sets old_cpu, old_p99, old_rss, old_writes.
run_old() {
  run_daemon "$OLD_DAEMON"
  old_cpu=$(sed -E 's/.* daemon_cpu_s=([0-9.]+).*/\1/' <<<"$result")
  old_p99=$(grep -oE 'p99_us=[0-9]+' <<<"$result" | cut -d= -f2)
  old_rss=$(grep -oE 'daemon_peak_rss_kb=[0-9]+' <<<"$result" | cut -d= -f2)
  old_writes=$(metric eventserver_client_writes_total "$metrics")
}

round_number=0
round() {
  local floor_port cpu in out floor writes wall p99 rss old="" old_cpu="" old_p99="" old_rss="" old_writes=""
  round_number=$((round_number + 1))
  if [[ -n "$OLD_DAEMON" ]] && ((round_number % 2 == 1)); then
    run_old
  fi
  run_daemon "$DAEMON"
  cpu=$(sed -E 's/.* daemon_cpu_s=([0-9.]+).*/\1/' <<<"$result")
  wall=$(sed -E 's/.* wall_s=([0-9.]+).*/\1/' <<<"$result")
  p99=$(grep -oE 'p99_us=[0-9]+' <<<"$result")
  rss=$(grep -oE 'daemon_peak_rss_kb=[0-9]+' <<<"$result")
  writes=$(metric eventserver_client_writes_total "$metrics")
  in=$(metric eventserver_bytes_received_total "$metrics")
  out=$(metric eventserver_bytes_sent_total "$metrics")
  if [[ -n "$OLD_DAEMON" ]] && ((round_number % 2 == 0)); then
    run_old
  fi
  pick_ports floor_port
  "$FLOOR" serve "$floor_port" "$clients" "$in" "$out" "$tick_ms" >"$work/floor.txt" &
  local server=$!
  if [[ "$FLOOR_PACE" == 1 ]]; then
    "$FLOOR" drive "$floor_port" "$clients" "$in" "$wall"
  else
    "$FLOOR" drive "$floor_port" "$clients" "$in"
  fi
  wait "$server"
  floor=$(sed -E 's/.*floor_cpu_s=([0-9.]+).*/\1/' "$work/floor.txt")
  if [[ -n "$OLD_DAEMON" ]]; then
    old="old_cpu_s=$old_cpu old_ratio=$(awk -v d="$old_cpu" -v f="$floor" 'BEGIN { printf "%.2f", d / f }')"
    old+=" old_over_new=$(awk -v o="$old_cpu" -v n="$cpu" 'BEGIN { printf "%.2f", o / n }') old_p99_us=$old_p99"
    old+=" old_peak_rss_kb=$old_rss old_daemon_writes=$old_writes "
  fi
  echo "daemon_cpu_s=$cpu floor_cpu_s=$floor ratio=$(awk -v d="$cpu" -v f="$floor" 'BEGIN { printf "%.2f", d / f }')" \
    "${old}event_bytes=$in notification_bytes=$out clients=$clients daemon_writes=$writes" \
    "floor_$(grep -oE 'writes=[0-9]+' "$work/floor.txt") floor_$(grep -oE 'ticks=[0-9]+' "$work/floor.txt")" \
    "wall_s=$wall $p99 $rss"
}

for _ in $(seq "$ROUNDS"); do round; done | tee "$work/rounds.txt"
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -E "s/(^| )$1=([0-9.]+).*/ \2/; s/.* //" "$work/rounds.txt"; }
echo "medians over $ROUNDS rounds: daemon_cpu_s=$(field daemon_cpu_s | median) floor_cpu_s=$(field floor_cpu_s | median)" \
  "ratio=$(field ratio | median) p99_us=$(field p99_us | median) daemon_peak_rss_kb=$(field daemon_peak_rss_kb | median)"
if [[ -n "$OLD_DAEMON" ]]; then
  echo "old: daemon_cpu_s=$(field old_cpu_s | median) ratio=$(field old_ratio | median)" \
    "old_over_new=$(field old_over_new | median) p99_us=$(field old_p99_us | median)" \
    "daemon_peak_rss_kb=$(field old_peak_rss_kb | median)"
fi
