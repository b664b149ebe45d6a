#!/bin/sh
# Certificates for the TLS tests, made fresh on every run with Debian's openssl command (none
# is checked in). Writes into DIR:
#   ca.pem, ca.key                  the test CA
#   server.pem, server.key          signed by it: CN localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   server2.pem, server2.key        a second pair from the same CA (the SIGHUP reload test swaps to it)
#   client.pem, client.key          a client certificate signed by the CA (for tlsCaFile)
#   other-ca.pem, other.pem, other.key  another CA and a server pair it signed: a client trusting
#                                   ca.pem must refuse it, and the daemon must refuse other.pem as a client
# EC P-256 keys: quick to make. Valid for 2 days.
# usage: make_test_certs.sh DIR
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {  # ca NAME SUBJECT
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 2 -subj "$2" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

leaf() {  # leaf NAME CA SUBJECT EXTENSIONS
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$3" -out "$1.csr"
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -sha256 -days 2 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

server_ext='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'
client_ext='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'

ca ca "/CN=eventserver test CA"
leaf server ca "/CN=localhost" "$server_ext"
leaf server2 ca "/CN=localhost" "$server_ext"
leaf client ca "/CN=test client" "$client_ext"
ca other-ca "/CN=another CA"
leaf other other-ca "/CN=localhost" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1"
rm -f ./*.srl
