#!/bin/sh
# Checks what the Debian package carries beside the binary, without building a package:
#   man        docs/eventserver.8 renders with man(1) without a warning, has the sections an
#              operator looks for, and names every option of `eventserver -help` and every action
#              of `eventserver log` (so a new option cannot be left out of it);
#   copyright  packaging/debian/copyright holds the license of LICENSE, word for word.
# `make check-deb` checks the package itself (lintian, apt, the unit). Exit 77 (ctest: skipped)
# when man is missing, except under CI=true, where the Makefile has installed it.
# usage: package_files_test.sh man|copyright SOURCE_DIR BINARY
set -eu
kind=$1 src=$2 binary=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

case "$kind" in
  man)
    if ! command -v man >/dev/null 2>&1; then
      [ "${CI:-}" = true ] && fail "man is missing: the Makefile installs man-db"
      echo "man not installed (Debian package man-db)"; exit 77
    fi
    # --warnings: groff's warnings (bad macros, unknown escapes) go to standard error.
    LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -l "$src/docs/eventserver.8" >"$work/page" 2>"$work/warnings" ||
      fail "man -l failed: $(cat "$work/warnings")"
    [ ! -s "$work/warnings" ] || fail "man reports: $(cat "$work/warnings")"
    # man hyphenates and may use U+2010 for '-'; compare on plain ASCII hyphens.
    sed 's/\xe2\x80\x90/-/g' "$work/page" >"$work/text"
    for section in NAME SYNOPSIS DESCRIPTION OPTIONS "LOG SUBCOMMANDS" SIGNALS "EXIT STATUS" FILES "SEE ALSO"; do
      grep -q "^$section\$" "$work/text" || fail "no section $section"
    done
    grep -q "^ *eventserver - " "$work/text" || fail "NAME is not 'eventserver - summary' (whatis)"
    # Every option the daemon's usage lists, and every action and option of the log tool.
    "$binary" -help >"$work/usage"
    "$binary" log >"$work/log-usage" 2>&1 && fail "'eventserver log' without an action should fail"
    options=$(grep -o -- ' -[a-z][a-z-]*' "$work/usage" "$work/log-usage" | sed 's/^.*: *//' | sort -u)
    [ -n "$options" ] || fail "found no options in the usage texts"
    # Described: the option opens a line (the tag of its paragraph), not only named in passing.
    for option in $options; do
      grep -q -- "^ *$option\\b" "$work/text" || fail "the manual page does not describe $option"
    done
    actions=$(sed -n 's/^usage: eventserver log \([a-z|]*\) .*/\1/p' "$work/log-usage" | tr '|' ' ')
    [ -n "$actions" ] || fail "found no log actions in: $(cat "$work/log-usage")"
    for action in $actions; do
      grep -q "^ *$action\\b" "$work/text" || fail "the manual page does not describe 'log $action'"
    done
    for signal in SIGTERM SIGINT SIGHUP; do grep -q "$signal" "$work/text" || fail "no $signal"; done
    for file in /etc/eventserver/config.json /var/lib/eventserver/data /usr/lib/systemd/system/eventserver.service; do
      grep -q "$file" "$work/text" || fail "FILES does not name $file"
    done
    echo "manual page renders and covers: $(echo $options) and log $(echo $actions)"
    ;;
  copyright)
    copyright=$src/packaging/debian/copyright
    head -n 1 "$copyright" | grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/$' ||
      fail "copyright is not in the machine-readable format"
    holder=$(sed -n 's/^Copyright (c) //p' "$src/LICENSE")
    grep -q "^Copyright: $holder\$" "$copyright" || fail "copyright does not name '$holder' as LICENSE does"
    # The license text: LICENSE from its first paragraph after the notice, as the indented
    # paragraphs of the standalone License: stanza (blank lines written as " .").
    sed -n '/^Permission/,$p' "$src/LICENSE" | sed 's/^$/./; s/^/ /' >"$work/expected"
    awk '/^License: / { stanza = ++n == 2; next } stanza && /^ / { print; next } { stanza = 0 }' "$copyright" >"$work/actual"
    diff -u "$work/expected" "$work/actual" || fail "the license in copyright differs from LICENSE"
    echo "copyright carries LICENSE"
    ;;
  *) echo "unknown kind $kind"; exit 2 ;;
esac
