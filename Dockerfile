# One image for every Ensemble process; the command picks the role:
#   node api.mjs (default) | node scheduler.mjs | node worker.mjs | node migrate.mjs
# ROLES=all with `node api.mjs` runs all three in one process.

# Build: the whole workspace with its dev dependencies, then `pnpm build` → /src/dist
# (bundles, production dependencies, migrations, the run viewer; see scripts/build.mjs).
FROM node:24-bookworm-slim AS build
# corepack cannot verify pnpm's registry metadata, and pnpm cannot switch versions:
# install exactly the version named by "packageManager" in package.json.
RUN npm i -g pnpm@12.4.2
WORKDIR /src
ENV TURBO_TELEMETRY_DISABLED=1
# Dependencies first, from the lockfile alone, so code changes do not re-download them.
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN pnpm fetch
COPY . .
RUN pnpm install --frozen-lockfile --offline && pnpm build

# Runtime: Node and dist/ alone — no pnpm, no TypeScript, no sources, no dev dependencies.
FROM node:24-bookworm-slim
# Production: no "dev" user, no printed API key.
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and not writable by the app's user: the code cannot be changed at run time.
COPY --from=build /src/dist /app
# The node image's unprivileged user (uid 1000).
USER node
EXPOSE 3000
# /healthz of this container's process: PORT for the API, HEALTH_PORT for worker and scheduler.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["node", "healthcheck.mjs"]
# Node is PID 1, so SIGTERM reaches it and it drains before exiting (a package manager in
# between would not forward the signal).
CMD ["node", "api.mjs"]
