#!/usr/bin/env bash
# The one test command (npm test): everything CI runs, in order, failing fast.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-chromium.sh
echo "== typecheck"; npx tsc --noEmit -p tsconfig.json
echo "== lint"; npx biome check .
echo "== unit (vitest)"; npx vitest run
echo "== e2e (playwright, Debian chromium)"; npx playwright test
