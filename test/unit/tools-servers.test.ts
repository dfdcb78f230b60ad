import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { SessionHost } from '../../activities/session';
import { resolveCommand, resolveMcpServers } from '../../activities/tools/servers';
import { SessionManager } from '../../activities/tools/sessions';
import type { McpServerSpec, ToolsAgent } from '../../activities/tools/types';
import type { AgentDefinition } from '../../lib/definitions';
import { parseAgentConfig } from '../../lib/definitions';
import { realSandbox } from '../support/sandbox';

const ROOT = path.resolve(__dirname, '../..');
const base = {
  workspaceDir: '/ws/s1',
  credentials: {
    githubPat: 'ghp_secret_pat',
    braveApiKey: 'brave-secret',
    postgresUrl: 'postgres://u:pw@db/x',
  },
  hub: { url: 'http://hub.local', apiKey: 'hub-secret' },
  path: '/usr/bin:/bin',
  hubServer: { command: '/usr/bin/node', args: ['/app/dist/mcp/hub-server.js'] },
  projectRoot: ROOT,
};

function agent(capabilities: string, id = 'test-agent'): ToolsAgent {
  const yaml = `name: ${id}\ntype: native\nbrain:\n  model: m\ncapabilities:\n${capabilities}`;
  return { id, config: parseAgentConfig(yaml, 'config.yaml').config };
}

function stdio(s: McpServerSpec | undefined): Extract<McpServerSpec, { transport: 'stdio' }> {
  if (!s || s.transport !== 'stdio') throw new Error('expected a stdio server');
  return s;
}

describe('resolveMcpServers: built-ins gated by grants', () => {
  it('gives github only its token, read-only with github:read', () => {
    const { servers, refused } = resolveMcpServers(
      agent('  grants: [github:read]\n  mcp_servers: [github]\n'),
      base,
    );
    expect(refused).toEqual([]);
    const gh = stdio(servers[0]);
    expect(gh.env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/ws/s1',
      GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_secret_pat',
    });
    expect(gh.readOnly).toBe(true);
    expect(gh.cwd).toBe('/ws/s1');
    expect([gh.command, ...gh.args].join(' ')).toContain('@modelcontextprotocol/server-github');
  });

  it('points npx-launched servers at a shared npm cache', () => {
    const gh = stdio(
      resolveMcpServers(agent('  grants: [github:read]\n  mcp_servers: [github]\n'), {
        ...base,
        npmCacheDir: '/ws/.npm-cache',
      }).servers[0],
    );
    expect(gh.command).toBe('npx');
    expect(gh.env).toMatchObject({
      npm_config_cache: '/ws/.npm-cache',
      GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_secret_pat',
    });
  });

  it('accepts the service wildcard and write grants', () => {
    const { servers } = resolveMcpServers(
      agent('  grants: ["github:write"]\n  mcp_servers: [github]\n'),
      base,
    );
    expect(servers[0]!.readOnly).toBe(false);
    const def = agent('  mcp_servers: [github]\n');
    const wildcard = {
      ...def,
      config: { capabilities: { ...def.config.capabilities, grants: ['github:*'] } },
    };
    expect(resolveMcpServers(wildcard, base).servers).toHaveLength(1);
  });

  it('refuses servers without their grant, without credentials, or unknown', () => {
    const { servers, refused } = resolveMcpServers(
      agent(
        '  grants: [brave:search, postgres:read]\n  mcp_servers: [github, brave, postgres, slack, filesystem]\n',
      ),
      { ...base, credentials: { githubPat: 'ghp_secret_pat' } },
    );
    expect(servers).toEqual([]);
    expect(Object.fromEntries(refused.map((r) => [r.name, r.reason]))).toEqual({
      github: 'requires one of the grants github:read, github:write',
      brave: 'BRAVE_API_KEY is not configured on this runner',
      postgres: 'BOTBURROW_POSTGRES_URL is not configured on this runner',
      slack: expect.stringMatching(/unknown built-in MCP server/) as unknown,
      filesystem: 'requires one of the grants filesystem:read, filesystem:write',
    });
  });

  it('roots filesystem at the workspace using the installed binary (no npx, no network)', () => {
    const fs = stdio(
      resolveMcpServers(agent('  grants: [filesystem:write]\n  mcp_servers: [filesystem]\n'), base)
        .servers[0],
    );
    expect(fs.command).toBe(path.join(ROOT, 'node_modules/.bin/mcp-server-filesystem'));
    expect(fs.args).toEqual(['/ws/s1']);
    expect(fs.env).toEqual({ PATH: '/usr/bin:/bin', HOME: '/ws/s1' });
  });

  it('hands the hub server exactly its Hub variables', () => {
    const hub = stdio(
      resolveMcpServers(agent('  grants: [hub:read]\n  mcp_servers: [hub]\n'), base).servers[0],
    );
    expect(hub.command).toBe('/usr/bin/node');
    expect(hub.env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/ws/s1',
      BOTBURROW_HUB_URL: 'http://hub.local',
      BOTBURROW_HUB_API_KEY: 'hub-secret',
      BOTBURROW_AGENT_ID: 'test-agent',
      BOTBURROW_HUB_TOOLS: 'read',
    });
  });

  it('brave and postgres get only their own credential', () => {
    const { servers } = resolveMcpServers(
      agent('  grants: [brave:search, postgres:read]\n  mcp_servers: [brave, postgres]\n'),
      base,
    );
    expect(stdio(servers[0]).env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/ws/s1',
      BRAVE_API_KEY: 'brave-secret',
    });
    const pg = stdio(servers[1]);
    expect(pg.env).toEqual({ PATH: '/usr/bin:/bin', HOME: '/ws/s1' });
    expect(pg.args).toContain('postgres://u:pw@db/x');
  });
});

describe('resolveMcpServers: custom servers', () => {
  const custom = (env: string, grants = '[]') =>
    agent(
      `  grants: ${grants}\n  mcp_servers:\n    - name: tool\n      command: my-server\n      args: [--flag]\n      env:\n${env}`,
    );

  it('passes literal env and allow-listed references', () => {
    const { servers, refused } = resolveMcpServers(
      custom(
        '        A: plain\n        B: "Bearer ${GITHUB_PAT}"\n        C: ${EXTRA_TOKEN}\n        D: ${BOTBURROW_WORKSPACE}/data\n',
        '[github:read]',
      ),
      { ...base, credentials: { ...base.credentials, extra: { EXTRA_TOKEN: 'extra-secret' } } },
    );
    expect(refused).toEqual([]);
    const s = stdio(servers[0]);
    expect(s.command).toBe('my-server');
    expect(s.args).toEqual(['--flag']);
    expect(s.env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/ws/s1',
      A: 'plain',
      B: 'Bearer ghp_secret_pat',
      C: 'extra-secret',
      D: '/ws/s1/data',
    });
  });

  it.each([
    ['        X: ${AWS_SECRET_ACCESS_KEY}\n', /AWS_SECRET_ACCESS_KEY.*not on the allow-list/],
    ['        X: ${BRAVE_API_KEY}\n', /BRAVE_API_KEY.*needs one of the grants brave:search/],
    ['        X: ${BOTBURROW_HUB_API_KEY}\n', /Hub service key is never given to a custom server/],
    ['        PATH: /evil\n', /PATH is set by the runner/],
    ['        "bad name": x\n', /not a valid variable name/],
  ])('refuses %j', (env, reason) => {
    const { servers, refused } = resolveMcpServers(custom(env), { ...base, credentials: {} });
    expect(servers).toEqual([]);
    expect(refused[0]!.reason).toMatch(reason);
  });

  it('refuses a credential reference without its grant, naming the server, the variable and the grant', () => {
    const { servers, refused } = resolveMcpServers(
      custom('        TOKEN: ${GITHUB_PAT}\n', '[brave:search]'),
      base,
    );
    expect(servers).toEqual([]);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.name).toBe('tool');
    expect(refused[0]!.reason).toMatch(/GITHUB_PAT.*needs one of the grants github:read, github:write/);
    // With the grant, and the credential configured, it is handed over.
    const ok = resolveMcpServers(custom('        TOKEN: ${GITHUB_PAT}\n', '[github:write]'), base);
    expect(ok.refused).toEqual([]);
    expect(stdio(ok.servers[0]).env.TOKEN).toBe('ghp_secret_pat');
  });

  it('gives built-ins that call an API the network, and filesystem none', () => {
    const { servers } = resolveMcpServers(
      agent('  grants: [github:read, filesystem:read]\n  mcp_servers: [github, filesystem]\n'),
      base,
    );
    expect(servers.map((s) => [s.name, stdio(s).network])).toEqual([
      ['github', true],
      ['filesystem', false],
    ]);
  });

  it('supports Streamable HTTP servers by url, with env as headers', () => {
    const def: ToolsAgent = {
      id: 'a',
      config: {
        capabilities: {
          grants: ['github:read'],
          mcp_servers: [
            {
              name: 'remote',
              url: 'https://mcp.example/mcp',
              env: { Authorization: 'Bearer ${GITHUB_PAT}' },
            },
          ],
        },
      },
    };
    expect(resolveMcpServers(def, base).servers).toEqual([
      {
        name: 'remote',
        transport: 'http',
        url: 'https://mcp.example/mcp',
        headers: { Authorization: 'Bearer ghp_secret_pat' },
        readOnly: false,
      },
    ]);
    const bad: ToolsAgent = {
      id: 'a',
      config: { capabilities: { mcp_servers: [{ name: 'r', url: 'file:///etc/passwd' }] } },
    };
    expect(resolveMcpServers(bad, base).refused[0]!.reason).toMatch(/http/);
  });

  it('refuses duplicates and odd names', () => {
    const def: ToolsAgent = {
      id: 'a',
      config: {
        capabilities: {
          mcp_servers: [
            { name: 'x', command: 'a' },
            { name: 'x', command: 'b' },
            { name: 'bad name!', command: 'c' },
          ],
        },
      },
    };
    const { servers, refused } = resolveMcpServers(def, base);
    expect(servers).toHaveLength(1);
    expect(refused.map((r) => r.reason)).toEqual([
      'listed more than once',
      expect.stringMatching(/letters, digits/) as unknown,
    ]);
  });
});

describe('resolveCommand', () => {
  it('turns npx of an installed package into its local binary', () => {
    expect(
      resolveCommand('npx', ['-y', '@modelcontextprotocol/server-everything@2026.8.31', 'stdio'], ROOT),
    ).toEqual({
      command: path.join(ROOT, 'node_modules/.bin/mcp-server-everything'),
      args: ['stdio'],
    });
  });
  it('keeps npx for packages that are not installed, and plain commands', () => {
    expect(resolveCommand('npx', ['-y', '@modelcontextprotocol/server-github'], ROOT)).toEqual({
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-github'],
    });
    expect(resolveCommand('python3', ['-m', 'x'], ROOT)).toEqual({ command: 'python3', args: ['-m', 'x'] });
  });
});

describe('types line up with the rest of the project', () => {
  it('accepts an AgentDefinition and serves as the runner SessionHost', async () => {
    const def: AgentDefinition = {
      id: 'typed',
      config: parseAgentConfig('name: typed\ntype: native\nbrain:\n  model: m\ncapabilities: {}\n', 'c.yaml')
        .config,
      systemPrompt: '',
      warnings: [],
      configHash: 'x',
    };
    const asTools: ToolsAgent = def;
    const m = new SessionManager({
      root: '/tmp',
      sandbox: await realSandbox(),
      credentials: {},
      hub: { url: 'http://h' },
      timeoutMs: 1000,
      logger: pino({ level: 'silent' }),
    });
    const host: SessionHost = m;
    expect(asTools.id).toBe('typed');
    expect(typeof host.open).toBe('function');
    await m.closeAll();
  });
});
