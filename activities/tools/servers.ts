/**
 * Which MCP servers an activation gets, and with exactly which environment.
 *
 * Built-in servers are named by string in `capabilities.mcp_servers` and gated by grants:
 *
 * | name         | grants (any of)                     | credentials it receives                         |
 * |--------------|-------------------------------------|-------------------------------------------------|
 * | `github`     | `github:read`, `github:write`       | `GITHUB_PERSONAL_ACCESS_TOKEN` ← `GITHUB_PAT`   |
 * | `brave`      | `brave:search`                      | `BRAVE_API_KEY`                                 |
 * | `filesystem` | `filesystem:read`, `filesystem:write` | none; rooted at the activation's workspace    |
 * | `postgres`   | `postgres:read`                     | `BOTBURROW_POSTGRES_URL` (as its argument)      |
 * | `hub`        | `hub:read`, `hub:write`             | `BOTBURROW_HUB_URL`, `BOTBURROW_HUB_API_KEY`, `BOTBURROW_AGENT_ID` |
 *
 * `service:*` meets any of a service's grants. With only a `:read` grant, a server's tools are
 * limited to those it annotates read-only.
 *
 * Every stdio server runs in the sandbox (../sandbox.ts) with an environment built from nothing:
 * `PATH`, `HOME` (the workspace) and its own variables. Built-ins that call an API (github, brave,
 * postgres, hub) and custom servers get the network; `filesystem` does not.
 *
 * Custom servers (`{ name, command, args, env }`, or `{ name, url }` for Streamable HTTP) get their
 * `env` values literally, except that a value may reference `${NAME}` where NAME is one of the
 * runner-held values below; any other reference refuses the server (it would otherwise be a way to
 * read the runner's environment). A credential is handed over only when the agent holds the grant
 * that gates it, exactly as for the built-in server that uses it:
 *
 * | reference                | needs a grant                    |
 * |--------------------------|----------------------------------|
 * | `GITHUB_PAT`             | `github:read` or `github:write`  |
 * | `BRAVE_API_KEY`          | `brave:search`                   |
 * | `BOTBURROW_POSTGRES_URL` | `postgres:read`                  |
 * | `BOTBURROW_HUB_URL`, `BOTBURROW_AGENT_ID`, `BOTBURROW_WORKSPACE` | none (not secret) |
 * | the operator's extra names (`BOTBURROW_MCP_ENV_ALLOWLIST`)       | none (the operator's choice) |
 *
 * The Hub service key is never handed to a custom server: Hub access goes through the built-in
 * `hub` server, bound to the agent's own identity and its behaviour limits.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { hasGrant } from '../../lib/definitions/grants';
import type { Credentials, CustomMcpServerConfig, McpServerSpec, ToolsAgent } from './types';

export interface ResolveOptions {
  workspaceDir: string;
  credentials: Credentials;
  hub: { url: string; apiKey?: string };
  /** PATH handed to servers (the runner's own, so `node`/`npx` are found). */
  path?: string;
  /** How to start the Hub MCP server; found beside this module when absent. */
  hubServer?: { command: string; args: string[] };
  /** Directory whose `node_modules/.bin` is searched before falling back to npx over the network. */
  projectRoot?: string;
  /**
   * npm cache for servers that still run through npx (not installed locally), shared across
   * sessions so each activation does not download the package again into its fresh HOME.
   */
  npmCacheDir?: string;
}

export interface Refusal {
  name: string;
  reason: string;
}

interface BuiltIn {
  grants: string[];
  /** Grants that allow the server's write tools; others make it read-only. */
  writeGrants: string[];
  build(agent: ToolsAgent, o: ResolveOptions, readOnly: boolean): McpServerSpec | Refusal;
}

/** This project's folder: the Hub MCP server's code (and, in a checkout, tsx) lives there. */
export const PROJECT_DIR = path.resolve(__dirname, '../..');

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Finds the nearest directory at or above `from` holding `node_modules/.bin`. */
export function findProjectRoot(from: string = __dirname): string | undefined {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'node_modules', '.bin'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Rewrites `npx [-y] <package>[@version] args…` and bare command names to the locally installed
 * binary when there is one, so servers start without the network and without npx's extra process.
 */
export function resolveCommand(
  command: string,
  args: readonly string[],
  projectRoot: string | undefined,
): { command: string; args: string[] } {
  if (!projectRoot) return { command, args: [...args] };
  const bin = (name: string): string | undefined => {
    const p = path.join(projectRoot, 'node_modules', '.bin', name);
    return existsSync(p) ? p : undefined;
  };
  if (command === 'npx') {
    const rest = [...args];
    while (rest[0]?.startsWith('-')) rest.shift();
    const pkg = rest.shift();
    if (pkg !== undefined) {
      const name = pkg.replace(/(.)@[^/]*$/, '$1');
      const pkgJson = path.join(projectRoot, 'node_modules', name, 'package.json');
      if (existsSync(pkgJson)) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const meta = require(pkgJson) as { bin?: string | Record<string, string> };
        const bins =
          typeof meta.bin === 'string' ? [name.split('/').pop() ?? name] : Object.keys(meta.bin ?? {});
        const found = bins.map(bin).find((b) => b !== undefined);
        if (found) return { command: found, args: rest };
      }
    }
    return { command, args: [...args] };
  }
  if (!command.includes('/')) {
    const local = bin(command);
    if (local) return { command: local, args: [...args] };
  }
  return { command, args: [...args] };
}

function baseEnv(o: ResolveOptions): Record<string, string> {
  return { PATH: o.path ?? DEFAULT_PATH, HOME: o.workspaceDir };
}

function stdio(
  name: string,
  o: ResolveOptions,
  command: string,
  args: string[],
  env: Record<string, string>,
  readOnly: boolean,
  network: boolean,
): McpServerSpec {
  const resolved = resolveCommand(command, args, o.projectRoot);
  const npm: Record<string, string> =
    resolved.command === 'npx' && o.npmCacheDir
      ? { npm_config_cache: o.npmCacheDir, npm_config_update_notifier: 'false' }
      : {};
  return {
    name,
    transport: 'stdio',
    command: resolved.command,
    args: resolved.args,
    env: { ...baseEnv(o), ...npm, ...env },
    cwd: o.workspaceDir,
    readOnly,
    network,
    readOnlyPaths: o.projectRoot ? [o.projectRoot] : [],
  };
}

/** The Hub MCP server of this project: compiled JS beside us in dist, else the TS source via tsx. */
export function defaultHubServerCommand(): { command: string; args: string[] } {
  const js = path.resolve(__dirname, '../../mcp/hub-server.js');
  if (existsSync(js)) return { command: process.execPath, args: [js] };
  const ts = path.resolve(__dirname, '../../mcp/hub-server.ts');
  // `--import tsx` must be an absolute path: the server's cwd is the workspace, not the project.
  const loader = require.resolve('tsx');
  return { command: process.execPath, args: ['--import', `file://${loader}`, ts] };
}

const BUILT_INS: Record<string, BuiltIn> = {
  github: {
    grants: ['github:read', 'github:write'],
    writeGrants: ['github:write'],
    build: (_a, o, readOnly) =>
      o.credentials.githubPat
        ? stdio(
            'github',
            o,
            'npx',
            ['-y', '@modelcontextprotocol/server-github'],
            { GITHUB_PERSONAL_ACCESS_TOKEN: o.credentials.githubPat },
            readOnly,
            true,
          )
        : { name: 'github', reason: 'GITHUB_PAT is not configured on this runner' },
  },
  brave: {
    grants: ['brave:search'],
    writeGrants: ['brave:search'],
    build: (_a, o, readOnly) =>
      o.credentials.braveApiKey
        ? stdio(
            'brave',
            o,
            'npx',
            ['-y', '@modelcontextprotocol/server-brave-search'],
            { BRAVE_API_KEY: o.credentials.braveApiKey },
            readOnly,
            true,
          )
        : { name: 'brave', reason: 'BRAVE_API_KEY is not configured on this runner' },
  },
  filesystem: {
    grants: ['filesystem:read', 'filesystem:write'],
    writeGrants: ['filesystem:write'],
    build: (_a, o, readOnly) =>
      stdio(
        'filesystem',
        o,
        'npx',
        ['-y', '@modelcontextprotocol/server-filesystem', o.workspaceDir],
        {},
        readOnly,
        false,
      ),
  },
  postgres: {
    grants: ['postgres:read'],
    writeGrants: ['postgres:read'],
    build: (_a, o, readOnly) =>
      o.credentials.postgresUrl
        ? stdio(
            'postgres',
            o,
            'npx',
            ['-y', '@modelcontextprotocol/server-postgres', o.credentials.postgresUrl],
            {},
            readOnly,
            true,
          )
        : { name: 'postgres', reason: 'BOTBURROW_POSTGRES_URL is not configured on this runner' },
  },
  hub: {
    grants: ['hub:read', 'hub:write'],
    writeGrants: ['hub:write'],
    build: (agent, o, readOnly) => {
      const cmd = o.hubServer ?? defaultHubServerCommand();
      const env: Record<string, string> = {
        ...baseEnv(o),
        BOTBURROW_HUB_URL: o.hub.url,
        BOTBURROW_AGENT_ID: agent.id,
        // The server registers only read tools, on top of the client-side filter.
        BOTBURROW_HUB_TOOLS: readOnly ? 'read' : 'all',
      };
      if (o.hub.apiKey) env.BOTBURROW_HUB_API_KEY = o.hub.apiKey;
      return {
        name: 'hub',
        transport: 'stdio',
        command: cmd.command,
        args: cmd.args,
        env,
        cwd: o.workspaceDir,
        readOnly,
        network: true,
        readOnlyPaths: [PROJECT_DIR],
      };
    },
  },
};

/** Names of the built-in servers. */
export const BUILT_IN_SERVERS: readonly string[] = Object.keys(BUILT_INS);

interface Reference {
  value: string | undefined;
  /** Grants of which the agent must hold one for the value to be handed over. */
  grants?: string[];
}

/** Values a custom server's `env` may reference as `${NAME}`. */
function allowedReferences(agent: ToolsAgent, o: ResolveOptions): Map<string, Reference> {
  const c = o.credentials;
  return new Map<string, Reference>([
    ['GITHUB_PAT', { value: c.githubPat, grants: BUILT_INS.github?.grants }],
    ['BRAVE_API_KEY', { value: c.braveApiKey, grants: BUILT_INS.brave?.grants }],
    ['BOTBURROW_POSTGRES_URL', { value: c.postgresUrl, grants: BUILT_INS.postgres?.grants }],
    ['BOTBURROW_HUB_URL', { value: o.hub.url }],
    ['BOTBURROW_AGENT_ID', { value: agent.id }],
    ['BOTBURROW_WORKSPACE', { value: o.workspaceDir }],
    ...Object.entries(c.extra ?? {}).map(([k, v]): [string, Reference] => [k, { value: v }]),
  ]);
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function expandEnv(
  server: CustomMcpServerConfig,
  refs: Map<string, Reference>,
  grants: readonly string[],
): { env: Record<string, string> } | { reason: string } {
  const env: Record<string, string> = {};
  for (const [key, raw] of Object.entries(server.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      return { reason: `env name ${JSON.stringify(key)} is not a valid variable name` };
    if (key === 'PATH' || key === 'HOME')
      return { reason: `env ${key} is set by the runner and cannot be overridden` };
    let problem: string | undefined;
    const value = raw.replace(REFERENCE, (_m, name: string) => {
      const ref = refs.get(name);
      if (!ref) {
        problem ??=
          name === 'BOTBURROW_HUB_API_KEY'
            ? `env ${key} references \${BOTBURROW_HUB_API_KEY}: the Hub service key is never given to a custom server; list the built-in 'hub' server instead`
            : `env ${key} references \${${name}}, which is not on the allow-list (${[...refs.keys()].join(', ')})`;
        return '';
      }
      if (ref.grants && !ref.grants.some((g) => hasGrant(grants, g))) {
        problem ??= `env ${key} references \${${name}}, which needs one of the grants ${ref.grants.join(', ')}; the agent holds none of them`;
        return '';
      }
      if (ref.value === undefined)
        problem ??= `env ${key} references \${${name}}, which is not configured on this runner`;
      return ref.value ?? '';
    });
    if (problem) return { reason: problem };
    env[key] = value;
  }
  return { env };
}

function customServer(
  server: CustomMcpServerConfig,
  agent: ToolsAgent,
  o: ResolveOptions,
): McpServerSpec | Refusal {
  const refs = allowedReferences(agent, o);
  const expanded = expandEnv(server, refs, agent.config.capabilities.grants ?? []);
  if ('reason' in expanded) return { name: server.name, reason: expanded.reason };
  if (server.url !== undefined) {
    let u: URL;
    try {
      u = new URL(server.url);
    } catch {
      return { name: server.name, reason: `url ${JSON.stringify(server.url)} is not a valid URL` };
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      return { name: server.name, reason: 'url must be http:// or https://' };
    }
    // For HTTP servers, `env` entries become request headers (e.g. Authorization: Bearer ${TOKEN}).
    return { name: server.name, transport: 'http', url: server.url, headers: expanded.env, readOnly: false };
  }
  if (!server.command)
    return { name: server.name, reason: 'needs a command (stdio) or a url (Streamable HTTP)' };
  return stdio(server.name, o, server.command, server.args ?? [], expanded.env, false, true);
}

/**
 * Resolves an agent's `capabilities.mcp_servers` into startable servers, each with only its own
 * credentials. Servers the agent may not use, or that cannot run here, are listed in `refused`
 * with the reason instead of failing the activation.
 */
export function resolveMcpServers(
  def: ToolsAgent,
  o: ResolveOptions,
): { servers: McpServerSpec[]; refused: Refusal[] } {
  const opts: ResolveOptions = { ...o, projectRoot: o.projectRoot ?? findProjectRoot() };
  const grants = def.config.capabilities.grants ?? [];
  const servers: McpServerSpec[] = [];
  const refused: Refusal[] = [];
  const seen = new Set<string>();
  for (const entry of def.config.capabilities.mcp_servers ?? []) {
    const name = typeof entry === 'string' ? entry : entry.name;
    if (seen.has(name)) {
      refused.push({ name, reason: 'listed more than once' });
      continue;
    }
    seen.add(name);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) {
      refused.push({ name, reason: 'server names are 1-32 letters, digits, _ or -' });
      continue;
    }
    let result: McpServerSpec | Refusal;
    if (typeof entry === 'string') {
      const builtIn = BUILT_INS[entry];
      if (!builtIn) {
        result = {
          name,
          reason: `unknown built-in MCP server (known: ${BUILT_IN_SERVERS.join(', ')}); use the object form for custom servers`,
        };
      } else if (!builtIn.grants.some((g) => hasGrant(grants, g))) {
        result = { name, reason: `requires one of the grants ${builtIn.grants.join(', ')}` };
      } else {
        const readOnly = !builtIn.writeGrants.some((g) => hasGrant(grants, g));
        result = builtIn.build(def, opts, readOnly);
      }
    } else {
      result = customServer(entry, def, opts);
    }
    if ('reason' in result) refused.push(result);
    else servers.push(result);
  }
  return { servers, refused };
}

/** Every credential value a server may have been given, for scrubbing tool output. */
export function secretValues(o: { credentials: Credentials; hub: { apiKey?: string } }): string[] {
  const c = o.credentials;
  return [c.githubPat, c.braveApiKey, c.postgresUrl, o.hub.apiKey, ...Object.values(c.extra ?? {})].filter(
    (v): v is string => typeof v === 'string' && v.length > 0,
  );
}
