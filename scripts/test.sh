#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: provisions what is missing, then type
# checks, lints, and runs the unit, replay and integration tests (vitest). Extra args go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/provision.sh
echo "== typecheck" >&2
npx tsc -p tsconfig.json --noEmit
echo "== lint" >&2
npx eslint --max-warnings=0 .
npx prettier --check . >/dev/null || { npx prettier --list-different .; echo "prettier: run 'npm run format'" >&2; exit 1; }
echo "== tests" >&2
exec npx vitest run "$@"
