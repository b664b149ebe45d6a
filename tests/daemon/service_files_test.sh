#!/bin/sh
# Checks the shipped service files: `systemd-analyze verify` on the unit (pointed at the built
# binary) and a parse of the supervisord program. Exit 77 (ctest: skipped) when the tool is missing.
# usage: service_files_test.sh systemd|supervisord SOURCE_DIR BINARY
set -eu
kind=$1 src=$2 binary=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case "$kind" in
  systemd)
    command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze not installed"; exit 77; }
    sed "s|/usr/bin/eventserver|$binary|" "$src/config/eventserver.service" > "$work/eventserver.service"
    # Documentation=man:eventserver(8): verify runs man on it; the page from the tree, as installed.
    mkdir -p "$work/man/man8"
    cp "$src/docs/eventserver.8" "$work/man/man8/"
    # verify prints problems (unknown keys, bad values, missing binary or manual page) and then fails
    out=$(MANPATH="$work/man:" systemd-analyze verify "$work/eventserver.service" 2>&1) || { echo "$out"; exit 1; }
    [ -z "$out" ] || { echo "$out"; exit 1; }
    grep -q '^ExecStart=.* -config /etc/eventserver/config.json$' "$src/config/eventserver.service"
    echo "systemd unit verifies"
    ;;
  supervisord)
    command -v python3 >/dev/null 2>&1 || { echo "python3 not installed"; exit 77; }
    python3 - "$src/config/eventserver.supervisord.conf" <<'PY'
import configparser, sys
parser = configparser.RawConfigParser(inline_comment_prefixes=(";",))
parser.read(sys.argv[1])
program = parser["program:eventserver"]
assert program["command"] == "/usr/bin/eventserver -config /etc/eventserver/config.json", program["command"]
assert program["stopsignal"] == "TERM"
assert program["exitcodes"] == "0"
assert int(program["stopwaitsecs"]) >= 6, "must outlast shutdownTimeoutMs (5 s)"
print("supervisord program parses")
PY
    ;;
  *) echo "unknown kind $kind"; exit 2 ;;
esac
