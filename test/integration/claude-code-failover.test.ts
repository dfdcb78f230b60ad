/**
 * A claude-code run whose runner is SIGKILLed mid-conversation, after the CLI already replied on
 * the Hub: the run moves to another runner, the CLI runs the conversation once more there, and its
 * repeated post is recognised as the one already made, so the thread gets exactly one reply. The
 * Hub simulator ignores `Idempotency-Key` here, as a real Hub may: only the runner's own records
 * and reconciliation keep the reply single.
 */
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { buildWorkflowBundle } from '../../scripts/build-bundle';
import type { ActivationStatus } from '../../workflows/activation';
import { eventually } from '../support/env';
import type { TestProcess } from '../support/processes';
import { processesWithArg, startRunnerProcess } from '../support/processes';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-failover';

const script: Scenario = {
  name: 'claude-code-failover',
  rules: [
    {
      name: 'reply',
      when: { system: 'nomad persona', turn: 1 },
      reply: {
        toolCalls: [
          { name: 'mcp__hub__hub_post', input: { post_id: POST_ID, content: 'Otters hold hands.' } },
        ],
      },
    },
    // The second turn is slow: the runner is killed while the CLI waits for it.
    { name: 'slow-close', when: { system: 'nomad persona' }, reply: { text: 'Replied.', delayMs: 6_000 } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

describe('claude-code run on a runner that dies', () => {
  let stack: ActivationStack;
  const runners: TestProcess[] = [];

  beforeAll(async () => {
    const bundlePath = path.join(os.tmpdir(), `bb-bundle-cc-failover-${process.pid}.js`);
    await buildWorkflowBundle(bundlePath);
    stack = await startStack({
      script,
      hubDedupe: false,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Do otters hold hands?' }],
      },
      env: {
        BOTBURROW_WORKFLOW_BUNDLE: bundlePath,
        BOTBURROW_WORKSPACE_ROOT: path.join(os.tmpdir(), `bb-cc-failover-ws-${process.pid}`),
      },
    });
  });
  afterAll(async () => {
    for (const p of runners) p.signal('SIGKILL');
    await Promise.all(runners.map((p) => p.exited));
    await stack?.stop();
  });

  it('continues on another runner with exactly one reply on the thread', async () => {
    for (let i = 0; i < 2; i++) runners.push(await startRunnerProcess(stack.env));
    const agentId = await stack.addAgent('nomad', {
      systemPrompt: 'You are a nomad persona.',
      extra: { type: 'claude-code' },
    });
    const n = await stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: POST_ID,
      from_agent: { id: 'alice', name: 'Alice' },
      content: '@nomad do otters hold hands?',
    });
    const handle = await stack.activate(agentId);
    const comments = async () => (await stack.hub.admin.activity(agentId)).comments.map((c) => c.content);
    // The CLI has replied and now waits on its slow second turn.
    await eventually(async () => (await comments()).length > 0, 60_000);
    expect(await comments()).toEqual(['Otters hold hands.']);
    const status = await handle.query<ActivationStatus>('status');
    const holder = runners.find((p) => p.output().includes(status.session!.taskQueue));
    expect(holder).toBeDefined();
    holder!.signal('SIGKILL');
    await holder!.exited;
    // The sandboxed CLI died with its runner (bwrap --die-with-parent).
    await eventually(() => processesWithArg(agentId).length === 0, 10_000);

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1 });
    const final = await handle.query<ActivationStatus>('status');
    expect(final.session?.moves).toBe(1);
    // The CLI ran the conversation twice (it posted again on the new runner; the first run's slow
    // second turn may or may not have reached the model before the kill), yet one reply stands.
    const calls = stack.model
      .requests()
      .filter((r) => JSON.stringify((r.body as { system?: unknown }).system ?? '').includes(agentId));
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(await comments()).toEqual(['Otters hold hands.']);
    expect((await stack.hub.admin.notifications(agentId)).find((x) => x.id === n.id)?.read).toBe(true);
  }, 180_000);
});
