# syntax=docker/dockerfile:1
# One image for the API, the worker and the CLI; the command picks which (see docker-compose.yml).
#   docker build -t amend .
#   docker run amend                                         # API (default command)
#   docker run amend node -r tsconfig-paths/register dist/apps/worker/src/main.js
#   docker run amend node bin/amend.js --help

ARG NODE_IMAGE=node:20-bookworm-slim

# --- deps: every dependency, for the build --------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# --- build: TypeScript to dist/, the console to apps/console/dist (both by `npm run build`) --
FROM deps AS build
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY scripts ./scripts
RUN npm run build \
 && test -f apps/console/dist/index.html \
 && test -f dist/apps/api/src/main.js \
 && test -f dist/apps/worker/src/main.js \
 && test -f dist/apps/cli/src/main.js

# --- prod-deps: runtime dependencies only ---------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# TS_NODE_BASEURL: tsconfig-paths/register reads the `@amend/*` paths from tsconfig.json and
# resolves them under dist/ instead of the sources, which the image does not carry.
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    CONSTITUTIONS_DIR=/app/constitutions \
    TS_NODE_BASEURL=./dist
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The web console, served by the API at /console.
COPY --from=build /app/apps/console/dist ./apps/console/dist
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY constitutions ./constitutions
COPY evalsets ./evalsets
COPY examples ./examples
# Files stay root-owned and read-only to the service; only out/ (demo output) is writable.
RUN mkdir -p /app/out && chown node:node /app/out
USER node
EXPOSE 3000
# Liveness of the API. The worker serves no HTTP: compose disables this check for it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "bin/healthcheck.js", "/health"]
CMD ["node", "-r", "tsconfig-paths/register", "dist/apps/api/src/main.js"]
