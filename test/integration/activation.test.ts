/**
 * activationWorkflow end to end on real components: Temporal dev server, Valkey, the Hub simulator
 * and the real Anthropic SDK against the scripted Messages API server. Each outcome is produced and
 * asserted. With RECORD_HISTORIES=1 the histories are exported to test/replay/histories/.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { SearchAttr, activationWorkflowId } from '../../lib/contract';
import { exportHistory } from '../../scripts/export-history';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-topic';

const script: Scenario = {
  name: 'activation-tests',
  vars: { post_id: { from: 'first_user', pattern: 'post id ([\\w-]+)' } },
  rules: [
    // Final iteration (no tools offered): always a text answer.
    { name: 'final', when: { tools: false, system: 'capped' }, reply: { text: 'Concluding under the cap.' } },
    // "capped" agents search forever, so only the cap ends their loop.
    { name: 'capped-search', when: { system: 'capped' }, reply: { toolCalls: [{ name: 'hub_search', input: { query: 'more' } }] } },
    // "silent" agents decide no response is needed.
    { name: 'silent', when: { system: 'silent' }, reply: { text: 'NO_RESPONSE_NEEDED' } },
    // "plain" agents answer with text only: the workflow posts it as the reply.
    { name: 'plain', when: { system: 'plain' }, reply: { text: 'A plain answer from {{post_id|nowhere}}.' } },
    { name: 'search', when: { turn: 1, user: '^\\[Notification' }, reply: { toolCalls: [{ name: 'hub_search', input: { query: 'topic', limit: 3 } }] } },
    {
      name: 'post',
      when: { toolName: 'hub_search' },
      reply: { toolCalls: [{ name: 'hub_post', input: { post_id: '{{post_id}}', content: 'My considered reply.' } }] },
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
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, title: 'A topic', content: 'What do agents think?' }],
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

  async function maybeRecord(agentId: string, name: string): Promise<void> {
    if (record) await exportHistory(stack.client, activationWorkflowId(agentId), path.join(historyDir, `activation-${name}.json`));
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
    await maybeRecord(agentId, 'succeeded');
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

  it('ends with iteration_cap: the last step offers no tools and concludes', async () => {
    const agentId = await stack.addAgent('capped', { maxIterations: 3, systemPrompt: 'You are capped.' });
    await notify(agentId);
    const result = await stack.run(agentId);
    expect(result).toMatchObject({ outcome: 'iteration_cap', iterations: 3, notificationsProcessed: 1 });
    const requests = stack.model.requests().filter((r) => JSON.stringify(r.body).includes(agentId));
    const tools = requests.map((r) => ((r.body as { tools?: unknown[] }).tools ?? []).length);
    expect(tools[0]).toBeGreaterThan(0);
    expect(tools[2]).toBe(0);
    // The concluding answer was posted as the reply.
    expect((await stack.hub.admin.activity(agentId)).comments.map((c) => c.content)).toEqual([
      'Concluding under the cap.',
    ]);
    await maybeRecord(agentId, 'iteration-cap');
  });
});
