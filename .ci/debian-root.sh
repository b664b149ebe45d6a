# Shared by .ci/check-fresh and .ci/check-deb (sourced, not run): a minimal Debian 12 root made
# with debootstrap from the mirror this machine's apt uses, and the mounts a chroot into it
# needs, undone on exit. The caller sets `check` (its name, for messages) and sources this file
# after `set -euo pipefail`.

suite=bookworm

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "$check: needs root (debootstrap and chroot)" >&2
    exit 1
  fi
}

# A root directory must be an absolute path at least two levels down: it is wiped.
require_root_path() {  # require_root_path VARIABLE-NAME PATH
  case $2 in
    /*/*) ;;
    *) echo "$check: $1 must be an absolute path below a directory, got '$2'" >&2; exit 1 ;;
  esac
}

# The bookworm mirror apt already uses here, from one-line or deb822 sources.
find_mirror() {
  local uri
  uri=$(awk -v suite="$suite" '
    /^[[:space:]]*deb[[:space:]]/ {
      for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) break
      if ($(i + 1) == suite) { print $i; exit }
    }' /etc/apt/sources.list 2>/dev/null || true)
  if [ -z "$uri" ]; then
    uri=$(awk -v suite="$suite" '
      /^$/ { uris = ""; suites = "" }
      /^URIs:/ { uris = $2 }
      /^Suites:/ { suites = " " substr($0, 8) " " }
      uris != "" && suites ~ (" " suite " ") { print uris; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# Installs on this machine the Debian packages that provide the commands named (command=package).
need_commands() {  # need_commands debootstrap=debootstrap curl=curl ...
  local pair missing=()
  for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null || missing+=("${pair#*=}")
  done
  if [ ${#missing[@]} -ne 0 ]; then
    echo "$check: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

mounted=()
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null ||
      echo "$check: could not unmount ${mounted[i]}" >&2
  done
  mounted=()
}
trap unmount_all EXIT

# /proc, /sys, /dev and /dev/pts in ROOT (apt, dpkg and the daemon need them), and the host's
# resolver: the root reaches the mirror through this machine's network.
mount_system_dirs() {  # mount_system_dirs ROOT
  local root=$1
  mount -t proc proc "$root/proc"
  mounted+=("$root/proc")
  mount -t sysfs sysfs "$root/sys"
  mounted+=("$root/sys")
  mount --bind /dev "$root/dev"
  mounted+=("$root/dev")
  mount --bind /dev/pts "$root/dev/pts"
  mounted+=("$root/dev/pts")
  cp /etc/resolv.conf "$root/etc/resolv.conf"
}

# Empties DIR, but never deletes through a mount left over from an interrupted run.
wipe_dir() {  # wipe_dir DIR
  local dir=$1
  if [ -d "$dir" ] && grep -q " $dir/" /proc/mounts; then
    echo "$check: $dir still has mounts; unmount them first:" >&2
    grep " $dir/" /proc/mounts >&2
    exit 1
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
}

# A minbase bookworm in DIR, wiped first.
debootstrap_root() {  # debootstrap_root DIR
  local root=$1 begin=$SECONDS mirror=${DEBIAN_MIRROR:-$(find_mirror)}
  wipe_dir "$root"
  echo "==== debootstrap --variant=minbase $suite $root $mirror"
  debootstrap --variant=minbase "$suite" "$root" "$mirror"
  echo "==== debootstrap took $((SECONDS - begin))s"
}

# A command in ROOT with a clean environment, as root.
in_root() {  # in_root ROOT COMMAND...
  local root=$1
  shift
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
