#!/bin/sh
# The layers' include rule, checked on every file under src/ and include/eventserver/:
#   core/     nothing but core/, and neither Asio, Beast, OpenSSL nor NATS (synchronous, testable alone)
#   net/      core/ and net/
#   storage/  core/ and storage/, and neither Asio nor Beast (synchronous file I/O)
#   auth/     core/ and auth/, and neither Asio nor Beast (the sessions call it)
#   tls/      core/, net/ and tls/
#   admin/    core/, net/, storage/ and admin/
#   ws/       core/, net/, auth/, tls/ and ws/
#   cluster/  core/, storage/ and cluster/
#   app/      anything: it wires the layers together
# and the link rule: each layer's library (eventserver_<layer>, in src/<layer>/CMakeLists.txt)
# links, directly or through the libraries it links, every layer whose headers its files
# include. A layer that includes auth/ without linking eventserver_auth builds today only
# because app/ links both; a test or tool that links it alone would not.
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

# Third-party headers a layer must not include (an extended regular expression on the path).
forbidden() {
  case $1 in
    core) echo 'boost/(asio|beast)|openssl/|nats/' ;;
    storage|auth) echo 'boost/(asio|beast)' ;;
    *) echo "" ;;
  esac
}

# The layers whose headers the files of `layer` include (its own among them).
included_layers() {
  find "$root/src/$1" "$root/include/eventserver/$1" \( -name '*.hpp' -o -name '*.cpp' \) 2>/dev/null |
    xargs -r grep -ohE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"eventserver/[a-z_]+/' |
    sed -E 's#.*"eventserver/([a-z_]+)/#\1#' | sort -u
}

# The layers eventserver_<layer> links directly: the eventserver_* names in its
# target_link_libraries(eventserver_<layer> ...) call, which may span lines.
linked_layers() {
  file="$root/src/$1/CMakeLists.txt"
  [ -f "$file" ] || return 0
  awk -v target="eventserver_$1" '
    index($0, "target_link_libraries(" target) { inside = 1 }
    inside { print; if (index($0, ")")) inside = 0 }
  ' "$file" | grep -oE 'eventserver_[a-z_]+' | sed 's/^eventserver_//' | grep -vx "$1" || true
}

# linked_layers, followed through every library linked (the closure), with `layer` itself.
reachable_layers() {
  seen=" $1 "
  todo=$1
  while [ -n "$todo" ]; do
    next=""
    for layer in $todo; do
      for linked in $(linked_layers "$layer"); do
        case "$seen" in
          *" $linked "*) ;;
          *) seen="$seen$linked "; next="$next $linked" ;;
        esac
      done
    done
    todo=$next
  done
  echo "$seen"
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
  never=$(forbidden "$layer")
  for file in $(find "$dir" -name '*.hpp' -o -name '*.cpp'); do
    if [ -n "$never" ] && grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($never)" "$file"; then
      echo "  ^ $file: $layer/ must not include what matches $never"
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

for dir in "$root"/src/*; do
  [ -f "$dir/CMakeLists.txt" ] || continue
  layer=$(basename "$dir")
  reachable=$(reachable_layers "$layer")
  for used in $(included_layers "$layer"); do
    case "$reachable" in
      *" $used "*) ;;
      *) echo "src/$layer/CMakeLists.txt: eventserver_$layer includes $used/ headers but does not link eventserver_$used"
         status=1 ;;
    esac
  done
done

for file in $(find "$root"/src "$root"/include/eventserver -maxdepth 1 -type f \( -name "*.hpp" -o -name "*.cpp" \)); do
  echo "not in a layer folder: $file"
  status=1
done
[ $status -eq 0 ] && echo "layers ok"
exit $status
