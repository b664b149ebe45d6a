#!/bin/sh
# The layers' include rule, checked on every file under src/ and include/eventserver/:
#   core/     nothing but core/, and neither Asio nor Beast (synchronous, testable alone)
#   net/      core/ and net/
#   storage/  core/ and storage/
#   auth/     core/ and auth/
#   tls/      core/, net/ and tls/
#   admin/    core/, net/, storage/ and admin/
#   ws/       core/, net/, auth/, tls/ and ws/
#   cluster/  core/, storage/ and cluster/
#   app/      anything: it wires the layers together
# usage: layering_test.sh SOURCE_DIR
set -eu
root=$1
status=0

allowed() {
  case $1 in
    core) echo "core" ;;
    net) echo "core net" ;;
    storage) echo "core storage" ;;
    auth) echo "core auth" ;;
    tls) echo "core net tls" ;;
    admin) echo "core net storage admin" ;;
    ws) echo "core net auth tls ws" ;;
    cluster) echo "core storage cluster" ;;
    app) echo "*" ;;
    *) echo "" ;;
  esac
}

for dir in "$root"/src/* "$root"/include/eventserver/*; do
  [ -d "$dir" ] || continue  # files directly under src/ are checked below
  layer=$(basename "$dir")
  may=$(allowed "$layer")
  if [ -z "$may" ]; then
    echo "unknown layer folder: $dir (add it to tests/layering_test.sh)"
    status=1
    continue
  fi
  for file in $(find "$dir" -name '*.hpp' -o -name '*.cpp'); do
    if [ "$layer" = core ] && grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](boost/(asio|beast)|openssl/|nats/)' "$file"; then
      echo "  ^ $file: core/ must not include Asio, Beast, OpenSSL or NATS"
      status=1
    fi
    [ "$may" = "*" ] && continue
    grep -oE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"eventserver/[a-z_]+/' "$file" |
      sed -E 's#.*"eventserver/([a-z_]+)/#\1#' | sort -u | while read -r used; do
        case " $may " in
          *" $used "*) ;;
          *) echo "$file: $layer/ includes a header of $used/"; exit 1 ;;
        esac
      done || status=1
  done
done
for file in $(find "$root"/src "$root"/include/eventserver -maxdepth 1 -type f \( -name "*.hpp" -o -name "*.cpp" \)); do
  echo "not in a layer folder: $file"
  status=1
done
[ $status -eq 0 ] && echo "layers ok"
exit $status
