#!/usr/bin/env bash
# Builds the drydock image on this kind of machine (no Docker Hub): the base
# images from Debian's packages first (scripts/base-image.sh; skipped when they
# exist), then the Dockerfile on them. Prints how long each part took and the
# image's size. Where Docker Hub is reachable, `docker build -t drydock .` is all
# it takes.
#   DRYDOCK_IMAGE        the tag to build (default drydock:local)
#   DRYDOCK_BASE_IMAGE, DRYDOCK_BUILD_IMAGE  the base images (default the local Debian ones)
#   DRYDOCK_BUILD_CA     a PEM file of CA certificates npm must trust in the build stage (default: the
#                        machine's own additions, /usr/local/share/ca-certificates/*.crt, e.g. a
#                        TLS-inspecting proxy's, which the Debian base image does not have)
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${DRYDOCK_IMAGE:-drydock:local}"
export DRYDOCK_BASE_IMAGE="${DRYDOCK_BASE_IMAGE:-drydock-base:node20}"
export DRYDOCK_BUILD_IMAGE="${DRYDOCK_BUILD_IMAGE:-drydock-base:node20-build}"

ca_files=()
if [ -n "${DRYDOCK_BUILD_CA:-}" ]; then ca_files=("$DRYDOCK_BUILD_CA"); else
  for f in /usr/local/share/ca-certificates/*.crt; do [ -f "$f" ] && ca_files+=("$f"); done
fi
extra_ca=""
[ ${#ca_files[@]} -gt 0 ] && extra_ca="$(cat "${ca_files[@]}")"

t0=$SECONDS
bash scripts/base-image.sh
t1=$SECONDS
# The host's network: npm ci reaches the registry the way the host does.
log="$(mktemp)"
if ! docker build --network host \
  --build-arg BASE_IMAGE="$DRYDOCK_BASE_IMAGE" --build-arg BUILD_IMAGE="$DRYDOCK_BUILD_IMAGE" \
  --build-arg NPM_EXTRA_CA_CERTS="$extra_ca" \
  -t "$IMAGE" . >"$log" 2>&1; then
  tail -40 "$log" >&2
  rm -f "$log"
  echo "build-image: docker build of $IMAGE failed (output above)" >&2
  exit 1
fi
rm -f "$log"
t2=$SECONDS
size="$(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
echo "build-image: $IMAGE ($size): base images $((t1 - t0)) s, docker build $((t2 - t1)) s"
