#!/usr/bin/env bash
# The event log's cost on the default run, interleaved: the build before (no log), this build
# without a log, and this build with a log under each logFsync policy. Each round runs every
# variant once, in an order that rotates from round to round (this machine's speed drifts by
# +-15% from minute to minute, so only interleaved runs compare). Every run is the harness's
# default stream (EVENTS, CLIENTS), verified; a fresh data directory each time.
#
# usage: bench/log/run.sh [ROUNDS]      (default 5)
#   A variant is before (BASE_BIN, no log), off (no dataDir), always, interval or never (the
#   logFsync policy), or POLICY@BINARY for another build's daemon. The first is the reference
#   for the per-round CPU ratio.
#   BUILD_DIR   this build (default build)
#   BASE_BIN    the daemon of the build before, for the "before" row; skipped when unset
#   EVENTS      events per run (default 10000000), CLIENTS (default 100)
#   VARIANTS    which rows, space-separated (default "before off always interval never")
#   OUT         results file (default bench/results/log.md)
# Writes a markdown table of medians (daemon CPU, wall, p99, peak RSS, bytes in the log) with
# the runs behind each median.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh

rounds=${1:-5}
build=${BUILD_DIR:-build}
events=${EVENTS:-10000000}
clients=${CLIENTS:-100}
out=${OUT:-bench/results/log.md}
variants=${VARIANTS:-"before off always interval never"}
[[ -n "${BASE_BIN:-}" ]] || variants=${variants//before/}
require_binaries "$build/eventserver" "$build/followermaze"
[[ -z "${BASE_BIN:-}" ]] || require_binaries "$BASE_BIN"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A runs

# run_variant NAME: one verified run; appends "cpu wall p99_ms rss_kb log_bytes" to runs[NAME].
run_variant() {
  local name=$1 binary=$build/eventserver log_keys="" event_port client_port policy=${1%%@*}
  # POLICY@BINARY: that policy with another build's daemon (A/B comparisons of two builds).
  [[ "$name" != *@* ]] || binary=${name#*@}
  case $policy in
    before) binary=$BASE_BIN ;;
    off) ;;
    always | interval | never) log_keys=", \"dataDir\": \"$work/data\", \"logFsync\": \"$policy\"" ;;
    *) echo "run.sh: unknown variant $name" >&2; exit 2 ;;
  esac
  rm -rf "$work/data" && mkdir -p "$work/data"
  pick_ports event_port client_port
  printf '{"eventListenerPort": %s, "clientListenerPort": %s, "clientListenerAddress": "127.0.0.1", "adminListenerPort": 0%s}\n' \
    "$event_port" "$client_port" "$log_keys" >"$work/config.json"
  "$binary" -config "$work/config.json" >"$work/daemon.log" 2>&1 &
  local pid=$!
  local result
  if ! result=$(eventListenerPort=$event_port clientListenerPort=$client_port \
    "$build/followermaze" --totalEvents="$events" --concurrencyLevel="$clients" --daemonPid="$pid" 2>&1 | grep '^RESULT'); then
    echo "run.sh: $name: the harness failed" >&2
    terminate_daemon "$pid" || true
    exit 1
  fi
  terminate_daemon "$pid" || true
  local bytes=0
  [[ -z "$log_keys" ]] || bytes=$(du -sb --exclude='snapshot-*' "$work/data" | cut -f1)
  local cpu wall p99 rss
  cpu=$(grep -oE 'daemon_cpu_s=[0-9.]+' <<<"$result" | cut -d= -f2)
  wall=$(grep -oE 'wall_s=[0-9.]+' <<<"$result" | cut -d= -f2)
  p99=$(grep -oE 'p99_us=[0-9]+' <<<"$result" | cut -d= -f2)
  rss=$(grep -oE 'daemon_peak_rss_kb=[0-9]+' <<<"$result" | cut -d= -f2)
  runs[$name]+="$cpu $wall $((p99 / 1000)) $rss $bytes;"
  printf '  %-9s cpu %s s  wall %s s  p99 %s ms  rss %s KB  log %s bytes\n' "$name" "$cpu" "$wall" "$((p99 / 1000))" "$rss" "$bytes"
}

read -r -a order <<<"$variants"
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds"
  n=${#order[@]}
  for i in $(seq 0 $((n - 1))); do
    run_variant "${order[$(((i + round - 1) % n))]}"
  done
done

{
  echo "# The event log's cost on the default run"
  echo
  echo "$(date -u +%F), commit \`$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo -dirty)\`, $rounds rounds" \
    "interleaved (\`bench/log/run.sh $rounds\`), $events events, $clients clients, every run verified by the harness."
  # What the command line above does not show: which daemons ran and in what order of variants.
  echo "Daemon \`$build/eventserver\`$([[ -z "${BASE_BIN:-}" ]] || echo ", before = \`$BASE_BIN\`"); VARIANTS=\"${order[*]}\"."
  echo "Medians; the runs behind each are listed below."
  echo
  reference=${order[0]}
  echo "| variant | daemon CPU s | CPU / $reference (per round) | wall s | p99 ms | peak RSS MB | log bytes |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for name in "${order[@]}"; do
    r=${runs[$name]}
    printf '| %s | %s | %s | %s | %s | %.1f | %s |\n' "$name" "$(records_median 1 "$r")" "$(pair_ratio "$r" "${runs[$reference]}")" \
      "$(records_median 2 "$r")" "$(records_median 3 "$r")" "$(awk -v k="$(records_median 4 "$r")" 'BEGIN {print k / 1024}')" "$(records_median 5 "$r")"
  done
  echo
  echo "Runs (cpu s, wall s, p99 ms, rss KB, log bytes):"
  echo
  for name in "${order[@]}"; do echo "- $name: ${runs[$name]}"; done
} >"$out"
cat "$out"
