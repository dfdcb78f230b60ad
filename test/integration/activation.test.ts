/**
 * activationWorkflow end to end on real components: Temporal dev server, Valkey, the Hub simulator
 * and the real Anthropic SDK against the scripted Messages API server. Each outcome is produced and
 * asserted. With RECORD_HISTORIES=1 the histories are exported to test/replay/histories/.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import type { temporal } from '@temporalio/proto';
import type { ActivationInput, ActivationResult } from '../../lib/contract';
import { ACTIVATION_WORKFLOW, SearchAttr, TaskQueue, activationWorkflowId } from '../../lib/contract';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { Registry } from 'prom-client';
import { RunDefinitions, createActivationActivities } from '../../activities/activation';
import { ConversationStore } from '../../activities/conversation';
import { ModelProviders } from '../../activities/models/providers';
import { AgentRegistry, SkillLibrary, createDefinitionStore } from '../../lib/definitions';
import { HubClient } from '../../lib/hub/client';
import { createMetrics } from '../../lib/metrics';
import { exportHistory } from '../../scripts/export-history';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';
import { eventually } from '../support/env';

const POST_ID = 'p-topic';

const script: Scenario = {
  name: 'activation-tests',
  vars: {
    post_id: { from: 'first_user', pattern: 'post id ([\\w-]+)' },
    first_post: { from: 'first_user', pattern: '/^1\\. Post (\\S+) in /m' },
  },
  rules: [
    // Final iteration (no tools offered): always a text answer.
    { name: 'final', when: { tools: false, system: 'capped' }, reply: { text: 'Concluding under the cap.' } },
    // "capped" agents search forever, so only the cap ends their loop.
    {
      name: 'capped-search',
      when: { system: 'capped' },
      reply: { toolCalls: [{ name: 'hub_search', input: { query: 'more' } }] },
    },
    // "explorer" agents comment on the first post of their discover feed.
    {
      name: 'explore',
      when: { system: 'explorer', user: '^You are exploring', turn: 1 },
      reply: {
        toolCalls: [
          { name: 'hub_post', input: { post_id: '{{first_post}}', content: 'An explorer was here.' } },
        ],
      },
    },
    { name: 'explored', when: { system: 'explorer' }, reply: { text: 'Explored.' } },
    // "silent" agents decide no response is needed.
    { name: 'silent', when: { system: 'silent' }, reply: { text: 'NO_RESPONSE_NEEDED' } },
    // "plain" agents answer with text only: the workflow posts it as the reply.
    { name: 'plain', when: { system: 'plain' }, reply: { text: 'A plain answer from {{post_id|nowhere}}.' } },
    {
      name: 'search',
      when: { turn: 1, user: '^\\[Notification' },
      reply: { toolCalls: [{ name: 'hub_search', input: { query: 'topic', limit: 3 } }] },
    },
    {
      name: 'post',
      when: { toolName: 'hub_search' },
      reply: {
        toolCalls: [{ name: 'hub_post', input: { post_id: '{{post_id}}', content: 'My considered reply.' } }],
      },
    },
    { name: 'done', when: { toolName: 'hub_post' }, reply: { text: 'Done.' } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

const record = process.env.RECORD_HISTORIES === '1';
const historyDir = path.resolve(__dirname, '../replay/histories');

describe('activationWorkflow', () => {
  let stack: ActivationStack;

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: {
        agents: [],
        communities: [{ name: 'm/burrows' }],
        posts: [
          {
            id: POST_ID,
            author: { id: 'alice', name: 'Alice' },
            title: 'A topic',
            content: 'What do agents think?',
          },
          {
            id: 'p-burrow',
            author: { id: 'bob', name: 'Bob' },
            community: 'm/burrows',
            content: 'Burrows are cosy.',
          },
        ],
      },
    });
    await stack.startRunner();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function notify(agentId: string, content = 'Hey, what do you think about this?'): Promise<string> {
    const n = await stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: POST_ID,
      from_agent: { id: 'alice', name: 'Alice' },
      content,
    });
    return n.id;
  }

  async function historyEvents(agentId: string): Promise<temporal.api.history.v1.IHistoryEvent[]> {
    const history = await stack.client.workflow.getHandle(activationWorkflowId(agentId)).fetchHistory();
    return history.events ?? [];
  }

  /** The Botburrow search attributes of each upsert, in order (the SDK's own patch upserts left out). */
  function botburrowUpserts(events: temporal.api.history.v1.IHistoryEvent[]): string[][] {
    return events
      .map((e) =>
        Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
      )
      .map((keys) => keys.filter((k) => k.startsWith('Botburrow')).sort())
      .filter((keys) => keys.length > 0);
  }

  async function maybeRecord(agentId: string, name: string): Promise<void> {
    if (record)
      await exportHistory(
        stack.client,
        activationWorkflowId(agentId),
        path.join(historyDir, `activation-${name}.json`),
      );
  }

  it('succeeds: searches, replies through hub_post, marks the notification read', async () => {
    const agentId = await stack.addAgent('happy');
    const notificationId = await notify(agentId);
    const result = await stack.run(agentId);

    expect(result).toMatchObject({
      agentId,
      trigger: 'notification',
      outcome: 'succeeded',
      notificationsProcessed: 1,
      commentsCreated: 1,
      postsCreated: 0,
      iterations: 3,
    });
    expect(result.tokensInput).toBeGreaterThan(0);
    expect(result.costUsd).toBeGreaterThan(0);
    const activity = await stack.hub.admin.activity(agentId);
    expect(activity.comments.map((c) => [c.post_id, c.content])).toEqual([[POST_ID, 'My considered reply.']]);
    const notes = await stack.hub.admin.notifications(agentId);
    expect(notes.find((n) => n.id === notificationId)?.read).toBe(true);
    const consumption = await stack.hub.admin.consumption(agentId);
    expect(consumption).toHaveLength(1);
    expect(consumption[0]!.tokens_input).toBe(result.tokensInput);

    // The transcript follows the tool-use protocol: every tool_use answered by a tool_result.
    const requests = stack.model.requests().filter((r) => JSON.stringify(r.body).includes(agentId));
    expect(requests).toHaveLength(3);
    const last = requests[2]!.body as { messages: { role: string; content: { type: string }[] }[] };
    expect(last.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(last.messages[4]!.content[0]!.type).toBe('tool_result');

    const desc = await stack.client.workflow.getHandle(activationWorkflowId(agentId)).describe();
    expect(desc.typedSearchAttributes.get(SearchAttr.outcome)).toBe('succeeded');
    expect(desc.typedSearchAttributes.get(SearchAttr.iterations)).toBe(3);
    // Started with its search attributes (as the coordinator does): the run upserts only its totals,
    // once, and keeps no timer on the server for its timeout.
    const events = await historyEvents(agentId);
    expect(botburrowUpserts(events)).toEqual([
      ['BotburrowCostUsd', 'BotburrowIterations', 'BotburrowOutcome', 'BotburrowTokens'],
    ]);
    expect(events.filter((e) => e.timerStartedEventAttributes)).toHaveLength(0);
    await maybeRecord(agentId, 'succeeded');
  });

  it('takes the breaker verdict and the consumption report once per run when the final step runs again', async () => {
    const agentId = await stack.addAgent('finish-twice');
    const logger = pino({ level: 'silent' });
    const store = createDefinitionStore(stack.settings);
    const { redis, keys } = stack;
    const acts = createActivationActivities({
      hub: new HubClient({ baseUrl: stack.hub.url }),
      registry: new RunDefinitions({
        registry: new AgentRegistry({ store, redis, keys, logger }),
        redis,
        keys,
        logger,
        ttlSeconds: 3600,
      }),
      skills: new SkillLibrary({ store, logger }),
      ...stack.guards,
      conversations: new ConversationStore(redis, keys),
      models: new ModelProviders(
        { keyEnvs: [], apiHosts: [], baseUrls: { anthropic: stack.model.url }, timeoutMs: 1000 },
        {},
      ),
      redis,
      keys,
      metrics: createMetrics(new Registry(), { defaults: false }),
      logger,
      settings: { activationTimeoutSeconds: 60, maxIterations: 3, priceTable: {}, hubBudgetCheck: 'off' },
    });
    const finish = {
      agentId,
      trigger: 'notification' as const,
      outcome: 'failed' as const,
      model: 'claude-sonnet-4',
      tokensInput: 100,
      tokensOutput: 20,
      costUsd: 0.01,
      durationMs: 1000,
      reportKey: `activation-${agentId}:run-1`,
      breaker: 'failure' as const,
    };
    // A local activity runs again when its runner dies before the workflow task records it.
    await new MockActivityEnvironment().run(acts.finishActivation, finish);
    await new MockActivityEnvironment().run(acts.finishActivation, finish);
    expect(await redis.hget(keys.failures(), agentId)).toBe('1');
    expect(await stack.hub.admin.consumption(agentId)).toHaveLength(1);
    // Another run of the same agent counts on its own.
    await new MockActivityEnvironment().run(acts.finishActivation, { ...finish, reportKey: 'other-run' });
    expect(await redis.hget(keys.failures(), agentId)).toBe('2');
  });

  it('sets its agent and trigger search attributes when started without them', async () => {
    const agentId = await stack.addAgent('bare-start');
    await notify(agentId);
    const input: ActivationInput = {
      agentId,
      trigger: 'notification',
      requestedAt: new Date().toISOString(),
    };
    const result = await stack.client.workflow.execute(ACTIVATION_WORKFLOW, {
      workflowId: activationWorkflowId(agentId),
      taskQueue: TaskQueue.high,
      args: [input],
    });
    expect((result as ActivationResult).outcome).toBe('succeeded');
    const desc = await stack.client.workflow.getHandle(activationWorkflowId(agentId)).describe();
    expect(desc.typedSearchAttributes.get(SearchAttr.agentId)).toBe(agentId);
    expect(desc.typedSearchAttributes.get(SearchAttr.trigger)).toBe('notification');
    expect(desc.typedSearchAttributes.get(SearchAttr.outcome)).toBe('succeeded');
    expect(botburrowUpserts(await historyEvents(agentId))).toEqual([
      ['BotburrowAgentId', 'BotburrowTrigger'],
      ['BotburrowCostUsd', 'BotburrowIterations', 'BotburrowOutcome', 'BotburrowTokens'],
    ]);
  });

  it('posts a text-only answer as the reply, and nothing for "no response needed"', async () => {
    const plain = await stack.addAgent('plain', { systemPrompt: 'You are plain.' });
    const silent = await stack.addAgent('silent', { systemPrompt: 'You are silent.' });
    await notify(plain);
    await notify(silent);
    const [r1, r2] = await Promise.all([stack.run(plain), stack.run(silent)]);
    expect(r1).toMatchObject({ outcome: 'succeeded', commentsCreated: 1, notificationsProcessed: 1 });
    expect(r2).toMatchObject({ outcome: 'succeeded', commentsCreated: 0, notificationsProcessed: 1 });
    expect((await stack.hub.admin.activity(plain)).comments.map((c) => c.content)).toEqual([
      `A plain answer from ${POST_ID}.`,
    ]);
    expect((await stack.hub.admin.activity(silent)).comments).toEqual([]);
  });

  it('explores the discover feed of its interests, knowing its remaining allowance', async () => {
    const agentId = await stack.addAgent('explorer', {
      systemPrompt: 'You are explorer.',
      extra: {
        interests: { communities: ['m/burrows'] },
        behavior: {
          // No engage/skip judgement asked (min_confidence: hub-vocabulary.test.ts).
          discovery: { enabled: true, min_confidence: 0 },
          limits: {
            max_daily_posts: 4,
            max_daily_comments: 9,
            max_responses_per_thread: 3,
            min_interval_seconds: 0,
          },
        },
      },
    });
    const result = await stack.run(agentId, 'exploration');
    expect(result, JSON.stringify(result)).toMatchObject({
      trigger: 'exploration',
      outcome: 'succeeded',
      commentsCreated: 1,
    });
    expect((await stack.hub.admin.activity(agentId)).comments.map((c) => [c.post_id, c.content])).toEqual([
      ['p-burrow', 'An explorer was here.'],
    ]);
    const first = stack.model
      .requests()
      .find((r) => JSON.stringify(r.body).includes(`Your id is ${agentId}`))!;
    expect(JSON.stringify(first.body)).toContain('4 new posts and 9 comments');
    await maybeRecord(agentId, 'exploration');
  });

  it('acknowledges a mention without the model when respond_to_mentions is off', async () => {
    const agentId = await stack.addAgent('quiet', {
      extra: { behavior: { respond_to_mentions: false } },
    });
    await notify(agentId);
    const result = await stack.run(agentId);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, iterations: 0 });
    expect((await stack.hub.admin.notifications(agentId)).every((n) => n.read)).toBe(true);
  });

  it('refuses a post past a behaviour limit with a clear tool error instead of posting', async () => {
    const agentId = await stack.addAgent('limited', {
      extra: {
        behavior: {
          limits: {
            max_daily_posts: 5,
            max_daily_comments: 0,
            max_responses_per_thread: 3,
            min_interval_seconds: 0,
          },
        },
      },
    });
    await notify(agentId);
    const result = await stack.run(agentId);
    expect(result).toMatchObject({ outcome: 'succeeded', commentsCreated: 0 });
    expect((await stack.hub.admin.activity(agentId)).comments).toEqual([]);
    const requests = stack.model
      .requests()
      .filter((r) => JSON.stringify(r.body).includes(`Your id is ${agentId}`));
    expect(JSON.stringify(requests.at(-1)!.body)).toContain('not posted: daily comment limit 0 reached');
  });

  it('ends with iteration_cap: the last step offers no tools and concludes', async () => {
    const agentId = await stack.addAgent('capped', { maxIterations: 3, systemPrompt: 'You are capped.' });
    await notify(agentId);
    const result = await stack.run(agentId);
    expect(result).toMatchObject({ outcome: 'iteration_cap', iterations: 3, notificationsProcessed: 1 });
    const requests = stack.model.requests().filter((r) => JSON.stringify(r.body).includes(agentId));
    const choices = requests.map((r) => (r.body as { tool_choice?: unknown }).tool_choice);
    expect(((requests[0]!.body as { tools?: unknown[] }).tools ?? []).length).toBeGreaterThan(0);
    expect(choices[2]).toEqual({ type: 'none' });
    // The concluding answer was posted as the reply.
    expect((await stack.hub.admin.activity(agentId)).comments.map((c) => c.content)).toEqual([
      'Concluding under the cap.',
    ]);
    await maybeRecord(agentId, 'iteration-cap');
  });
});

const slowScript: Scenario = {
  name: 'activation-slow',
  vars: { post_id: { from: 'first_user', pattern: 'post id ([\\w-]+)' } },
  rules: [
    { name: 'final', when: { tools: false }, reply: { text: 'Final words.' } },
    {
      name: 'big',
      when: { system: 'big' },
      reply: { toolCalls: [{ name: 'hub_get_thread', input: { post_id: 'p-big' } }] },
    },
    { name: 'slow', when: { system: 'slow' }, reply: { text: 'Slowly.', delayMs: 30_000 } },
    {
      name: 'looping',
      when: { system: 'looping' },
      reply: { toolCalls: [{ name: 'hub_search', input: { query: 'again' } }], delayMs: 700 },
    },
    { name: 'busy', when: { system: 'busy' }, reply: { text: 'Handled {{post_id|it}}.', delayMs: 1500 } },
    { name: 'default', when: {}, reply: { text: 'Fine.' } },
  ],
};

describe('activationWorkflow: stops, refusals and failures', () => {
  let stack: ActivationStack;
  const bigComment = 'x'.repeat(35_000);

  beforeAll(async () => {
    stack = await startStack({
      script: slowScript,
      seed: {
        agents: [],
        posts: [
          { id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Topic.' },
          {
            id: 'p-big',
            author: { id: 'alice', name: 'Alice' },
            content: 'Big thread.',
            comments: [1, 2, 3].map((i) => ({
              author: { id: 'bob', name: 'Bob' },
              content: `${i}${bigComment}`,
            })),
          },
        ],
      },
      env: {
        BOTBURROW_ACTIVATION_TIMEOUT: '12',
        BOTBURROW_BUDGET_OVERRIDES: JSON.stringify({
          'budget-poor': { daily_tokens: 500 },
          // Eleven calls that each re-read ~300 KB of tool output need more than the default budget.
          'big-history': { daily_tokens: 10_000_000, monthly_cost: 10_000 },
        }),
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

  it('is cancelled by the cancel signal: the model request is aborted and the notification stays unread', async () => {
    const agentId = await stack.addAgent('slowsig', { systemPrompt: 'You are slow.' });
    await notify(agentId);
    const handle = await stack.activate(agentId);
    await eventually(() => requestsOf(agentId).length === 1, 20_000);
    await handle.signal('cancel', { reason: 'operator test' });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'cancelled', notificationsProcessed: 0, error: 'operator test' });
    await eventually(() => requestsOf(agentId)[0]?.aborted === true, 5_000);
    expect(await unread(agentId)).toBe(1);
    await maybeRecordIn(stack, agentId, 'cancelled-signal');
  });

  it('is stopped by a Temporal cancel request the same way, and ends as Canceled', async () => {
    const agentId = await stack.addAgent('slowtc', { systemPrompt: 'You are slow.' });
    await notify(agentId);
    const handle = await stack.activate(agentId);
    await eventually(() => requestsOf(agentId).length === 1, 20_000);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow(/cancel/i);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    await eventually(() => requestsOf(agentId)[0]?.aborted === true, 5_000);
    expect(await unread(agentId)).toBe(1);
    // activation-cancelled-temporal.json is the run from before TEMPORAL_CANCEL_PATCH (Completed,
    // outcome cancelled); activation-temporal-cancel.json is recorded by activation-faults.test.ts.
  });

  it('ends with timed_out at the next safe point after the activation timeout', async () => {
    const agentId = await stack.addAgent('looping', { systemPrompt: 'You are looping.', maxIterations: 50 });
    await notify(agentId);
    const result = await stack.run(agentId);
    expect(result.outcome).toBe('timed_out');
    expect(result.error).toMatch(/activation timeout of 12s/);
    expect(result.durationMs).toBeGreaterThanOrEqual(12_000);
    expect(result.durationMs).toBeLessThan(20_000);
    expect(await unread(agentId)).toBe(1);
    await maybeRecordIn(stack, agentId, 'timed-out');
  });

  it('keeps finished work succeeded when the timeout passes during its last step', async () => {
    const agentId = await stack.addAgent('late');
    const noteId = await notify(agentId);
    // Marking read — the last step — answers after the 12 s activation timeout has passed.
    await stack.hub.admin.addFault({
      endpoint: 'POST /api/v1/notifications/read',
      delayMs: 13_000,
      count: 1,
    });
    const result = await stack.run(agentId);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    expect(result.durationMs).toBeGreaterThanOrEqual(12_000);
    expect(await unread(agentId)).toBe(0);
    expect((await stack.hub.admin.notifications(agentId)).find((n) => n.id === noteId)?.read).toBe(true);
  });

  it('ends with budget_exceeded before calling the model, naming the limit', async () => {
    const agentId = await stack.addAgent('budget', { id: 'budget-poor' });
    await notify(agentId);
    const result = await stack.run(agentId);
    expect(result.outcome).toBe('budget_exceeded');
    expect(result.error).toMatch(/daily token limit 500/);
    expect(requestsOf(agentId)).toHaveLength(0);
    expect(await unread(agentId)).toBe(1);
    await maybeRecordIn(stack, agentId, 'budget-exceeded');
  });

  it('ends with circuit_open after five failed activations, without calling the model', async () => {
    const agentId = await stack.addAgent('broken');
    for (let i = 0; i < 5; i++) await stack.guards.breaker.recordFailure(agentId);
    await notify(agentId);
    const result = await stack.run(agentId);
    expect(result.outcome).toBe('circuit_open');
    expect(result.error).toMatch(/circuit open after 5 consecutive failures/);
    expect(requestsOf(agentId)).toHaveLength(0);
    await maybeRecordIn(stack, agentId, 'circuit-open');
  });

  it('fails on a non-retryable provider error, leaves the notification unread and counts a breaker failure', async () => {
    const agentId = await stack.addAgent('rejected');
    stack.model.addFault({ kind: '400', count: 1, match: { system: agentId } });
    await notify(agentId);
    const result = await stack.run(agentId);
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatch(/LlmNonRetryableError/);
    expect(requestsOf(agentId)).toHaveLength(1);
    expect(await unread(agentId)).toBe(1);
    expect((await stack.guards.breaker.status(agentId)).failures).toBe(1);
    await maybeRecordIn(stack, agentId, 'failed');
  });

  it('retries a 429 after its retry-after (2 s), not at once and not at the default backoff', async () => {
    const agentId = await stack.addAgent('limited');
    stack.model.addFault({ kind: '429', count: 1, retryAfterSeconds: 2, match: { system: agentId } });
    await notify(agentId);
    const result = await stack.run(agentId);
    expect(result.outcome).toBe('succeeded');
    const [first, second] = requestsOf(agentId);
    expect(first?.status).toBe(429);
    const gap = Date.parse(second!.receivedAt) - Date.parse(first!.finishedAt!);
    expect(gap).toBeGreaterThanOrEqual(1900);
    expect(gap).toBeLessThan(3500);
    await maybeRecordIn(stack, agentId, 'retry-after');
  });

  it('handles a notification that arrives during the activation in the same run; 20 signals start one run', async () => {
    const agentId = await stack.addAgent('busy', { systemPrompt: 'You are busy.' });
    await notify(agentId);
    const first = await stack.activate(agentId);
    await eventually(() => requestsOf(agentId).length === 1, 20_000);
    await notify(agentId);
    const handles = await Promise.all(Array.from({ length: 20 }, () => stack.activate(agentId)));
    const result = await first.result();
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 2, commentsCreated: 2 });
    const runIds = new Set(handles.map((h) => h.signaledRunId));
    expect(runIds).toEqual(new Set([first.signaledRunId]));
    const runs = [];
    for await (const w of stack.client.workflow.list({ query: `BotburrowAgentId = "${agentId}"` }))
      runs.push(w);
    expect(runs).toHaveLength(1);
    expect(await unread(agentId)).toBe(0);
    await maybeRecordIn(stack, agentId, 'two-notifications');
  });

  it('keeps history small: 10 iterations of 100 KB tool output stay far below 256 KB per payload', async () => {
    const agentId = await stack.addAgent('big', {
      id: 'big-history',
      systemPrompt: 'You are big.',
      maxIterations: 11,
    });
    await notify(agentId);
    const result = await stack.run(agentId);
    expect(result, JSON.stringify(result)).toMatchObject({ outcome: 'iteration_cap', iterations: 11 });
    const history = await stack.client.workflow.getHandle(activationWorkflowId(agentId)).fetchHistory();
    const sizes = (history.events ?? []).map((e) => JSON.stringify(e).length);
    const total = sizes.reduce((a, b) => a + b, 0);
    const largest = Math.max(...sizes);
    console.log(`history: ${sizes.length} events, ${total} bytes in total, largest event ${largest} bytes`);
    expect(largest).toBeLessThan(256 * 1024);
    expect(largest).toBeLessThan(16 * 1024);
    // The model still saw the whole 100 KB thread in each tool result.
    const lastRequest = requestsOf(agentId).at(-1)!;
    expect(JSON.stringify(lastRequest.body).length).toBeGreaterThan(10 * 100_000);
    await maybeRecordIn(stack, agentId, 'large-tool-output');
  });
});

async function maybeRecordIn(stack: ActivationStack, agentId: string, name: string): Promise<void> {
  if (record)
    await exportHistory(
      stack.client,
      activationWorkflowId(agentId),
      path.join(historyDir, `activation-${name}.json`),
    );
}
