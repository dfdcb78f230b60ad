/**
 * Activation correctness under faults, on real components: persistent errors fail fast with their
 * message instead of retrying forever, a stuck finish cannot keep a run open, Temporal's cancel
 * ends a run as Canceled, an exploration handles a mention that arrives meanwhile, the runner's
 * iteration setting is a real fallback, a long reply is posted whole, and a Hub that ignores
 * `limit` cannot flood the run's history.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import { exportHistory } from '../../scripts/export-history';
import type { ActivationStatus } from '../../workflows/activation';
import { eventually } from '../support/env';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-faults';
const LONG = `${'All about otters. '.repeat(600)}The end.`; // 10 808 characters

const script: Scenario = {
  name: 'activation-faults',
  rules: [
    { name: 'slow', when: { system: 'slow persona' }, reply: { text: 'Finally.', delayMs: 30_000 } },
    {
      name: 'looper',
      when: { system: 'looper persona' },
      reply: { toolCalls: [{ name: 'hub_search', input: { query: 'otters' } }] },
    },
    { name: 'long', when: { system: 'long persona' }, reply: { text: LONG } },
    // Explorers think a while on their first turn: long enough for a mention to arrive.
    {
      name: 'explore-slow',
      when: { system: 'explorer persona', user: 'You are exploring the Hub' },
      reply: { text: 'Nothing to add.', delayMs: 2_000 },
    },
    { name: 'explorer-reply', when: { system: 'explorer persona' }, reply: { text: 'Hello Alice!' } },
    { name: 'reply', when: { system: 'plain persona' }, reply: { text: 'A plain reply.' } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

describe('activation under faults', () => {
  let stack: ActivationStack;

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Otters?' }],
      },
    });
    await stack.startRunner({ maxIterations: 3 });
  });
  beforeEach(async () => {
    await stack.hub.admin.clearFaults();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const mention = async (agentId: string, type = 'mention') =>
    (
      await stack.hub.admin.injectNotification({
        agent_id: agentId,
        type,
        post_id: POST_ID,
        from_agent: { id: 'alice', name: 'Alice' },
        content: `@${agentId} otters?`,
      })
    ).id;
  const isRead = async (agentId: string, id: string) =>
    (await stack.hub.admin.notifications(agentId)).find((n) => n.id === id)?.read;
  const commentsOf = async (agentId: string) =>
    (await stack.hub.admin.activity(agentId)).comments.map((c) => c.content);
  const configFile = (id: string) => path.join(stack.definitionsDir, 'agents', id, 'config.yaml');
  const maybeRecord = async (id: string, name: string) => {
    if (process.env.RECORD_HISTORIES !== '1') return;
    const file = path.resolve(__dirname, `../replay/histories/activation-${name}.json`);
    await exportHistory(stack.client, activationWorkflowId(id), file);
  };
  const describeStatus = async (id: string) =>
    (await stack.client.workflow.getHandle(activationWorkflowId(id)).describe()).status.name;

  it('a definition with a YAML alias bomb fails at once with the reason, not retried forever', async () => {
    const id = await stack.addAgent('bomb');
    const rows = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [n, prev] of [
      ['b', 'a'],
      ['c', 'b'],
      ['d', 'c'],
      ['e', 'd'],
      ['f', 'e'],
    ] as const) {
      rows.push(`${n}: &${n} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    fs.writeFileSync(configFile(id), `name: ${id}\ntype: native\nbrain: { model: m }\n${rows.join('\n')}\n`);
    const nid = await mention(id);
    const t0 = Date.now();
    const result = await stack.run(id);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatch(
      /agents\/bomb-\w+\/config\.yaml: YAML: cannot be read: Excessive alias count/,
    );
    expect(await isRead(id, nid)).toBe(false);
  });

  it('a Hub 4xx on the notifications read fails the run at once with the answer', async () => {
    const id = await stack.addAgent('plain', { systemPrompt: 'You are a plain persona.' });
    await mention(id);
    await stack.hub.admin.addFault({
      endpoint: 'GET /api/v1/notifications',
      status: 400,
      body: { error: 'bad agent' },
    });
    const t0 = Date.now();
    const result = await stack.run(id);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatch(/HubClientError: .*notifications.*HTTP 400/);
  });

  it('a malformed notifications answer fails the run at once, naming the field, and marks nothing read', async () => {
    const id = await stack.addAgent('plain', { systemPrompt: 'You are a plain persona.' });
    const nid = await mention(id);
    await stack.hub.admin.addFault({
      endpoint: 'GET /api/v1/notifications',
      malformed: { set: { 'notifications.0.created_at': 42 } },
    });
    const t0 = Date.now();
    const result = await stack.run(id);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatch(/PayloadError: .*notifications\[0\]\.created_at/);
    await stack.hub.admin.clearFaults();
    expect(await isRead(id, nid)).toBe(false);
    expect(await commentsOf(id)).toEqual([]);
  });

  it('markActivated answering 404 does not keep a finished run open', async () => {
    const id = await stack.addAgent('plain', { systemPrompt: 'You are a plain persona.' });
    const nid = await mention(id);
    await stack.hub.admin.addFault({ endpoint: 'POST /api/v1/agents/{id}/activated', status: 404 });
    const result = await stack.run(id);
    expect(result.outcome).toBe('succeeded');
    expect(await commentsOf(id)).toEqual(['A plain reply.']);
    expect(await isRead(id, nid)).toBe(true);
  });

  it('a cancel ends the run within 10 s even when the Hub keeps failing its finish', async () => {
    const id = await stack.addAgent('slow', { systemPrompt: 'You are a slow persona.' });
    await mention(id);
    const handle = await stack.activate(id);
    await eventually(async () => (await handle.query<ActivationStatus>('status')).iteration >= 1, 10_000);
    await stack.hub.admin.addFault({ endpoint: 'POST /api/v1/agents/{id}/activated', status: 503 });
    const t0 = Date.now();
    await handle.signal('cancel', { reason: 'test' });
    const result = await handle.result();
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(result.outcome).toBe('cancelled');
  }, 40_000);

  it("Temporal's own cancel ends the run as Canceled, after its bookkeeping", async () => {
    const id = await stack.addAgent('slow', { systemPrompt: 'You are a slow persona.' });
    const nid = await mention(id);
    const handle = await stack.activate(id);
    await eventually(async () => (await handle.query<ActivationStatus>('status')).iteration >= 1, 10_000);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow(/cancel/i);
    expect(await describeStatus(id)).toBe('CANCELLED');
    expect(await isRead(id, nid)).toBe(false);
    expect((await stack.guards.breaker.status(id)).failures).toBe(0);
    // The finish ran before the cancel was re-raised: the Hub has the activated mark.
    const agent = (await stack.hub.admin.state()).agents.find((a) => a.id === id || a.name === id);
    expect(agent?.last_activated_at).toBeTruthy();
    await maybeRecord(id, 'temporal-cancel');
  });

  it('an exploration handles a mention that arrives meanwhile before it ends', async () => {
    const id = await stack.addAgent('explorer', { systemPrompt: 'You are an explorer persona.' });
    const handle = await stack.activate(id, 'exploration');
    await eventually(async () => (await handle.query<ActivationStatus>('status')).iteration >= 1, 10_000);
    const nid = await mention(id);
    // As the coordinator does: signal-with-start reaches the running exploration.
    await stack.activate(id, 'notification');
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'succeeded', trigger: 'exploration', notificationsProcessed: 1 });
    expect(await commentsOf(id)).toEqual(['Hello Alice!']);
    expect(await isRead(id, nid)).toBe(true);
    await maybeRecord(id, 'exploration-inbox');
  });

  it("without behavior.max_iterations, the runner's BOTBURROW_MAX_ITERATIONS is the cap", async () => {
    const id = await stack.addAgent('looper', { systemPrompt: 'You are a looper persona.' });
    const doc = YAML.parse(fs.readFileSync(configFile(id), 'utf8')) as { behavior: Record<string, unknown> };
    delete doc.behavior.max_iterations;
    fs.writeFileSync(configFile(id), YAML.stringify(doc));
    await mention(id);
    const result = await stack.run(id);
    // The runner of this file runs with maxIterations 3; the schema's own default would be 10.
    expect(result).toMatchObject({ outcome: 'iteration_cap', iterations: 3 });
  });

  it('a 10 kB reply is posted whole', async () => {
    const id = await stack.addAgent('long', { systemPrompt: 'You are a long persona.', maxTokens: 8000 });
    await mention(id);
    const result = await stack.run(id);
    expect(result).toMatchObject({ outcome: 'succeeded', commentsCreated: 1 });
    const [comment] = await commentsOf(id);
    expect(comment).toHaveLength(LONG.length);
    expect(comment).toBe(LONG);
  });

  it('a Hub answering 10 000 notifications (ignoring limit) cannot flood the history', async () => {
    // Mentions it does not answer: each is acknowledged without a model call.
    const id = await stack.addAgent('plain', {
      systemPrompt: 'You are a plain persona.',
      extra: { behavior: { respond_to_mentions: false } },
    });
    const now = Date.now();
    const notifications = Array.from({ length: 10_000 }, (_, i) => ({
      id: `flood-${id}-${i}`,
      type: 'mention',
      post_id: POST_ID,
      from_agent: { id: 'alice', name: 'Alice' },
      content: `like number ${i} ${'x'.repeat(200)}`,
      created_at: new Date(now + i).toISOString(),
      read: false,
    }));
    await stack.hub.admin.addFault({
      endpoint: 'GET /api/v1/notifications',
      status: 200,
      body: { notifications },
      count: 1,
    });
    const handle = await stack.activate(id);
    const result = await handle.result();
    expect(result, JSON.stringify(result)).toMatchObject({
      outcome: 'succeeded',
      notificationsProcessed: 50,
    });
    const history = await handle.fetchHistory();
    expect(JSON.stringify(history).length).toBeLessThan(1_000_000);
  });
});
