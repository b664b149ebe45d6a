#!/usr/bin/env bash
# Scale benchmark: one fresh daemon, N concurrent client connections from build/bench/scale_clients
# (spread over source addresses 127.0.0.2, 127.0.0.3, ...), B broadcasts that must reach every one
# of them, exactly and in order. Reports the connect+register rate, the daemon's RSS before and
# after connecting (so its memory per connection), the broadcast delivery rate and peak RSS (VmHWM),
# and writes bench/results/scale.md. SCALE_TRANSPORT=ws: the same with every client on WebSocket
# (GET /users/<id> on the daemon's WebSocket listener, each frame decoded and verified by
# scale_clients, its pings answered); writes bench/results/scale_ws.md.
#
# Descriptors: the daemon and the bench each hold one per connection, so N is bounded by the hard
# RLIMIT_NOFILE (`ulimit -Hn`), which only a process with CAP_SYS_RESOURCE can raise. The script
# raises its own soft limit to the hard one (for the bench) but starts the daemon with a soft limit
# of DAEMON_SOFT_NOFILE (default 1024, the usual login default): the daemon must raise it itself at
# start-up, and the script checks that it did (its log line and /proc/PID/limits).
#
# Environment:
#   SCALE_CLIENTS       client connections (default 50000; "max": as many as the hard limit allows)
#   SCALE_BROADCASTS    broadcasts (default 1000)
#   SCALE_PER_ADDRESS   connections per source address (default 10000: a third of the ephemeral range)
#   SCALE_TRANSPORT     tcp (default) or ws
#   SCALE_PORTS         "event client admin [ws]" listener ports (default: free ports below the ephemeral range)
#   DAEMON_SOFT_NOFILE  the daemon's soft descriptor limit at exec ("" to inherit the raised one)
#   BUILD_DIR, RESULTS_DIR, KEEP_LOGS=1 as in bench/e2e/run.sh
# Exit status: the bench's (0 all delivered, 1 failure, 2 set-up error), or 1 if the daemon
# did not stop cleanly.
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
RESULTS_DIR=${RESULTS_DIR:-bench/results}
SCALE_CLIENTS=${SCALE_CLIENTS:-50000}
SCALE_BROADCASTS=${SCALE_BROADCASTS:-1000}
SCALE_PER_ADDRESS=${SCALE_PER_ADDRESS:-10000}
SCALE_PORTS=${SCALE_PORTS:-}
SCALE_TRANSPORT=${SCALE_TRANSPORT:-tcp}
case $SCALE_TRANSPORT in
  tcp | ws) ;;
  *) echo "run.sh: SCALE_TRANSPORT must be tcp or ws, not $SCALE_TRANSPORT" >&2; exit 2 ;;
esac
DAEMON_SOFT_NOFILE=${DAEMON_SOFT_NOFILE-1024}
DAEMON="$BUILD_DIR/eventserver"
BENCH="$BUILD_DIR/bench/scale_clients"

# Helpers shared by the bench scripts (shellcheck -x follows them; plain shellcheck does not).
# shellcheck source-path=SCRIPTDIR/../.. disable=SC1091
source bench/lib.sh
require_binaries "$DAEMON" "$BENCH"

# Descriptors beyond the connections: the bench keeps 16 spare, the daemon's own estimate is
# maxEventSources + 32; 64 covers both.
spare=64
hard=$(ulimit -Hn)
if [[ "$hard" != unlimited ]]; then
  if [[ "$SCALE_CLIENTS" == max ]]; then
    SCALE_CLIENTS=$((hard - spare))
  elif ((SCALE_CLIENTS + spare > hard)); then
    echo "run.sh: $SCALE_CLIENTS clients need $((SCALE_CLIENTS + spare)) open files in the daemon and as many in" \
      "the bench, but the hard limit here is $hard (ulimit -Hn). Raise it (root with CAP_SYS_RESOURCE:" \
      "ulimit -Hn N in the calling shell, LimitNOFILE= under systemd, /etc/security/limits.conf)," \
      "or run SCALE_CLIENTS=$((hard - spare)) (or SCALE_CLIENTS=max)." >&2
    exit 2
  fi
elif [[ "$SCALE_CLIENTS" == max ]]; then
  SCALE_CLIENTS=50000
fi
ulimit -Sn "$hard"  # the bench raises its own limit as well; this covers everything else started here

ws_port=""
if [[ -n "$SCALE_PORTS" ]]; then
  read -r event_port client_port admin_port ws_port <<<"$SCALE_PORTS"
else
  pick_ports event_port client_port admin_port ws_port
fi
ws_port=${ws_port:-0}

work=$(mktemp -d "${TMPDIR:-/tmp}/eventserver-scale.XXXXXX")
daemon_pid=""
cleanup() {
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
  if [[ "${KEEP_LOGS:-0}" == 1 ]]; then echo "run.sh: logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo na; }
mib() { awk -v x="$1" 'BEGIN { if (x == "na" || x == "") print "na"; else printf "%.1f", x / 1024 }'; }
field() {  # field NAME "k=v k=v ..." -> v
  local kv
  for kv in $2; do [[ "${kv%%=*}" == "$1" ]] && { echo "${kv#*=}"; return; }; done
  echo na
}

# A queue bound that always holds the whole broadcast stream (at most 16 bytes a line): this
# bench measures fan-out, not the slow-client policy.
queue_bytes=$((SCALE_BROADCASTS * 16))
((queue_bytes > 262144)) || queue_bytes=262144
config="$work/config.json"
cat >"$config" <<EOF
{
  "eventListenerAddress": "127.0.0.1",
  "eventListenerPort": $event_port,
  "clientListenerAddress": "127.0.0.1",
  "clientListenerPort": $client_port,
  "adminListenerPort": $admin_port,
  "wsListenerAddress": "127.0.0.1",
  "wsListenerPort": $([[ "$SCALE_TRANSPORT" == ws ]] && echo "$ws_port" || echo 0),
  "maxClients": $((SCALE_CLIENTS + 10000)),
  "maxClientQueueBytes": $queue_bytes,
  "logLevel": "info"
}
EOF
log="$work/daemon.log"
if [[ -n "$DAEMON_SOFT_NOFILE" ]]; then
  (ulimit -Sn "$DAEMON_SOFT_NOFILE" && exec "$DAEMON" -config "$config") >"$log" 2>&1 &
else
  "$DAEMON" -config "$config" >"$log" 2>&1 &
fi
daemon_pid=$!

# Wait for the listeners; their ports are read back from the log (a port of 0 lets the kernel choose).
for _ in $(seq 1 100); do
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "run.sh: the daemon exited at start-up:" >&2
    cat "$log" >&2
    daemon_pid=""
    exit 2
  fi
  grep -q "admin HTTP" "$log" && break
  sleep 0.1
done
listening=$(grep -m1 "listening for event sources on" "$log" || true)
admin_line=$(grep -m1 "admin HTTP" "$log" || true)
if [[ -z "$listening" || -z "$admin_line" ]]; then
  echo "run.sh: the daemon did not report its listeners within 10 s:" >&2
  cat "$log" >&2
  exit 2
fi
event_port=$(sed -E 's/.*event sources on [^ ]*:([0-9]+) .*/\1/' <<<"$listening")
client_port=$(sed -E 's/.*clients on [^ ]*:([0-9]+).*/\1/' <<<"$listening")
admin_port=$(sed -E 's/.* on [^ ]*:([0-9]+)$/\1/' <<<"$admin_line")
transport_flags=()
if [[ "$SCALE_TRANSPORT" == ws ]]; then
  ws_line=$(grep -m1 "WebSocket clients" "$log" || true)
  [[ -n "$ws_line" ]] || { echo "run.sh: the daemon did not report its WebSocket listener:" >&2; cat "$log" >&2; exit 2; }
  ws_port=$(sed -E 's/.* on [^ ]*:([0-9]+),.*/\1/' <<<"$ws_line")
  transport_flags=(--transport=ws --wsPort="$ws_port")
fi

fd_lines=$(grep -E "open-file limit" "$log" | sed -E 's/^[^ ]+ +//' || true)
daemon_nofile=$(awk '/^Max open files/ { print $4 " soft / " $5 " hard" }' "/proc/$daemon_pid/limits")
fd_check="the daemon's limit is $daemon_nofile"
if [[ -n "$DAEMON_SOFT_NOFILE" ]]; then
  if grep -q "raised the open-file limit from $DAEMON_SOFT_NOFILE to " "$log"; then
    fd_check="started with a soft limit of $DAEMON_SOFT_NOFILE, the daemon raised it itself and logged it; $fd_check"
  else
    fd_check="started with a soft limit of $DAEMON_SOFT_NOFILE, the daemon did NOT log raising it; $fd_check"
  fi
fi
echo "== daemon pid $daemon_pid, ports event $event_port client $client_port admin $admin_port ws $ws_port" \
  "(clients on $SCALE_TRANSPORT); $fd_check"
[[ -n "$fd_lines" ]] && sed 's/^/   daemon: /' <<<"$fd_lines"

status=0
"$BENCH" --clients="$SCALE_CLIENTS" --broadcasts="$SCALE_BROADCASTS" --perAddress="$SCALE_PER_ADDRESS" \
  --host=127.0.0.1 --clientPort="$client_port" --eventPort="$event_port" --adminPort="$admin_port" \
  --daemonPid="$daemon_pid" "${transport_flags[@]}" 2>&1 | tee "$work/bench.log" || status=${PIPESTATUS[0]}

# What the daemon keeps once every client has gone (glibc keeps freed memory for reuse).
sleep 1
rss_left_kb=$(rss_kb "$daemon_pid")

daemon_exit=na
terminate_daemon "$daemon_pid" && daemon_exit=0 || daemon_exit=$?
daemon_pid=""
totals=$(daemon_totals "$log")
echo "== daemon exited with $daemon_exit; RSS after the clients left: $(mib "$rss_left_kb") MiB"
warnings=$(grep -E " (warning|error|critical) " "$log" | grep -v "open-file limit" | sed -E 's/^[^ ]+ +//' | head -5 || true)

result=$(grep '^RESULT ' "$work/bench.log" | tail -1 || true)
failure=$(grep '^scale_clients: ' "$work/bench.log" | tail -1 || true)
mkdir -p "$RESULTS_DIR"
md="$RESULTS_DIR/scale.md"
what="client connections"
if [[ "$SCALE_TRANSPORT" == ws ]]; then
  md="$RESULTS_DIR/scale_ws.md"
  what="WebSocket client connections (GET /users/<id>, every frame decoded and verified)"
fi
{
  echo "# Scale benchmark: concurrent $what"
  echo
  echo "Generated by \`bench/scale/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit" \
    "\`$(git describe --always --dirty 2>/dev/null || echo unknown)\`, $(nproc) cores" \
    "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//' || echo unknown cpu)), Linux $(uname -r)."
  echo "A fresh daemon (Release build, maxClients $((SCALE_CLIENTS + 10000)), maxClientQueueBytes $queue_bytes)" \
    "and \`build/bench/scale_clients\` on loopback: $SCALE_CLIENTS $what," \
    "$SCALE_PER_ADDRESS per source address from 127.0.0.2 up, each registered with its own user id;" \
    "then $SCALE_BROADCASTS broadcasts from one event source, each of which every connection must receive," \
    "byte for byte and in order (verified)."
  echo
  echo "Descriptor limit: hard limit $hard (\`ulimit -Hn\`); $fd_check."
  if [[ -n "$fd_lines" ]]; then
    echo "The daemon's start-up log:"
    echo
    echo '```'
    echo "$fd_lines"
    echo '```'
  fi
  echo
  if [[ $status -eq 0 && -n "$result" ]]; then
    r=${result#RESULT }
    echo "| measure | value |"
    echo "|---|---:|"
    echo "| client connections | $(field clients "$r") (from $(field addresses "$r") source addresses) |"
    if [[ "$SCALE_TRANSPORT" == ws ]]; then
      echo "| connect + send the upgrade request | $(field connect_s "$r") s: $(field connect_per_s "$r") connections/s |"
    else
      echo "| connect + send id | $(field connect_s "$r") s: $(field connect_per_s "$r") connections/s |"
    fi
    echo "| until the daemon reports all registered (/metrics) | $(field register_s "$r") s: $(field register_per_s "$r") connections/s |"
    echo "| daemon RSS before connecting | $(mib "$(field rss_before_kb "$r")") MiB |"
    echo "| daemon RSS with every client registered | $(mib "$(field rss_after_kb "$r")") MiB |"
    echo "| daemon memory per connection | $(field bytes_per_connection "$r") bytes |"
    echo "| broadcasts, notifications | $(field broadcasts "$r"), $(field notifications "$r") |"
    echo "| delivery (first broadcast sent to last line verified) | $(field deliver_s "$r") s: $(field notif_per_s "$r") notifications/s |"
    echo "| daemon CPU: connecting + registering, delivering | $(field daemon_register_cpu_s "$r") s, $(field daemon_deliver_cpu_s "$r") s |"
    [[ "$SCALE_TRANSPORT" == ws ]] && echo "| text frames verified (all connections) | $(field frames "$r") |"
    echo "| daemon peak RSS (VmHWM) | $(mib "$(field daemon_peak_rss_kb "$r")") MiB |"
    echo "| daemon RSS 1 s after every client disconnected | $(mib "$rss_left_kb") MiB |"
    echo "| daemon exit status after SIGTERM | $daemon_exit |"
    echo
    echo "Memory per connection is (RSS with every client registered - RSS before) / connections: the daemon's"
    echo "user-space cost of an idle registered client (socket object, session, buffers, maps), not the kernel's"
    echo "socket memory. The peak includes every client's queue holding the broadcasts not yet written."
    echo
    echo '```'
    echo "$result"
    echo '```'
  else
    echo "**FAILED** (bench exit status $status): ${failure:-see the bench output}"
  fi
  totals_markdown "$totals"
  if [[ -n "$warnings" ]]; then
    echo
    echo "Daemon warnings (first 5, the descriptor-limit one excepted):"
    echo
    echo '```'
    echo "$warnings"
    echo '```'
  fi
} >"$md"
echo "run.sh: wrote $md"

if [[ $status -ne 0 ]]; then exit "$status"; fi
[[ "$daemon_exit" == 0 ]] || { echo "run.sh: the daemon exited with $daemon_exit after SIGTERM" >&2; exit 1; }
