/**
 * The `cancel` and `pause` Updates of activationWorkflow on real components (Temporal dev server,
 * Valkey, the Hub simulator, the real Anthropic SDK against the scripted model server): the answer
 * says what was stopped, a run that is already finishing refuses, the `cancel` signal still works
 * as the fire-and-forget alias, and `botburrow activation cancel` prints the answer. With
 * RECORD_HISTORIES=1 the histories of the Update paths go to test/replay/histories/.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { connectTemporal } from '../../cli/temporal';
import type { Scenario } from '../../dev/model-server/scenario';
import { ACTIVATION_WORKFLOW, TaskQueue, activationWorkflowId } from '../../lib/contract';
import { exportHistory } from '../../scripts/export-history';
import { cancelUpdate, pauseUpdate, statusQuery } from '../../workflows/activation';
import { cli } from '../support/cli';
import { eventually } from '../support/env';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-topic';

const script: Scenario = {
  name: 'stop-updates',
  vars: { post_id: { from: 'first_user', pattern: 'post id ([\\w-]+)' } },
  rules: [
    // "replier" agents comment first, then think for a long time.
    {
      name: 'replier-post',
      when: { system: 'replier', turn: 1 },
      reply: {
        toolCalls: [{ name: 'hub_post', input: { post_id: '{{post_id}}', content: 'First thoughts.' } }],
      },
    },
    { name: 'replier-slow', when: { system: 'replier' }, reply: { text: 'More.', delayMs: 30_000 } },
    // "pondering" agents take 2 s per turn and keep searching.
    {
      name: 'pondering',
      when: { system: 'pondering' },
      reply: { toolCalls: [{ name: 'hub_search', input: { query: 'more' } }], delayMs: 2_000 },
    },
    { name: 'slow', when: { system: 'slow' }, reply: { text: 'Slowly.', delayMs: 30_000 } },
    { name: 'default', when: {}, reply: { text: 'Fine.' } },
  ],
};

const historyDir = path.resolve(__dirname, '../replay/histories');

describe('activationWorkflow: cancel and pause Updates', () => {
  let stack: ActivationStack;

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Topic.' }],
      },
    });
    await stack.startRunner();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function notify(agentId: string): Promise<string> {
    const n = await stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: POST_ID,
      from_agent: { id: 'alice', name: 'Alice' },
      content: 'Ping.',
    });
    return n.id;
  }
  const requestsOf = (agentId: string) =>
    stack.model
      .requests()
      .filter((r) => JSON.stringify((r.body as { system?: unknown }).system ?? '').includes(agentId));
  const unread = async (agentId: string) =>
    (await stack.hub.admin.notifications(agentId)).filter((n) => !n.read).length;
  async function record(agentId: string, name: string): Promise<void> {
    if (process.env.RECORD_HISTORIES !== '1') return;
    await exportHistory(
      stack.client,
      activationWorkflowId(agentId),
      path.join(historyDir, `activation-${name}.json`),
    );
  }

  it('cancel answers what was stopped, aborts the model call and leaves the notification unread', async () => {
    const agentId = await stack.addAgent('slowupd', { systemPrompt: 'You are slow.' });
    const notificationId = await notify(agentId);
    const handle = await stack.activate(agentId);
    await eventually(() => requestsOf(agentId).length === 1, 20_000);
    const answer = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'operator update' }] });
    expect(answer).toEqual({
      runId: handle.signaledRunId,
      phase: 'notifications',
      iteration: 1,
      currentNotification: notificationId,
      notificationsProcessed: 0,
      replyPosted: false,
      postsCreated: 0,
      commentsCreated: 0,
      lastTool: null,
      stopping: 'cancelled: operator update',
    });
    const result = await handle.result();
    expect(result).toMatchObject({
      outcome: 'cancelled',
      notificationsProcessed: 0,
      error: 'operator update',
    });
    await eventually(() => requestsOf(agentId)[0]?.aborted === true, 5_000);
    expect(await unread(agentId)).toBe(1);
    await record(agentId, 'cancel-update');
  });

  it('cancel says a reply was already posted, and a second cancel is refused while the run stops', async () => {
    const agentId = await stack.addAgent('replier', { systemPrompt: 'You are a replier.' });
    await notify(agentId);
    const handle = await stack.activate(agentId);
    await eventually(() => requestsOf(agentId).length === 2, 20_000);
    // Sent together: the server may deliver either first. The one it delivers first stops the run;
    // the other is refused by the validator, naming the first one's reason.
    const reasons = ['enough', 'again'];
    const results = await Promise.allSettled(
      reasons.map((reason) => handle.executeUpdate(cancelUpdate, { args: [{ reason }] })),
    );
    const acceptedAt = results.findIndex((r) => r.status === 'fulfilled');
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const accepted = results[acceptedAt] as PromiseFulfilledResult<unknown>;
    const refused = results[1 - acceptedAt] as PromiseRejectedResult;
    expect(accepted.value).toMatchObject({
      phase: 'notifications',
      iteration: 2,
      replyPosted: true,
      commentsCreated: 1,
      lastTool: 'hub_post',
    });
    const refusal = refused.reason as WorkflowUpdateFailedError;
    expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(refusal.cause?.message).toContain(`already stopping (cancelled: ${reasons[acceptedAt]})`);
    expect(await handle.result()).toMatchObject({ outcome: 'cancelled', commentsCreated: 1 });
    expect((await stack.hub.admin.activity(agentId)).comments).toHaveLength(1);
  });

  it('refuses a cancel for a run that is already finishing, and the run completes as it was', async () => {
    const agentId = await stack.addAgent('finisher', { systemPrompt: 'You are quick.' });
    await notify(agentId);
    // The last step (the Hub's activated mark) is slow: the run stays in phase finishing for a while.
    const fault = await stack.hub.admin.addFault({
      endpoint: 'POST /api/v1/agents/{id}/activated',
      delayMs: 4_000,
      count: 1,
    });
    const api = await connectTemporal(stack.settings);
    try {
      // A short workflow task timeout makes the runner heartbeat the task during that local step,
      // so the status query sees the phase while the run is in it.
      const handle = await stack.client.workflow.signalWithStart(ACTIVATION_WORKFLOW, {
        workflowId: activationWorkflowId(agentId),
        taskQueue: TaskQueue.high,
        args: [{ agentId, trigger: 'notification', requestedAt: new Date().toISOString() }],
        signal: 'inboxUpdated',
        signalArgs: [],
        workflowTaskTimeout: '2 seconds',
      });
      await eventually(async () => (await handle.query(statusQuery)).phase === 'finishing', 20_000);
      const ref = { workflowId: handle.workflowId, runId: handle.signaledRunId };
      // The validator refuses (phase finishing), or, when the Update waits for the step to end,
      // Temporal reports the run closed first: either way the cancel is refused and says why.
      const reply = await api.cancel(ref, 'too late');
      expect(reply.kind).toBe('refused');
      expect(reply.kind === 'refused' && reply.reason).toMatch(
        /already finishing \(phase finishing\): nothing left to cancel|finished before the cancel reached it/,
      );
      expect(await handle.result()).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1 });
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);
    } finally {
      await api.close();
      await stack.hub.admin.clearFault(fault.id).catch(() => undefined);
    }
  });

  it('pause stops the run at its next safe point without aborting the call in flight', async () => {
    const agentId = await stack.addAgent('pondering', { systemPrompt: 'You are pondering.' });
    await notify(agentId);
    const handle = await stack.activate(agentId);
    await eventually(() => requestsOf(agentId).length === 1, 20_000);
    const answer = await handle.executeUpdate(pauseUpdate, { args: [{ reason: 'maintenance' }] });
    expect(answer).toMatchObject({
      phase: 'notifications',
      iteration: 1,
      replyPosted: false,
      stopping: 'cancelled: paused: maintenance',
    });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'cancelled', error: 'paused: maintenance', iterations: 1 });
    // The model call in flight completed; its tool call was not run and no second call was made.
    expect(requestsOf(agentId)).toHaveLength(1);
    expect(requestsOf(agentId)[0]?.aborted).not.toBe(true);
    expect(await unread(agentId)).toBe(1);
    await record(agentId, 'pause-update');
  });

  it('the cancel signal still stops a run as the fire-and-forget alias', async () => {
    const agentId = await stack.addAgent('slowalias', { systemPrompt: 'You are slow.' });
    await notify(agentId);
    const handle = await stack.activate(agentId);
    await eventually(() => requestsOf(agentId).length === 1, 20_000);
    await handle.signal('cancel', { reason: 'by signal' });
    expect(await handle.result()).toMatchObject({ outcome: 'cancelled', error: 'by signal' });
    await eventually(() => requestsOf(agentId)[0]?.aborted === true, 5_000);
  });

  it('botburrow activation cancel uses the Update and prints its answer', async () => {
    const agentId = await stack.addAgent('slowcli', { systemPrompt: 'You are slow.' });
    const notificationId = await notify(agentId);
    const handle = await stack.activate(agentId);
    await eventually(() => requestsOf(agentId).length === 1, 20_000);
    const r = await cli(stack.env, 'activation', 'cancel', agentId, '--reason', 'from the cli');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/was running: cancelled/);
    expect(r.stdout).toMatch(/^stopped in\s+notifications, iteration 1$/m);
    expect(r.stdout).toMatch(new RegExp(`^notification\\s+${notificationId} \\(stays unread\\)$`, 'm'));
    expect(r.stdout).toMatch(/^reply posted\s+no$/m);
    expect(await handle.result()).toMatchObject({ outcome: 'cancelled', error: 'from the cli' });
    const again = await cli(stack.env, 'activation', 'cancel', agentId);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/was not running/);
  });
});
