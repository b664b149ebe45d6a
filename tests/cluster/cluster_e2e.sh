#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2154  # `A && B || fail`: fail exits; pick_ports sets the ports
# The cluster end to end: nats-server, one ingest, three edges, and followermaze driving the
# ingest's source port with its clients spread over the edges (TCP and WebSocket,
# --clientPorts/--wsPorts; a client whose connection breaks resumes on the next edge). Passes
# when the harness verifies every notification exactly once and in order (exit 0, the banner and
# its RESULT line), through the failover the mode names:
#   spread        no failure; some clients drop and resume on another edge
#   edge_kill     kill -9 of an edge mid-run: its clients resume on the next edge
#   ingest_kill   kill -9 of the ingest mid-run and another started on its port: the source
#                 reconnects and resends from the durable|<epoch>|<seq> the new one tells it
#   lagging_edge  edge B is stopped (SIGSTOP), edge A runs on past it, then A is killed: A's
#                 clients resume on B for positions B has not applied yet; B is let go (SIGCONT)
#                 and must make them wait until it has (cluster.resumeWaitMs), not say incomplete
#   leader_kill   three nats-server nodes, an R3 stream: kill -9 of the stream's leader mid-run
#                 (the election takes seconds; the ingest retries, the edges follow the new leader)
# usage: cluster_e2e.sh MODE SOURCE_DIR EVENTSERVER FOLLOWERMAZE
# Environment: E2E_EVENTS (default 150000; leader_kill 300000), E2E_RATE (events/s, default
# 50000), E2E_RESUME_WAIT_MS (the edges' cluster.resumeWaitMs, default 10000), KEEP_LOGS=1.
# Exit 77 (skipped) when nats-server is not installed.
set -euo pipefail
mode=$1
cd "$2"
DAEMON=$3
HARNESS=$4
# shellcheck disable=SC1091
source bench/lib.sh
# shellcheck disable=SC1091
source bench/cluster/lib.sh
if ! command -v nats-server >/dev/null; then
  [[ -z "${CI:-}" ]] || { echo "nats-server is not installed (the Makefile installs it)"; exit 1; }
  echo "nats-server is not installed: skipped"
  exit 77
fi

events=${E2E_EVENTS:-150000}
replicas=1
nodes=1
if [[ "$mode" == leader_kill ]]; then
  events=${E2E_EVENTS:-300000}
  replicas=3
  nodes=3
fi
rate=${E2E_RATE:-50000}
resume_wait=${E2E_RESUME_WAIT_MS:-10000}

work=$(mktemp -d "${TMPDIR:-/tmp}/eventserver-cluster-e2e.XXXXXX")
harness_pid=""
cleanup() {
  [[ -z "$harness_pid" ]] || kill -KILL "$harness_pid" 2>/dev/null || true
  # A stopped edge must be let go before it can be terminated.
  for name in "${!role_pid[@]}"; do [[ -z "${role_pid[$name]}" ]] || kill -CONT "${role_pid[$name]}" 2>/dev/null || true; done
  stop_cluster
  if [[ "${KEEP_LOGS:-0}" == 1 ]]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL ($mode): $*"
  for log in "$work"/*.log; do
    echo "--- $(basename "$log") (last lines)"
    tail -n 15 "$log"
  done
  exit 1
}

start_nats "$nodes" || fail "nats-server did not start"
pick_ports event_port ingest_admin
role_config "$work/ingest.json" ingest "$event_port" 0 0 "$ingest_admin" "$replicas"
start_role ingest "$work/ingest.json" "$ingest_admin" || fail "the ingest did not start"
client_ports=()
ws_ports=()
for e in 0 1 2; do
  pick_ports client ws admin
  client_ports+=("$client")
  ws_ports+=("$ws")
  role_config "$work/edge$e.json" edge 0 "$client" "$ws" "$admin" "$replicas" "" "\"resumeWaitMs\": $resume_wait,"
  start_role "edge$e" "$work/edge$e.json" "$admin" || fail "edge$e did not start"
done

join() { local IFS=,; echo "$*"; }
harness_args=(
  --eventListenerPort="$event_port" --clientPorts="$(join "${client_ports[@]}")" --wsPorts="$(join "${ws_ports[@]}")"
  --totalEvents="$events" --concurrencyLevel=60 --ws-clients=15 --chaos-client-reconnect=6 --maxRate="$rate"
  --randomSeed=7 --logInterval=100 --survive-restarts --restart-timeout=30000
)
echo "== $mode: $events events at $rate/s, 60 clients (15 WebSocket) over 3 edges, R$replicas on $nodes nats-server node(s)"
"$HARNESS" "${harness_args[@]}" >"$work/harness.log" 2>&1 &
harness_pid=$!

# sent: the harness's last progress count of events sent.
sent() {
  local n
  n=$(grep -o 'events sent [0-9]*' "$work/harness.log" 2>/dev/null | tail -n 1 | grep -o '[0-9]*$' || true)
  echo "${n:-0}"
}
# wait_sent N: until the harness has sent N events (fails if it ends first).
wait_sent() {
  while (($(sent) < $1)); do
    kill -0 "$harness_pid" 2>/dev/null || fail "the harness ended before $1 events were sent"
    sleep 0.05
  done
}

case "$mode" in
  spread) ;;
  edge_kill)
    wait_sent $((events / 3))
    kill_role edge1
    echo "   killed edge1 (kill -9) at $(sent) events sent"
    ;;
  ingest_kill)
    wait_sent $((events / 3))
    # Stopped first, so that the source's batches pile up unread and unacknowledged: the kill
    # then loses them, and the source must resend them to the second ingest.
    kill -STOP "${role_pid[ingest]}"
    stopped_at=$(sent)
    wait_sent $((stopped_at + rate / 10))
    kill_role ingest
    echo "   stopped the ingest (SIGSTOP) at $stopped_at events sent, killed it (kill -9) at $(sent)"
    start_role ingest "$work/ingest.json" "$ingest_admin" || fail "the second ingest did not start"
    ;;
  lagging_edge)
    wait_sent $((events / 3))
    behind=$(metric edge2 eventserver_edge_stream_applied_sequence)
    kill -STOP "${role_pid[edge2]}"
    echo "   stopped edge2 (SIGSTOP) at stream message $behind"
    # edge1's clients move to edge2 (the next port) once edge1 is gone: let edge1 get ahead first.
    for _ in $(seq 1 400); do
      ahead=$(metric edge1 eventserver_edge_stream_applied_sequence)
      ((${ahead:-0} > behind + 5)) && break
      sleep 0.05
    done
    ((${ahead:-0} > behind + 5)) || fail "edge1 did not get past stream message $behind"
    kill_role edge1
    echo "   killed edge1 (kill -9) at stream message $ahead, $(sent) events sent; its clients go to edge2"
    sleep 1
    kill -CONT "${role_pid[edge2]}"
    echo "   let edge2 go (SIGCONT)"
    ;;
  leader_kill)
    wait_sent $((events / 3))
    leader=$(stream_leader EVENTS)
    [[ -n "$leader" ]] || fail "no node says it leads stream EVENTS"
    kill_nats_node "$leader"
    echo "   killed the stream leader ${nats_names[leader]} (kill -9) at $(sent) events sent"
    ;;
  *)
    echo "usage: cluster_e2e.sh spread|edge_kill|ingest_kill|lagging_edge|leader_kill SOURCE_DIR EVENTSERVER FOLLOWERMAZE" >&2
    exit 2
    ;;
esac

status=0
wait "$harness_pid" || status=$?
harness_pid=""
result=$(grep '^RESULT ' "$work/harness.log" | tail -n 1 || true)
grep -E "^(events|notifications|latency|stream|restarts|reconnecting|harness) " "$work/harness.log" || true
((status == 0)) || fail "the harness exited $status: $(grep -m 3 -E 'FAIL|error' "$work/harness.log" || true)"
grep -q "ALL NOTIFICATIONS RECEIVED" "$work/harness.log" || fail "no ALL NOTIFICATIONS RECEIVED banner"
[[ -n "$result" ]] || fail "no RESULT line"
case "$mode" in
  ingest_kill)
    # The source must have been told where to resend from by the second ingest.
    [[ "$result" =~ source_recoveries=([0-9]+) ]] && ((BASH_REMATCH[1] >= 1)) ||
      fail "the source never reconnected to the second ingest: $result"
    [[ "$result" =~ resent_bytes=([0-9]+) ]] && ((BASH_REMATCH[1] > 0)) ||
      fail "the source resent nothing to the second ingest: $result"
    ;;
  edge_kill | lagging_edge)
    # 6 chaos reconnects, and the killed edge's clients (about 20) on the next edge.
    [[ "$result" =~ client_resumes=([0-9]+) ]] && ((BASH_REMATCH[1] >= 16)) ||
      fail "too few client resumes for a killed edge's clients: $result"
    ;;
esac
echo "$result"
echo "PASS ($mode)"
