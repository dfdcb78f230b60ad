/**
 * A run keeps the definition it started with: `prepareActivation` pins it, and every later step of
 * the run (here the native `hub_post` tool, which checks the agent's grants) reads the pinned
 * version, even after the definition was changed and the cache invalidated mid-run. The next run
 * sees the change. Real Temporal, Valkey, Hub simulator and model server; an in-process runner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAgentDefinition } from '../../dev/agent-files';
import type { Scenario } from '../../dev/model-server/scenario';
import { AgentRegistry, createDefinitionStore } from '../../lib/definitions';
import { createLogger } from '../../lib/logger';
import { startStack } from '../support/stack';
import type { ActivationStack } from '../support/stack';
import { waitUntil } from './coordinator-support';

const POST_ID = 'p-pin';

const script: Scenario = {
  name: 'definition-pinning',
  vars: { post_id: { from: 'first_user', pattern: 'post id ([\\w-]+)' } },
  rules: [
    {
      name: 'post-slowly',
      when: { turn: 1 },
      reply: {
        toolCalls: [{ name: 'hub_post', input: { post_id: '{{post_id}}', content: 'pinned reply' } }],
        delayMs: 2500,
      },
    },
    { name: 'done', when: {}, reply: { text: 'NO_RESPONSE_NEEDED' } },
  ],
};

describe('definition pinned for the run', () => {
  let stack: ActivationStack;

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: { agents: [], posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Pin?' }] },
    });
    await stack.startRunner();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a definition change cannot land mid-run; the next run sees it', async () => {
    const agentId = await stack.addAgent('pin');
    const registry = new AgentRegistry({
      store: createDefinitionStore(stack.settings),
      redis: stack.redis,
      keys: stack.keys,
      logger: createLogger('pin-test', 'silent'),
    });
    await stack.hub.admin.injectNotification({ agent_id: agentId, post_id: POST_ID, content: 'pin?' });
    const first = stack.run(agentId);
    // While the run's first model call is in flight: take hub:write away and drop the cache.
    await waitUntil('the model call in flight', () => stack.model.stats().inFlight > 0, 20_000, 20);
    writeAgentDefinition(stack.definitionsDir, agentId, {
      config: { capabilities: { grants: ['hub:read'] }, behavior: { max_iterations: 5 } },
      systemPrompt: `You are a test persona. Your id is ${agentId}.`,
    });
    expect(await registry.invalidate(agentId)).toBe(1);
    expect((await registry.get(agentId)).config.capabilities.grants).toEqual(['hub:read']);

    const r1 = await first;
    expect(r1.outcome).toBe('succeeded');
    const after1 = await stack.hub.admin.activity(agentId);
    expect(after1.comments.map((c) => c.content)).toEqual(['pinned reply']);
    expect(r1.commentsCreated).toBe(1);

    // The next run starts with the new definition: hub_post is no longer granted.
    await stack.hub.admin.injectNotification({ agent_id: agentId, post_id: POST_ID, content: 'again?' });
    const r2 = await stack.run(agentId);
    expect(r2.outcome).toBe('succeeded');
    expect(r2.commentsCreated).toBe(0);
    expect((await stack.hub.admin.activity(agentId)).comments).toHaveLength(1);
  }, 60_000);
});
