# Expressionist images, one Dockerfile with two final targets:
#   docker build --target server -t expressionist-server .   # orchestrator + dashboard (default)
#   docker build --target agent  -t expressionist-agent  .   # headless agent
# docker-compose.yml builds both. Their CMDs are the entry points the test suite spawns
# (server/dist/cli.js, agent-node/dist/cli.js); deploy/test/compose.test.ts checks that.

ARG NODE_VERSION=20

# ---------------------------------------------------------------------------------------------
# build: all dependencies (dev included), then TypeScript (core, server, agent-node) and the
# SvelteKit dashboard (web/build). node:20-bookworm has python3, make and g++ for better-sqlite3.
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
# Manifests first so the dependency layer is cached until they change (one line per workspace).
COPY package.json package-lock.json ./
COPY core/package.json core/
COPY server/package.json server/
COPY agent-node/package.json agent-node/
COPY web/package.json web/
COPY testkit/package.json testkit/
COPY bench/package.json bench/
RUN npm ci --no-audit --no-fund
COPY . .
# The root build compiles the TypeScript packages; the dashboard is built here too if it did not.
RUN npm run build \
 && if [ ! -f web/build/index.html ]; then npm run build --workspace web; fi \
 && test -f server/dist/cli.js \
 && test -f agent-node/dist/cli.js \
 && test -f web/build/index.html

# ---------------------------------------------------------------------------------------------
# deps: production dependencies of the runtime workspaces only. Installed (better-sqlite3 compiled
# or its prebuilt binary fetched) on the same Debian bookworm / glibc as the slim runtime below.
FROM node:${NODE_VERSION}-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY core/package.json core/
COPY server/package.json server/
COPY agent-node/package.json agent-node/
COPY web/package.json web/
COPY testkit/package.json testkit/
COPY bench/package.json bench/
RUN npm ci --omit=dev --no-audit --no-fund \
      --workspace core --workspace server --workspace agent-node \
 && node -e "new (require('better-sqlite3'))(':memory:').close()" \
 && rm -rf web testkit bench

# ---------------------------------------------------------------------------------------------
# runtime: slim image, production node_modules and the compiled core shared by both targets.
# The application files stay owned by root (read-only for the process); it runs as `node`.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app ./
COPY --from=build /app/core/dist core/dist

# ---------------------------------------------------------------------------------------------
# agent: connects to ORCHESTRATOR_URL with COMPUTING_POWER workers; SIGTERM drains.
FROM runtime AS agent
COPY --from=build /app/agent-node/dist agent-node/dist
ENV ORCHESTRATOR_URL=http://server:8080
USER node
CMD ["node", "agent-node/dist/cli.js"]

# ---------------------------------------------------------------------------------------------
# server: orchestrator serving the dashboard (web/build, found relative to server/dist). The
# agent CLI is included so AGENTS=N local agents also work when the image runs on its own.
FROM runtime AS server
COPY --from=build /app/agent-node/dist agent-node/dist
COPY --from=build /app/server/dist server/dist
COPY --from=build /app/web/build web/build
# DATA_DIR holds the embedded SQLite store when MONGODB_URI is unset; mount a volume there to keep it.
RUN mkdir -p /app/data && chown node:node /app/data
ENV PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data
EXPOSE 8080
USER node
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
CMD ["node", "server/dist/cli.js"]
