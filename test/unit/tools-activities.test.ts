import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionManager, createToolActivities } from '../../activities/tools/sessions';
import type { OpenSessionResult, ToolActivities } from '../../activities/tools/sessions';
import type { ToolResult } from '../../activities/tools/types';
import type { ToolsAgent } from '../../activities/tools/types';

// The activity wrappers through Temporal's MockActivityEnvironment, over a real SessionManager with
// workspace tools only (no MCP servers), so these stay fast.
let root: string;
let sessions: SessionManager;

const shellAgent: ToolsAgent = {
  id: 'shell-agent',
  config: { capabilities: { shell: { enabled: true, timeout_seconds: 30 } } },
};

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'bb-tools-act-'));
  sessions = new SessionManager({
    root,
    credentials: {},
    hub: { url: 'http://127.0.0.1:9' },
    timeoutMs: 2000,
    logger: pino({ level: 'silent' }),
    path: process.env.PATH,
    loadAgent: (id) => Promise.resolve({ ...shellAgent, id }),
  });
});

afterAll(async () => {
  await sessions.closeAll();
  await rm(root, { recursive: true, force: true });
});

describe('tool activities', () => {
  const acts = () => createToolActivities({ sessions, runnerId: 'runner-a' });

  it('open (by agent id), call and close a session', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    type Opened = OpenSessionResult & { runnerId: string };
    const opened = await env.run<
      [{ sessionId: string; agentId: string }],
      Opened,
      ToolActivities['openSession']
    >(acts().openSession, { sessionId: 's-open', agentId: 'loaded-agent' });
    expect(opened.runnerId).toBe('runner-a');
    expect(opened.tools.map((t) => t.name)).toEqual(['Read', 'Write', 'Edit', 'Bash', 'Glob', 'Grep']);
    expect(beats.length).toBeGreaterThan(0);
    // Opening again (an activity retry) returns the same session, not a second workspace.
    const dir = sessions.workspaceDir('s-open')!;
    await env.run(acts().openSession, { sessionId: 's-open', agentId: 'loaded-agent' });
    expect(sessions.workspaceDir('s-open')).toBe(dir);

    const r = await new MockActivityEnvironment().run(acts().callTool, {
      sessionId: 's-open',
      name: 'Bash',
      input: { command: 'echo hi > f.txt && cat f.txt' },
    });
    expect(r).toEqual({ content: 'hi\n', isError: false });
    await new MockActivityEnvironment().run(acts().closeSession, { sessionId: 's-open' });
    expect(existsSync(dir)).toBe(false);
    await new MockActivityEnvironment().run(acts().closeSession, { sessionId: 's-open' }); // idempotent
  });

  it('a session unknown to this runner is a non-retryable SessionLostError', async () => {
    const err = await new MockActivityEnvironment()
      .run(acts().callTool, { sessionId: 'never-opened', name: 'Read', input: { file_path: 'x' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('SessionLostError');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
  });

  it('activity cancellation stops a running command and heartbeats flow meanwhile', async () => {
    await sessions.open({ sessionId: 's-cancel', agent: shellAgent });
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    setTimeout(() => env.cancel('CANCELLED'), 1500);
    const started = Date.now();
    const r: ToolResult | { thrown: unknown } = await env
      .run<[Parameters<ToolActivities['callTool']>[0]], ToolResult, ToolActivities['callTool']>(
        acts().callTool,
        {
          sessionId: 's-cancel',
          name: 'Bash',
          input: { command: 'sleep 30' },
        },
      )
      .catch((e: unknown) => ({ thrown: e }));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(beats).toBeGreaterThanOrEqual(2);
    // The command was killed: the call either ends as a cancelled tool result or the activity as cancelled.
    if ('thrown' in r) expect(String(r.thrown)).toMatch(/cancel/i);
    else expect(r).toMatchObject({ isError: true, content: expect.stringMatching(/cancelled/) as unknown });
    await sessions.close('s-cancel');
  });

  it('removes workspaces a dead runner left behind, but not fresh or held ones', async () => {
    const stale = path.join(root, 'dead-runner-session-abc');
    const fresh = path.join(root, 'other-runner-live-session');
    await mkdir(path.join(stale, 'sub'), { recursive: true });
    await mkdir(fresh, { recursive: true });
    const old = new Date(Date.now() - 7 * 3600_000);
    await utimes(stale, old, old);
    const npmCache = path.join(root, '.npm-cache');
    await mkdir(npmCache, { recursive: true });
    await utimes(npmCache, old, old);
    await sessions.open({ sessionId: 's-held', agent: shellAgent });
    const held = sessions.workspaceDir('s-held')!;
    await utimes(held, old, old);
    expect(await sessions.removeStaleWorkspaces()).toBe(1);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(held)).toBe(true);
    expect(existsSync(npmCache)).toBe(true);
    await sessions.close('s-held');
  });

  it('closes sessions left idle past the idle TTL (their activation is gone)', async () => {
    const m = new SessionManager({
      root,
      credentials: {},
      hub: { url: 'http://127.0.0.1:9' },
      timeoutMs: 1000,
      logger: pino({ level: 'silent' }),
      idleTtlMs: 150,
    });
    await m.open({ sessionId: 's-idle', agent: shellAgent });
    const dir = m.workspaceDir('s-idle')!;
    expect(m.has('s-idle')).toBe(true);
    await new Promise((r) => setTimeout(r, 600));
    expect(m.has('s-idle')).toBe(false);
    expect(existsSync(dir)).toBe(false);
    await m.closeAll();
  });
});
