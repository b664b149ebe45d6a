#!/usr/bin/env bash
# What the latency histograms cost, and what they say: the default run (followermaze at its
# defaults, 10M events, 100 clients) against two daemons in turn, OLD (a build without the
# histograms) and NEW, ROUNDS times, the order alternating (OLD first in odd rounds). Each daemon
# runs the shipped config/config.json with free loopback ports, clientListenerAddress 127.0.0.1,
# an admin port and a fresh temporary dataDir. For each run: the harness's RESULT (daemon CPU,
# p99); for NEW, also /metrics at the end of the run and the p99s histogram_quantile() would
# compute from its histograms, set beside the harness's p99; for both, the client writes (the
# coalescing depends on timing, and more writes cost more system time).
#
# usage: bench/latency/run.sh OLD_DAEMON NEW_DAEMON [ROUNDS]   (default 9 rounds)
# Environment: HARNESS (default build/followermaze), HARNESS_ARGS (extra followermaze flags),
#              CONFIG (default config/config.json).
# Prints one line per run and the medians; writes nothing else.
set -euo pipefail
cd "$(dirname "$0")/../.."
OLD=${1:?usage: run.sh OLD_DAEMON NEW_DAEMON [ROUNDS]}
NEW=${2:?usage: run.sh OLD_DAEMON NEW_DAEMON [ROUNDS]}
ROUNDS=${3:-9}
HARNESS=${HARNESS:-build/followermaze}
HARNESS_ARGS=${HARNESS_ARGS:-}
CONFIG=${CONFIG:-config/config.json}
# shellcheck source-path=SCRIPTDIR/../.. disable=SC1091
source bench/lib.sh
require_binaries "$OLD" "$NEW" "$HARNESS"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# p QUANTILE NAME METRICS_FILE: histogram_quantile() of one histogram on /metrics, in ms.
quantile_ms() {
  awk -v q="$1" -v name="$2_bucket" '
    index($0, name "{le=") == 1 {
      le = $0; sub(/.*le="/, "", le); sub(/".*/, "", le)
      n++; bound[n] = (le == "+Inf") ? -1 : le + 0; count[n] = $NF + 0
    }
    END {
      if (n == 0 || count[n] == 0) { print "na"; exit }
      rank = q * count[n]; lower = 0; below = 0
      for (i = 1; i <= n; i++) {
        if (count[i] >= rank) {
          if (bound[i] < 0) { printf "%.1f\n", lower * 1000; exit }
          f = (count[i] == below) ? 0 : (rank - below) / (count[i] - below)
          printf "%.1f\n", (lower + (bound[i] - lower) * f) * 1000; exit
        }
        lower = bound[i]; below = count[i]
      }
    }' "$3"
}

run_one() {  # run_one NAME DAEMON
  local name=$1 daemon=$2 result metrics
  metrics="$work/metrics-$name.txt"
  result=$(harness_against "$daemon" "$work" "$metrics")
  if [[ -z "$result" ]]; then
    echo "run.sh: $name: the harness failed; daemon log:" >&2
    tail -n 5 "$work/daemon.log" >&2
    exit 1
  fi
  local cpu p99_us
  cpu=$(sed -E 's/.* daemon_cpu_s=([0-9.]+).*/\1/' <<<"$result")
  p99_us=$(sed -E 's/.* p99_us=([0-9]+).*/\1/' <<<"$result")
  echo "$name cpu_s=$cpu harness_p99_ms=$(awk -v u="$p99_us" 'BEGIN { printf "%.1f", u / 1000 }')" \
    "client_writes=$(awk '$1 == "eventserver_client_writes_total" { print $2 }' "$metrics")" \
    "delivery_p50_ms=$(quantile_ms 0.5 eventserver_delivery_latency_seconds "$metrics")" \
    "delivery_p99_ms=$(quantile_ms 0.99 eventserver_delivery_latency_seconds "$metrics")" \
    "durable_p99_ms=$(quantile_ms 0.99 eventserver_durable_latency_seconds "$metrics")"
}

for round in $(seq "$ROUNDS"); do
  if ((round % 2 == 1)); then order=(old new); else order=(new old); fi
  for which in "${order[@]}"; do
    if [[ $which == old ]]; then run_one old "$OLD"; else run_one new "$NEW"; fi
  done
done | tee "$work/runs.txt"

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { grep "^$1 " "$work/runs.txt" | sed -E "s/.* $2=([0-9.na]+).*/\1/" | grep -v na; }
echo "medians over $ROUNDS rounds:"
for which in old new; do
  echo "  $which cpu_s=$(field $which cpu_s | median) harness_p99_ms=$(field $which harness_p99_ms | median)"
done
echo "  new delivery_p99_ms=$(field new delivery_p99_ms | median) durable_p99_ms=$(field new durable_p99_ms | median)"
# The per-round ratio new/old of CPU, in run order.
paste <(field old cpu_s) <(field new cpu_s) | awk '{ printf "%.3f\n", $2 / $1 }' >"$work/ratios.txt"
echo "  cpu ratio new/old per round: $(tr '\n' ' ' <"$work/ratios.txt")median $(median <"$work/ratios.txt")"
