/**
 * One reply per handled notification, against a Hub that ignores `Idempotency-Key` (the simulator's
 * dedupe is off, as a real Hub's may be): a native `hub_post` retried after it posted, a post made
 * through the Hub MCP server followed by a text answer, and a final reply whose answer was lost.
 * Each ends with exactly one comment on the thread and the run counting it once.
 */
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import { exportHistory } from '../../scripts/export-history';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-once';

const postCall = (name: string, content: string) => ({
  toolCalls: [{ name, input: { post_id: POST_ID, content } }],
});

const script: Scenario = {
  name: 'exactly-once',
  rules: [
    // "native" agents reply with the native tool, then close with a text that is not a reply.
    {
      name: 'native-post',
      when: { system: 'native persona', turn: 1 },
      reply: postCall('hub_post', 'Native reply.'),
    },
    // "mcp" agents reply through the Hub MCP server, then the same.
    {
      name: 'mcp-post',
      when: { system: 'mcp persona', turn: 1 },
      reply: postCall('mcp_hub_hub_post', 'MCP reply.'),
    },
    // "texter" agents answer in text: the workflow posts it.
    { name: 'texter', when: { system: 'texter persona' }, reply: { text: 'Text reply.' } },
    { name: 'close', when: {}, reply: { text: 'I replied on the thread above.' } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

describe('exactly one reply, with a Hub that does not dedupe', () => {
  let stack: ActivationStack;

  beforeAll(async () => {
    stack = await startStack({
      script,
      hubDedupe: false,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Anyone?' }],
      },
      env: { BOTBURROW_WORKSPACE_ROOT: path.join(os.tmpdir(), `bb-once-ws-${process.pid}`) },
    });
    await stack.startRunner();
  });
  beforeEach(async () => {
    await stack.hub.admin.clearFaults();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const mention = async (agentId: string) =>
    (
      await stack.hub.admin.injectNotification({
        agent_id: agentId,
        type: 'mention',
        post_id: POST_ID,
        from_agent: { id: 'alice', name: 'Alice' },
        content: `@${agentId} anyone?`,
      })
    ).id;
  const commentsOf = async (agentId: string) =>
    (await stack.hub.admin.activity(agentId)).comments.map((c) => c.content);
  const isRead = async (agentId: string, id: string) =>
    (await stack.hub.admin.notifications(agentId)).find((n) => n.id === id)?.read;

  it('a native hub_post retried after its answer was lost: one reply, counted once, no final text posted', async () => {
    const id = await stack.addAgent('native', { systemPrompt: 'You are a native persona.' });
    const nid = await mention(id);
    await stack.hub.admin.addFault({
      endpoint: 'POST /api/v1/posts/{id}/comments',
      loseAnswer: true,
      count: 1,
    });
    const result = await stack.run(id);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    expect(await commentsOf(id)).toEqual(['Native reply.']);
    expect(await isRead(id, nid)).toBe(true);
  });

  it('a post through the Hub MCP server, then a text answer: one reply, counted', async () => {
    const id = await stack.addAgent('mcp', {
      systemPrompt: 'You are a mcp persona.',
      extra: { capabilities: { grants: ['hub:read', 'hub:write'], mcp_servers: ['hub'] } },
    });
    const nid = await mention(id);
    const result = await stack.run(id);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1, commentsCreated: 1 });
    expect(await commentsOf(id)).toEqual(['MCP reply.']);
    expect(await isRead(id, nid)).toBe(true);
    if (process.env.RECORD_HISTORIES === '1') {
      await exportHistory(
        stack.client,
        activationWorkflowId(id),
        path.resolve(__dirname, '../replay/histories/activation-hub-mcp-post.json'),
      );
    }
  });

  it('a Hub MCP post whose answer was lost is reconciled, not posted again', async () => {
    const id = await stack.addAgent('mcp', {
      systemPrompt: 'You are a mcp persona.',
      extra: { capabilities: { grants: ['hub:read', 'hub:write'], mcp_servers: ['hub'] } },
    });
    await mention(id);
    await stack.hub.admin.addFault({
      endpoint: 'POST /api/v1/posts/{id}/comments',
      loseAnswer: true,
      count: 1,
    });
    const result = await stack.run(id);
    expect(result).toMatchObject({ outcome: 'succeeded', commentsCreated: 1 });
    expect(await commentsOf(id)).toEqual(['MCP reply.']);
  });

  it("the workflow's final reply whose answer was lost: reconciled, one reply", async () => {
    const id = await stack.addAgent('texter', { systemPrompt: 'You are a texter persona.' });
    const nid = await mention(id);
    await stack.hub.admin.addFault({
      endpoint: 'POST /api/v1/posts/{id}/comments',
      loseAnswer: true,
      count: 1,
    });
    const result = await stack.run(id);
    expect(result).toMatchObject({ outcome: 'succeeded', commentsCreated: 1 });
    expect(await commentsOf(id)).toEqual(['Text reply.']);
    expect(await isRead(id, nid)).toBe(true);
  });

  it('a POST the Hub answered with 5xx is retried at once (after a look at the thread), not after the grace', async () => {
    const id = await stack.addAgent('native', { systemPrompt: 'You are a native persona.' });
    await mention(id);
    await stack.hub.admin.addFault({ endpoint: 'POST /api/v1/posts/{id}/comments', status: 503, count: 3 });
    const t0 = Date.now();
    const result = await stack.run(id);
    // Three answered failures and backoff: seconds, not three 45 s grace periods.
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(result).toMatchObject({ outcome: 'succeeded', commentsCreated: 1 });
    expect(await commentsOf(id)).toEqual(['Native reply.']);
  }, 60_000);
});
