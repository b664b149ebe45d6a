#!/bin/sh
# The harness's defaults (10M events, 100 clients) against the shipped config (a fresh dataDir,
# ports moved to 29290/29299, admin off): the daemon's CPU seconds and the wall time.
# usage: bench/client_cost/default_run.sh DAEMON FOLLOWERMAZE
#   SNDBUF=N sets clientSendBufferBytes; DROP=clientSendBufferBytes leaves the key out (a daemon
#   that predates it).
daemon=$1; harness=$2
dir=$(mktemp -d); mkdir -p "$dir/data"
sed -e 's/"eventListenerPort": 9090/"eventListenerPort": 29290/' -e 's/"clientListenerPort": 9099/"clientListenerPort": 29299/' \
    -e 's/"adminListenerPort": 9095/"adminListenerPort": 0/' -e "s|\"dataDir\": \"data\"|\"dataDir\": \"$dir/data\"|" \
    -e "s/\"clientSendBufferBytes\": 65536/\"clientSendBufferBytes\": ${SNDBUF:-65536}/" \
    "$(dirname "$0")/../../config/config.json" | grep -v "${DROP:-no key to drop}" > "$dir/cfg.json"
"$daemon" -config "$dir/cfg.json" > "$dir/daemon.log" 2>&1 &
pid=$!
sleep 1
"$harness" --eventListenerPort=29290 --clientListenerPort=29299 --daemonPid=$pid > "$dir/harness.log" 2>&1
rc=$?
kill -TERM $pid; wait $pid
echo "exit $rc $(grep RESULT "$dir/harness.log" | grep -o 'wall_s=[0-9.]*') $(grep RESULT "$dir/harness.log" | grep -o 'daemon_cpu_s=[0-9.]*')"
rm -rf "$dir"
