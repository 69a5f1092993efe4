#!/bin/sh
# Managed by drydock. Run as `sh /drydock/healthcheck.sh URL` by the compose
# healthchecks, so it needs no execute bit. Shipped with the release rather
# than baked into images so probes can change without rebuilding them.
set -eu
url="${1:?usage: healthcheck.sh URL}"
if command -v wget >/dev/null 2>&1; then
  exec wget -q -T 2 -O /dev/null "$url"
fi
exec curl -fsS -m 2 -o /dev/null "$url"
