#!/bin/sh
# SIGHUP against the real binary: after logrotate-style `mv`, the daemon reopens logFile, and it
# re-reads logLevel from the config file. Then SIGTERM: exit 0 with totals in the new file.
# usage: sighup_test.sh BINARY
set -eu
binary=$1
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
write_config() {
  printf '{"eventListenerPort": 0, "clientListenerPort": 0, "adminListenerPort": 0, "clientListenerAddress": "127.0.0.1", "logFile": "%s", "logLevel": "%s"}\n' \
    "$work/eventserver.log" "$1" > "$work/config.json"
}
. "$(dirname "$0")/wait_for.sh"

write_config info
"$binary" -config "$work/config.json" > "$work/stdout" 2>&1 &
pid=$!
wait_for "$work/eventserver.log" "listening for event sources"

mv "$work/eventserver.log" "$work/eventserver.log.1"
write_config warn
kill -HUP "$pid"
wait_for "$work/eventserver.log" "SIGHUP: log file reopened, logLevel info -> warn"
grep -q "listening for event sources" "$work/eventserver.log.1"

# A config that no longer parses: the daemon keeps running and says why.
echo '{"logLevel": "loud"}' > "$work/config.json"
kill -HUP "$pid"
wait_for "$work/eventserver.log" "SIGHUP: config not reloaded"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || { echo "exit status $status, expected 0"; exit 1; }
# logLevel is warn now: the info-level totals line must not appear
if grep -q "totals:" "$work/eventserver.log"; then echo "info line logged at level warn"; exit 1; fi
[ ! -s "$work/stdout" ] || { echo "unexpected output on stdout:"; cat "$work/stdout"; exit 1; }
echo "SIGHUP reopened the log and reloaded logLevel"
