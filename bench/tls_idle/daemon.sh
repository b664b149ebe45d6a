#!/usr/bin/env bash
# Memory per idle client connection in the DAEMON (build/eventserver), not in isolation: a
# fresh daemon per run, one warm-up client (what is set up once is not a connection's cost),
# then CONNECTIONS idle clients (bench/tls_idle/idle_clients: registered, one read
# outstanding, IN_FLIGHT connecting at a time), each counted registered by the daemon's /metrics
# before measuring. Per connection: the growth of the daemon's resident set (/proc/PID/statm)
# and of its heap in use (mallinfo2 uordblks + hblkhd, read by libheap_probe.so preloaded into
# the daemon) from the warm-up client alone to all of them idle.
#
# Builds are interleaved: every round runs each transport once per build, the builds' order
# alternating from round to round (this machine's speed and memory drift; only interleaved
# runs compare). The clients and the probe always come from BUILD_DIR.
#
# usage: bench/tls_idle/daemon.sh [ROUNDS]      (default 5)
#   BUILDS       "name=eventserver-binary ..." (default "this=BUILD_DIR/eventserver"), e.g.
#                "base=/tmp/base/eventserver this=build/eventserver"
#   BUILD_DIR    the build with idle_clients and libheap_probe.so (default build)
#   TRANSPORTS   default "tcp tls ws wss"
#   CONNECTIONS  per run (default 2000)
#   IN_FLIGHT    clients connecting at a time (default 16: arriving; CONNECTIONS: a burst, as
#                after a restart)
#   OUT          results table (default: standard output only)
# Prints every run's line, then a markdown table of medians per transport and build.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source-path=SCRIPTDIR/../.. disable=SC1091
source bench/lib.sh

rounds=${1:-5}
build=${BUILD_DIR:-build}
read -r -a builds <<<"${BUILDS:-this=$build/eventserver}"
read -r -a transports <<<"${TRANSPORTS:-tcp tls ws wss}"
connections=${CONNECTIONS:-2000}
in_flight=${IN_FLIGHT:-16}
clients_bin=$build/bench/tls_idle/idle_clients
probe=$(realpath "$build/bench/tls_idle/libheap_probe.so")
require_binaries "$clients_bin"
for b in "${builds[@]}"; do require_binaries "${b#*=}"; done

work=$(mktemp -d)
runs=$work/runs
daemon_pid=""
client_pids=()
cleanup() {
  for pid in "${client_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
sh tests/support/make_test_certs.sh "$work/certs" >/dev/null 2>&1
ulimit -n "$(ulimit -Hn)"

# registered PORT: the daemon's count of registered clients (empty while /metrics does not answer).
registered() {
  { curl -sf "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } | awk '/^eventserver_clients_registered_total / {print $2}'
}

# wait_registered PORT N: until the daemon has registered N clients (at most 120 s; N 0: until
# it answers).
wait_registered() {
  for _ in $(seq 1 1200); do
    local n
    n=$(registered "$1")
    [[ -n "$n" ]] && ((n >= $2)) && return 0
    sleep 0.1
  done
  echo "daemon.sh: the daemon did not register $2 clients within 120 s" >&2
  return 1
}

# wait_ready FILE N: until idle_clients printed "ready N" into FILE (at most 120 s).
wait_ready() {
  for _ in $(seq 1 1200); do
    grep -q "^ready $2\$" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "daemon.sh: the clients were not ready within 120 s:" >&2
  cat "$1" >&2
  return 1
}

# measure: "RSS_KIB HEAP_KIB" of the daemon.
measure() {
  local before after resident
  before=0
  [[ -f "$work/probe.out" ]] && before=$(wc -l <"$work/probe.out")
  echo >"$work/probe"
  for _ in $(seq 1 100); do
    [[ -f "$work/probe.out" ]] && after=$(wc -l <"$work/probe.out") && ((after > before)) && break
    sleep 0.05
  done
  resident=$(awk '{print $2}' "/proc/$daemon_pid/statm")
  awk -v pages="$resident" -v page="$(getconf PAGESIZE)" -v heap="$(tail -n 1 "$work/probe.out" | cut -d= -f2)" \
    'BEGIN {printf "%.1f %.1f", pages * page / 1024, heap / 1024}'
}

# run_one NAME BINARY TRANSPORT: one daemon; prints and records the per-connection growth.
run_one() {
  local name=$1 binary=$2 transport=$3 event_port client_port ws_port admin_port port tls_client=false tls_ws=false
  pick_ports event_port client_port ws_port admin_port
  case "$transport" in
    tls) tls_client=true ;;
    wss) tls_ws=true ;;
  esac
  port=$client_port
  [[ "$transport" == ws || "$transport" == wss ]] && port=$ws_port
  printf '{"eventListenerPort": %s, "clientListenerPort": %s, "clientListenerAddress": "127.0.0.1", "adminListenerPort": %s, "wsListenerAddress": "127.0.0.1", "wsListenerPort": %s, "clientTls": %s, "wsTls": %s, "tlsCertFile": "%s", "tlsKeyFile": "%s", "maxClients": %s}\n' \
    "$event_port" "$client_port" "$admin_port" "$ws_port" "$tls_client" "$tls_ws" "$work/certs/server.pem" "$work/certs/server.key" \
    "$((connections + 100))" >"$work/config.json"
  rm -f "$work/probe" "$work/probe.out" "$work/warm" "$work/all"
  mkfifo "$work/probe"
  LD_PRELOAD=$probe HEAP_PROBE=$work/probe "$binary" -config "$work/config.json" >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  wait_registered "$admin_port" 0  # listening
  "$clients_bin" "$transport" "$port" 1 "$work/certs/ca.pem" 1 >"$work/warm" 2>&1 &
  client_pids=($!)
  wait_ready "$work/warm" 1
  wait_registered "$admin_port" 1
  local warm all
  warm=$(measure)
  "$clients_bin" "$transport" "$port" "$connections" "$work/certs/ca.pem" 2 "$in_flight" >"$work/all" 2>&1 &
  client_pids+=($!)
  wait_ready "$work/all" "$connections"
  wait_registered "$admin_port" "$((connections + 1))"
  all=$(measure)
  for pid in "${client_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  client_pids=()
  terminate_daemon "$daemon_pid" || true
  daemon_pid=""
  read -r warm_rss warm_heap <<<"$warm"
  read -r all_rss all_heap <<<"$all"
  awk -v n="$name" -v t="$transport" -v c="$connections" -v r0="$warm_rss" -v h0="$warm_heap" -v r1="$all_rss" -v h1="$all_heap" \
    -v f="$in_flight" 'BEGIN {printf "build=%s transport=%s connections=%d in_flight=%d rss_kib_per_connection=%.2f heap_kib_per_connection=%.2f rss_kib=%.0f\n", n, t, c, f, (r1 - r0) / c, (h1 - h0) / c, r1}' |
    tee -a "$runs"
}

for ((round = 1; round <= rounds; round++)); do
  echo "round $round/$rounds"
  order=("${builds[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#builds[@]} - 1; i >= 0; i--)); do order+=("${builds[i]}"); done
  fi
  for transport in "${transports[@]}"; do
    for b in "${order[@]}"; do run_one "${b%%=*}" "${b#*=}" "$transport"; done
  done
done

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
{
  echo
  echo "| transport | build | RSS KiB / connection | heap in use KiB / connection | daemon RSS MiB with $connections idle ($in_flight connecting at a time) |"
  echo "|---|---|---:|---:|---:|"
  for transport in "${transports[@]}"; do
    for b in "${builds[@]}"; do
      lines=$(grep "build=${b%%=*} transport=$transport " "$runs")
      printf '| %s | %s | %s | %s | %.1f |\n' "$transport" "${b%%=*}" "$(field rss_kib_per_connection <<<"$lines" | median)" \
        "$(field heap_kib_per_connection <<<"$lines" | median)" "$(awk -v k="$(field rss_kib <<<"$lines" | median)" 'BEGIN {print k / 1024}')"
    done
  done
} | tee "${OUT:-/dev/null}"
