#!/usr/bin/env bash
# Client transports against plain TCP on the default run, interleaved: each round runs the
# harness's default stream (EVENTS, CLIENTS) once per variant, every client over that
# transport, in an order that rotates from round to round (this machine's speed drifts by
# +-15% from minute to minute, so only interleaved runs compare). Variants:
#   tcp   the classic protocol
#   ws    WebSocket (--ws-clients=CLIENTS)
#   tls   TLS on the client port (clientTls; the harness's --tls, certificates made fresh by
#         tests/support/make_test_certs.sh)
#   wss   WebSocket over TLS (wsTls)
# Every run is verified by the harness; a fresh daemon each time, with the same listeners on
# in every variant, so the only difference is the clients' transport.
#
# usage: bench/transport/run.sh [ROUNDS]      (default 5)
#   VARIANTS    which, tcp first (default "tcp ws"; "tcp tls wss" for TLS)
#   BUILD_DIR   the build (default build): its eventserver and followermaze
#   EVENTS      events per run (default 10000000), CLIENTS (default 100)
#   OUT         results file (default bench/results/ws.md, or tls.md when VARIANTS has tls)
#   COMPARE     "name=eventserver-binary ..." (default none): other builds of the daemon (the
#               commit before a change), each run in every round for every variant but tcp, as
#               variant@name, interleaved with this build's
#   GOAL        the most daemon CPU any variant of this build may take, in times TCP's (default 2)
# Writes a markdown table of medians (daemon CPU, wall, p99, peak RSS, client writes) with the
# median per-round CPU ratio against tcp and the goal, and the runs behind each median. p99 is
# the harness's latency from a batch written to a line received: p99_us for the TCP clients, ws_p99_us for the WebSocket ones (the harness keeps them apart).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source-path=SCRIPTDIR/../.. disable=SC1091
source bench/lib.sh

rounds=${1:-5}
read -r -a order <<<"${VARIANTS:-tcp ws}"
build=${BUILD_DIR:-build}
events=${EVENTS:-10000000}
clients=${CLIENTS:-100}
default_out=bench/results/ws.md
[[ " ${order[*]} " == *" tls "* || " ${order[*]} " == *" wss "* ]] && default_out=bench/results/tls.md
out=${OUT:-$default_out}
goal=${GOAL:-2}
require_binaries "$build/eventserver" "$build/followermaze"
declare -A daemons=([this]="$build/eventserver")
read -r -a compare <<<"${COMPARE:-}"
for c in "${compare[@]}"; do
  daemons[${c%%=*}]=${c#*=}
  require_binaries "${c#*=}"
done
# Every variant but tcp once more per other build: tls@base and so on.
ours=("${order[@]}")
for c in "${compare[@]}"; do
  for name in "${ours[@]}"; do [[ "$name" == tcp ]] || order+=("$name@${c%%=*}"); done
done
if [[ "$("$build/followermaze" --help 2>&1 || true)" != *--ws-clients=* ]]; then
  echo "run.sh: $build/followermaze has no --ws-clients option yet; rebuild it once the harness has it" >&2
  exit 2
fi

work=$(mktemp -d)
sh tests/support/make_test_certs.sh "$work/certs" >/dev/null
daemon_pid=""
cleanup() {
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
declare -A runs

# run_variant tcp|ws|tls|wss[@build]: one verified run; appends "cpu wall p99_ms rss_kb writes" to
# runs[NAME].
run_variant() {
  local name=$1 event_port client_port ws_port flags="" daemon=${daemons[this]}
  [[ "$1" == *@* ]] && daemon=${daemons[${1#*@}]}
  case "${name%@*}" in
    ws) flags="--ws-clients=$clients" ;;
    tls) flags="--tls --tls-ca=$work/certs/ca.pem" ;;
    wss) flags="--tls --tls-ca=$work/certs/ca.pem --ws-clients=$clients" ;;
  esac
  local tls=false
  [[ "${name%@*}" == tls || "${name%@*}" == wss ]] && tls=true
  pick_ports event_port client_port ws_port
  printf '{"eventListenerPort": %s, "clientListenerPort": %s, "clientListenerAddress": "127.0.0.1", "adminListenerPort": 0, "wsListenerAddress": "127.0.0.1", "wsListenerPort": %s, "clientTls": %s, "wsTls": %s, "tlsCertFile": "%s", "tlsKeyFile": "%s"}\n' \
    "$event_port" "$client_port" "$ws_port" "$tls" "$tls" "$work/certs/server.pem" "$work/certs/server.key" >"$work/config.json"
  "$daemon" -config "$work/config.json" >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  local result
  # shellcheck disable=SC2086  # flags are words
  if ! result=$(eventListenerPort=$event_port clientListenerPort=$client_port wsListenerPort=$ws_port \
    "$build/followermaze" --totalEvents="$events" --concurrencyLevel="$clients" --daemonPid="$daemon_pid" $flags 2>&1 |
    tee "$work/harness.log" | grep '^RESULT'); then
    echo "run.sh: $name: the harness failed:" >&2
    tail -20 "$work/harness.log" >&2
    terminate_daemon "$daemon_pid" || true
    daemon_pid=""
    exit 1
  fi
  terminate_daemon "$daemon_pid" || true
  daemon_pid=""
  local cpu wall p99_key=p99_us p99 rss writes
  [[ "${name%@*}" == ws || "${name%@*}" == wss ]] && p99_key=ws_p99_us
  cpu=$(grep -oE 'daemon_cpu_s=[0-9.]+' <<<"$result" | cut -d= -f2)
  wall=$(grep -oE 'wall_s=[0-9.]+' <<<"$result" | cut -d= -f2)
  p99=$(grep -oE " $p99_key=[0-9]+" <<<"$result" | cut -d= -f2)
  rss=$(grep -oE 'daemon_peak_rss_kb=[0-9]+' <<<"$result" | cut -d= -f2)
  # The daemon's totals line: "bytes in N, out M in W writes" (a WebSocket write is one frame).
  writes=$(grep -oE 'in [0-9]+ writes' "$work/daemon.log" | grep -oE '[0-9]+' || echo 0)
  p99=$(awk -v us="$p99" 'BEGIN { printf "%.1f", us / 1000 }')
  runs[$name]+="$cpu $wall $p99 $rss $writes;"
  printf '  %-9s cpu %s s  wall %s s  p99 %s ms  rss %s KB  writes %s\n' "$name" "$cpu" "$wall" "$p99" "$rss" "$writes"
}

for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds"
  # Rotate the order: each variant goes first as often as the others.
  for i in "${!order[@]}"; do run_variant "${order[(i + round) % ${#order[@]}]}"; done
done

worst=tcp
for name in "${ours[@]}"; do
  if awk -v a="$(pair_ratio "${runs[$name]}" "${runs[tcp]}")" -v b="$(pair_ratio "${runs[$worst]}" "${runs[tcp]}")" 'BEGIN { exit !(a > b) }'; then
    worst=$name
  fi
done
ratio=$(pair_ratio "${runs[$worst]}" "${runs[tcp]}")
verdict=$(awk -v r="$ratio" -v g="$goal" 'BEGIN { print (r <= g) ? "met" : "NOT met" }')
{
  echo "# Client transports against TCP on the default run: ${ours[*]}"
  echo
  echo "$(date -u +%F), commit \`$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo -dirty)\`, $rounds rounds" \
    "interleaved (\`${COMPARE:+COMPARE=\"$COMPARE\" }${GOAL:+GOAL=$GOAL }VARIANTS=\"${ours[*]}\" bench/transport/run.sh $rounds\`), $events events, $clients clients, all over one" \
    "transport per run (ws: \`--ws-clients=$clients\`; tls/wss: \`--tls\`, TLS 1.3), every run verified by the harness;" \
    "$(nproc) cores, the harness on the same machine."
  echo "Medians; the runs behind each are listed below. Goal: every transport's daemon CPU at most ${goal}x TCP's:" \
    "**$verdict** (highest: $worst, $ratio).${COMPARE:+ variant@name: the same run on another build of the daemon ($COMPARE), in the same rounds.}"
  echo
  echo "| variant | daemon CPU s | CPU / tcp (per round) | wall s | p99 ms | peak RSS MB | client writes |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for name in "${order[@]}"; do
    r=${runs[$name]}
    printf '| %s | %s | %s | %s | %s | %.1f | %s |\n' "$name" "$(records_median 1 "$r")" "$(pair_ratio "$r" "${runs[tcp]}")" \
      "$(records_median 2 "$r")" "$(records_median 3 "$r")" "$(awk -v k="$(records_median 4 "$r")" 'BEGIN {print k / 1024}')" "$(records_median 5 "$r")"
  done
  echo
  echo "Client writes: the daemon's count of writes that moved bytes (WebSocket: frames; TLS: writes of up to one 16 KiB record); one per client per flush."
  echo
  echo "Runs (cpu s, wall s, p99 ms, rss KB, writes):"
  echo
  for name in "${order[@]}"; do echo "- $name: ${runs[$name]}"; done
} >"$out"
cat "$out"
