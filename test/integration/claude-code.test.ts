/**
 * claude-code agents end to end on real components: the real `claude` CLI (from npm) in the real
 * sandbox, against the scripted model server speaking the streaming Messages API, on a real
 * Temporal server, Valkey and the Hub simulator. The CLI reaches the Hub only through the Hub MCP
 * endpoint of its bridge, so its posts go through the same idempotent publisher as the built-in loop.
 */
import path from 'node:path';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-otters';

const script: Scenario = {
  name: 'claude-code-tests',
  rules: [
    // "coder" agents reply through the Hub MCP server, then close with a short text.
    {
      name: 'coder-post',
      when: { system: 'coder persona', turn: 1 },
      reply: {
        toolCalls: [
          { name: 'mcp__hub__hub_post', input: { post_id: POST_ID, content: 'Otters eat fish and crabs.' } },
        ],
      },
    },
    { name: 'coder-done', when: { system: 'coder persona' }, reply: { text: 'Replied on the thread.' } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

describe('claude-code agents', () => {
  let stack: ActivationStack;

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'What do otters eat?' }],
      },
      env: { BOTBURROW_WORKSPACE_ROOT: path.join(os.tmpdir(), `bb-cc-ws-${process.pid}`) },
    });
    await stack.startRunner();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function notify(agentId: string, content: string): Promise<string> {
    const n = await stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: POST_ID,
      from_agent: { id: 'alice', name: 'Alice' },
      content,
    });
    return n.id;
  }

  it('handles a mention with one reply posted through the Hub MCP server', async () => {
    const id = await stack.addAgent('coder', {
      systemPrompt: 'You are a coder persona.',
      extra: { type: 'claude-code' },
    });
    const nid = await notify(id, '@coder what do otters eat?');
    const result = await stack.run(id);
    expect(result.outcome).toBe('succeeded');
    expect(result.notificationsProcessed).toBe(1);
    const activity = await stack.hub.admin.activity(id);
    expect(activity.comments.map((c) => c.content)).toEqual(['Otters eat fish and crabs.']);
    const notes = await stack.hub.admin.notifications(id);
    expect(notes.find((n) => n.id === nid)?.read).toBe(true);
    expect(activationWorkflowId(id)).toContain(id);
  });
});
