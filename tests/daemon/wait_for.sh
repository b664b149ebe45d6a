# Sourced by the shell tests: wait_for FILE TEXT waits (at most 10 s) for TEXT to appear in
# FILE, and fails the test with FILE's content when it does not.
wait_for() {
  i=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -le 200 ] || { echo "timed out waiting for '$2' in $1"; cat "$1" 2>/dev/null; exit 1; }
    sleep 0.05
  done
}
