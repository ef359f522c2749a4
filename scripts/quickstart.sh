#!/usr/bin/env bash
# The README's first command: installs what Ensemble needs (Node 24 too, from any Node with npm), then runs the demo flow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# setup.sh ran in its own shell: find the Node 24 it installed here too (a no-op when PATH has it).
# shellcheck source=scripts/services.sh
source scripts/services.sh
ensure_node
pnpm demo
