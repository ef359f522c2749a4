# One image for every Ensemble process (api, scheduler, worker, migrate); compose picks the command.
FROM node:20-bookworm-slim

# corepack cannot verify pnpm's registry metadata here, and pnpm cannot switch versions:
# install exactly the version named by "packageManager" in package.json.
RUN npm i -g pnpm@12.4.2

WORKDIR /app
ENV TURBO_TELEMETRY_DISABLED=1

# Dependencies first, from the lockfile alone, so code changes do not re-download them.
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN pnpm fetch

COPY . .
# Dev dependencies stay: the apps run their TypeScript sources through tsx (no build step).
RUN pnpm install --frozen-lockfile --offline

EXPOSE 3000
CMD ["pnpm", "start:api"]
