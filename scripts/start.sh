#!/usr/bin/env bash
# Runs the system locally on embedded defaults (see README): provisions what is missing, then
# starts every service and process in the foreground. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
PROVISION_NO_BROWSER=1 bash scripts/provision.sh
# exec node itself (not npx, not the tsx CLI, which run the program as a grandchild): the pid the
# caller got is the local run, so SIGINT, SIGTERM and SIGHUP from a terminal or supervisor reach it.
exec node --import tsx scripts/local-run.ts "$@"
