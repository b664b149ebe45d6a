#!/usr/bin/env bash
# Slow readers: what 10 clients reading at half the rate they are sent cost the daemon and the
# other clients. Goals: every client gets everything (ALL NOTIFICATIONS RECEIVED); daemon CPU
# <= 1.5x the run without slow readers; p99 of the other clients within 20% of that run; peak
# RSS with slow readers < 16 MB.
#
# Variants (each run the harness's default stream, EVENTS events, CLIENTS clients, verified):
#   A        no slow readers, event log on (fresh dataDir, logFsync interval, the shipped
#            clientSpillBytes)
#   B        --chaos-slow-readers=SLOW (taken from the CLIENTS, not added), event log on
#   Bmem     as B without a dataDir: catch-up from historyBytes (16 MiB) in memory
#   Ap, Bp   A and B paced at RATE events/s: the latency is the daemon's own, not queueing
# Each round runs every variant once, the order rotating (the machine drifts +-15-40%); the
# ratios are per round (B/A, Bmem/A, Bp/Ap), then the median over rounds.
#
# usage: bench/slow/run.sh [ROUNDS]     (default 5)
#   EVENTS (default 10000000)  CLIENTS (default 100)  SLOW (default 10)  RATE (default 1000000)
#   VARIANTS (default "A B Bmem Ap Bp")  DAEMON, HARNESS (default build/eventserver, build/followermaze)
#   SPILL_BYTES (default: config/config.json's clientSpillBytes; 0: slow readers read the log)
#   OUT (default bench/results/slow_readers.md)
#   OLD_DAEMON: a second build run in the same rounds (each variant with both daemons, the order
#     alternating), reported as rows "old:<variant>" and per-round ratios new/old.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/lib.sh

rounds=${1:-5}
events=${EVENTS:-10000000}
clients=${CLIENTS:-100}
slow=${SLOW:-10}
rate=${RATE:-1000000}
variants=${VARIANTS:-"A B Bmem Ap Bp"}
# The shipped config's spill budget (a slow reader keeps its own notifications on disk); 0: the
# slow readers read the log instead.
spill_bytes=${SPILL_BYTES:-$(jq .clientSpillBytes config/config.json)}
daemon=${DAEMON:-build/eventserver}
old_daemon=${OLD_DAEMON:-}
harness=${HARNESS:-build/followermaze}
out=${OUT:-bench/results/slow_readers.md}
require_binaries "$daemon" "$harness" ${old_daemon:+"$old_daemon"}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A runs
fails=()

# run_variant NAME [DAEMON KEY]: one run; appends "cpu p99_us rss_kb slow_p99_us slow_finish_s wall_s entered"
# to runs[KEY] (default: NAME, with $daemon).
run_variant() {
  local name=$1 binary=${2:-$daemon} slot=${3:-$1} spill=$spill_bytes flags=()
  # An OLD_DAEMON from before clientSpillBytes refuses the key: it gets OLD_SPILL_BYTES (default 0, left out).
  if [[ -n "$old_daemon" && "$binary" == "$old_daemon" ]]; then spill=${OLD_SPILL_BYTES:-0}; fi
  local spill_key=""
  if ((spill > 0)); then spill_key=", \"clientSpillBytes\": $spill"; fi
  local log_keys=", \"dataDir\": \"$work/data\", \"logFsync\": \"interval\"$spill_key"
  case $name in
    A) ;;
    B) flags=(--chaos-slow-readers="$slow") ;;
    Bmem) flags=(--chaos-slow-readers="$slow") log_keys="" ;;
    Ap) flags=(--maxRate="$rate") ;;
    Bp) flags=(--chaos-slow-readers="$slow" --maxRate="$rate") ;;
    *) echo "run.sh: unknown variant $name" >&2; exit 2 ;;
  esac
  rm -rf "$work/data" && mkdir -p "$work/data"
  local event_port client_port admin_port
  pick_ports event_port client_port admin_port
  printf '{"eventListenerPort": %s, "clientListenerPort": %s, "clientListenerAddress": "127.0.0.1", "adminListenerPort": %s%s}\n' \
    "$event_port" "$client_port" "$admin_port" "$log_keys" >"$work/config.json"
  "$binary" -config "$work/config.json" >"$work/daemon.log" 2>&1 &
  local pid=$!
  "$harness" --eventListenerPort="$event_port" --clientListenerPort="$client_port" --totalEvents="$events" \
    --concurrencyLevel="$clients" --daemonPid="$pid" "${flags[@]}" >"$work/harness.log" 2>&1 || true
  local entered
  curl -s "http://127.0.0.1:$admin_port/metrics" >"$work/metrics" || true
  entered=$(awk '/catch_up_total\{reason="entered"\}/ {print $2}' "$work/metrics")
  terminate_daemon "$pid" || true
  local result
  result=$(grep '^RESULT' "$work/harness.log" || true)
  if ! grep -q 'ALL NOTIFICATIONS RECEIVED' "$work/harness.log"; then
    fails+=("$slot: $(grep -m2 -E 'FAIL|error' "$work/harness.log" | tr '\n' ' ')")
    echo "  $slot FAILED: $(tail -n 3 "$work/harness.log" | tr '\n' ' ')"
    return 0
  fi
  key() { grep -oE "(^| )$1=[0-9.]+" <<<"$result" | cut -d= -f2 || echo 0; }
  local rec
  rec="$(key daemon_cpu_s) $(key p99_us) $(key daemon_peak_rss_kb) $(key slow_p99_us) $(key slow_finish_s) $(key wall_s) ${entered:-0}"
  runs[$slot]+="$rec;"
  echo "  $(printf '%-9s' "$slot") cpu_s p99_us rss_kb slow_p99_us slow_finish_s wall_s catch_ups: $rec"
}

read -r -a order <<<"$variants"
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds"
  n=${#order[@]}
  for i in $(seq 0 $((n - 1))); do
    name=${order[$(((i + round - 1) % n))]}
    if [[ -z "$old_daemon" ]]; then
      run_variant "$name"
    elif ((round % 2)); then
      run_variant "$name" "$old_daemon" "old:$name"
      run_variant "$name"
    else
      run_variant "$name"
      run_variant "$name" "$old_daemon" "old:$name"
    fi
  done
done
rows=("${order[@]}")
[[ -n "$old_daemon" ]] && for name in "${order[@]}"; do rows+=("old:$name"); done

# col N RUNS: column N of the "a b c;" records, one a line.
col() { tr ';' '\n' <<<"$2" | grep . | awk -v c="$1" '{print $c}'; }
med() { sort -g | awk '{v[NR]=$1} END {if (NR) printf "%.4g", (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; else print "-"}'; }
# ratio N RUNS REF: per-round ratios of column N, comma-separated, then " (median X)".
ratio() {
  local list
  list=$(paste -d' ' <(col "$1" "$2") <(col "$1" "$3") | awk '$2 > 0 {printf "%.2f\n", $1 / $2}')
  echo "$(tr '\n' ' ' <<<"$list")(median $(med <<<"$list"))"
}
reference() { case $1 in Bp) echo Ap ;; *) echo A ;; esac; }

{
  echo "# Slow readers"
  echo
  echo "$(date -u '+%F %H:%M UTC'), daemon \`$daemon\` (built from commit \`${DAEMON_COMMIT:-$(git rev-parse --short HEAD)}\`), $(nproc) cores," \
    "noisy shared machine (other builds running). \`bench/slow/run.sh $rounds\`: $rounds rounds interleaved, $events events," \
    "$clients clients; B has --chaos-slow-readers=$slow (the harness takes them from the $clients, so 90 steady + 10 slow," \
    "reading at 0.5 of their rate); paced variants --maxRate=$rate."
  echo "Event log: fresh dataDir, logFsync interval, clientSpillBytes $spill_bytes (the shipped config); Bmem: no dataDir, historyBytes 16 MiB."
  echo
  echo "Goals: all notifications received; CPU <= 1.5x A; p99 of the 90 others within 20% of A; peak RSS < 16 MB."
  echo
  echo "| variant | runs ok | daemon CPU s | p99 ms (others) | peak RSS MB | slow p99 s | slow finish s | wall s | catch-ups entered |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for name in "${rows[@]}"; do
    r=${runs[$name]:-}
    printf '| %s | %s/%s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(col 1 "$r" | wc -l)" "$rounds" \
      "$(col 1 "$r" | med)" "$(col 2 "$r" | awk '{print $1 / 1000}' | med)" "$(col 3 "$r" | awk '{print $1 / 1024}' | med)" \
      "$(col 4 "$r" | awk '{print $1 / 1e6}' | med)" "$(col 5 "$r" | med)" "$(col 6 "$r" | med)" "$(col 7 "$r" | med)"
  done
  echo
  echo "Per-round ratios to the run without slow readers (A, or Ap for Bp):"
  echo
  echo "| variant | CPU ratio (goal <= 1.5) | p99 ratio (goal <= 1.2) | RSS ratio |"
  echo "|---|---|---|---|"
  for name in "${rows[@]}"; do
    [[ ${name#old:} == B* ]] || continue
    ref=$(reference "${name#old:}")
    [[ $name == old:* ]] && ref=old:$ref
    [[ -n "${runs[$name]:-}" && -n "${runs[$ref]:-}" ]] || continue
    echo "| $name / $ref | $(ratio 1 "${runs[$name]}" "${runs[$ref]}") | $(ratio 2 "${runs[$name]}" "${runs[$ref]}") | $(ratio 3 "${runs[$name]}" "${runs[$ref]}") |"
  done
  if [[ -n "$old_daemon" ]]; then
    echo
    echo "New against old (\`$old_daemon\`), per round, same variant:"
    echo
    echo "| variant | CPU new/old | p99 new/old |"
    echo "|---|---|---|"
    for name in "${order[@]}"; do
      [[ -n "${runs[$name]:-}" && -n "${runs[old:$name]:-}" ]] || continue
      echo "| $name | $(ratio 1 "${runs[$name]}" "${runs[old:$name]}") | $(ratio 2 "${runs[$name]}" "${runs[old:$name]}") |"
    done
  fi
  echo
  if ((${#fails[@]} > 0)); then
    echo "Failed runs:"
    echo
    for f in "${fails[@]}"; do echo "- $f"; done
    echo
  fi
  echo "Runs (cpu s, p99 us, peak RSS KB, slow p99 us, slow finish s, wall s, catch-ups entered):"
  echo
  for name in "${rows[@]}"; do echo "- $name: ${runs[$name]:-}"; done
} >"$out"
cat "$out"
