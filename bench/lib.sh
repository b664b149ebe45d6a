# Helpers shared by the bench scripts (bench/e2e, floor, latency, scale, soak and others).
# Sourced, not run: it only defines functions. Their messages say "run.sh:" like the scripts' own.
# shellcheck shell=bash

# require_binaries FILE...: exit 2 (set-up error) unless every FILE is an executable.
require_binaries() {
  local binary
  for binary in "$@"; do
    if [[ ! -x "$binary" ]]; then
      echo "run.sh: $binary not found; build first (make build)" >&2
      exit 2
    fi
  done
}

# port_in_use PORT: true if any socket at all is on that local port, listening or not.
port_in_use() {
  ss -Htan "( sport = :$1 )" 2>/dev/null | grep -q .
}

# free_port: print a port with no socket on it, below the ephemeral range, so no outgoing
# connection can be holding it; fails after 200 tries.
free_port() {
  local port ephemeral_low span
  ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  span=$((ephemeral_low - 10000))
  ((span > 1000)) || span=20000
  for _ in $(seq 1 200); do
    port=$((10000 + (RANDOM * 32768 + RANDOM) % span))
    if ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  echo "run.sh: no free port found" >&2
  return 1
}

# pick_ports NAME...: set each variable NAME to a free port (free_port), all of them different.
pick_ports() {
  local _pick_name _pick_port _pick_taken=" "
  for _pick_name in "$@"; do
    _pick_port=$(free_port) || return 1
    while [[ "$_pick_taken" == *" $_pick_port "* ]]; do
      _pick_port=$(free_port) || return 1
    done
    _pick_taken+="$_pick_port "
    printf -v "$_pick_name" '%s' "$_pick_port"
  done
}

# terminate_daemon PID: SIGTERM, up to 20 s for a graceful exit, then SIGKILL; reaps PID (a child
# of this shell) and returns its exit status.
terminate_daemon() {
  local pid=$1 status=0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do  # 20 s for a graceful exit
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: daemon $pid ignored SIGTERM for 20 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || status=$?
  return "$status"
}

# loopback_config CONFIG OUT EVENT_PORT CLIENT_PORT ADMIN_PORT DATA_DIR: CONFIG with those ports,
# clientListenerAddress 127.0.0.1 and that dataDir, written to OUT.
loopback_config() {
  jq --argjson e "$3" --argjson c "$4" --argjson a "$5" --arg d "$6" \
    '.eventListenerPort = $e | .clientListenerPort = $c | .clientListenerAddress = "127.0.0.1"
     | .adminListenerPort = $a | .dataDir = $d' "$1" >"$2"
}

# wait_listening LOG SECONDS: waits until LOG says the daemon listens for event sources, at
# most SECONDS; false if it never does.
wait_listening() {
  local log=$1 seconds=$2
  for _ in $(seq $((seconds * 10))); do
    grep -qs "listening for event sources" "$log" && return 0
    sleep 0.1
  done
  return 1
}

# harness_against DAEMON WORK METRICS: one harness run ($HARNESS with $HARNESS_ARGS, against
# $CONFIG) on DAEMON with free loopback ports, clientListenerAddress 127.0.0.1, an admin port and
# a fresh dataDir under WORK. Prints the harness's RESULT line (nothing if the harness failed);
# leaves /metrics at the end of the run in METRICS and the daemon's log in WORK/daemon.log.
harness_against() {
  local daemon=$1 work=$2 metrics=$3 event_port client_port admin_port data pid
  pick_ports event_port client_port admin_port
  data=$(mktemp -d -p "$work")
  # shellcheck disable=SC2153  # CONFIG and HARNESS are the calling script's
  loopback_config "$CONFIG" "$work/config.json" "$event_port" "$client_port" "$admin_port" "$data"
  "$daemon" -config "$work/config.json" >"$work/daemon.log" 2>&1 &
  pid=$!
  wait_listening "$work/daemon.log" 10 || true
  # shellcheck disable=SC2086  # HARNESS_ARGS is a list of flags
  "$HARNESS" --eventListenerPort="$event_port" --clientListenerPort="$client_port" --daemonPid="$pid" \
    $HARNESS_ARGS | grep '^RESULT' || true
  exec 3<>"/dev/tcp/127.0.0.1/$admin_port"
  printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  cat <&3 >"$metrics"
  exec 3<&-
  terminate_daemon "$pid" >/dev/null || true
  rm -rf "$data"
}

# daemon_totals LOG: print the daemon's shutdown `totals:` line from LOG, without its time and
# level; nothing if there is none.
daemon_totals() {
  grep -m1 "totals:" "$1" | sed -E 's/^[^ ]+ +[a-z]+ +//' || true
}

# totals_markdown TOTALS: the "Daemon totals at shutdown" block of a results file; nothing for
# empty TOTALS.
totals_markdown() {
  [[ -n "$1" ]] || return 0
  # shellcheck disable=SC2016  # the backquotes are markdown, not a command substitution
  printf '\nDaemon totals at shutdown:\n\n```\n%s\n```\n' "$1"
}

# Runs recorded as "a b c d e;" per run, the first column the daemon's CPU seconds (the
# interleaved scripts: log, transport).
# records_median COLUMN RUNS: the median of one column (1-based).
records_median() {
  tr ';' '\n' <<<"$2" | grep . | awk -v c="$1" '{print $c}' | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'
}

# pair_ratio RUNS REFERENCE_RUNS: the median over rounds of this variant's CPU over the
# reference's in the same round (the machine's drift cancels out within a round).
pair_ratio() {
  paste -d' ' <(tr ';' '\n' <<<"$1" | grep . | awk '{print $1}') <(tr ';' '\n' <<<"$2" | grep . | awk '{print $1}') |
    awk '{print $1 / $2}' | sort -g | awk '{v[NR]=$1} END {printf "%.2f", (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'
}

# wrapped_daemon_pid DAEMON CONFIG LOG PID: waits (up to 30 s) until LOG says the daemon listens
# for event sources, then prints the pid of the DAEMON process started with `-config CONFIG`: a
# wrapper's child (strace, heaptrack), or PID itself when it was started directly.
wrapped_daemon_pid() {
  local daemon=$1 config=$2 log=$3 pid=$4
  wait_listening "$log" 30 || true
  pgrep -n -f "^$daemon -config $config" || echo "$pid"
}
