/**
 * Model keys through a real runner process (workers/runner.ts, keys in its own environment): an
 * OpenAI-compatible activation succeeds with the key the model server requires, a Gemini key the
 * provider refuses (401) fails non-retryably, and neither key appears in the runner's log, the
 * decoded workflow histories or the failure; the runner says once at start that Anthropic is not
 * sent `temperature`.
 */
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import { buildWorkflowBundle } from '../../scripts/build-bundle';
import type { TestProcess } from '../support/processes';
import { startRunnerProcess } from '../support/processes';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const OPENAI_KEY = `sk-proc-${randomBytes(12).toString('hex')}`;
const WRONG_GEMINI_KEY = `gemini-wrong-${randomBytes(12).toString('hex')}`;

const script: Scenario = {
  name: 'providers-process',
  vars: { post_id: { from: 'first_user', pattern: 'post id ([\\w-]+)' } },
  rules: [
    {
      name: 'reply',
      when: { turn: 1 },
      reply: {
        toolCalls: [{ name: 'hub_post', input: { post_id: '{{post_id}}', content: 'From a process.' } }],
      },
    },
    { name: 'done', when: { toolName: 'hub_post' }, reply: { text: 'Done.' } },
  ],
};

function decodeAll(value: unknown, out: string[] = []): string[] {
  if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) decodeAll(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) decodeAll(v, out);
  return out;
}

describe('model keys in a runner process', () => {
  let stack: ActivationStack;
  let runner: TestProcess | undefined;
  const bundlePath = path.join(os.tmpdir(), `bb-bundle-providers-${process.pid}.js`);

  beforeAll(async () => {
    await buildWorkflowBundle(bundlePath);
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: 'p-proc', author: { id: 'alice', name: 'Alice' }, content: 'Hello?' }],
      },
      // The model server takes the OpenAI key only: the Gemini one is refused with 401.
      modelApiKeys: [OPENAI_KEY],
      env: { BOTBURROW_WORKFLOW_BUNDLE: bundlePath },
    });
    runner = await startRunnerProcess({
      ...stack.env,
      OPENAI_API_KEY: OPENAI_KEY,
      GEMINI_API_KEY: WRONG_GEMINI_KEY,
      GEMINI_BASE_URL: `${stack.model.url}/v1beta/openai`,
    });
  });
  afterAll(async () => {
    runner?.signal('SIGKILL');
    await runner?.exited;
    await stack?.stop();
    await rm(bundlePath, { force: true });
  });

  async function activate(prefix: string, brain: Record<string, unknown>) {
    const id = await stack.addAgent(prefix, { extra: { brain: { max_tokens: 500, ...brain } } });
    await stack.hub.admin.injectNotification({
      agent_id: id,
      type: 'mention',
      post_id: 'p-proc',
      from_agent: { id: 'alice', name: 'Alice' },
      content: 'What do you say?',
    });
    return { id, result: await stack.run(id) };
  }

  it('uses the key from its own environment, fails a refused key clearly, and logs no key', async () => {
    const ok = await activate('proc-openai', {
      provider: 'openai',
      model: 'gpt-4o-mini',
      api_base: `${stack.model.url}/v1`,
    });
    expect(ok.result).toMatchObject({ outcome: 'succeeded', commentsCreated: 1 });

    const refused = await activate('proc-gemini', { provider: 'google', model: 'gemini-2.5-flash' });
    expect(refused.result.outcome).toBe('failed');
    expect(refused.result.error).toMatch(/LlmNonRetryableError/);
    expect(refused.result.error).toMatch(/401/);
    expect((await stack.hub.admin.activity(refused.id)).comments).toEqual([]);
    const statuses = stack.model
      .requests()
      .filter((r) => JSON.stringify(r.body).includes(refused.id))
      .map((r) => [r.path, r.status]);
    expect(statuses).toEqual([['/v1beta/openai/chat/completions', 401]]);

    const log = runner!.output();
    expect(log).toContain('"msg":"runner started"');
    expect(log.match(/not to anthropic: Messages API version 2026-10-21 refuses temperature/g)).toHaveLength(
      1,
    );
    const histories = await Promise.all(
      [ok.id, refused.id].map(async (id) =>
        decodeAll(await stack.client.workflow.getHandle(activationWorkflowId(id)).fetchHistory()).join('\n'),
      ),
    );
    for (const text of [log, ...histories, JSON.stringify(refused.result)]) {
      expect(text).not.toContain(OPENAI_KEY);
      expect(text).not.toContain(WRONG_GEMINI_KEY);
    }
  });
});
