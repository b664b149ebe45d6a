#!/usr/bin/env bash
# Runs the fuzz targets built in BUILD_DIR (make fuzz does this): for each target, first
# replays tests/fuzz/regressions/<target>/ (inputs that once broke it: each must now pass),
# then fuzzes for SECONDS from a copy of tests/fuzz/corpus/<target>/ kept in
# BUILD_DIR/corpus/<target>/, so the repository is never written and what one run finds seeds
# the next. Crashes land in BUILD_DIR/artifacts/. Prints the executions per target; exits 1
# if any target failed, after running them all.
#
# usage: tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...   (FUZZ_FLAGS: extra libFuzzer flags)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$1
seconds=$2
shift 2
read -r -a extra_flags <<<"${FUZZ_FLAGS:-}"
mkdir -p "$build/logs" "$build/artifacts"

dictionary_for() {
  case $1 in
    parse_event | line_reader) echo "-dict=$here/event.dict" ;;
    config) echo "-dict=$here/config.dict" ;;
    token) echo "-dict=$here/token.dict" ;;
  esac
}

status=0
summary=()
for target in "$@"; do
  binary=$build/fuzz_$target
  echo "--- fuzz_$target"

  replayed=0
  for input in "$here/regressions/$target"/*; do
    [ -f "$input" ] || continue
    replayed=$((replayed + 1))
    log=$build/logs/$target-regression-$(basename "$input").log
    if ! "$binary" "$input" >"$log" 2>&1; then
      status=1
      echo "REGRESSION FAILS: $binary $input"
      grep -E 'ERROR|SUMMARY|threw|violated|^    #[0-9] ' "$log" | head -12
      summary+=("$(printf '%-12s regression fails: %s' "$target" "${input#"$here"/}")")
    fi
  done
  [ "$replayed" = 0 ] || echo "replayed $replayed regression input(s)"

  corpus=$build/corpus/$target
  mkdir -p "$corpus"
  cp -n "$here/corpus/$target"/* "$corpus"/ 2>/dev/null || true
  log=$build/logs/$target.log
  # -timeout: one input taking 10 s is a hang worth a report, not a slow machine.
  # shellcheck disable=SC2046
  "$binary" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$target-" $(dictionary_for "$target") "${extra_flags[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  took=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*')
  files=$(find "$corpus" -type f | wc -l)
  if [ "$rc" = 0 ]; then
    line=$(printf '%-12s %12s execs in %ss (%s/s), corpus %s files' "$target" "${execs:-?}" "${took:-?}" \
      "$(( ${execs:-0} / (${took:-1} > 0 ? ${took:-1} : 1) ))" "$files")
  else
    status=1
    line=$(printf '%-12s CRASH after %s execs: %s' "$target" "${execs:-?}" \
      "$(grep -o "Test unit written to .*" "$log" | tail -1 | sed 's/Test unit written to //')")
    grep -E 'ERROR|SUMMARY|threw|violated|^    #[0-9] ' "$log" | head -20
    echo "(full log: $log)"
  fi
  echo "$line"
  summary+=("$line")
done

echo "--- fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$status"
