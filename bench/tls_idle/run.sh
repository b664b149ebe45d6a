#!/usr/bin/env bash
# Memory per idle TLS connection on the server, Asio's ssl::stream (what the sessions use
# today) against tls_socket (OpenSSL on the socket's descriptor), interleaved: each round runs
# every case once per variant, the variants' order alternating from round to round. Cases:
# CONNECTIONS connections under TLS 1.3 handshaking 16 at a time (clients arriving), all at
# once (a burst: every client reconnecting after a restart), and TLS 1.2 16 at a time.
# Certificates come fresh from tests/support/make_test_certs.sh.
#
# usage: bench/tls_idle/run.sh [ROUNDS]      (default 5)
#   BUILD_DIR    the build (default build): its bench/tls_idle/tls_idle
#   CONNECTIONS  per run (default 2000)
#   OUT          results table (default: standard output only)
# Prints every run's line, then a markdown table of medians per case and variant: KiB per
# connection of resident set growth, of heap in use (mallinfo2), and of resident set after
# malloc_trim.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
build=${BUILD_DIR:-build}
connections=${CONNECTIONS:-2000}
bin=$build/bench/tls_idle/tls_idle
[ -x "$bin" ] || { echo "no $bin: build the tls_idle target" >&2; exit 1; }

certs=$(mktemp -d)
runs=$(mktemp)
trap 'rm -rf "$certs" "$runs"' EXIT
sh tests/support/make_test_certs.sh "$certs" >/dev/null 2>&1

cases=("1.3 16" "1.3 $connections" "1.2 16")
for ((round = 1; round <= rounds; round++)); do
  if ((round % 2)); then order=(asio tls_socket); else order=(tls_socket asio); fi
  for c in "${cases[@]}"; do
    read -r version in_flight <<<"$c"
    for variant in "${order[@]}"; do
      "$bin" "$certs" "$variant" "$connections" "$version" "$in_flight" | tee -a "$runs"
    done
  done
done

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
{
  echo
  echo "| TLS | handshakes in flight | stream | RSS KiB / connection | heap in use KiB / connection | RSS after malloc_trim KiB / connection |"
  echo "|---|---:|---|---:|---:|---:|"
  for c in "${cases[@]}"; do
    read -r version in_flight <<<"$c"
    for variant in asio tls_socket; do
      lines=$(grep "variant=$variant tls=$version connections=$connections in_flight=$in_flight " "$runs")
      rss=$(field rss_kib_per_connection <<<"$lines" | median)
      heap=$(field heap_kib_per_connection <<<"$lines" | median)
      trimmed=$(field rss_after_trim_kib_per_connection <<<"$lines" | median)
      name=$([ "$variant" = asio ] && echo "ssl::stream" || echo "tls_socket")
      echo "| $version | $in_flight | $name | $rss | $heap | $trimmed |"
    done
  done
} | tee "${OUT:-/dev/null}"
