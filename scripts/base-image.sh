#!/usr/bin/env bash
# Builds the base images the Dockerfile is built FROM on a machine that cannot
# reach Docker Hub: a minimal Debian root filesystem made with debootstrap and
# brought in with `docker import`, with Node.js 20 from Debian's own packages.
#
#   drydock-base:node20       node only: the final stage (BASE_IMAGE)
#   drydock-base:node20-build node and npm: the build stage (BUILD_IMAGE)
#
# Anyone who reaches Docker Hub needs none of this: the Dockerfile's defaults are
# the public node:20-bookworm-slim. Skips everything when both images exist
# (DRYDOCK_BASE_REBUILD=1 rebuilds them).
#
# Debian trixie, because bookworm's nodejs is 18.x and drydock needs Node >= 20.3
# (trixie ships 20.19). Needs root (debootstrap, chroot) and a Docker engine.
set -euo pipefail

SUITE="${DRYDOCK_BASE_SUITE:-trixie}"
MIRROR="${DRYDOCK_BASE_MIRROR:-http://deb.debian.org/debian}"
RUN_IMAGE="${DRYDOCK_BASE_IMAGE:-drydock-base:node20}"
BUILD_IMAGE="${DRYDOCK_BUILD_IMAGE:-drydock-base:node20-build}"
log() { echo "base-image: $*"; }

if [ "${DRYDOCK_BASE_REBUILD:-}" != 1 ] && docker image inspect "$RUN_IMAGE" "$BUILD_IMAGE" >/dev/null 2>&1; then
  log "$RUN_IMAGE and $BUILD_IMAGE exist, nothing to do"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "base-image: debootstrap and chroot need root; run: sudo bash $0" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

started=$SECONDS
root="$(mktemp -d /var/tmp/drydock-base.XXXXXX)"
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  rm -rf "$root" "$root.log" "$root.apt.log"
}
trap cleanup EXIT

in_root() { chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
# apt in the chroot downloads as root (its _apt sandbox user cannot write the new root's download
# directories), its output shown only when it fails.
apt_in_root() {
  in_root apt-get -qq -o APT::Sandbox::User=root "$@" >"$root.apt.log" 2>&1 || { tail -30 "$root.apt.log" >&2; exit 1; }
}

# Removes what a container never reads: apt's lists and cache, documentation, man pages, translations.
trim() {
  in_root apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/* "$root"/tmp/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
}

# The root filesystem as an image; /dev, /proc and /sys are the engine's at run time.
import_as() {
  tar --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -C "$root" -c . |
    docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
      --change 'CMD ["node"]' \
      --message "drydock base: Debian $SUITE (debootstrap minbase) + $1" - "$2" >/dev/null
  log "$2: $(docker image inspect --format '{{.Size}}' "$2" | awk '{printf "%.0f MB", $1/1e6}')"
}

log "debootstrap $SUITE (minbase) from $MIRROR"
debootstrap --variant=minbase --components=main --include=ca-certificates "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 ||
  { tail -30 "$root.log" >&2; exit 1; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
# Security updates too: the suite's -security archive next to the mirror's.
if [ "$MIRROR" = http://deb.debian.org/debian ]; then
  echo "deb http://deb.debian.org/debian-security $SUITE-security main" >>"$root/etc/apt/sources.list"
  echo "deb $MIRROR $SUITE-updates main" >>"$root/etc/apt/sources.list"
fi
apt_in_root update
apt_in_root install -y --no-install-recommends nodejs

node_version="$(in_root node --version)"
if ! in_root node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 3) ? 0 : 1)'; then
  echo "base-image: Debian $SUITE ships Node $node_version; drydock needs >= 20.3 (set DRYDOCK_BASE_SUITE)" >&2
  exit 1
fi
log "node $node_version"
trim
umount "$root/proc"
import_as "nodejs $node_version" "$RUN_IMAGE"

mount -t proc proc "$root/proc"
apt_in_root update
apt_in_root install -y --no-install-recommends npm
log "npm $(in_root npm --version)"
trim
umount "$root/proc"
import_as "nodejs $node_version, npm" "$BUILD_IMAGE"

log "done in $((SECONDS - started)) s"
