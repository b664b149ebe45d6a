#!/bin/sh
# The issue-22 slow-reader run: clientWriteTimeoutMs 4000, a fresh dataDir, and
#   followermaze --daemonConfig=cfg.json --totalEvents=3000000 --maxRate=120000 --chaos-slow-readers=6
# 6 readers at half their stream's rate must get everything (none cut off as stuck).
# usage: bench/client_cost/slow_readers.sh DAEMON FOLLOWERMAZE [SNDBUF|default]
# Ports 29190/29199 on loopback; the daemon is stopped by its pid.
daemon=$1; harness=$2; sndbuf=${3:-default}
dir=$(mktemp -d)
mkdir -p "$dir/data"
if [ "$sndbuf" = default ]; then extra=""; else extra="\"clientSendBufferBytes\": $sndbuf,"; fi
cat > "$dir/cfg.json" <<JSON
{"eventListenerPort": 29190, "clientListenerAddress": "127.0.0.1", "clientListenerPort": 29199, "adminListenerPort": 0,
 $extra "clientWriteTimeoutMs": 4000, "dataDir": "$dir/data"}
JSON
"$daemon" -config "$dir/cfg.json" > "$dir/daemon.log" 2>&1 &
pid=$!
sleep 1
"$harness" --daemonConfig="$dir/cfg.json" --totalEvents=3000000 --maxRate=120000 --chaos-slow-readers=6 > "$dir/harness.log" 2>&1
rc=$?
kill -TERM $pid; wait $pid
echo "send buffer $sndbuf: harness exit $rc; cut off as stuck: $(grep -c 'disconnected: stuck' "$dir/daemon.log")"
grep -E "ALL NOTIFICATIONS|FAILED" "$dir/harness.log" | head -3
rm -rf "$dir"
