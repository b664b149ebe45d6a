#!/bin/sh
# SIGHUP re-reads the TLS certificate and key, against the real binary: a new connection gets
# the new certificate; a pair that does not load (a certificate with another's key) is logged
# and the running one kept. Certificates from make_test_certs.sh; `openssl s_client` connects.
# usage: tls_reload_test.sh BINARY SOURCE_DIR
set -eu
binary=$1
source_dir=$2
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
. "$(dirname "$0")/wait_for.sh"
# The serial number of the certificate the daemon shows a new connection.
serial() {
  openssl s_client -connect "127.0.0.1:$port" -CAfile "$work/ca.pem" -verify_return_error </dev/null 2>/dev/null |
    openssl x509 -noout -serial
}

sh "$source_dir/tests/support/make_test_certs.sh" "$work" >/dev/null
cp "$work/server.pem" "$work/live.pem"
cp "$work/server.key" "$work/live.key"
printf '{"eventListenerPort": 0, "clientListenerPort": 0, "adminListenerPort": 0, "clientListenerAddress": "127.0.0.1", "logFile": "%s", "clientTls": true, "tlsCertFile": "%s", "tlsKeyFile": "%s"}\n' \
  "$work/eventserver.log" "$work/live.pem" "$work/live.key" > "$work/config.json"
"$binary" -config "$work/config.json" > "$work/stdout" 2>&1 &
pid=$!
wait_for "$work/eventserver.log" "listening for event sources"
port=$(sed -n 's/.*and clients on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/eventserver.log" | head -n 1)
first=$(serial)
[ -n "$first" ] || { echo "no TLS handshake with the daemon on port $port"; exit 1; }

cp "$work/server2.pem" "$work/live.pem"
cp "$work/server2.key" "$work/live.key"
kill -HUP "$pid"
wait_for "$work/eventserver.log" "SIGHUP: TLS certificate, keys and tokens re-read"
second=$(serial)
[ "$second" != "$first" ] || { echo "still the first certificate after SIGHUP ($first)"; exit 1; }

# The first certificate with the second's key: refused, the second pair stays in use.
cp "$work/server.pem" "$work/live.pem"
kill -HUP "$pid"
wait_for "$work/eventserver.log" "SIGHUP: keeping the TLS certificate, keys and tokens in use"
third=$(serial)
[ "$third" = "$second" ] || { echo "the certificate changed to $third after a bad reload"; exit 1; }

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || { echo "exit status $status, expected 0"; exit 1; }
echo "SIGHUP swapped the certificate ($first -> $second) and kept it when the new pair was bad"
