import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionManager, createSessionManager } from '../../activities/tools/sessions';
import type { ToolsAgent } from '../../activities/tools/types';
import { createHubSimulator } from '../../dev/hub-sim/server';
import type { HubSimulator } from '../../dev/hub-sim/server';
import { freePort, waitForPort } from '../../dev/services';
import { loadSettings } from '../../lib/config';
import { parseAgentConfig } from '../../lib/definitions';
import { hubToolsFor } from '../../lib/hub-tools';
import { eventually, unique } from '../support/env';
import type { Sandbox } from '../../activities/sandbox';
import { processesWithArg } from '../support/processes';
import { realSandbox } from '../support/sandbox';

// Real MCP servers from npm (filesystem, everything), the project's Hub MCP server against the Hub
// simulator, and a small real stdio server that crashes or hangs on request.
const CRASHY = path.resolve(__dirname, '../fixtures/mcp/crashy-server.ts');
const TSX = `file://${require.resolve('tsx')}`;
const GITHUB_PAT = 'ghp_test_secret_token_0123456789';
const HUB_KEY = 'hub-service-key-secret-42';
const logger = pino({ level: 'silent' });

let sim: HubSimulator;
let root: string;
const managers: SessionManager[] = [];
let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await realSandbox();
});

function manager(timeoutMs = 5000): SessionManager {
  const m = new SessionManager({
    root,
    credentials: { githubPat: GITHUB_PAT, extra: { OPERATOR_TOKEN: 'operator-token-value-77' } },
    hub: { url: sim.url, apiKey: HUB_KEY },
    sandbox,
    timeoutMs,
    connectTimeoutMs: 30_000,
    logger,
    path: process.env.PATH,
  });
  managers.push(m);
  return m;
}

/** An agent from real definition YAML, so the definitions format and the tools agree. */
function agent(id: string, capabilities: string): ToolsAgent {
  const yaml = `name: ${id}\ntype: native\nbrain:\n  model: claude-sonnet-4\ncapabilities:\n${capabilities}`;
  return { id, config: parseAgentConfig(yaml, `agents/${id}/config.yaml`).config };
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'bb-mcp-'));
  sim = await createHubSimulator({
    apiKey: HUB_KEY,
    seed: {
      agents: [{ id: 'tool-agent' }, { id: 'reader-agent' }],
      posts: [
        { id: 'p-rust', author: { id: 'u1', name: 'someone' }, content: 'Rust borrow checker question' },
      ],
    },
  });
});

afterAll(async () => {
  await Promise.all(managers.map((m) => m.closeAll()));
  await sim.close();
  await rm(root, { recursive: true, force: true });
});

describe('filesystem server (npm) rooted in the workspace', () => {
  it('writes through MCP and the file is in the workspace; reads it back', async () => {
    const m = manager();
    const sid = unique('fs');
    const { tools, refused } = await m.open({
      sessionId: sid,
      agent: agent('tool-agent', '  grants: [filesystem:write]\n  mcp_servers: [filesystem]\n'),
    });
    expect(refused).toEqual([]);
    const names = tools.map((t) => t.name);
    expect(names).toContain('mcp_filesystem_write_file');
    expect(names).toContain('mcp_filesystem_read_text_file');
    for (const n of names) expect(n).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    const dir = m.workspaceDir(sid)!;
    const w = await m.call(sid, 'mcp_filesystem_write_file', {
      path: path.join(dir, 'notes.txt'),
      content: 'written via MCP',
    });
    expect(w.isError).toBe(false);
    expect(await readFile(path.join(dir, 'notes.txt'), 'utf8')).toBe('written via MCP');
    const r = await m.call(sid, 'mcp_filesystem_read_text_file', { path: path.join(dir, 'notes.txt') });
    expect(r).toEqual({ content: 'written via MCP', isError: false });
    // The workspace tools see the same directory.
    expect((await m.call(sid, 'Read', { file_path: 'notes.txt' })).content).toContain('written via MCP');
    // The server's own root confinement holds too.
    const out = await m.call(sid, 'mcp_filesystem_read_text_file', { path: '/etc/hostname' });
    expect(out.isError).toBe(true);
    await m.close(sid);
    expect(existsSync(dir)).toBe(false);
  });

  it('offers only read tools with filesystem:read', async () => {
    const m = manager();
    const sid = unique('fsr');
    const { tools } = await m.open({
      sessionId: sid,
      agent: agent('tool-agent', '  grants: [filesystem:read]\n  mcp_servers: [filesystem]\n'),
    });
    const names = tools.map((t) => t.name);
    expect(names).toContain('mcp_filesystem_read_text_file');
    expect(names).toContain('mcp_filesystem_list_directory');
    expect(names).not.toContain('mcp_filesystem_write_file');
    expect(names).not.toContain('mcp_filesystem_edit_file');
    const r = await m.call(sid, 'mcp_filesystem_write_file', { path: 'x', content: 'y' });
    expect(r.isError).toBe(true);
    expect(r.content).toMatch(/unknown tool/);
    await m.close(sid);
  });
});

describe('everything server (npm) in the custom object form', () => {
  let m: SessionManager;
  const sid = unique('every');
  beforeAll(async () => {
    process.env.BB_RUNNER_ONLY_SECRET = 'runner-env-must-not-leak';
    m = manager();
    await m.open({
      sessionId: sid,
      agent: agent(
        'tool-agent',
        [
          '  grants: [github:read]',
          '  mcp_servers:',
          '    - name: everything',
          '      command: npx',
          "      args: ['-y', '@modelcontextprotocol/server-everything']",
          '      env:',
          '        PLAIN_SETTING: literal-value',
          '        TOKEN_FROM_RUNNER: ${GITHUB_PAT}',
          '        OPERATOR: ${OPERATOR_TOKEN}',
          '    - name: sneaky',
          '      command: npx',
          "      args: ['-y', '@modelcontextprotocol/server-everything']",
          '      env:',
          '        STOLEN: ${BB_RUNNER_ONLY_SECRET}',
          '',
        ].join('\n'),
      ),
    });
  });
  afterAll(async () => {
    delete process.env.BB_RUNNER_ONLY_SECRET;
    await m.close(sid);
  });

  it('calls echo and get-sum', async () => {
    expect(await m.call(sid, 'mcp_everything_echo', { message: 'hello burrow' })).toEqual({
      content: 'Echo: hello burrow',
      isError: false,
    });
    const sum = await m.call(sid, 'mcp_everything_get-sum', { a: 2, b: 40 });
    expect(sum.isError).toBe(false);
    expect(sum.content).toContain('42');
  });

  it('gives the server only PATH, HOME=workspace and its own env, with credentials scrubbed from output', async () => {
    const r = await m.call(sid, 'mcp_everything_get-env', {});
    expect(r.isError).toBe(false);
    const env = JSON.parse(r.content) as Record<string, string>;
    expect(Object.keys(env).sort()).toEqual([
      'HOME',
      'OPERATOR',
      'PATH',
      'PLAIN_SETTING',
      'PWD',
      'TOKEN_FROM_RUNNER',
    ]);
    expect(env.HOME).toBe(m.workspaceDir(sid));
    expect(env.PLAIN_SETTING).toBe('literal-value');
    // The server did receive the token (it is its own variable) but the result never shows it.
    expect(env.TOKEN_FROM_RUNNER).toBe('[redacted]');
    expect(env.OPERATOR).toBe('[redacted]');
    expect(r.content).not.toContain(GITHUB_PAT);
    expect(r.content).not.toContain('runner-env-must-not-leak');
  });

  it('refuses a server whose env references a variable off the allow-list', async () => {
    const s = await m.open({ sessionId: sid, agentId: 'ignored: already open' });
    expect(s.refused).toHaveLength(1);
    expect(s.refused[0]!.name).toBe('sneaky');
    expect(s.refused[0]!.reason).toMatch(/BB_RUNNER_ONLY_SECRET.*not on the allow-list/);
    expect(s.tools.some((t) => t.name.startsWith('mcp_sneaky_'))).toBe(false);
  });
});

describe('grants', () => {
  it('never offers a server the grants do not allow', async () => {
    const m = manager();
    const sid = unique('grants');
    const { tools, refused } = await m.open({
      sessionId: sid,
      agent: agent(
        'reader-agent',
        '  grants: [hub:read]\n  mcp_servers: [github, brave, postgres, filesystem, hub]\n',
      ),
    });
    const names = tools.map((t) => t.name);
    for (const server of ['github', 'brave', 'postgres', 'filesystem']) {
      expect(
        names.some((n) => n.startsWith(`mcp_${server}_`)),
        server,
      ).toBe(false);
      expect(refused.find((r) => r.name === server)?.reason).toMatch(/requires one of the grants/);
    }
    // hub:read only: the Hub server's read tools, no posting.
    expect(names.filter((n) => n.startsWith('mcp_hub_')).sort()).toEqual(
      hubToolsFor(['hub:read'])
        .map((t) => `mcp_hub_${t.name}`)
        .sort(),
    );
    expect(names).not.toContain('mcp_hub_create_post');
    const search = await m.call(sid, 'mcp_hub_hub_search', { query: 'borrow' });
    expect(search.isError).toBe(false);
    expect(search.content).toContain('p-rust');
    expect(JSON.stringify({ tools, refused })).not.toContain(HUB_KEY);
    expect(JSON.stringify({ tools, refused })).not.toContain(GITHUB_PAT);
    await m.close(sid);
  });
});

describe('Hub MCP server in a session', () => {
  it('posts on the Hub with an idempotency key (a retried call creates nothing twice)', async () => {
    const m = manager();
    const sid = unique('hub');
    const { tools } = await m.open({
      sessionId: sid,
      agent: agent('tool-agent', '  grants: [hub:write]\n  mcp_servers: [hub]\n'),
    });
    expect(tools.map((t) => t.name)).toContain('mcp_hub_hub_post');
    const input = { content: 'Use lifetimes, friend.', post_id: 'p-rust' };
    const first = await m.call(sid, 'mcp_hub_hub_post', input, undefined, { idempotencyKey: `${sid}-tu1` });
    const again = await m.call(sid, 'mcp_hub_hub_post', input, undefined, { idempotencyKey: `${sid}-tu1` });
    expect(first.isError).toBe(false);
    expect(JSON.parse(first.content)).toMatchObject({ kind: 'comment', post_id: 'p-rust' });
    expect(JSON.parse(again.content).id).toBe(JSON.parse(first.content).id);
    const activity = await sim.admin.activity('tool-agent');
    expect(activity.comments.filter((c) => c.content === 'Use lifetimes, friend.')).toHaveLength(1);
    const bad = await m.call(sid, 'mcp_hub_hub_get_thread', { post_id: 'no-such-post' });
    expect(bad.isError).toBe(true);
    expect(bad.content).toMatch(/404/);
    await m.close(sid);
  });
});

describe('failures come back as tool errors', () => {
  const crashyAgent = (id: string): ToolsAgent =>
    agent(
      id,
      [
        '  mcp_servers:',
        '    - name: crashy',
        '      command: node',
        `      args: ['--import', '${TSX}', '${CRASHY}']`,
        '    - name: everything',
        '      command: mcp-server-everything',
        '',
      ].join('\n'),
    );

  it('a server that crashes mid-call gives a tool error and the session goes on', async () => {
    const m = manager();
    const sid = unique('crash');
    await m.open({ sessionId: sid, agent: crashyAgent('tool-agent') });
    expect((await m.call(sid, 'mcp_crashy_ok', {})).content).toBe('fine');
    const crash = await m.call(sid, 'mcp_crashy_crash', {});
    expect(crash.isError).toBe(true);
    expect(crash.content).toMatch(
      /MCP server 'crashy' stopped during crashy\.crash \(exit code 3; stderr: crashy: exiting on purpose\)/,
    );
    expect(crash.content).toMatch(/it will be restarted on the next call$/);
    // Other servers and the workspace never noticed.
    expect(await m.call(sid, 'mcp_everything_echo', { message: 'meanwhile' })).toEqual({
      content: 'Echo: meanwhile',
      isError: false,
    });
    // The next call restarts it once; a second crash leaves it down for the rest of the session.
    expect(await m.call(sid, 'mcp_crashy_ok', { word: 'restarted' })).toEqual({
      content: 'fine restarted',
      isError: false,
    });
    const again = await m.call(sid, 'mcp_crashy_crash', {});
    expect(again.content).toMatch(/stopped during crashy\.crash .*it will not be restarted again$/);
    const after = await m.call(sid, 'mcp_crashy_ok', {});
    expect(after.isError).toBe(true);
    expect(after.content).toMatch(/not running .*not restarted again/);
    expect(await m.call(sid, 'mcp_everything_echo', { message: 'still here' })).toEqual({
      content: 'Echo: still here',
      isError: false,
    });
    expect((await m.call(sid, 'Write', { file_path: 'a.txt', content: 'ok' })).isError).toBe(false);
    await m.close(sid);
  });

  it('a hanging call times out at the configured timeout and the server keeps serving', async () => {
    const m = manager(1000);
    const sid = unique('hang');
    await m.open({ sessionId: sid, agent: crashyAgent('tool-agent') });
    const started = Date.now();
    const r = await m.call(sid, 'mcp_crashy_hang', {});
    const took = Date.now() - started;
    expect(r.isError).toBe(true);
    expect(r.content).toMatch(/timed out after 1s \(BOTBURROW_MCP_TIMEOUT\)/);
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(3000);
    expect(await m.call(sid, 'mcp_crashy_ok', { word: 'again' })).toEqual({
      content: 'fine again',
      isError: false,
    });
    await m.close(sid);
  });

  it('passes isError results through, caps big output, and cancels on abort', async () => {
    const m = manager();
    const sid = unique('misc');
    await m.open({ sessionId: sid, agent: crashyAgent('tool-agent') });
    expect(await m.call(sid, 'mcp_crashy_fail', {})).toEqual({
      content: 'the fixture failed on purpose',
      isError: true,
    });
    const big = await m.call(sid, 'mcp_crashy_big', {});
    expect(big.isError).toBe(false);
    expect(Buffer.byteLength(big.content)).toBeLessThanOrEqual(100 * 1024);
    expect(big.content.slice(-60)).toMatch(/\[output truncated: showing \d+ of 307200 bytes\]$/);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const cancelled = await m.call(sid, 'mcp_crashy_hang', {}, ac.signal);
    expect(cancelled).toMatchObject({ isError: true });
    expect(cancelled.content).toMatch(/cancelled/);
    await m.close(sid);
  });

  it('a message beyond the protocol buffer ends the server instead of hanging the call', async () => {
    const m = manager(10_000);
    const sid = unique('huge');
    await m.open({ sessionId: sid, agent: crashyAgent('tool-agent') });
    const started = Date.now();
    const r = await m.call(sid, 'mcp_crashy_huge', {});
    expect(Date.now() - started).toBeLessThan(8000);
    expect(r.isError).toBe(true);
    expect(r.content.slice(0, 300)).toMatch(
      /MCP server 'crashy' stopped during crashy\.huge \(killed by SIGKILL/,
    );
    expect(await m.call(sid, 'mcp_everything_echo', { message: 'ok' })).toEqual({
      content: 'Echo: ok',
      isError: false,
    });
    await m.close(sid);
  });

  it('close stops the server processes and deletes the workspace; the session is then lost', async () => {
    const m = manager();
    const sid = unique('close');
    await m.open({ sessionId: sid, agent: crashyAgent('tool-agent') });
    const pidResult = await m.call(sid, 'mcp_crashy_pid', {});
    expect(pidResult.content.slice(0, 200)).toMatch(/^\d+$/);
    const dir = m.workspaceDir(sid)!;
    expect(processesWithArg(dir).length).toBeGreaterThan(0);
    await m.close(sid);
    await eventually(() => processesWithArg(dir).length === 0, 5000);
    expect(existsSync(dir)).toBe(false);
    const err = await m.call(sid, 'mcp_crashy_ok', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('SessionLostError');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
  });
});

describe('Streamable HTTP transport', () => {
  let child: ChildProcess;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    const bin = path.resolve(__dirname, '../../node_modules/.bin/mcp-server-everything');
    child = spawn(bin, ['streamableHttp'], {
      env: { PATH: process.env.PATH, PORT: String(port) },
      stdio: 'ignore',
    });
    await waitForPort(port, 20_000);
  });
  afterAll(() => {
    child.kill('SIGKILL');
  });

  it('calls a tool of a server given by url', async () => {
    const m = manager();
    const sid = unique('http');
    const { tools, refused } = await m.open({
      sessionId: sid,
      agent: {
        id: 'tool-agent',
        config: { capabilities: { mcp_servers: [{ name: 'remote', url: `http://127.0.0.1:${port}/mcp` }] } },
      },
    });
    expect(refused).toEqual([]);
    expect(tools.map((t) => t.name)).toContain('mcp_remote_echo');
    expect(await m.call(sid, 'mcp_remote_echo', { message: 'over http' })).toEqual({
      content: 'Echo: over http',
      isError: false,
    });
    await m.close(sid);
  });
});

describe('createSessionManager (the runner wiring)', () => {
  it('takes credentials from settings and allow-listed names from the environment only', async () => {
    const env = {
      PATH: process.env.PATH,
      BOTBURROW_WORKSPACE_ROOT: root,
      BOTBURROW_HUB_URL: sim.url,
      GITHUB_PAT: 'ghp_from_settings_0123456789',
      BOTBURROW_MCP_ENV_ALLOWLIST: 'OPERATOR_SECRET',
      OPERATOR_SECRET: 'operator-secret-from-env',
      NOT_LISTED: 'not-listed-value',
    };
    const m = createSessionManager({ logger, settings: loadSettings(env), env, sandbox });
    managers.push(m);
    const sid = unique('wired');
    const { refused } = await m.open({
      sessionId: sid,
      agent: {
        id: 'tool-agent',
        config: {
          capabilities: {
            grants: ['github:read'],
            mcp_servers: [
              {
                name: 'everything',
                command: 'mcp-server-everything',
                env: { OP: '${OPERATOR_SECRET}', PAT: '${GITHUB_PAT}' },
              },
              { name: 'nope', command: 'mcp-server-everything', env: { X: '${NOT_LISTED}' } },
            ],
          },
        },
      },
    });
    expect(refused.map((r) => r.name)).toEqual(['nope']);
    const out = JSON.parse((await m.call(sid, 'mcp_everything_get-env', {})).content) as Record<
      string,
      string
    >;
    expect(out).toMatchObject({ OP: '[redacted]', PAT: '[redacted]', HOME: m.workspaceDir(sid) });
    expect(Object.keys(out).sort()).toEqual(['HOME', 'OP', 'PAT', 'PATH', 'PWD']);
    await m.close(sid);
  });
});
