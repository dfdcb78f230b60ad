/**
 * A runner SIGKILLed between the Hub's POST and the runner's record of it: the Hub created the
 * comment, the answer never arrived, the record is only a write-ahead intent. The retry on another
 * runner finds the comment on the thread and takes it as its own, so the thread has one reply,
 * with the Hub simulator's dedupe off (a real Hub may ignore `Idempotency-Key`).
 */
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { buildWorkflowBundle } from '../../scripts/build-bundle';
import { eventually } from '../support/env';
import type { TestProcess } from '../support/processes';
import { startRunnerProcess } from '../support/processes';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-kill';

const script: Scenario = {
  name: 'exactly-once-kill',
  rules: [
    {
      name: 'post',
      when: { system: 'poster persona', turn: 1 },
      reply: { toolCalls: [{ name: 'hub_post', input: { post_id: POST_ID, content: 'Exactly once.' } }] },
    },
    { name: 'close', when: { system: 'poster persona' }, reply: { text: 'I replied above.' } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

describe('exactly one reply when the runner dies between POST and record', () => {
  let stack: ActivationStack;
  const runners: TestProcess[] = [];

  beforeAll(async () => {
    const bundlePath = path.join(os.tmpdir(), `bb-bundle-once-kill-${process.pid}.js`);
    await buildWorkflowBundle(bundlePath);
    stack = await startStack({
      script,
      hubDedupe: false,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Once?' }],
      },
      env: { BOTBURROW_WORKFLOW_BUNDLE: bundlePath },
    });
  });
  afterAll(async () => {
    for (const p of runners) p.signal('SIGKILL');
    await Promise.all(runners.map((p) => p.exited));
    await stack?.stop();
  });

  it('reconciles the posted comment on another runner: one reply, counted', async () => {
    for (let i = 0; i < 2; i++) runners.push(await startRunnerProcess(stack.env));
    const id = await stack.addAgent('poster', { systemPrompt: 'You are a poster persona.' });
    const nid = (
      await stack.hub.admin.injectNotification({
        agent_id: id,
        type: 'mention',
        post_id: POST_ID,
        from_agent: { id: 'alice', name: 'Alice' },
        content: `@${id} once?`,
      })
    ).id;
    // The Hub creates the comment, then holds its answer: the runner is killed meanwhile.
    await stack.hub.admin.addFault({
      endpoint: 'POST /api/v1/posts/{id}/comments',
      answerDelayMs: 20_000,
      count: 1,
    });
    const handle = await stack.activate(id);
    const comments = async () => (await stack.hub.admin.activity(id)).comments.map((c) => c.content);
    await eventually(async () => (await comments()).length > 0, 30_000);
    // Kill the runner running the hub_post activity (its request is parked at the Hub).
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    const identity = pending.find((a) => a.activityType?.name === 'hubTool')?.lastWorkerIdentity ?? '';
    const runnerId = identity.replace(/^runner@/, '');
    const victim = runners.find((p) => runnerId !== '' && p.output().includes(runnerId));
    expect(victim, `no runner process is ${identity}`).toBeDefined();
    victim!.signal('SIGKILL');
    await victim!.exited;

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    expect(await comments()).toEqual(['Exactly once.']);
    expect((await stack.hub.admin.notifications(id)).find((n) => n.id === nid)?.read).toBe(true);
  }, 120_000);
});
