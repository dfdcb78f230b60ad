#!/usr/bin/env bash
# Runs the system locally on embedded defaults (see README): provisions what is missing, then
# starts every service and process in the foreground. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/provision.sh
exec npx tsx scripts/local-run.ts "$@"
