#!/usr/bin/env bash
# The README's first command: installs what Ensemble needs (Node 20 must be there), then runs the demo flow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm demo
