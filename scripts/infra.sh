#!/usr/bin/env bash
# Installs and starts what the integration tests need on a fresh Debian machine:
# the Docker engine, Compose v1, a registry on loopback, busybox-static for test
# images, and the Temporal CLI. Idempotent: what runs already is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
REGISTRY_PORT="${DRYDOCK_TEST_REGISTRY_PORT:-5055}"
STATE=".data/infra"
mkdir -p "$STATE"

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || need_apt+=(busybox-static)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need_apt+=(docker-compose)
# curl checks the registry below; openssl cross-checks the agent's certificate request in a test.
command -v curl >/dev/null || need_apt+=(curl)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "infra: installing ${need_apt[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "infra: starting dockerd"
  nohup dockerd >"$STATE/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "infra: dockerd did not start, see $STATE/dockerd.log" >&2; tail -20 "$STATE/dockerd.log" >&2; exit 1; }
fi

if ! curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1; then
  echo "infra: starting registry on 127.0.0.1:$REGISTRY_PORT"
  mkdir -p "$STATE/registry"
  cat >"$STATE/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $PWD/$STATE/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
YML
  nohup docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 &
  for _ in $(seq 1 40); do curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1 && break; sleep 0.25; done
  curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null || { echo "infra: registry did not start" >&2; tail -20 "$STATE/registry.log" >&2; exit 1; }
fi

echo "infra: ready (docker engine, registry 127.0.0.1:$REGISTRY_PORT)"
