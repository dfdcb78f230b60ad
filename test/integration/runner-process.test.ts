/**
 * The runner as a real process: killed with SIGKILL mid-activation (in a model call, or inside a
 * local bookkeeping step), the activation finishes on a new runner with exactly one reply per
 * notification; stopped with SIGTERM while busy and a second
 * runner lives, it drains and every activation completes exactly once.
 */
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';
import type { TestProcess } from '../support/processes';
import { startRunnerProcess } from '../support/processes';
import { eventually } from '../support/env';
import { buildWorkflowBundle } from '../../scripts/build-bundle';

const POST_ID = 'p-crash';

const script: Scenario = {
  name: 'runner-process',
  vars: {
    post_id: { from: 'first_user', pattern: 'post id ([\\w-]+)' },
    note: { from: 'first_user', pattern: '\\[Notification (\\S+)\\]' },
  },
  rules: [
    { name: 'after-post', when: { toolName: 'hub_post' }, reply: { text: 'NO_RESPONSE_NEEDED' } },
    {
      name: 'reply',
      when: { turn: 1 },
      reply: {
        toolCalls: [{ name: 'hub_post', input: { post_id: '{{post_id}}', content: 'reply to {{note}}' } }],
        delayMs: 1500,
      },
    },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

describe('runner process', () => {
  let stack: ActivationStack;
  let bundlePath: string;
  const processes: TestProcess[] = [];

  const startRunner = async (): Promise<TestProcess> => {
    const p = await startRunnerProcess(stack.env);
    processes.push(p);
    return p;
  };
  const notify = (agentId: string) =>
    stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: POST_ID,
      content: 'Hello?',
    });
  const requestsOf = (agentId: string) =>
    stack.model
      .requests()
      .filter((r) => JSON.stringify((r.body as { system?: unknown }).system ?? '').includes(agentId));

  beforeAll(async () => {
    // Runner processes load a prebuilt bundle, as in production, instead of compiling their own.
    bundlePath = path.join(os.tmpdir(), `bb-bundle-${process.pid}.js`);
    await buildWorkflowBundle(bundlePath);
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Crash test.' }],
      },
      env: { BOTBURROW_SHUTDOWN_GRACE: '10', BOTBURROW_WORKFLOW_BUNDLE: bundlePath },
    });
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) {
      p.signal('SIGKILL');
      await p.exited;
    }
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('finishes an activation on a new runner after SIGKILL, with exactly one reply per notification', async () => {
    const agentId = await stack.addAgent('crash');
    const notes = await Promise.all([notify(agentId), notify(agentId), notify(agentId)]);
    const first = await startRunner();
    const handle = await stack.activate(agentId);
    await eventually(() => requestsOf(agentId).length >= 2, 30_000);
    first.signal('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    await startRunner();
    const killedAt = Date.now();
    const result = await handle.result();
    console.log(`activation finished ${Date.now() - killedAt} ms after the SIGKILL`);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 3, commentsCreated: 3 });
    const comments = (await stack.hub.admin.activity(agentId)).comments.map((c) => c.content).sort();
    expect(comments).toEqual(notes.map((n) => `reply to ${n.id}`).sort());
    expect((await stack.hub.admin.notifications(agentId)).every((n) => n.read)).toBe(true);
  });

  it('runs a local bookkeeping step again on a new runner when its runner is killed in the middle of it', async () => {
    const agentId = await stack.addAgent('crash-local');
    const note = await notify(agentId);
    // Marking read (a local activity) hangs on the Hub once: the runner dies inside it.
    await stack.hub.admin.addFault({
      endpoint: 'POST /api/v1/notifications/read',
      delayMs: 60_000,
      count: 1,
    });
    const readsBefore = (await stack.hub.admin.requestCounts())['POST /api/v1/notifications/read'] ?? 0;
    const first = await startRunner();
    const handle = await stack.activate(agentId);
    await eventually(
      async () =>
        ((await stack.hub.admin.requestCounts())['POST /api/v1/notifications/read'] ?? 0) > readsBefore,
      30_000,
    );
    first.signal('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    await startRunner();
    const killedAt = Date.now();
    const result = await handle.result();
    console.log(`activation finished ${Date.now() - killedAt} ms after the SIGKILL inside a local activity`);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    expect((await stack.hub.admin.activity(agentId)).comments.map((c) => c.content)).toEqual([
      `reply to ${note.id}`,
    ]);
    expect((await stack.hub.admin.notifications(agentId)).every((n) => n.read)).toBe(true);
  });

  it('drains on SIGTERM while a second runner lives: every activation completes exactly once', async () => {
    const agents = await Promise.all(Array.from({ length: 5 }, () => stack.addAgent('drain')));
    await Promise.all(agents.map((a) => notify(a)));
    const busy = await startRunner();
    const handles = await Promise.all(agents.map((a) => stack.activate(a)));
    await eventually(() => agents.filter((a) => requestsOf(a).length > 0).length >= 3, 30_000);
    await startRunner();
    busy.signal('SIGTERM');
    expect(await busy.exited).toBe(0);
    const results = await Promise.all(handles.map((h) => h.result()));
    expect(results.map((r) => r.outcome)).toEqual(agents.map(() => 'succeeded'));
    for (const a of agents) {
      expect((await stack.hub.admin.activity(a)).comments).toHaveLength(1);
    }
  });
});
