#!/usr/bin/env bash
# One-time setup of a fresh Debian/Ubuntu machine that has Node 20 (any Node with npm): Node 24,
# pnpm, Redis, PostgreSQL (started, with the "ensemble" and "test" databases), Chromium (the
# Bull Board browser test), then the workspace's dependencies.
# Safe to run again: each step skips what is already done. Needs root or sudo for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh

ensure_node # Node 24 beside an older system Node
ensure_pnpm
ensure_service_packages
ensure_chromium # the Bull Board browser test
start_redis
start_postgres
ensure_postgres_local_login
ensure_user_role
ensure_database ensemble # the apps' database
ensure_database test     # the tests' database (DATABASE_URL default in .ci/run)

say "pnpm install --frozen-lockfile"
pnpm install --frozen-lockfile

say "building the run viewer (/ui)"
pnpm --filter @ensemble/ui build

say "done: redis on 127.0.0.1:6379, postgres on 127.0.0.1:5432 (user postgres, no password)"
say "next: pnpm demo (a flow through the cluster), pnpm start (keep it running), pnpm test"
