#!/usr/bin/env bash
# One-time setup of a fresh Debian/Ubuntu machine that has Node 20: pnpm, Redis, PostgreSQL
# (started, with the "ensemble" and "test" databases), Chromium (the Bull Board browser
# test), then the workspace's dependencies.
# Safe to run again: each step skips what is already done. Needs root or sudo for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh

say "checking node"
command -v node >/dev/null 2>&1 || die "node not found: install Node.js 20 (>= 20.10) first"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 10) ? 0 : 1)' \
  || die "node $(node --version) is too old: install Node.js 20.10 or newer"

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
