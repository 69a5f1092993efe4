#!/bin/sh
# The image's entrypoint. The command names a role, which is a package.json
# script run as `npm run <role>` would run it, without npm (the final image has
# node only) and with node itself as the container's main process, so SIGTERM
# reaches drydock's own shutdown (a worker drains its tasks):
#   api     the API (`npm run api`; `npm start`'s entry where no api script exists)
#   worker  a worker (`npm run worker`)
#   operator, or any other tsx script of package.json, with its arguments
# Anything else runs as given (`docker run … drydock node -v`).
set -eu
cd /app
role="${1:-api}"
script="$(node -e '
  const s = require("./package.json").scripts;
  const role = process.argv[1];
  process.stdout.write(s[role] ?? (role === "api" ? s.start : "") ?? "");
' "$role")"
case "$script" in
  "tsx "*)
    shift || true
    # Word splitting is wanted: the script is a file and its fixed arguments.
    # shellcheck disable=SC2086
    exec node --import tsx ${script#tsx } "$@"
    ;;
  "")
    exec "$@"
    ;;
  *)
    echo "drydock image: the script \"$role\" ($script) is not a tsx entry point and cannot run without npm" >&2
    exit 64
    ;;
esac
