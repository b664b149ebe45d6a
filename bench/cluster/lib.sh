# A cluster on this machine for the cluster's shell test and bench (tests/cluster/cluster_e2e.sh,
# bench/cluster/run.sh): nats-server (one node, or three routed to each other), one ingest and
# edges, every process on free loopback ports with its own directory under $work, every one
# stopped by its PID. Sourced after bench/lib.sh (free ports, terminate_daemon); the caller sets
# `work` (a directory) and DAEMON (the eventserver binary).
# shellcheck shell=bash disable=SC2154  # work and DAEMON are the caller's

nats_pids=()   # one per node, "" once killed
nats_names=()  # server names n1..n3
nats_ports=()  # client ports
nats_http=()   # monitoring ports (/jsz)
nats_urls=""   # every node's URL, comma-separated
declare -A role_pid=()     # name -> PID of an ingest or edge started by start_role
declare -A role_admin=()   # name -> its admin port

# wait_http_ok URL SECONDS: true once URL answers 200.
wait_http_ok() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    if curl -fs -o /dev/null --max-time 1 "$1"; then return 0; fi
    sleep 0.05
  done
  return 1
}

# start_nats_node I: (re)starts node I (0-based) on its config, and waits until it serves its
# monitoring port (/healthz waits for JetStream's meta leader, which needs the other nodes).
start_nats_node() {
  local i=$1
  nats-server -c "$work/nats$i.conf" >>"$work/nats$i.log" 2>&1 &
  nats_pids[i]=$!
  wait_http_ok "http://127.0.0.1:${nats_http[i]}/varz" 15 || {
    echo "cluster: nats-server ${nats_names[i]} did not come up:" >&2
    tail -n 5 "$work/nats$i.log" >&2
    return 1
  }
}

# start_nats COUNT: COUNT (1 or 3) JetStream nodes; with 3, routed into one cluster.
start_nats() {
  local count=$1 i routes="" route_ports=()
  for ((i = 0; i < count; i++)); do
    pick_ports "nats_ports[$i]" "nats_http[$i]" "route_ports[$i]"
    routes+="nats-route://127.0.0.1:${route_ports[i]}, "
  done
  nats_urls=""
  for ((i = 0; i < count; i++)); do
    nats_names[i]="n$((i + 1))"
    mkdir -p "$work/nats$i"
    {
      echo "server_name: ${nats_names[i]}"
      echo "listen: 127.0.0.1:${nats_ports[i]}"
      echo "http: 127.0.0.1:${nats_http[i]}"
      echo "jetstream { store_dir: \"$work/nats$i\" }"
      if ((count > 1)); then
        echo "cluster { name: eventserver-cluster, listen: 127.0.0.1:${route_ports[i]}, routes: [$routes] }"
      fi
    } >"$work/nats$i.conf"
    nats_urls+="${nats_urls:+,}nats://127.0.0.1:${nats_ports[i]}"
  done
  for ((i = 0; i < count; i++)); do start_nats_node "$i" || return 1; done
  # JetStream ready: on a cluster, a meta leader elected and known to every node.
  for ((i = 0; i < count; i++)); do
    wait_http_ok "http://127.0.0.1:${nats_http[i]}/healthz" 30 || {
      echo "cluster: nats-server ${nats_names[i]} is not healthy (JetStream):" >&2
      tail -n 5 "$work/nats$i.log" >&2
      return 1
    }
  done
}

# stream_leader STREAM: the index of the node leading STREAM (nothing if none answers).
stream_leader() {
  local i name
  for ((i = 0; i < ${#nats_pids[@]}; i++)); do
    [[ -n "${nats_pids[i]}" ]] || continue
    name=$(curl -fs --max-time 1 "http://127.0.0.1:${nats_http[i]}/jsz?streams=true" |
      jq -r --arg s "$1" '.account_details[]?.stream_detail[]? | select(.name == $s) | .cluster.leader // empty' |
      head -n 1) || true
    if [[ -n "$name" ]]; then
      for ((j = 0; j < ${#nats_names[@]}; j++)); do
        [[ "${nats_names[j]}" != "$name" ]] || { echo "$j"; return 0; }
      done
    fi
  done
}

# kill_nats_node I: SIGKILL node I and reap it.
kill_nats_node() {
  kill -KILL "${nats_pids[$1]}" 2>/dev/null || true
  wait "${nats_pids[$1]}" 2>/dev/null || true
  nats_pids[$1]=""
}

# role_config FILE ROLE EVENT_PORT CLIENT_PORT WS_PORT ADMIN_PORT REPLICAS [EXTRA_JSON [CLUSTER_JSON]]:
# the daemon's config for an ingest (EVENT_PORT) or an edge (CLIENT_PORT, WS_PORT, its dataDir
# beside FILE). EXTRA_JSON: more keys, each followed by a comma; CLUSTER_JSON: more keys of the
# cluster section, each followed by a comma. ROLE_MAX_CLIENTS: maxClients (default 2000).
role_config() {
  local file=$1 role=$2 event=$3 client=$4 ws=$5 admin=$6 replicas=$7 extra=${8:-} cluster_extra=${9:-}
  local ports servers url
  for url in ${nats_urls//,/ }; do servers+="${servers:+, }\"$url\""; done
  if [[ "$role" == ingest ]]; then
    ports="\"eventListenerAddress\": \"127.0.0.1\", \"eventListenerPort\": $event,"
  else
    mkdir -p "${file%.json}.data"
    ports="\"clientListenerAddress\": \"127.0.0.1\", \"clientListenerPort\": $client,
  \"wsListenerAddress\": \"127.0.0.1\", \"wsListenerPort\": $ws, \"dataDir\": \"${file%.json}.data\","
  fi
  cat >"$file" <<EOF
{
  $ports
  "adminListenerAddress": "127.0.0.1", "adminListenerPort": $admin,
  "maxClients": ${ROLE_MAX_CLIENTS:-2000}, $extra
  "cluster": {"role": "$role", "servers": [$servers], "replicas": $replicas, $cluster_extra
              "requestTimeoutMs": 2000, "duplicatesWindowMs": 120000},
  "logLevel": "info"
}
EOF
}

# start_role NAME CONFIG ADMIN_PORT: starts the daemon on CONFIG (output in NAME.log, appended),
# waits (up to 60 s) until its /readyz answers 200. Returns 1 if it exits or never gets ready.
start_role() {
  local name=$1 i
  "$DAEMON" -config "$2" >>"$work/$name.log" 2>&1 &
  role_pid[$name]=$!
  role_admin[$name]=$3
  for ((i = 0; i < 1200; i++)); do
    if curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$3/readyz"; then return 0; fi
    if ! kill -0 "${role_pid[$name]}" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "cluster: $name did not get ready:" >&2
  tail -n 5 "$work/$name.log" >&2
  return 1
}

# kill_role NAME [SIGNAL]: SIGKILL (or SIGNAL) NAME and reap it.
kill_role() {
  kill "-${2:-KILL}" "${role_pid[$1]}" 2>/dev/null || true
  wait "${role_pid[$1]}" 2>/dev/null || true
  role_pid[$1]=""
}

# metric NAME METRIC: METRIC's value on NAME's /metrics (nothing if it does not answer within 1 s).
# Never fails, so a caller's `set -e` and pipefail survive a busy daemon; awk reads to the end
# (an early exit would fail curl's write).
metric() {
  { curl -fs --max-time 1 "http://127.0.0.1:${role_admin[$1]}/metrics" || true; } |
    awk -v m="$2" '$1 == m && !seen { print $2; seen = 1 }'
}

# cpu_seconds PID: utime + stime of PID so far (from /proc/PID/stat; 0 when gone).
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null ||
    echo 0
}

# stop_cluster: SIGTERM every role still running (SIGKILL after 20 s), then every nats-server.
stop_cluster() {
  local name i
  for name in "${!role_pid[@]}"; do
    [[ -z "${role_pid[$name]}" ]] || terminate_daemon "${role_pid[$name]}" >/dev/null 2>&1 || true
    role_pid[$name]=""
  done
  for ((i = 0; i < ${#nats_pids[@]}; i++)); do
    if [[ -n "${nats_pids[i]}" ]]; then
      kill -TERM "${nats_pids[i]}" 2>/dev/null || true
      wait "${nats_pids[i]}" 2>/dev/null || true
      nats_pids[i]=""
    fi
  done
}
