# syntax=docker/dockerfile:1
#
# The chapi API image. Stages:
#   deps       every dependency from the lockfile (compiler, types, tsx): for `build` and `dev`
#   build      compiles api/src → api/dist, the server bundled into one file (`npm run build -w api`)
#   prod-deps  only what the API needs at run time: no Pulumi SDKs, no test tools
#   dev        hot-reloading API for docker-compose.dev.yml (`--target dev`)
#   runtime    the production image (the LAST stage, so a plain `docker build .` builds it)
#
# Production:  docker build --build-arg APP_VERSION="$(git rev-parse HEAD)" -t chapi .
# Runs as `node` (uid 1000) on a read-only root file system; only /tmp needs to be writable.
# ECS starts it with `initProcessEnabled` (tini as PID 1), Compose with `init: true`; the API
# itself handles SIGTERM (25 s drain, inside ECS's 30 s stop timeout).
#
# The base image: the Node release of .nvmrc (the one the tests run on), pinned by digest so
# that a build is reproducible and a base image change is a reviewed commit. A build argument
# so that a machine without a registry can build on a local stand-in (.ci/image):
#   docker build --build-arg NODE_IMAGE=node:22.23.3-trixie-slim .
# Dependabot cannot read a FROM that uses an ARG (dependabot/dependabot-core#2057), so it
# updates the same reference in .github/base-image/Dockerfile, and test/static/dockerfile.test.ts
# fails until this line, .nvmrc and .ci/run say the same (README: "The image").
ARG NODE_IMAGE=node:22.23.3-trixie-slim@sha256:b26b04c123d9ff8ab646ceb18b9d75a1173acf64b9a401094b906d27b29338d4
FROM ${NODE_IMAGE} AS base
WORKDIR /app
# npm runs only at build time: no update check, audit or funding calls over the network.
ENV npm_config_update_notifier=false \
    npm_config_audit=false \
    npm_config_fund=false

# Install scripts are skipped throughout: nothing the API or the compiler needs has one, and
# some of the root package's (the Pulumi plugin installers) would download from outside npm.
FROM base AS deps
COPY package.json package-lock.json ./
COPY api/package.json api/
# patches/: fixes to dependencies that upstream has not released (patch-package; the root
# package's postinstall does the same outside Docker, but install scripts are off here).
COPY patches patches
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts && node_modules/.bin/patch-package --error-on-fail

FROM deps AS build
COPY tsconfig.base.json ./
COPY api/tsconfig.build.json api/bundle.ts api/
COPY api/src api/src
RUN npm run build -w api

# Only the API workspace's production dependencies (about 100 packages, 36 MB), hoisted
# into /app/node_modules as npm workspaces lay them out.
# The same patches, applied by the `deps` stage's patch-package, mounted for this one step:
# the tool never lands in this stage's node_modules.
FROM base AS prod-deps
COPY package.json package-lock.json ./
COPY api/package.json api/
COPY patches patches
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=bind,from=deps,source=/app/node_modules,target=/tmp/patch-tools/node_modules \
    npm ci --omit=dev --workspace api --include-workspace-root=false --ignore-scripts \
    && node /tmp/patch-tools/node_modules/patch-package/index.js --error-on-fail

# Compose mounts api/src and migrations over these copies; `tsx watch` restarts the API on
# every change (CHOKIDAR_USEPOLLING in Compose: bind mounts from a Windows or macOS host do
# not always deliver file events). A change to package.json or the lockfile needs a rebuild.
FROM deps AS dev
ENV NODE_ENV=development
COPY tsconfig.base.json tsconfig.json ./
COPY api/tsconfig.build.json api/
COPY api/src api/src
COPY migrations migrations
USER node
EXPOSE 8000
CMD ["node_modules/.bin/tsx", "watch", "--clear-screen=false", "api/src/main.ts"]

FROM base AS runtime
# MALLOC_ARENA_MAX and the node flags in CMD keep the process small on 512 MB and a quarter of
# a core: scripts/lib/runtime.ts says why, and `npm run bench` measures the API run this way.
ENV NODE_ENV=production \
    PORT=8000 \
    MALLOC_ARENA_MAX=2
# The API never runs a package manager: without them the image has less to patch and scan.
# /tmp, the one writable path: Fargate mounts the task's volume there as an empty directory
# owned by root with mode 0755 (not writable by uid 1000) unless the image declares the path
# as a VOLUME; then it copies the image's /tmp, mode 1777 included, into it
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html).
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
    /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
    /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
    && chmod 1777 /tmp
VOLUME /tmp
# Owned by root and read-only to the `node` user: the process cannot change its own code.
COPY --from=prod-deps /app/node_modules node_modules
# api/package.json, and api/node_modules when npm had to nest a version there (one that
# conflicts with a hoisted one): copying the folder takes it whether or not it exists.
COPY --from=prod-deps /app/api api
COPY --from=build /app/api/dist api/dist
COPY migrations migrations
# The git commit the image was built from: /health and every log line report it.
ARG APP_VERSION
ENV APP_VERSION=${APP_VERSION}
USER node
EXPOSE 8000
# Also in this image: `node api/dist/cli/migrate.js up` (the one-off migration task),
# `node api/dist/cli/keys.js …` (service keys) and `node api/dist/cli/import.js --from …`
# (the earlier service's data, at cutover). No entrypoint script (the node image's
# docker-entrypoint.sh is reset): the command is the process, under ECS's init.
ENTRYPOINT []
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=25", "--v8-pool-size=1", "--max-old-space-size=256", "--no-allocation-site-pretenuring", "api/dist/main.js"]
