/**
 * The real @anthropic-ai/sdk, through activities/model.ts callModel, against the scripted
 * Messages API server over real HTTP: a full tool-use round trip with the demo persona, and every
 * fault the server can inject.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type Anthropic from '@anthropic-ai/sdk';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { assistantMessage, callModel, createAnthropicClient } from '../../activities/model';
import type { MessageParam, ModelRequest, ModelResponse } from '../../activities/model';
import { createModelServer } from '../../dev/model-server/server';
import type { ModelServer } from '../../dev/model-server/server';
import { hubToolSpecs } from '../../lib/hub-tools';
import { explorationPrompt, FINAL_ITERATION_NOTE, isNoResponse, notificationPrompt } from '../../lib/prompts';
import type { HubNotification, HubPost } from '../../lib/hub/types';

const SYSTEM = 'You are Otto, a curious otter who loves rivers.';

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

function request(messages: MessageParam[], tools = hubToolSpecs([])): ModelRequest {
  return {
    model: 'claude-sonnet-4-20250514',
    system: SYSTEM,
    messages,
    tools,
    maxTokens: 1024,
    temperature: 0.7,
  };
}

const first = (prompt: string): MessageParam[] => [
  { role: 'user', content: [{ type: 'text', text: prompt }] },
];

function toolUses(r: ModelResponse) {
  return r.content.filter((c) => c.type === 'tool_use');
}
function text(r: ModelResponse): string {
  return r.content
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
}

async function failureOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

describe('scripted model server with the real Anthropic SDK', () => {
  let server: ModelServer;
  let client: Anthropic;

  beforeAll(async () => {
    server = await createModelServer({ instant: true });
    client = createAnthropicClient({ baseURL: server.url, apiKey: 'test-key', timeoutMs: 5000 });
  });
  afterEach(() => server.reset());
  afterAll(() => server.close());

  it('streams the same answer as server-sent events when asked (stream: true), tool use included', async () => {
    const prompt = notificationPrompt(notification('Hey Otto, what do otters eat?'), thread);
    const params: Anthropic.MessageCreateParamsNonStreaming = {
      model: 'claude-sonnet-4-20250514',
      max_tokens: 1024,
      system: SYSTEM,
      messages: [{ role: 'user', content: prompt }],
      tools: hubToolSpecs([]).map((t) => ({
        name: t.name,
        description: t.description,
        input_schema: { type: 'object', ...t.input_schema },
      })),
    };
    const plain = await client.messages.create(params);
    const events: string[] = [];
    const stream = client.messages.stream(params);
    stream.on('streamEvent', (e) => events.push(e.type));
    const streamed = await stream.finalMessage();
    expect(events[0]).toBe('message_start');
    expect(events).toContain('content_block_delta');
    expect(events.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(streamed.stop_reason).toBe(plain.stop_reason);
    expect(streamed.stop_reason).toBe('tool_use');
    const strip = (m: Anthropic.Message) =>
      m.content.map((b) => (b.type === 'tool_use' ? { ...b, id: '' } : b));
    expect(strip(streamed)).toEqual(strip(plain));
    expect(streamed.usage.output_tokens).toBe(plain.usage.output_tokens);
  });

  it('counts tokens (POST /v1/messages/count_tokens) with the estimate its answers report', async () => {
    const params = {
      model: 'claude-sonnet-4-20250514',
      messages: [{ role: 'user' as const, content: 'Tell me about rivers and the otters in them.' }],
    };
    const counted = await client.messages.countTokens(params);
    const answered = await client.messages.create({ ...params, max_tokens: 64 });
    expect(counted.input_tokens).toBeGreaterThan(0);
    expect(counted.input_tokens).toBe(answered.usage.input_tokens);
  });

  it('runs a full tool-use round trip: search, reply with hub_post, close with text', async () => {
    const prompt = notificationPrompt(
      notification('Hey Otto, do otters hold hands when they sleep?'),
      thread,
    );
    const messages = first(prompt);

    const r1 = await callModel(client, request(messages));
    expect(r1.stopReason).toBe('tool_use');
    const [search] = toolUses(r1);
    expect(search).toMatchObject({
      name: 'hub_search',
      input: { query: 'Hey Otto, do otters hold hands when they sleep?' },
    });
    expect(search?.type === 'tool_use' && search.id).toMatch(/^toolu_[0-9A-Za-z]{24}$/);
    expect(r1.usage.inputTokens).toBeGreaterThan(100);
    expect(r1.usage.outputTokens).toBeGreaterThan(0);
    expect(r1.model).toBe('claude-sonnet-4-20250514');
    expect(r1.id).toMatch(/^msg_/);

    messages.push(assistantMessage(r1.content), {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: search!.type === 'tool_use' ? search!.id : '',
          content: JSON.stringify({
            results: [
              { id: 'p7', author: { id: 'bob', name: 'Bob' }, title: 'Sleeping otters', content: '…' },
            ],
          }),
        },
      ],
    });
    const r2 = await callModel(client, request(messages));
    const [post] = toolUses(r2);
    expect(post?.type === 'tool_use' && post.name).toBe('hub_post');
    expect(post?.type === 'tool_use' && post.input.post_id).toBe('p42');
    expect(post?.type === 'tool_use' && String(post.input.content)).toContain('"Sleeping otters" (post p7)');
    expect(r2.usage.inputTokens).toBeGreaterThan(r1.usage.inputTokens);

    messages.push(assistantMessage(r2.content), {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: post!.type === 'tool_use' ? post!.id : '',
          content: '{"created":"comment","id":"c9"}',
        },
      ],
    });
    const r3 = await callModel(client, request(messages));
    expect(r3.stopReason).toBe('end_turn');
    expect(toolUses(r3)).toHaveLength(0);
    expect(text(r3)).toBe('Done: I replied on the Hub.');

    const log = server.requests();
    expect(log.map((r) => r.rule)).toEqual(['question-search', 'question-reply-found', 'after-post']);
    expect(log.every((r) => r.status === 200 && !r.aborted && r.finishedAt !== null)).toBe(true);
    // The transcript holds what the SDK really sent: the last request answers the second call.
    const last = log[2]!.body as {
      messages: { role: string; content: { type: string; tool_use_id?: string }[] }[];
    };
    expect(last.messages).toHaveLength(5);
    expect(last.messages[4]!.content[0]).toMatchObject({
      type: 'tool_result',
      tool_use_id: (post as { id: string }).id,
    });
    expect(log[0]!.headers['anthropic-version']).toBeDefined();
    expect(log[0]!.headers['x-api-key']).toBeUndefined();
    expect(log[0]!.headers.authorization).toBeUndefined();
    expect(log[0]!.body).not.toHaveProperty('temperature');
    expect((log[0]!.response as { usage: { input_tokens: number } }).usage.input_tokens).toBe(
      r1.usage.inputTokens,
    );
  });

  it('a final step without tools after tool calls: callModel keeps the API happy and gets text', async () => {
    const messages = first(notificationPrompt(notification('Great otter facts!'), thread));
    const r1 = await callModel(client, request(messages));
    const [post] = toolUses(r1);
    messages.push(assistantMessage(r1.content), {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: (post as { id: string }).id,
          content: '{"created":"comment","id":"c1"}',
        },
        { type: 'text', text: FINAL_ITERATION_NOTE },
      ],
    });
    const final = await callModel(client, request(messages, []));
    expect(final.stopReason).toBe('end_turn');
    expect(text(final)).toBe('Done: I replied on the Hub.');
    const sent = server.requests()[1]!.body as { tools: { name: string }[]; tool_choice: unknown };
    expect(sent.tools.map((t) => t.name)).toEqual(['hub_post']);
    expect(sent.tool_choice).toEqual({ type: 'none' });

    // The same history sent without any tools is what the real API refuses.
    const raw = await failureOf(
      client.messages.create({ model: 'claude-sonnet-4', max_tokens: 100, messages }),
    );
    expect(String(raw)).toContain(
      'Requests which include `tool_use` or `tool_result` blocks must define tools.',
    );
  });

  it('counts tokens deterministically', async () => {
    const req = request(first(notificationPrompt(notification('Nice post!'), thread)));
    const a = await callModel(client, req);
    const b = await callModel(client, req);
    expect(a.usage).toEqual(b.usage);
    expect(a.id).not.toBe(b.id);
  });

  it('replies directly to a notification without a question, and answers in text when no tools are offered', async () => {
    const prompt = notificationPrompt(notification('Great otter facts!'), thread);
    const r = await callModel(client, request(first(prompt)));
    expect(toolUses(r)).toEqual([
      expect.objectContaining({
        name: 'hub_post',
        input: { post_id: 'p42', content: expect.stringContaining('Alice') },
      }),
    ]);
    const final = await callModel(client, request(first(prompt), []));
    expect(final.stopReason).toBe('end_turn');
    expect(toolUses(final)).toHaveLength(0);
    expect(text(final)).toContain('Alice');
  });

  it('explores: replies to the first post listed, or needs no response', async () => {
    const feed = [
      {
        id: 'p7',
        author: { id: 'bob', name: 'Bob' },
        title: 'Rivers',
        content: 'Rivers are great',
        community: 'm/nature',
        created_at: 'x',
      },
      {
        id: 'p8',
        author: { id: 'cy', name: 'Cy' },
        title: null,
        content: 'Lakes too',
        community: null,
        created_at: 'x',
      },
    ];
    const r = await callModel(
      client,
      request(first(explorationPrompt(feed, { postsLeft: 3, commentsLeft: 5 }))),
    );
    expect(toolUses(r)).toEqual([
      expect.objectContaining({
        name: 'hub_post',
        input: { post_id: 'p7', content: expect.stringContaining('Bob') },
      }),
    ]);
    const none = await callModel(
      client,
      request(first(explorationPrompt([], { postsLeft: 3, commentsLeft: 5 }))),
    );
    expect(isNoResponse(text(none))).toBe(true);
  });

  it('stops at max_tokens like a real model', async () => {
    const r = await callModel(client, {
      ...request(first(notificationPrompt(notification('Hi'), thread))),
      maxTokens: 3,
    });
    expect(r.stopReason).toBe('max_tokens');
    expect(r.usage.outputTokens).toBe(3);
    expect(toolUses(r)).toHaveLength(0);
  });

  it('429 with retry-after → LlmRetryableError with nextRetryDelay ≈ 2 s', async () => {
    server.addFault({ kind: '429', retryAfterSeconds: 2 });
    const err = await failureOf(callModel(client, request(first('hello'))));
    expect(err).toBeInstanceOf(ApplicationFailure);
    const f = err as ApplicationFailure;
    expect(f.type).toBe('LlmRetryableError');
    expect(f.nonRetryable).toBe(false);
    expect(f.nextRetryDelay).toBe(2000);
    expect(f.details?.[0]).toMatchObject({ status: 429, errorType: 'rate_limit_error' });
    // One attempt only: the SDK's retries are off, Temporal owns retries.
    expect(server.requests()).toHaveLength(1);
    // The fault is used up: the next call succeeds.
    await expect(callModel(client, request(first('hello')))).resolves.toMatchObject({
      stopReason: 'end_turn',
    });
  });

  it.each([
    ['529', 529, 'overloaded_error'],
    ['500', 500, 'api_error'],
  ] as const)('%s → LlmRetryableError', async (kind, status, errorType) => {
    server.addFault({ kind });
    const f = (await failureOf(callModel(client, request(first('hello'))))) as ApplicationFailure;
    expect(f.type).toBe('LlmRetryableError');
    expect(f.nonRetryable).toBe(false);
    expect(f.details?.[0]).toMatchObject({ status, errorType });
    expect(server.requests()).toHaveLength(1);
  });

  it.each([
    ['400', 400, 'invalid_request_error'],
    ['401', 401, 'authentication_error'],
  ] as const)('%s → LlmNonRetryableError', async (kind, status, errorType) => {
    server.addFault({ kind });
    const f = (await failureOf(callModel(client, request(first('hello'))))) as ApplicationFailure;
    expect(f.type).toBe('LlmNonRetryableError');
    expect(f.nonRetryable).toBe(true);
    expect(f.details?.[0]).toMatchObject({ status, errorType });
  });

  it('a connection reset → LlmRetryableError', async () => {
    server.addFault({ kind: 'reset' });
    const f = (await failureOf(callModel(client, request(first('hello'))))) as ApplicationFailure;
    expect(f.type).toBe('LlmRetryableError');
    expect(server.requests()[0]).toMatchObject({ fault: 'reset', aborted: false, status: null });
  });

  it('a slow answer past the client timeout → LlmRetryableError, and the server sees the client leave', async () => {
    const impatient = createAnthropicClient({ baseURL: server.url, apiKey: 'k', timeoutMs: 300 });
    server.addFault({ kind: 'slow', delayMs: 3000 });
    const started = Date.now();
    const f = (await failureOf(callModel(impatient, request(first('hello'))))) as ApplicationFailure;
    expect(Date.now() - started).toBeLessThan(2500);
    expect(f.type).toBe('LlmRetryableError');
    expect(f.message).toMatch(/timed out/i);
    const [rec] = await server.waitForRequests((r) => r[0]?.aborted === true, 2000);
    expect(rec).toMatchObject({ aborted: true, fault: 'slow', status: null });
  });

  it('a slow answer within the timeout arrives intact', async () => {
    server.addFault({ kind: 'slow', delayMs: 250 });
    const started = Date.now();
    const r = await callModel(client, request(first('hello')));
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(r.stopReason).toBe('end_turn');
  });

  it.each(['invalid_json', 'missing_fields'] as const)(
    'a malformed body (%s) → LlmMalformedResponseError (retryable)',
    async (variant) => {
      server.addFault({ kind: 'malformed', variant });
      const f = (await failureOf(callModel(client, request(first('hello'))))) as ApplicationFailure;
      expect(f.type).toBe('LlmMalformedResponseError');
      expect(f.nonRetryable).toBe(false);
      if (variant === 'missing_fields') expect(f.message).toContain(': content: expected an array');
      else expect(f.message).toMatch(/not valid JSON/);
    },
  );

  it('a tool call with invalid JSON input comes back with inputError, and the loop can answer it', async () => {
    server.addFault({ kind: 'invalid_tool_json' });
    const messages = first(notificationPrompt(notification('Great otter facts!'), thread));
    const r = await callModel(client, request(messages));
    const [call] = toolUses(r);
    expect(call?.type === 'tool_use' && call.name).toBe('hub_post');
    expect(call?.type === 'tool_use' && call.input).toEqual({});
    expect(call?.type === 'tool_use' && call.inputError).toMatch(/must be a JSON object, got string/);
    // What the agent loop does next: echo the call (input {}) and send an is_error result.
    messages.push(assistantMessage(r.content), {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: (call as { id: string }).id,
          content: `invalid tool input: ${(call as { inputError: string }).inputError}`,
          is_error: true,
        },
      ],
    });
    const next = await callModel(client, request(messages));
    expect(next.stopReason).toBe('end_turn');
    expect(server.requests()[1]!.rule).toBe('post-refused');
  });

  it('an abort mid-request aborts the HTTP request: CancelledFailure, and the server records aborted', async () => {
    server.configure({ instant: false, defaultDelayMs: 3000 });
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(new CancelledFailure('activity cancelled')), 200);
    const err = await failureOf(callModel(client, request(first('hello')), ac.signal));
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(Date.now() - started).toBeLessThan(2000);
    const [rec] = await server.waitForRequests((r) => r[0]?.aborted === true, 2000);
    expect(rec!.status).toBeNull();
    expect(Date.parse(rec!.finishedAt!) - Date.parse(rec!.receivedAt)).toBeLessThan(2000);
  });

  it('an already-aborted signal sends nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    expect(await failureOf(callModel(client, request(first('hello')), ac.signal))).toBeInstanceOf(
      CancelledFailure,
    );
    expect(server.requests()).toHaveLength(0);
  });

  it('faults honour count and match on the system prompt', async () => {
    server.addFault({ kind: '500', count: 2, match: { system: 'Marvin' } });
    await expect(callModel(client, request(first('hello')))).resolves.toBeDefined();
    const marvin = { ...request(first('hello')), system: 'You are Marvin.' };
    for (let i = 0; i < 2; i++) {
      expect(((await failureOf(callModel(client, marvin))) as ApplicationFailure).type).toBe(
        'LlmRetryableError',
      );
    }
    await expect(callModel(client, marvin)).resolves.toBeDefined();
    expect(server.requests().map((r) => r.status)).toEqual([200, 500, 500, 200]);
  });

  it('rejects what the real API rejects: a tool_use without its tool_result → 400, not retryable', async () => {
    const messages: MessageParam[] = [
      { role: 'user', content: 'hi' },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'hub_search', input: { query: 'x' } }],
      },
      { role: 'user', content: 'and?' },
    ];
    const f = (await failureOf(callModel(client, request(messages)))) as ApplicationFailure;
    expect(f.type).toBe('LlmNonRetryableError');
    expect(f.message).toContain(
      '`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1',
    );
  });

  it('enforces an API key when configured', async () => {
    const locked = await createModelServer({ apiKey: 'secret', instant: true });
    try {
      const wrong = createAnthropicClient({ baseURL: locked.url, apiKey: 'nope', timeoutMs: 2000 });
      const f = (await failureOf(callModel(wrong, request(first('hello'))))) as ApplicationFailure;
      expect(f.type).toBe('LlmNonRetryableError');
      expect(f.details?.[0]).toMatchObject({ status: 401 });
      const right = createAnthropicClient({ baseURL: locked.url, apiKey: 'secret', timeoutMs: 2000 });
      await expect(callModel(right, request(first('hello')))).resolves.toBeDefined();
    } finally {
      await locked.close();
    }
  });

  it('never takes the key from the environment: without one the call fails as non-retryable', async () => {
    const saved = process.env.ANTHROPIC_API_KEY;
    process.env.ANTHROPIC_API_KEY = 'from-the-environment';
    try {
      const keyless = createAnthropicClient({ baseURL: server.url, timeoutMs: 2000 });
      const f = (await failureOf(callModel(keyless, request(first('hello'))))) as ApplicationFailure;
      expect(f.type).toBe('LlmNonRetryableError');
      expect(f.nonRetryable).toBe(true);
      expect(server.requests()).toHaveLength(0);
    } finally {
      if (saved === undefined) delete process.env.ANTHROPIC_API_KEY;
      else process.env.ANTHROPIC_API_KEY = saved;
    }
  });

  it('answers after defaultDelayMs unless instant', async () => {
    server.configure({ instant: false, defaultDelayMs: 400 });
    let started = Date.now();
    await callModel(client, request(first('hello')));
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    server.configure({ instant: true });
    started = Date.now();
    await callModel(client, request(first('hello')));
    expect(Date.now() - started).toBeLessThan(390);
  });

  it('holds answers until holdUntilInFlight requests are in flight, then answers them all', async () => {
    server.configure({ holdUntilInFlight: 3 });
    const answered: number[] = [];
    const call = (i: number) => callModel(client, request(first('hello'))).then(() => answered.push(i));
    const early = [call(1), call(2)];
    await new Promise((r) => setTimeout(r, 300));
    expect(answered).toEqual([]);
    expect(server.stats().inFlight).toBe(2);
    await Promise.all([...early, call(3)]);
    expect(answered.sort()).toEqual([1, 2, 3]);
    // Off again: one request is answered at once; a hold that times out answers too.
    server.configure({ holdUntilInFlight: 0 });
    await callModel(client, request(first('hello')));
    server.configure({ holdUntilInFlight: 5, holdMaxMs: 200 });
    const started = Date.now();
    await callModel(client, request(first('hello')));
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });
});

describe('scripted model server admin API over HTTP', () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await createModelServer({ instant: true });
  });
  afterAll(() => server.close());

  const admin = async (method: string, path: string, body?: string, type = 'application/json') => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { 'content-type': type },
      ...(body !== undefined && { body }),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- admin JSON is asserted field by field
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  };

  it('switches faults on, lists and clears requests, and rejects a bad fault naming the field', async () => {
    const client = createAnthropicClient({ baseURL: server.url, apiKey: 'k', timeoutMs: 2000 });
    const added = await admin(
      'POST',
      '/_admin/faults',
      JSON.stringify({ kind: '529', retryAfterSeconds: 1 }),
    );
    expect(added.status).toBe(200);
    expect(added.json.faults).toHaveLength(1);
    const f = (await failureOf(callModel(client, request(first('x'))))) as ApplicationFailure;
    expect(f.nextRetryDelay).toBe(1000);

    const bad = await admin('POST', '/_admin/faults', JSON.stringify({ kind: '418' }));
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain('faults[0].kind');

    const listed = await admin('GET', '/_admin/requests');
    expect(listed.json.requests).toHaveLength(1);
    expect(listed.json.requests[0]).toMatchObject({ status: 529, fault: '529', path: '/v1/messages' });
    await admin('DELETE', '/_admin/requests');
    expect((await admin('GET', '/_admin/requests')).json.requests).toHaveLength(0);
  });

  it('replaces the script with YAML and reports script errors with the rule and field', async () => {
    const client = createAnthropicClient({ baseURL: server.url, apiKey: 'k', timeoutMs: 2000 });
    const yaml =
      'name: echo\nrules:\n  - when: { user: "^say (?<word>\\\\w+)" }\n    reply: { text: "{{word}}!" }\n';
    const put = await admin('PUT', '/_admin/script', yaml, 'application/yaml');
    expect(put.status).toBe(200);
    const r = await callModel(client, request(first('say otters')));
    expect(text(r)).toBe('otters!');

    const broken = await admin(
      'PUT',
      '/_admin/script',
      'rules:\n  - when: { user: "(" }\n    reply: { text: x }\n',
      'application/yaml',
    );
    expect(broken.status).toBe(400);
    expect(broken.json.error.message).toMatch(/rules\.0\.when\.user: invalid regular expression/);

    await admin('POST', '/_admin/reset');
    expect((await admin('GET', '/_admin/script')).json.script.name).toBe('demo-persona');
  });

  it('answers unknown paths with an Anthropic-style 404', async () => {
    const res = await fetch(`${server.url}/v1/complete`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });
});
