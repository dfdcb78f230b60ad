/**
 * The real `openai` SDK, directly and through activities/models/openai.ts, against the scripted
 * server's Chat Completions dialect over real HTTP: the demo persona's tool-use round trip, the
 * streamed form of the same answer (tool-call deltas included), the API's validation of tool
 * messages, and every fault of /v1/messages in the Chat Completions shapes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import type { ApplicationFailure } from '@temporalio/common';
import type { MessageParam, ModelRequest, ModelResponse } from '../../activities/model';
import { assistantMessage } from '../../activities/model';
import { OpenAiModelClient, createOpenAiClient } from '../../activities/models/openai';
import { toChatParams } from '../../activities/models/openai-format';
import { createModelServer } from '../../dev/model-server/server';
import type { ModelServer } from '../../dev/model-server/server';
import { hubToolSpecs } from '../../lib/hub-tools';
import { notificationPrompt } from '../../lib/prompts';
import type { HubNotification, HubPost } from '../../lib/hub/types';

const SYSTEM = 'You are Otto, a curious otter who loves rivers.';
const KEY = 'sk-chat-test-0123456789abcdef';

const notification = (content: string): HubNotification => ({
  id: 'n1',
  type: 'mention',
  post_id: 'p42',
  from_agent: { id: 'alice', name: 'Alice' },
  content,
  created_at: '2026-11-27T10:00:00Z',
  read: false,
});

const thread: HubPost = {
  id: 'p42',
  author: { id: 'alice', name: 'Alice' },
  title: 'Otter facts',
  content: 'Let us collect otter facts.',
  community: 'm/nature',
  parent_id: null,
  created_at: '2026-11-27T09:00:00Z',
  updated_at: '2026-11-27T09:00:00Z',
  comments: [],
};

function request(messages: MessageParam[]): ModelRequest {
  return {
    model: 'gpt-4o-mini',
    system: SYSTEM,
    messages,
    tools: hubToolSpecs([]),
    maxTokens: 1024,
    temperature: 0.3,
  };
}

const first = (prompt: string): MessageParam[] => [
  { role: 'user', content: [{ type: 'text', text: prompt }] },
];

const toolUses = (r: ModelResponse) => r.content.filter((c) => c.type === 'tool_use');

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    return err as ApplicationFailure;
  }
  throw new Error('expected the call to fail');
}

describe('scripted model server: Chat Completions with the real openai SDK', () => {
  let server: ModelServer;
  let sdk: OpenAI;
  let client: OpenAiModelClient;

  beforeAll(async () => {
    server = await createModelServer({ instant: true, apiKey: KEY });
    sdk = createOpenAiClient({ apiKey: KEY, baseURL: `${server.url}/v1`, timeoutMs: 5000 });
    client = new OpenAiModelClient(sdk, {
      provider: 'openai',
      maxTokensField: 'max_completion_tokens',
      apiKey: KEY,
    });
  });
  afterEach(() => server.reset());
  afterAll(() => server.close());

  it('runs the demo round trip: search, reply with hub_post, close with text', async () => {
    const messages = first(
      notificationPrompt(notification('Hey Otto, do otters hold hands when they sleep?'), thread),
    );
    const r1 = await client.call(request(messages));
    expect(r1.stopReason).toBe('tool_use');
    const [search] = toolUses(r1);
    expect(search).toMatchObject({
      name: 'hub_search',
      input: { query: 'Hey Otto, do otters hold hands when they sleep?' },
    });
    expect(r1.usage.inputTokens).toBeGreaterThan(0);

    messages.push(assistantMessage(r1.content), {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: (search as { id: string }).id,
          content: JSON.stringify({ results: [{ id: 'p7', title: 'Sleeping otters', content: 'They do.' }] }),
        },
      ],
    });
    const r2 = await client.call(request(messages));
    const [post] = toolUses(r2);
    expect(post).toMatchObject({ name: 'hub_post', input: { post_id: 'p42' } });
    expect(JSON.stringify(post)).toContain('Sleeping otters');

    messages.push(assistantMessage(r2.content), {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: (post as { id: string }).id, content: '{"id":"c1"}' }],
    });
    const r3 = await client.call(request(messages));
    expect(r3.stopReason).toBe('end_turn');
    expect(toolUses(r3)).toHaveLength(0);

    // On the wire: tool calls with JSON-string arguments, tool messages with their tool_call_id.
    const body = server.requests().at(-1)!.body as OpenAI.ChatCompletionCreateParams;
    const roles = body.messages.map((m) => m.role);
    expect(roles).toEqual(['system', 'user', 'assistant', 'tool', 'assistant', 'tool']);
    const assistant = body.messages[2] as OpenAI.ChatCompletionAssistantMessageParam;
    const call = assistant.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(typeof call.function.arguments).toBe('string');
    expect((body.messages[3] as OpenAI.ChatCompletionToolMessageParam).tool_call_id).toBe(call.id);
    expect(body).toMatchObject({
      model: 'gpt-4o-mini',
      temperature: 0.3,
      max_completion_tokens: 1024,
      tool_choice: 'auto',
    });
  });

  it('streams the same answer as chunks, tool-call deltas and usage included', async () => {
    const params = toChatParams(
      request(first(notificationPrompt(notification('Hey Otto, what do otters eat?'), thread))),
    );
    const plain = await sdk.chat.completions.create(params);
    const stream = await sdk.chat.completions.create({
      ...params,
      stream: true,
      stream_options: { include_usage: true },
    });
    let name = '';
    let args = '';
    let id = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      for (const d of choice.delta.tool_calls ?? []) {
        if (d.id) id = d.id;
        name += d.function?.name ?? '';
        args += d.function?.arguments ?? '';
      }
      finish = choice.finish_reason ?? finish;
    }
    expect(chunks).toBeGreaterThan(3);
    const call = plain.choices[0]!.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(finish).toBe('tool_calls');
    expect(name).toBe('hub_search');
    expect(JSON.parse(args)).toEqual(JSON.parse(call.function.arguments));
    expect(id).toMatch(/^call_/);
    expect(usage).toEqual(plain.usage);
  });

  it('refuses a tool message that answers no tool call, and an unanswered tool call, as the API does', async () => {
    const orphan = await failureOf(
      sdk.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'tool', tool_call_id: 'call_nope', content: 'x' },
        ],
      }),
    );
    expect((orphan as unknown as { status: number }).status).toBe(400);
    expect(String(orphan)).toMatch(/must be a response to a preceeding message with 'tool_calls'/);
    const unanswered = await failureOf(
      sdk.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'user', content: 'hi' },
          {
            role: 'assistant',
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          { role: 'user', content: 'and?' },
        ],
      }),
    );
    expect(String(unanswered)).toMatch(/did not have response messages: call_1/);
  });

  it('answers a wrong key with 401 → LlmNonRetryableError, without the key in the message', async () => {
    const wrong = 'sk-wrong-key-9876543210';
    const other = new OpenAiModelClient(
      createOpenAiClient({ apiKey: wrong, baseURL: `${server.url}/v1`, timeoutMs: 5000 }),
      {
        provider: 'openai',
        maxTokensField: 'max_tokens',
        apiKey: wrong,
      },
    );
    const f = await failureOf(other.call(request(first('hello'))));
    expect(f.type).toBe('LlmNonRetryableError');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toMatch(/401/);
    expect(JSON.stringify({ m: f.message, d: f.details, s: f.stack })).not.toContain(wrong);
  });

  it('a 429 → LlmRetryableError with nextRetryDelay from Retry-After', async () => {
    server.addFault({ kind: '429', retryAfterSeconds: 3 });
    const f = await failureOf(client.call(request(first('hello'))));
    expect(f.type).toBe('LlmRetryableError');
    expect(f.nonRetryable).toBe(false);
    expect(f.nextRetryDelay).toBe(3000);
    expect(f.details?.[0]).toMatchObject({ status: 429, retryAfterMs: 3000 });
    expect(server.requests().at(-1)?.status).toBe(429);
  });

  it.each([
    ['500', 500, 'LlmRetryableError'],
    ['529', 529, 'LlmRetryableError'],
    ['400', 400, 'LlmNonRetryableError'],
  ] as const)('a %s → %s', async (kind, status, type) => {
    server.addFault({ kind });
    const f = await failureOf(client.call(request(first('hello'))));
    expect(f.type).toBe(type);
    expect(f.details?.[0]).toMatchObject({ status });
  });

  it('a reset connection → LlmRetryableError (unreachable)', async () => {
    server.addFault({ kind: 'reset' });
    const f = await failureOf(client.call(request(first('hello'))));
    expect(f.type).toBe('LlmRetryableError');
    expect(f.message).toMatch(/unreachable/);
  });

  it.each(['invalid_json', 'missing_fields'] as const)(
    'a malformed body (%s) → LlmMalformedResponseError',
    async (variant) => {
      server.addFault({ kind: 'malformed', variant });
      const f = await failureOf(client.call(request(first('hello'))));
      expect(f.type).toBe('LlmMalformedResponseError');
      expect(f.nonRetryable).toBe(false);
      if (variant === 'missing_fields') expect(f.message).toContain('choices: expected a non-empty array');
      else expect(f.message).toMatch(/not valid JSON/);
    },
  );

  it('tool arguments that are not JSON come back with inputError, and the loop can answer it', async () => {
    server.addFault({ kind: 'invalid_tool_json' });
    const messages = first(notificationPrompt(notification('Great otter facts!'), thread));
    const r = await client.call(request(messages));
    const [call] = toolUses(r);
    expect(call).toMatchObject({ type: 'tool_use', name: 'hub_post', input: {} });
    expect(call?.type === 'tool_use' && call.inputError).toMatch(
      /arguments of tool hub_post are not valid JSON/,
    );
    messages.push(assistantMessage(r.content), {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: (call as { id: string }).id,
          content: 'invalid input',
          is_error: true,
        },
      ],
    });
    const next = await client.call(request(messages));
    expect(next.content.length).toBeGreaterThan(0);
    // The error travels as a marked tool message, which the server reads back as a tool error.
    const body = server.requests().at(-1)!.body as OpenAI.ChatCompletionCreateParams;
    expect((body.messages.at(-1) as OpenAI.ChatCompletionToolMessageParam).content).toBe(
      '[tool error] invalid input',
    );
  });

  it('a slow answer within the timeout arrives intact; an abort really aborts', async () => {
    server.addFault({ kind: 'slow', delayMs: 250 });
    const started = Date.now();
    const r = await client.call(request(first('hello')));
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(r.stopReason).toBe('end_turn');

    server.addFault({ kind: 'slow', delayMs: 5000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('cancel requested')), 200);
    const f = await failureOf(client.call(request(first('hello')), ac.signal));
    expect((f as unknown as Error).name).toBe('CancelledFailure');
    await server.waitForRequests((rs) => rs.at(-1)?.aborted === true, 3000);
  });

  it("serves the same script under Gemini's path (v1beta/openai/chat/completions)", async () => {
    const gemini = new OpenAiModelClient(
      createOpenAiClient({ apiKey: KEY, baseURL: `${server.url}/v1beta/openai/`, timeoutMs: 5000 }),
      { provider: 'google', maxTokensField: 'max_tokens' },
    );
    const r = await gemini.call({
      ...request(first(notificationPrompt(notification('Hi Otto!'), thread))),
      model: 'gemini-2.5-flash',
    });
    expect(r.model).toBe('gemini-2.5-flash');
    expect(server.requests().at(-1)?.path).toBe('/v1beta/openai/chat/completions');
    expect(server.requests().at(-1)?.body).toMatchObject({ max_tokens: 1024 });
  });
});
