#!/bin/sh
# Install or upgrade cryptopipe on a systemd host (README "Running on EC2"). Idempotent: a second
# run with the same inputs changes nothing; an existing config is kept; secrets are never
# written or read.
#
#   sudo scripts/install.sh [--root DIR] [--no-systemctl] [--enable MODE]... [ARTIFACT]
#
# ARTIFACT is a compiled binary (dist/cryptopipe-<arch>-unknown-linux-gnu, `deno task compile`)
# or a bundle folder (dist/bundle with cryptopipe, cryptopipe.js and deno, `deno task bundle`).
# Default: the binary for this machine's architecture under dist/, else dist/bundle.
#
# Puts in place:
#   /opt/cryptopipe/cryptopipe (+ cryptopipe.js and deno for a bundle)   root, 0755
#   /opt/cryptopipe/deploy/{cryptopipe.env.example,credentials.conf.example}
#   /etc/cryptopipe/cryptopipe.toml          only if absent (from cryptopipe.example.toml), 0644
#   /etc/cryptopipe/cryptopipe.example.toml  the current reference of every key, 0644
#   /etc/cryptopipe/credentials/             0700, created empty if absent, never touched
#   /etc/systemd/system/{cryptopipe@.service,cryptopipe-{catalog,upkeep}.{service,timer}}
# On a live systemd (not with --root or --no-systemctl): daemon-reload when a unit changed,
# try-restart of running cryptopipe units when anything changed, and enable --now for each
# --enable MODE (produce, consume: cryptopipe@MODE; catalog: cryptopipe-catalog.timer;
# upkeep: cryptopipe-upkeep.timer, daily compaction).
#
# --root DIR      install under DIR (a DESTDIR-style prefix); implies --no-systemctl
# --no-systemctl  never call systemctl
set -eu
# Directories made on the way (mkdir -p) get 0755 whatever the caller's umask.
umask 022

usage() {
  sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'
  exit 0
}

fail() {
  echo "install.sh: $*" >&2
  exit 2
}

here=$(cd "$(dirname "$0")/.." && pwd)
root=""
systemctl_ok=yes
artifact=""
enable=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root)
      [ $# -ge 2 ] || fail "--root needs a directory"
      root=$(cd "$2" 2>/dev/null && pwd) || fail "--root $2: no such directory"
      systemctl_ok=no
      shift 2
      ;;
    --no-systemctl) systemctl_ok=no; shift ;;
    --enable)
      [ $# -ge 2 ] || fail "--enable needs a mode (produce, consume, catalog or upkeep)"
      case "$2" in
        produce | consume | catalog | upkeep) enable="$enable $2" ;;
        *) fail "--enable $2: use produce, consume, catalog or upkeep (query is run by hand)" ;;
      esac
      shift 2
      ;;
    -h | --help) usage ;;
    -*) fail "unknown option $1 (see --help)" ;;
    *)
      [ -z "$artifact" ] || fail "one artifact only (got $artifact and $1)"
      artifact=$1
      shift
      ;;
  esac
done

if [ -z "$artifact" ]; then
  case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) arch=$(uname -m) ;;
  esac
  if [ -f "$here/dist/cryptopipe-$arch-unknown-linux-gnu" ]; then
    artifact="$here/dist/cryptopipe-$arch-unknown-linux-gnu"
  elif [ -d "$here/dist/bundle" ]; then
    artifact="$here/dist/bundle"
  else
    fail "no artifact given and none in $here/dist (run deno task compile or deno task bundle)"
  fi
fi
[ -e "$artifact" ] || fail "artifact $artifact not found"
if [ -d "$artifact" ]; then
  for f in cryptopipe cryptopipe.js deno; do
    [ -f "$artifact/$f" ] || fail "bundle $artifact has no $f (expected cryptopipe, cryptopipe.js, deno)"
  done
fi
[ -n "$root" ] || [ "$(id -u)" = 0 ] || fail "run as root (sudo), or use --root DIR"
units="$here/deploy/systemd"
example="$here/cryptopipe.example.toml"
for f in "$units/cryptopipe@.service" "$units/cryptopipe-catalog.service" \
  "$units/cryptopipe-catalog.timer" "$units/cryptopipe-upkeep.service" \
  "$units/cryptopipe-upkeep.timer" "$example"; do
  [ -f "$f" ] || fail "$f is missing: run from a checkout or the install tarball"
done

changed_any=no
changed_units=no

# Copy $1 to $2 with mode $3, only when the content or mode differs; the new file is written
# beside the old one and renamed over it, so a running binary is never modified in place.
put() {
  src=$1 dest=$2 mode=$3
  if [ -f "$dest" ] && cmp -s "$src" "$dest" &&
    [ "$(stat -c %a "$dest")" = "$(echo "$mode" | sed 's/^0//')" ]; then
    echo "unchanged  $dest"
    return 1
  fi
  mkdir -p "$(dirname "$dest")"
  cp "$src" "$dest.new.$$"
  chmod "$mode" "$dest.new.$$"
  mv -f "$dest.new.$$" "$dest"
  echo "installed  $dest"
  changed_any=yes
  return 0
}

dir() {
  path=$1 mode=$2
  if [ -d "$path" ]; then return 0; fi
  mkdir -p "$path"
  chmod "$mode" "$path"
  echo "created    $path/"
  changed_any=yes
}

opt="$root/opt/cryptopipe"
etc="$root/etc/cryptopipe"
sysd="$root/etc/systemd/system"
dir "$opt" 0755
if [ -d "$artifact" ]; then
  for f in cryptopipe cryptopipe.js deno; do
    mode=0755
    [ "$f" = cryptopipe.js ] && mode=0644
    put "$artifact/$f" "$opt/$f" $mode || true
  done
else
  put "$artifact" "$opt/cryptopipe" 0755 || true
  # A bundle installed earlier is replaced by the binary: drop its other files.
  for f in cryptopipe.js deno; do
    if [ -e "$opt/$f" ]; then
      rm -f "$opt/$f"
      echo "removed    $opt/$f (the binary replaces the bundle)"
      changed_any=yes
    fi
  done
fi
put "$units/cryptopipe.env.example" "$opt/deploy/cryptopipe.env.example" 0644 || true
put "$units/credentials.conf.example" "$opt/deploy/credentials.conf.example" 0644 || true

dir "$etc" 0755
put "$example" "$etc/cryptopipe.example.toml" 0644 || true
if [ -e "$etc/cryptopipe.toml" ]; then
  echo "kept       $etc/cryptopipe.toml (yours; compare with cryptopipe.example.toml)"
else
  put "$example" "$etc/cryptopipe.toml" 0644 || true
fi
# Root-only: files here are handed to one unit each through LoadCredential=.
dir "$etc/credentials" 0700

dir "$sysd" 0755
for unit in cryptopipe@.service cryptopipe-catalog.service cryptopipe-catalog.timer \
  cryptopipe-upkeep.service cryptopipe-upkeep.timer; do
  if put "$units/$unit" "$sysd/$unit" 0644; then changed_units=yes; fi
done

live=no
if [ "$systemctl_ok" = yes ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  live=yes
fi
if [ "$live" = yes ]; then
  # The artifact must run on this host (glibc, architecture) before any unit is restarted.
  "$opt/cryptopipe" --version || fail "$opt/cryptopipe does not run on this host"
  if [ "$changed_units" = yes ]; then systemctl daemon-reload; fi
  if [ "$changed_any" = yes ]; then
    systemctl try-restart 'cryptopipe@*.service' 2>/dev/null || true
  fi
  for mode in $enable; do
    if [ "$mode" = catalog ] || [ "$mode" = upkeep ]; then
      systemctl enable --now "cryptopipe-$mode.timer"
    else
      systemctl enable --now "cryptopipe@$mode.service"
    fi
  done
elif [ -n "$enable" ]; then
  echo "not on a live systemd (or --root/--no-systemctl): not enabling$enable"
fi

if [ "$changed_any" = no ]; then echo "nothing changed"; fi
cat <<EOF

Next steps:
  1. Edit /etc/cryptopipe/cryptopipe.toml (brokers, [store], [catalog]; no secrets in it).
     Check it:  /opt/cryptopipe/cryptopipe --config /etc/cryptopipe/cryptopipe.toml --print-config
  2. Secrets: /etc/cryptopipe/credentials/<name> (root, 0600) plus a LoadCredential= drop-in,
     see /opt/cryptopipe/deploy/credentials.conf.example.
  3. Start:  systemctl enable --now cryptopipe@produce cryptopipe@consume cryptopipe-catalog.timer
             (daily compaction: systemctl enable --now cryptopipe-upkeep.timer)
     Watch:  journalctl -u 'cryptopipe@*' -u cryptopipe-catalog -f
EOF
