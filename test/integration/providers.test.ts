/**
 * brain.provider end to end on real components (Temporal dev server, Valkey, the Hub simulator, a
 * runner, and the real @anthropic-ai/sdk and openai SDKs against the scripted model server): one
 * scripted conversation (three tool calls, one Hub reply) through Anthropic, an OpenAI-compatible
 * server at the definition's api_base, and Google through Gemini's OpenAI-compatible path; the
 * runner's key and endpoint rules; Retry-After and malformed answers per provider; no key in the
 * history. With RECORD_HISTORIES=1 the histories of the new paths go to test/replay/histories/.
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import type { RecordedRequest } from '../../dev/model-server/server';
import { activationWorkflowId } from '../../lib/contract';
import { costUsd, lookupPrice } from '../../lib/pricing';
import type { ModelProvider } from '../../lib/pricing';
import { exportHistory } from '../../scripts/export-history';
import { eventually } from '../support/env';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-otters';
const REPLY = 'Otters hold paws so they do not drift apart.';

const script: Scenario = {
  name: 'providers',
  vars: { post_id: { from: 'first_user', pattern: 'post id ([\\w-]+)' } },
  rules: [
    // After a refused tool call (invalid arguments), the model tries the reply again.
    {
      name: 'repost',
      when: { toolError: true },
      reply: { toolCalls: [{ name: 'hub_post', input: { post_id: '{{post_id}}', content: REPLY } }] },
    },
    {
      name: 'search',
      when: { turn: 1, user: '^\\[Notification' },
      reply: { toolCalls: [{ name: 'hub_search', input: { query: 'otters sleeping', limit: 3 } }] },
    },
    {
      name: 'thread',
      when: { toolName: 'hub_search' },
      reply: { toolCalls: [{ name: 'hub_get_thread', input: { post_id: '{{post_id}}' } }] },
    },
    {
      name: 'reply-mangled',
      when: { toolName: 'hub_get_thread', system: 'You mangle arguments' },
      reply: {
        toolCalls: [{ name: 'hub_post', input: { post_id: '{{post_id}}', content: REPLY } }],
        fault: { kind: 'invalid_tool_json' },
      },
    },
    {
      name: 'reply',
      when: { toolName: 'hub_get_thread' },
      reply: { toolCalls: [{ name: 'hub_post', input: { post_id: '{{post_id}}', content: REPLY } }] },
    },
    { name: 'done', when: { toolName: 'hub_post' }, reply: { text: 'Replied on the Hub.' } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

const secret = (prefix: string): string => `${prefix}${randomBytes(12).toString('hex')}`;
const KEYS = {
  anthropic: secret('sk-ant-prov-'),
  openai: secret('sk-openai-prov-'),
  google: secret('gemini-prov-'),
};

/** Each provider's brain (beyond the model server's URL) and the path its requests take. */
interface ProviderCase {
  provider: ModelProvider;
  model: string;
  path: string;
  brain: (modelUrl: string) => Record<string, unknown>;
}
const CASES: ProviderCase[] = [
  { provider: 'anthropic', model: 'claude-sonnet-4', path: '/v1/messages', brain: () => ({}) },
  {
    provider: 'openai',
    model: 'gpt-4o-mini',
    path: '/v1/chat/completions',
    // No runner override for openai: the definition's api_base (a loopback host) is used.
    brain: (url) => ({ api_base: `${url}/v1`, api_key_env: 'OPENAI_API_KEY' }),
  },
  {
    provider: 'google',
    model: 'gemini-2.5-flash',
    path: '/v1beta/openai/chat/completions',
    brain: () => ({ api_key_env: 'GEMINI_API_KEY' }),
  },
];

const record = process.env.RECORD_HISTORIES === '1';
const historyDir = path.resolve(__dirname, '../replay/histories');

/** Every string in a history, with payload bytes decoded (they are JSON, base64 on the wire). */
function decodeAll(value: unknown, out: string[] = []): string[] {
  if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) decodeAll(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) decodeAll(v, out);
  return out;
}

/** Usage a recorded answer reported, in either dialect. */
function usageOf(r: RecordedRequest): { input: number; output: number } {
  const u = (r.response as { usage?: Record<string, number> } | null)?.usage ?? {};
  return {
    input: u.input_tokens ?? u.prompt_tokens ?? 0,
    output: u.output_tokens ?? u.completion_tokens ?? 0,
  };
}

describe('model providers (brain.provider, api_base, api_key_env, temperature)', () => {
  let stack: ActivationStack;

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [
          {
            id: POST_ID,
            author: { id: 'alice', name: 'Alice' },
            title: 'Sleeping otters',
            content: 'Do otters hold hands?',
          },
        ],
      },
      modelApiKeys: Object.values(KEYS),
      env: {
        ANTHROPIC_API_KEY: KEYS.anthropic,
        OPENAI_API_KEY: KEYS.openai,
        GEMINI_API_KEY: KEYS.google,
        // On the list but not set on this runner.
        BOTBURROW_MODEL_KEY_ENVS: 'ANTHROPIC_API_KEY,OPENAI_API_KEY,GEMINI_API_KEY,LOCAL_LLM_KEY',
      },
    });
    // Google goes through the runner's override (GEMINI_BASE_URL), as a local run points it.
    await stack.startRunner({ geminiBaseUrl: `${stack.model.url}/v1beta/openai` });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function agent(
    prefix: string,
    brain: Record<string, unknown>,
    temperature = 0.2,
    systemPrompt?: string,
  ): Promise<string> {
    const id = await stack.addAgent(prefix, {
      maxIterations: 6,
      ...(systemPrompt !== undefined && { systemPrompt }),
      extra: { brain: { max_tokens: 1000, temperature, ...brain } },
    });
    await stack.hub.admin.injectNotification({
      agent_id: id,
      type: 'mention',
      post_id: POST_ID,
      from_agent: { id: 'alice', name: 'Alice' },
      content: 'Do otters really hold hands when they sleep?',
    });
    return id;
  }
  const brainOf = (c: ProviderCase): Record<string, unknown> => ({
    provider: c.provider,
    model: c.model,
    ...c.brain(stack.model.url),
  });
  const requestsOf = (agentId: string): RecordedRequest[] =>
    stack.model.requests().filter((r) => JSON.stringify(r.body).includes(agentId));
  const comments = async (agentId: string): Promise<string[]> =>
    (await stack.hub.admin.activity(agentId)).comments.map((c) => c.content);
  const unread = async (agentId: string): Promise<number> =>
    (await stack.hub.admin.notifications(agentId)).filter((n) => !n.read).length;
  async function historyText(agentId: string): Promise<string> {
    const history = await stack.client.workflow.getHandle(activationWorkflowId(agentId)).fetchHistory();
    return decodeAll(history).join('\n');
  }
  async function maybeRecord(agentId: string, name: string): Promise<void> {
    if (record) {
      await exportHistory(
        stack.client,
        activationWorkflowId(agentId),
        path.join(historyDir, `activation-provider-${name}.json`),
      );
    }
  }

  it.each(CASES)(
    '$provider: the same conversation (three tool calls, one Hub reply), usage and cost recorded',
    async (c) => {
      const agentId = await agent(`p-${c.provider}`, brainOf(c));
      const result = await stack.run(agentId);
      expect(result).toMatchObject({
        outcome: 'succeeded',
        notificationsProcessed: 1,
        commentsCreated: 1,
        postsCreated: 0,
        iterations: 4,
      });
      expect(await comments(agentId)).toEqual([REPLY]);
      expect(await unread(agentId)).toBe(0);

      const requests = requestsOf(agentId);
      expect(requests.map((r) => [r.path, r.status, r.rule])).toEqual([
        [c.path, 200, 'search'],
        [c.path, 200, 'thread'],
        [c.path, 200, 'reply'],
        [c.path, 200, 'done'],
      ]);
      for (const r of requests) expect((r.body as { model: string }).model).toBe(c.model);
      // temperature where the provider takes it; Anthropic's API version refuses it.
      const temperatures = requests.map((r) => (r.body as { temperature?: number }).temperature);
      expect(temperatures).toEqual(requests.map(() => (c.provider === 'anthropic' ? undefined : 0.2)));
      const maxTokens = requests.map((r) => {
        const b = r.body as Record<string, unknown>;
        return b.max_tokens ?? b.max_completion_tokens;
      });
      expect(maxTokens).toEqual([1000, 1000, 1000, 1000]);

      // Usage as the provider reported it; cost from that provider's price of the model.
      const input = requests.reduce((n, r) => n + usageOf(r).input, 0);
      const output = requests.reduce((n, r) => n + usageOf(r).output, 0);
      expect(input).toBeGreaterThan(0);
      expect(result.tokensInput).toBe(input);
      expect(result.tokensOutput).toBe(output);
      const expected = costUsd(
        c.model,
        { inputTokens: input, outputTokens: output },
        {},
        { provider: c.provider },
      );
      // Within a micro-dollar per model call (results and reports carry whole micro-dollars).
      const tolerance = requests.length * 1e-6;
      expect(Math.abs(result.costUsd - expected)).toBeLessThanOrEqual(tolerance);
      // Priced from the provider's own table, not by the unknown-model default.
      expect(lookupPrice(c.model, {}, { provider: c.provider }).source).toBe('built-in');
      const consumption = await stack.hub.admin.consumption(agentId);
      expect(consumption).toHaveLength(1);
      expect(consumption[0]).toMatchObject({ tokens_input: input, tokens_output: output });
      expect(Math.abs(consumption[0]!.cost_usd - expected)).toBeLessThanOrEqual(tolerance);

      // The whole history (payloads decoded) holds no key, only the variable's name at most.
      const text = await historyText(agentId);
      for (const key of Object.values(KEYS)) expect(text).not.toContain(key);
      await maybeRecord(agentId, `${c.provider}-succeeded`);
    },
  );

  it('refuses a key variable that is not on the runner list (TEMPORAL_API_KEY), naming it; nothing is called', async () => {
    const agentId = await agent('p-badenv', {
      provider: 'openai',
      model: 'gpt-4o-mini',
      api_base: `${stack.model.url}/v1`,
      api_key_env: 'TEMPORAL_API_KEY',
    });
    const result = await stack.run(agentId);
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatch(/LlmNonRetryableError/);
    expect(result.error).toMatch(
      /brain\.api_key_env TEMPORAL_API_KEY is not a model key variable this runner allows/,
    );
    expect(requestsOf(agentId)).toHaveLength(0);
    expect(await comments(agentId)).toEqual([]);
    expect(await unread(agentId)).toBe(1);
    await maybeRecord(agentId, 'key-refused');
  });

  it('refuses an api_base host that is not allowed, naming it; nothing is called', async () => {
    const agentId = await agent('p-badhost', {
      provider: 'openai',
      model: 'gpt-4o-mini',
      api_base: 'https://models.attacker.example/v1',
      api_key_env: 'OPENAI_API_KEY',
    });
    const result = await stack.run(agentId);
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatch(/LlmNonRetryableError/);
    expect(result.error).toMatch(/host models\.attacker\.example is not on this runner's allow-list/);
    expect(requestsOf(agentId)).toHaveLength(0);
    expect(await comments(agentId)).toEqual([]);
  });

  it('fails clearly when the key variable is allowed but not set on the runner', async () => {
    const agentId = await agent('p-nokey', {
      provider: 'local',
      model: 'llama-3.1-8b',
      api_base: `${stack.model.url}/v1`,
      api_key_env: 'LOCAL_LLM_KEY',
    });
    const result = await stack.run(agentId);
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatch(/LlmNonRetryableError/);
    expect(result.error).toMatch(/brain\.api_key_env LOCAL_LLM_KEY is not set on this runner/);
    expect(requestsOf(agentId)).toHaveLength(0);
    expect(await comments(agentId)).toEqual([]);
  });

  it.each(CASES)('$provider: a 429 is retried after its Retry-After (2 s)', async (c) => {
    const agentId = await agent(`p-429-${c.provider}`, brainOf(c));
    stack.model.addFault({ kind: '429', count: 1, retryAfterSeconds: 2, match: { system: agentId } });
    const result = await stack.run(agentId);
    expect(result.outcome).toBe('succeeded');
    expect(await comments(agentId)).toEqual([REPLY]);
    const [first, second] = requestsOf(agentId);
    expect([first?.path, first?.status]).toEqual([c.path, 429]);
    const gap = Date.parse(second!.receivedAt) - Date.parse(first!.finishedAt!);
    expect(gap).toBeGreaterThanOrEqual(1900);
    expect(gap).toBeLessThan(3500);
    if (c.provider !== 'anthropic') await maybeRecord(agentId, `${c.provider}-retry-after`);
  });

  it.each([
    { c: CASES[1]!, variant: 'invalid_json' as const, rule: /not valid JSON/ },
    { c: CASES[2]!, variant: 'missing_fields' as const, rule: /choices: expected a non-empty array/ },
    { c: CASES[0]!, variant: 'missing_fields' as const, rule: /content: expected an array/ },
  ])(
    '$c.provider: a malformed answer ($variant) is a clear failure and nothing is posted',
    async ({ c, variant, rule }) => {
      const agentId = await agent(`p-bad-${c.provider}`, brainOf(c));
      stack.model.addFault({ kind: 'malformed', variant, count: 100, match: { system: agentId } });
      const handle = await stack.activate(agentId);
      // Retried (malformed answers are retryable), each attempt failing with the reason.
      await eventually(() => requestsOf(agentId).filter((r) => r.fault === 'malformed').length >= 2, 20_000);
      let failure:
        { message?: string | null; applicationFailureInfo?: { type?: string | null } | null } | undefined;
      await eventually(async () => {
        const desc = await handle.describe();
        failure = desc.raw.pendingActivities?.[0]?.lastFailure ?? undefined;
        return failure?.message !== undefined;
      }, 10_000);
      expect(failure?.applicationFailureInfo?.type).toBe('LlmMalformedResponseError');
      expect(failure?.message).toMatch(rule);
      await handle.signal('cancel', { reason: 'malformed test' });
      const result = await handle.result();
      expect(result.outcome).toBe('cancelled');
      expect(result.commentsCreated).toBe(0);
      expect(await comments(agentId)).toEqual([]);
      expect(await unread(agentId)).toBe(1);
    },
  );

  it('openai: tool arguments that are not JSON are refused to the model, which then replies once', async () => {
    const agentId = await agent('p-badargs', brainOf(CASES[1]!), 0.2, 'You mangle arguments.');
    const result = await stack.run(agentId);
    expect(result).toMatchObject({ outcome: 'succeeded', commentsCreated: 1, iterations: 5 });
    expect(await comments(agentId)).toEqual([REPLY]);
    const requests = requestsOf(agentId);
    expect(requests.map((r) => r.rule)).toEqual(['search', 'thread', 'reply-mangled', 'repost', 'done']);
    // The refused call went back as a marked tool message answering its tool_call_id.
    const body = requests[3]!.body as {
      messages: { role: string; content: string; tool_call_id?: string; tool_calls?: { id: string }[] }[];
    };
    const [call, answer] = body.messages.slice(-2);
    expect(answer?.role).toBe('tool');
    expect(answer?.tool_call_id).toBe(call?.tool_calls?.[0]?.id);
    expect(answer?.content).toMatch(/^\[tool error\] .*not valid JSON/);
  });
});
