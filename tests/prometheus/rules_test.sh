#!/bin/sh
# The shipped alerting rules (config/eventserver-rules.yml): valid for Prometheus, and each
# alert firing exactly where its unit tests (eventserver-rules.test.yml) say it should.
# Exit 77 (skipped) without promtool, except under CI=true, where it is a failure.
# usage: rules_test.sh SOURCE_DIR
set -eu
source_dir=$1
promtool=${PROMTOOL:-promtool}
if ! command -v "$promtool" >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    echo "rules_test.sh: $promtool is missing: \`make deps\` installs Debian's prometheus" >&2
    exit 1
  fi
  echo "rules_test.sh: skipped: $promtool is not installed (Debian package prometheus; \`make deps\`)"
  exit 77
fi
"$promtool" check rules "$source_dir/config/eventserver-rules.yml"
"$promtool" test rules "$source_dir/tests/prometheus/eventserver-rules.test.yml"
