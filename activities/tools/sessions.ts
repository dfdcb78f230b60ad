/**
 * Runner-bound tool sessions. One `SessionManager` per runner process holds, per activation
 * session, a fresh workspace directory, the started MCP servers and the workspace tools. Because
 * those live in this process, a session id unknown here (the runner restarted, or the call reached
 * another runner) is a `SessionLostError` the workflow answers by opening a new session.
 */
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { secretSettingValues, urlPassword } from '../../lib/config';
import type { Settings } from '../../lib/config';
import { createDefinitionStore, loadAgentDefinition } from '../../lib/definitions';
import { FailureType } from '../../lib/errors';
import { hasGrant } from '../../lib/definitions/grants';
import type { Logger } from '../../lib/logger';
import type { Sandbox } from '../sandbox';
import { McpSession } from './mcp';
import { PROJECT_DIR, resolveMcpServers, secretValues } from './servers';
import type { Refusal } from './servers';
import { DEFAULT_MAX_OUTPUT_BYTES, capOutput, errorMessage, scrub, toolError } from './text';
import type { Credentials, ToolResult, ToolSpec, ToolsAgent } from './types';
import { createWorkspaceTools } from './workspace';
import type { WorkspaceTools } from './workspace';

export interface SessionManagerOptions {
  /** Directory under which each session gets its own workspace (`BOTBURROW_WORKSPACE_ROOT`). */
  root: string;
  credentials: Credentials;
  hub: { url: string; apiKey?: string };
  /** Every process a session starts (Bash, MCP stdio servers) runs inside it. */
  sandbox: Sandbox;
  /**
   * Every other secret the runner holds (from the settings marked secret in lib/config.ts), scrubbed
   * from tool output and errors like the credentials are.
   */
  secrets?: readonly string[];
  /** MCP call timeout (`BOTBURROW_MCP_TIMEOUT` in ms). */
  timeoutMs: number;
  logger: Logger;
  /** How long a server may take to start and list its tools (default: 2 × timeoutMs, at least 20 s). */
  connectTimeoutMs?: number;
  maxOutputBytes?: number;
  /** PATH for MCP servers and Bash (the runner's own, so node and npx resolve). */
  path?: string;
  /** How to start the Hub MCP server (default: mcp/hub-server beside this code). */
  hubServer?: { command: string; args: string[] };
  /** Loads an agent when `open` is given only its id. */
  loadAgent?: (agentId: string) => Promise<ToolsAgent>;
  /** A session untouched this long is closed (the activation that owned it is gone). Default 2 h. */
  idleTtlMs?: number;
  /**
   * Workspace directories under `root` older than this and not held by this manager are left over
   * from a runner that died; `removeStaleWorkspaces` deletes them. Default 6 h.
   */
  staleWorkspaceMs?: number;
}

export interface OpenSessionResult {
  tools: ToolSpec[];
  /** MCP servers the agent lists but does not get, and why (no credentials in here). */
  refused: Refusal[];
}

export interface CallOptions {
  /** Passed to MCP servers as `_meta.idempotencyKey` (the Hub server sends it on posts). */
  idempotencyKey?: string;
}

interface Session {
  id: string;
  agentId: string;
  dir: string;
  workspace: WorkspaceTools;
  workspaceNames: Set<string>;
  mcp: McpSession;
  result: OpenSessionResult;
  lastUsed: number;
  inFlight: number;
}

const DEFAULT_IDLE_TTL_MS = 2 * 3600_000;
/** The grant that gives an agent's Bash commands the network (off otherwise). */
export const SHELL_NETWORK_GRANT = 'shell:network';
/** Folders of a checkout that hold local state (logs, Valkey data, tools): never shown to a server. */
const STATE_DIRS = ['.data', '.tools', '.git', '.env'];
/** Shared npm cache under the root for npx-launched servers; never swept as a stale workspace. */
const NPM_CACHE_DIR = '.npm-cache';

/** The `ApplicationFailure` a call for a session this runner does not hold ends with. */
export function sessionLost(sessionId: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.sessionLost,
    message: `session ${sessionId} is not open on this runner (it restarted, or the session was closed)`,
    nonRetryable: true,
  });
}

function safeDirName(sessionId: string): string {
  return (
    sessionId
      .replace(/[^A-Za-z0-9_.-]/g, '_')
      .replace(/^\.+/, '_')
      .slice(0, 80) || 'session'
  );
}

export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private readonly opening = new Map<string, Promise<OpenSessionResult>>();
  private readonly secrets: string[];
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly o: SessionManagerOptions) {
    const values = [...secretValues(o), ...(o.secrets ?? [])];
    // A password inside a connection URL may surface on its own in an error message.
    const passwords = values.map(urlPassword).filter((pw): pw is string => pw !== undefined);
    this.secrets = [...new Set([...values, ...passwords])];
    const ttl = o.idleTtlMs ?? DEFAULT_IDLE_TTL_MS;
    this.sweeper = setInterval(() => void this.sweep(ttl), Math.min(ttl, 60_000));
    this.sweeper.unref();
  }

  /** Number of open sessions (for metrics and tests). */
  get size(): number {
    return this.sessions.size;
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /** The workspace directory of an open session. */
  workspaceDir(sessionId: string): string | undefined {
    return this.sessions.get(sessionId)?.dir;
  }

  /**
   * Opens a session: a fresh workspace, the agent's MCP servers started, the tool list fixed.
   * Idempotent per session id (a retried open returns the same tools without starting anything).
   */
  async open(o: { sessionId: string; agent?: ToolsAgent; agentId?: string }): Promise<OpenSessionResult> {
    const existing = this.sessions.get(o.sessionId);
    if (existing) {
      existing.lastUsed = Date.now();
      return existing.result;
    }
    const pending = this.opening.get(o.sessionId);
    if (pending) return pending;
    const p = this.doOpen(o).finally(() => this.opening.delete(o.sessionId));
    this.opening.set(o.sessionId, p);
    return p;
  }

  private async doOpen(o: {
    sessionId: string;
    agent?: ToolsAgent;
    agentId?: string;
  }): Promise<OpenSessionResult> {
    let agent = o.agent;
    if (!agent) {
      if (!o.agentId || !this.o.loadAgent)
        throw new Error('open needs an agent, or an agentId and a loadAgent option');
      agent = await this.o.loadAgent(o.agentId);
    }
    const log = this.o.logger.child({ sessionId: o.sessionId, agentId: agent.id });
    // 0711: a sandbox running as another user (a root runner's) must reach its own workspace,
    // and no one may list the others.
    await mkdir(this.o.root, { recursive: true, mode: 0o711 });
    const dir = await mkdtemp(path.join(this.o.root, `${safeDirName(o.sessionId)}-`));
    await this.o.sandbox.prepareWorkspace(dir);
    let mcp: McpSession | undefined;
    try {
      const { servers, refused } = resolveMcpServers(agent, {
        workspaceDir: dir,
        credentials: this.o.credentials,
        hub: this.o.hub,
        path: this.o.path,
        hubServer: this.o.hubServer,
        npmCacheDir: path.join(this.o.root, NPM_CACHE_DIR),
      });
      for (const r of refused) log.warn({ server: r.name, reason: r.reason }, 'MCP server refused');
      mcp = await McpSession.open(servers, {
        timeoutMs: this.o.timeoutMs,
        connectTimeoutMs: this.o.connectTimeoutMs ?? Math.max(2 * this.o.timeoutMs, 20_000),
        logger: log,
        maxOutputBytes: this.o.maxOutputBytes,
        secrets: this.secrets,
        sandbox: this.o.sandbox,
        hide: [path.resolve(this.o.root), ...STATE_DIRS.map((d) => path.join(PROJECT_DIR, d))],
      });
      const workspace = createWorkspaceTools({
        dir,
        shell: agent.config.capabilities.shell ?? { enabled: false },
        sandbox: this.o.sandbox,
        network: hasGrant(agent.config.capabilities.grants ?? [], SHELL_NETWORK_GRANT),
        maxOutputBytes: this.o.maxOutputBytes,
        path: this.o.path,
      });
      const workspaceSpecs = workspace.specs();
      const result: OpenSessionResult = {
        tools: [...workspaceSpecs, ...mcp.specs()],
        refused: [...refused, ...mcp.failures].map((r) => ({
          name: r.name,
          reason: scrub(r.reason, this.secrets),
        })),
      };
      this.sessions.set(o.sessionId, {
        id: o.sessionId,
        agentId: agent.id,
        dir,
        workspace,
        workspaceNames: new Set(workspaceSpecs.map((s) => s.name)),
        mcp,
        result,
        lastUsed: Date.now(),
        inFlight: 0,
      });
      log.info({ dir, tools: result.tools.length, refused: result.refused.length }, 'tool session opened');
      return result;
    } catch (err) {
      await mcp?.close();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Runs one tool of a session. Tool failures are results (`isError`); only a session this runner
   * does not hold throws (`SessionLostError`, non-retryable).
   */
  async call(
    sessionId: string,
    name: string,
    input: unknown,
    signal?: AbortSignal,
    opts: CallOptions = {},
  ): Promise<ToolResult> {
    const s = this.sessions.get(sessionId);
    if (!s) throw sessionLost(sessionId);
    s.lastUsed = Date.now();
    s.inFlight++;
    try {
      let r: ToolResult;
      if (s.workspaceNames.has(name)) {
        r = await s.workspace.call(name, input, signal);
      } else if (s.mcp.describe(name)) {
        r = await s.mcp.call(
          name,
          input,
          signal,
          opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : undefined,
        );
      } else {
        r = toolError(
          `unknown tool ${JSON.stringify(name)}; this session offers: ${s.result.tools.map((t) => t.name).join(', ')}`,
        );
      }
      return {
        content: capOutput(scrub(r.content, this.secrets), this.o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES),
        isError: r.isError,
      };
    } catch (err) {
      return toolError(scrub(`${name} failed: ${errorMessage(err)}`, this.secrets));
    } finally {
      s.inFlight--;
      s.lastUsed = Date.now();
    }
  }

  /** Ends a session: MCP servers (whole process groups) stopped, workspace deleted. Idempotent. */
  async close(sessionId: string): Promise<void> {
    await this.opening.get(sessionId)?.catch(() => undefined);
    const s = this.sessions.get(sessionId);
    if (!s) return;
    this.sessions.delete(sessionId);
    await s.mcp.close();
    await rm(s.dir, { recursive: true, force: true });
    this.o.logger.info({ sessionId, agentId: s.agentId }, 'tool session closed');
  }

  /** Closes every session (runner shutdown). */
  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.opening.values()].map((p) => p.catch(() => undefined)));
    await Promise.all([...this.sessions.keys()].map((id) => this.close(id)));
  }

  /**
   * Deletes workspaces a dead runner left under `root` (not modified for `staleWorkspaceMs`).
   * Returns how many were removed. Safe on a shared root: live sessions are far younger.
   */
  async removeStaleWorkspaces(): Promise<number> {
    const cutoff = Date.now() - (this.o.staleWorkspaceMs ?? 6 * 3600_000);
    const held = new Set([...this.sessions.values()].map((s) => path.basename(s.dir)));
    let removed = 0;
    let names: string[];
    try {
      names = await readdir(this.o.root);
    } catch {
      return 0; // no root yet
    }
    for (const name of names) {
      if (held.has(name) || name.startsWith('.')) continue;
      const dir = path.join(this.o.root, name);
      const st = await stat(dir).catch(() => undefined);
      if (!st?.isDirectory() || st.mtimeMs >= cutoff) continue;
      await rm(dir, { recursive: true, force: true });
      removed++;
    }
    if (removed > 0) this.o.logger.info({ removed, root: this.o.root }, 'removed stale workspaces');
    return removed;
  }

  private async sweep(ttl: number): Promise<void> {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      if (s.inFlight === 0 && now - s.lastUsed > ttl) {
        this.o.logger.warn({ sessionId: s.id, agentId: s.agentId }, 'closing an idle tool session');
        await this.close(s.id).catch(() => undefined);
      }
    }
  }
}

/**
 * Builds the runner's SessionManager from settings: credentials from the runner's settings, the
 * operator's `BOTBURROW_MCP_ENV_ALLOWLIST` names read from `env`, agents loaded from the
 * definition store. Called once by the runner's entry point (not inside an activity).
 */
export function createSessionManager(deps: {
  logger: Logger;
  settings: Settings;
  sandbox: Sandbox;
  env?: Record<string, string | undefined>;
  loadAgent?: (agentId: string) => Promise<ToolsAgent>;
}): SessionManager {
  const { settings } = deps;
  const env = deps.env ?? process.env;
  const extra: Record<string, string> = {};
  for (const name of settings.mcpEnvAllowlist) {
    const v = env[name];
    if (v !== undefined) extra[name] = v;
  }
  let loadAgent = deps.loadAgent;
  if (!loadAgent) {
    const store = createDefinitionStore(settings);
    loadAgent = (id) => loadAgentDefinition(store, id);
  }
  const manager = new SessionManager({
    root: settings.workspaceRoot,
    credentials: {
      githubPat: settings.githubPat,
      braveApiKey: settings.braveApiKey,
      postgresUrl: settings.postgresUrl,
      extra,
    },
    hub: { url: settings.hubUrl, apiKey: settings.hubApiKey },
    sandbox: deps.sandbox,
    secrets: secretSettingValues(settings),
    timeoutMs: settings.mcpTimeout * 1000,
    logger: deps.logger.child({ component: 'tool-sessions' }),
    path: env.PATH,
    loadAgent,
  });
  manager
    .removeStaleWorkspaces()
    .catch((err: unknown) => deps.logger.warn({ err }, 'stale workspace cleanup failed'));
  return manager;
}
