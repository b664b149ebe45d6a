#!/usr/bin/env bash
# End-to-end benchmark: the real daemon against the bundled followermaze harness over a grid
# of stream lengths and connected-client counts. For each cell it starts build/eventserver on
# loopback ports (free ones, or EVENT_PORT/CLIENT_PORT) with a generated config, runs
# build/followermaze with --daemonPid (which verifies every notification and reads the daemon's
# CPU seconds and peak RSS from /proc at the end), stops the daemon with SIGTERM, and keeps the
# harness's RESULT line.
#
# Writes bench/results/e2e.md (a markdown table) and bench/results/e2e.png (gnuplot: throughput
# and daemon CPU per million events against client count).
#
# Environment:
#   EVENTS        stream lengths          (default "1000000 10000000 100000000")
#   CLIENTS       connected clients       (default "100 1000 10000")
#   BUILD_DIR     where the binaries are  (default build)
#   RESULTS_DIR   output directory        (default bench/results)
#   HARNESS_ARGS  extra followermaze flags, e.g. "--mix=broadcast-heavy" or "--maxRate=500000"
#   EVENT_PORT, CLIENT_PORT  fixed ports for every cell (default: free ports picked per cell), for a
#                 machine whose port ranges are shared out
#   GNUPLOT_INSTALL=0  do not install gnuplot-nox when gnuplot is missing (the plot is skipped)
#   KEEP_LOGS=1   keep the per-run logs (their directory is printed)
# Quick run: EVENTS=1000000 CLIENTS=100 bench/e2e/run.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
EVENTS=${EVENTS:-"1000000 10000000 100000000"}
CLIENTS=${CLIENTS:-"100 1000 10000"}
BUILD_DIR=${BUILD_DIR:-build}
RESULTS_DIR=${RESULTS_DIR:-bench/results}
HARNESS_ARGS=${HARNESS_ARGS:-}
EVENT_PORT=${EVENT_PORT:-}
CLIENT_PORT=${CLIENT_PORT:-}
if [[ -n "$EVENT_PORT$CLIENT_PORT" && ( -z "$EVENT_PORT" || -z "$CLIENT_PORT" || "$EVENT_PORT" == "$CLIENT_PORT" ) ]]; then
  echo "run.sh: set both EVENT_PORT and CLIENT_PORT, to different ports" >&2
  exit 2
fi
# The mix named in HARNESS_ARGS, for the captions.
MIX=default
for arg in $HARNESS_ARGS; do
  case $arg in --mix=*) MIX=${arg#--mix=} ;; esac
done
DAEMON="$BUILD_DIR/eventserver"
HARNESS="$BUILD_DIR/followermaze"

# Helpers shared by the bench scripts (shellcheck -x follows them; plain shellcheck does not).
# shellcheck source-path=SCRIPTDIR/../.. disable=SC1091
source bench/lib.sh
require_binaries "$DAEMON" "$HARNESS"

ensure_gnuplot() {
  command -v gnuplot >/dev/null && return 0
  if [[ "${GNUPLOT_INSTALL:-1}" == 0 ]] || ! command -v apt-get >/dev/null; then
    echo "run.sh: gnuplot not found (Debian: apt-get install gnuplot-nox)" >&2
    return 1
  fi
  echo "run.sh: installing gnuplot-nox for the plot"
  local sudo=()
  [[ "$(id -u)" == 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null &&
    command -v gnuplot >/dev/null
}

port_listening() {
  ss -Htln "( sport = :$1 )" 2>/dev/null | grep -q .
}

work=$(mktemp -d "${TMPDIR:-/tmp}/eventserver-e2e.XXXXXX")
daemon_pid=""
cleanup() {
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  if [[ "${KEEP_LOGS:-0}" == 1 ]]; then echo "run.sh: logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

stop_daemon() {
  [[ -n "$daemon_pid" ]] || return 0
  terminate_daemon "$daemon_pid" || true
  daemon_pid=""
}

# One cell of the grid. Appends "events clients <RESULT fields>" to $work/results.txt.
run_cell() {
  local events=$1 clients=$2
  local event_port client_port config log
  if [[ -n "$EVENT_PORT" ]]; then
    event_port=$EVENT_PORT
    client_port=$CLIENT_PORT
    if port_listening "$event_port" || port_listening "$client_port"; then
      echo "run.sh: port $event_port or $client_port is already listening" >&2
      echo "$events $clients FAILED" >>"$work/results.txt"
      return 1
    fi
  else
    if ! pick_ports event_port client_port; then
      echo "$events $clients FAILED" >>"$work/results.txt"
      return 1
    fi
  fi
  config="$work/config-$events-$clients.json"
  log="$work/run-$events-$clients"
  # The admin endpoint (when this daemon has one) is switched off: the benchmark does not use it,
  # and a daemon already running on the default admin port must not collide with this one.
  local admin=""
  if grep -q '"adminListenerPort"' config/config.json 2>/dev/null; then
    admin="\"adminListenerPort\": 0,"
  fi
  cat >"$config" <<EOF
{
  "eventListenerPort": $event_port,
  "clientListenerPort": $client_port,
  $admin
  "maxClients": $((clients + 100)),
  "logLevel": "warn"
}
EOF
  "$DAEMON" -config "$config" >"$log.daemon.log" 2>&1 &
  daemon_pid=$!
  local i
  for i in $(seq 1 100); do  # 10 s to start listening
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
      echo "run.sh: the daemon exited at start-up:" >&2
      cat "$log.daemon.log" >&2
      daemon_pid=""
      echo "$events $clients FAILED" >>"$work/results.txt"
      return 1
    fi
    port_listening "$client_port" && port_listening "$event_port" && break
    sleep 0.1
  done

  echo "== $events events, $clients clients (daemon pid $daemon_pid, ports $event_port/$client_port)"
  local status=0
  # shellcheck disable=SC2086 # HARNESS_ARGS is a list of flags
  "$HARNESS" --eventListenerPort="$event_port" --clientListenerPort="$client_port" --totalEvents="$events" \
    --concurrencyLevel="$clients" --daemonPid="$daemon_pid" --logInterval=5000 $HARNESS_ARGS \
    >"$log.harness.log" 2>&1 || status=$?
  stop_daemon
  grep -E "^(events|notifications|latency|daemon) " "$log.harness.log" | sed 's/^/   /' || true
  local result
  result=$(grep '^RESULT ' "$log.harness.log" | tail -1 || true)
  if [[ $status -ne 0 || -z "$result" ]]; then
    echo "run.sh: harness failed (exit $status) at $events events, $clients clients:" >&2
    grep -E "FAILED|error" "$log.harness.log" >&2 || tail -20 "$log.harness.log" >&2
    echo "   daemon log tail:" >&2
    tail -5 "$log.daemon.log" >&2 || true
    echo "$events $clients FAILED" >>"$work/results.txt"
    return 1
  fi
  echo "$events $clients ${result#RESULT }" >>"$work/results.txt"
}

field() {  # field NAME "k=v k=v ..." -> v
  local name=$1 line=$2 kv
  for kv in $line; do
    if [[ "${kv%%=*}" == "$name" ]]; then
      echo "${kv#*=}"
      return
    fi
  done
  echo "na"
}

human() {  # 1000000 -> 1M
  local n=$1
  if ((n % 1000000 == 0)); then echo "$((n / 1000000))M"; elif ((n % 1000 == 0)); then echo "$((n / 1000))k"; else echo "$n"; fi
}

failures=0
: >"$work/results.txt"
for events in $EVENTS; do
  for clients in $CLIENTS; do
    run_cell "$events" "$clients" || failures=$((failures + 1))
  done
done

mkdir -p "$RESULTS_DIR"
md="$RESULTS_DIR/e2e.md"
dat="$work/e2e.dat"
: >"$dat"
{
  echo "# End-to-end benchmark: eventserver under followermaze"
  echo
  echo "Generated by \`bench/e2e/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit" \
    "\`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`, $(nproc) cores" \
    "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//' || echo unknown cpu))."
  if [[ "$MIX" == default ]]; then
    echo -n "Default event mix (0.01% broadcast, 15% follow, 15% unfollow, 15% private, 55% status),"
  else
    echo -n "Event mix \`$MIX\` (see harness/README.md),"
  fi
  echo " users = 10 x clients, shuffled batches of up to 100 events, every notification verified${HARNESS_ARGS:+, harness flags \`$HARNESS_ARGS\`}."
  echo "Wall time runs from the first byte the source writes to the last notification verified."
  echo "Daemon CPU (user + system, start-up and client registration included) and peak RSS (VmHWM) are read from /proc at the end of each run; the daemon is fresh for each run."
  echo "Latency is from the write of an event's batch to the arrival of the line; unpaced, it includes time queued in socket buffers."
  echo
  echo "| events | clients | wall s | events/s | notifications/s | daemon CPU s | daemon CPU s per 1M events | daemon peak RSS MiB | p99 latency ms |"
  echo "|-------:|--------:|-------:|---------:|----------------:|-------------:|---------------------------:|--------------------:|---------------:|"
  while read -r events clients rest; do
    if [[ "$rest" == FAILED ]]; then
      echo "| $(human "$events") | $clients | FAILED | | | | | | |"
      continue
    fi
    wall=$(field wall_s "$rest")
    eps=$(field events_per_s "$rest")
    nps=$(field notif_per_s "$rest")
    p99=$(field p99_us "$rest")
    cpu=$(field daemon_cpu_s "$rest")
    rss=$(field daemon_peak_rss_kb "$rest")
    cpu_per_m=$(awk -v c="$cpu" -v e="$events" 'BEGIN { if (c == "na") print "na"; else printf "%.3f", c / (e / 1e6) }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(human "$events")" "$clients" "$wall" \
      "$(awk -v x="$eps" 'BEGIN { printf "%.0f", x }')" "$(awk -v x="$nps" 'BEGIN { printf "%.0f", x }')" \
      "$cpu" "$cpu_per_m" "$(awk -v x="$rss" 'BEGIN { if (x == "na") print "na"; else printf "%.1f", x / 1024 }')" \
      "$(awk -v x="$p99" 'BEGIN { printf "%.1f", x / 1000 }')"
    echo "$events $clients $eps $cpu_per_m $rss" >>"$dat"
  done <"$work/results.txt"
  echo
  echo "Peak RSS against stream length, per client count (flat means memory does not grow with the stream):"
  echo
  for clients in $CLIENTS; do
    line=""
    while read -r events c _ _ rss; do
      [[ "$c" == "$clients" ]] || continue
      line+="${line:+, }$(human "$events") events: $(awk -v x="$rss" 'BEGIN { if (x == "na") print "na"; else printf "%.1f MiB", x / 1024 }')"
    done <"$dat"
    [[ -n "$line" ]] && echo "- $clients clients: $line"
  done
} >"$md"
echo "run.sh: wrote $md"

plot_failed=0
if [[ -s "$dat" ]] && ! ensure_gnuplot; then
  echo "run.sh: no gnuplot: $RESULTS_DIR/e2e.png not written" >&2
  plot_failed=1
elif [[ -s "$dat" ]]; then
  plot_lines_eps=""
  plot_lines_cpu=""
  for events in $EVENTS; do
    grep -q "^$events " "$dat" || continue
    awk -v e="$events" '$1 == e' "$dat" | sort -k2,2n >"$work/series-$events.dat"
    plot_lines_eps+="${plot_lines_eps:+, }'$work/series-$events.dat' using 2:(\$3/1e6) with linespoints lw 2 pt 7 title '$(human "$events") events'"
    plot_lines_cpu+="${plot_lines_cpu:+, }'$work/series-$events.dat' using 2:4 with linespoints lw 2 pt 7 title '$(human "$events") events'"
  done
  # Room either side of the outermost client counts, so no point sits on the frame.
  x_low=$(awk 'NR == 1 || $2 < m { m = $2 } END { print m / 1.6 }' "$dat")
  x_high=$(awk 'NR == 1 || $2 > m { m = $2 } END { print m * 1.6 }' "$dat")
  terminal="pngcairo size 1200,520 font ',11'"
  gnuplot -e 'set terminal' 2>&1 | grep -qw pngcairo || terminal="png size 1200,520"
  gnuplot <<EOF
set terminal $terminal
set output '$RESULTS_DIR/e2e.png'
set datafile missing "na"
set multiplot layout 1,2 title "eventserver end to end: followermaze, mix $MIX, every notification verified ($(nproc) cores)"
set logscale x 10
set xrange [$x_low:$x_high]
set format x "%.0f"
set xlabel "connected clients (log scale)"
set grid
set key top right box opaque
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set pointsize 1.2
set title "throughput (higher is better)"
set ylabel "million events/s"
plot $plot_lines_eps
set title "daemon CPU per event (lower is better)"
set key top left box opaque
set ylabel "daemon CPU seconds per million events"
plot $plot_lines_cpu
unset multiplot
EOF
  echo "run.sh: wrote $RESULTS_DIR/e2e.png"
fi

if ((failures > 0)); then
  echo "run.sh: $failures run(s) failed" >&2
  exit 1
fi
exit "$plot_failed"
