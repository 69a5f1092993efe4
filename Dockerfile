# drydock's control plane as one image: the API (`api`, the default) and the
# worker (`worker`) run from it, chosen by the command (see
# docs/DEPLOY-image.md). Build: docker build -t drydock .
#
# BASE_IMAGE is the final stage's Node 20 (node only is enough), BUILD_IMAGE the
# build stage's (needs npm). A normal user gets the public node:20-bookworm-slim
# for both; where Docker Hub cannot be reached, scripts/base-image.sh makes both
# from Debian's packages (scripts/build-image.sh passes them).
ARG BASE_IMAGE=node:20-bookworm-slim
ARG BUILD_IMAGE=${BASE_IMAGE}

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
# Dependencies first, in their own layer: a change to the code alone reuses it.
# The postinstall generates the Prisma client into prisma/generated from the schema.
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma/schema.prisma prisma/schema.prisma
# CA certificates (PEM text) npm must trust besides the system's to reach its
# registry, e.g. behind a TLS-inspecting proxy. The build stage only: the final
# image neither has them nor records the argument.
ARG NPM_EXTRA_CA_CERTS=
RUN if [ -n "$NPM_EXTRA_CA_CERTS" ]; then \
      printf '%s\n' "$NPM_EXTRA_CA_CERTS" > /tmp/extra-ca.pem && export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; \
    fi \
 && npm ci --no-audit --no-fund --loglevel=error
COPY . .
# The workflow bundle and agent into dist/, the web UI into dist/ui; then only
# what runs: production dependencies, no UI sources, and the Temporal core
# bridge's native library for this platform only (it ships five).
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund --loglevel=error \
 && rm -rf ui \
 && arch="$(node -p 'process.arch === "arm64" ? "aarch64" : "x86_64"')" \
 && find node_modules/@temporalio/core-bridge/releases -mindepth 1 -maxdepth 1 ! -name "${arch}-unknown-linux-gnu" -exec rm -rf {} + \
 && rm -rf node_modules/@temporalio/core-bridge/sdk-core
# npm keeps "devOptional" packages with --omit=dev: development tools that a
# production package names as an optional peer (the prisma CLI, @prisma/client's),
# with what they pull in (≈230 MB). Nothing that runs needs them.
RUN node -e 'for (const [dir, p] of Object.entries(require("./package-lock.json").packages)) if (p.devOptional) require("node:fs").rmSync(dir, { recursive: true, force: true })'

FROM ${BASE_IMAGE}
WORKDIR /app
# A user of its own: the code stays root's and read-only to it; it writes only
# its data directory (the key file and agent CA when they are not configured,
# the embedded database when DATABASE_URL is unset).
RUN groupadd --gid 10001 drydock \
 && useradd --uid 10001 --gid drydock --no-create-home --home-dir /var/lib/drydock --shell /usr/sbin/nologin drydock \
 && install -d -o drydock -g drydock -m 0700 /var/lib/drydock
COPY --from=build /app /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DRYDOCK_DATA_DIR=/var/lib/drydock
USER 10001:10001
EXPOSE 3000
# /healthz on the API's own port. Plain HTTP through bash's /dev/tcp: a check that
# starts in milliseconds, where a node process per check took over 5 s to start on
# a loaded machine; HTTPS (DRYDOCK_TLS_CERT set) through scripts/healthcheck.mjs.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["bash", "-c", "if [ -n \"${DRYDOCK_TLS_CERT:-}\" ]; then exec node scripts/healthcheck.mjs; fi; exec 3<>/dev/tcp/127.0.0.1/${PORT:-3000} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && read -r -t 4 status <&3 && [[ $status == *' 200 '* ]]"]
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["api"]
