# syntax=docker/dockerfile:1
# botburrow-agents image: one image for every process; the Kubernetes manifests choose the command
# (node dist/workers/coordinator.js | runner.js | skill-sync.js).

# --- build: compile TypeScript and the prebuilt workflow bundle --------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
# The runner loads dist/workflow-bundle.js (BOTBURROW_WORKFLOW_BUNDLE; with tracing on, its twin
# dist/workflow-bundle-traced.js) instead of bundling the workflow code at start; fail the build
# rather than ship an image without them.
RUN npm run build \
  && test -f dist/workers/coordinator.js \
  && test -f dist/workers/runner.js \
  && test -f dist/workers/skill-sync.js \
  && test -f dist/workflow-bundle.js \
  && test -f dist/workflow-bundle-traced.js

# --- production dependencies only ---------------------------------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts stay off, except for the CLI executors whose native binary the install script puts
# in place (without it bin/claude.exe and bin/opencode.exe are placeholders of about 500 bytes);
# running each proves it is real. opencode-ai is installed outside the lock (package.json
# "cliTools"; see scripts/provision.sh), into .tools/opencode as in a checkout. hadolint cannot see
# that pin through the node -p lookup, hence DL3016 off for this step.
# hadolint ignore=DL3016
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
  && npm rebuild @anthropic-ai/claude-code --foreground-scripts --loglevel=error \
  && node_modules/@anthropic-ai/claude-code/bin/claude.exe --version \
  && npm install --prefix .tools/opencode --no-save --no-audit --no-fund --loglevel=error \
    "opencode-ai@$(node -p "require('./package.json').cliTools['opencode-ai']")" \
  && .tools/opencode/node_modules/opencode-ai/bin/opencode.exe --version \
  && npm cache clean --force

# --- aider: PyPI aider-chat (pinned in package.json "cliTools") in a virtual environment -----------
# Made at its runtime path with the Debian Python the runtime stage installs too (same base image,
# same pinned package), since a virtual environment names its interpreter by path. Running it
# proves the install; the hadolint pin check cannot see the pin through the node -p lookup.
FROM node:20-bookworm-slim AS aider
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3=3.11.2-1+b1 python3-venv=3.11.2-1+b1 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json ./
# hadolint ignore=DL3013
RUN aider_version="$(node -p "require('./package.json').cliTools['aider-chat']")" \
  && python3 -m venv /app/.tools/aider \
  && /app/.tools/aider/bin/python -m pip install --no-cache-dir --disable-pip-version-check --no-input \
    "aider-chat==${aider_version}" \
  && /app/.tools/aider/bin/python -m aider --version \
  && echo "${aider_version}" > /app/.tools/aider/.version

# --- runtime ------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
# The runners' manifests select the prebuilt bundle with
# BOTBURROW_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js; without it a worker bundles at start.
# Two malloc arenas: node's threads otherwise grow one each (bench/runner.ts: 74 MiB less RSS at 1000 in flight).
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
# bubblewrap is the kernel sandbox every agent process (Bash, MCP servers, CLI executors) runs in;
# prlimit (util-linux, already in the base image) sets its limits. Without them the runner fails closed.
# python3 is the interpreter of the aider environment copied below.
RUN apt-get update \
  && apt-get install -y --no-install-recommends bubblewrap=0.8.0-2+deb12u1 python3=3.11.2-1+b1 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=deps --chown=root:root /app/.tools ./.tools
COPY --from=aider --chown=root:root /app/.tools/aider ./.tools/aider
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/dist ./dist
# The code is owned by root and read-only for the process; it runs as the image's unprivileged
# "node" user (uid 1000), which the pod securityContext also requires.
USER 1000:1000
EXPOSE 9090 9091 9092
CMD ["node", "dist/workers/runner.js"]
