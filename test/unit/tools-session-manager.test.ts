import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionManager } from '../../activities/tools/sessions';
import type { ToolResult } from '../../activities/tools/types';
import type { ToolsAgent } from '../../activities/tools/types';
import { realSandbox } from '../support/sandbox';

// A real SessionManager with workspace tools only (no MCP servers), so these stay fast; the
// activities around it (activities/session.ts) are tested with real runners in integration.
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
    sandbox: await realSandbox(),
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

describe('SessionManager', () => {
  it('opens (by agent id), calls and closes a session; opening again reuses it', async () => {
    const opened = await sessions.open({ sessionId: 's-open', agentId: 'loaded-agent' });
    expect(opened.tools.map((t) => t.name)).toEqual(['Read', 'Write', 'Edit', 'Bash', 'Glob', 'Grep']);
    // Opening again (an activity retry) returns the same session, not a second workspace.
    const dir = sessions.workspaceDir('s-open')!;
    await sessions.open({ sessionId: 's-open', agentId: 'loaded-agent' });
    expect(sessions.workspaceDir('s-open')).toBe(dir);

    const r = await sessions.call('s-open', 'Bash', { command: 'echo hi > f.txt && cat f.txt' });
    expect(r).toEqual({ content: 'hi\n', isError: false });
    await sessions.close('s-open');
    expect(existsSync(dir)).toBe(false);
    await sessions.close('s-open'); // idempotent
  });

  it('a session unknown to this runner is a non-retryable SessionLostError', async () => {
    const err = await sessions.call('never-opened', 'Read', { file_path: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('SessionLostError');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
  });

  it('an aborted call stops its running command at once', async () => {
    await sessions.open({ sessionId: 's-cancel', agent: shellAgent });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('activity cancelled')), 500);
    const started = Date.now();
    const r: ToolResult | { thrown: unknown } = await sessions
      .call('s-cancel', 'Bash', { command: 'sleep 30' }, controller.signal)
      .catch((e: unknown) => ({ thrown: e }));
    expect(Date.now() - started).toBeLessThan(5000);
    // The command was killed: the call either ends as a cancelled tool result or throws the abort.
    if ('thrown' in r) expect(String(r.thrown)).toMatch(/cancel|abort/i);
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
      sandbox: await realSandbox(),
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
