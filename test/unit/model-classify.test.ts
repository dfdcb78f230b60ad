import { describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { ApplicationFailure } from '@temporalio/common';
import {
  assistantMessage,
  classifyModelError,
  createAnthropicClient,
  parseMessage,
  retryAfterMs,
  toCreateParams,
} from '../../activities/model';

function apiError(status: number, headers: Record<string, string> = {}, type = 'api_error'): Error {
  return Anthropic.APIError.generate(
    status,
    { type: 'error', error: { type, message: `boom ${status}` } },
    undefined,
    new Headers({ 'request-id': 'req_1', ...headers }),
  );
}

describe('classifyModelError', () => {
  it.each([429, 500, 502, 503, 529, 408])('treats HTTP %d as retryable', (status) => {
    const f = classifyModelError(apiError(status));
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f.type).toBe('LlmRetryableError');
    expect(f.nonRetryable).toBe(false);
    expect(f.details?.[0]).toMatchObject({ status, requestId: 'req_1', errorType: 'api_error' });
  });

  it.each([400, 401, 403, 404, 422, 402, 413])('treats HTTP %d as not retryable', (status) => {
    const f = classifyModelError(apiError(status, { 'retry-after': '5' }, 'invalid_request_error'));
    expect(f.type).toBe('LlmNonRetryableError');
    expect(f.nonRetryable).toBe(true);
    expect(f.nextRetryDelay).toBeUndefined();
    expect(f.message).toContain(`${status}`);
  });

  it('takes nextRetryDelay from retry-after seconds', () => {
    const f = classifyModelError(apiError(429, { 'retry-after': '2' }, 'rate_limit_error'));
    expect(f.nextRetryDelay).toBe(2000);
    expect(f.details?.[0]).toMatchObject({ retryAfterMs: 2000, errorType: 'rate_limit_error' });
  });

  it('prefers retry-after-ms and accepts an HTTP date', () => {
    expect(
      classifyModelError(apiError(529, { 'retry-after-ms': '750', 'retry-after': '9' })).nextRetryDelay,
    ).toBe(750);
    const now = Date.parse('2026-01-01T00:00:00Z');
    const h = new Headers({ 'retry-after': new Date(now + 30_000).toUTCString() });
    expect(retryAfterMs(h, now)).toBe(30_000);
  });

  it('ignores retry-after values in the past, garbage, or absent, and clamps huge ones', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers({ 'retry-after': '0' }), now)).toBeUndefined();
    expect(
      retryAfterMs(new Headers({ 'retry-after': new Date(now - 5000).toUTCString() }), now),
    ).toBeUndefined();
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
    expect(retryAfterMs(new Headers({ 'retry-after': '999999' }), now)).toBe(3_600_000);
    expect(classifyModelError(apiError(500)).nextRetryDelay).toBeUndefined();
  });

  it('treats connection errors and timeouts as retryable without a delay', () => {
    for (const err of [
      new Anthropic.APIConnectionError({ message: 'ECONNREFUSED' }),
      new Anthropic.APIConnectionTimeoutError(),
    ]) {
      const f = classifyModelError(err);
      expect(f.type).toBe('LlmRetryableError');
      expect(f.nonRetryable).toBe(false);
      expect(f.nextRetryDelay).toBeUndefined();
    }
  });

  it('maps an unparsable body to LlmMalformedResponseError and client misuse to non-retryable', () => {
    let syntax: unknown;
    try {
      JSON.parse('{"id":');
    } catch (e) {
      syntax = e;
    }
    const m = classifyModelError(syntax);
    expect(m.type).toBe('LlmMalformedResponseError');
    expect(m.nonRetryable).toBe(false);
    const c = classifyModelError(new Anthropic.AnthropicError('Could not resolve authentication method'));
    expect(c.type).toBe('LlmNonRetryableError');
    expect(c.nonRetryable).toBe(true);
  });

  it('passes an ApplicationFailure through unchanged', () => {
    const f = ApplicationFailure.create({ type: 'X', message: 'x' });
    expect(classifyModelError(f)).toBe(f);
  });
});

const good = {
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4',
  content: [
    { type: 'text', text: 'Let me look.', citations: null },
    {
      type: 'tool_use',
      id: 'toolu_1',
      name: 'hub_search',
      input: { query: 'otters' },
      caller: { type: 'direct' },
    },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: { input_tokens: 12, output_tokens: 7 },
};

describe('parseMessage', () => {
  it('converts a message to plain JSON', () => {
    expect(parseMessage(good)).toEqual({
      id: 'msg_1',
      model: 'claude-sonnet-4',
      content: [
        { type: 'text', text: 'Let me look.' },
        { type: 'tool_use', id: 'toolu_1', name: 'hub_search', input: { query: 'otters' } },
      ],
      stopReason: 'tool_use',
      usage: { inputTokens: 12, outputTokens: 7 },
    });
  });

  it('keeps a tool call whose input is not an object, with inputError set', () => {
    for (const input of ['{"query": "ott', null, [1, 2], 42]) {
      const r = parseMessage({
        ...good,
        content: [{ type: 'tool_use', id: 'toolu_2', name: 'hub_post', input }],
      });
      const c = r.content[0];
      expect(c?.type).toBe('tool_use');
      if (c?.type !== 'tool_use') return;
      expect(c.input).toEqual({});
      expect(c.inputError).toMatch(/hub_post must be a JSON object/);
    }
  });

  it('passes unknown stop reasons through and skips block types it never asked for', () => {
    const r = parseMessage({
      ...good,
      stop_reason: 'some_future_reason',
      content: [
        { type: 'thinking', thinking: '…', signature: 's' },
        { type: 'text', text: 'hi' },
      ],
    });
    expect(r.stopReason).toBe('some_future_reason');
    expect(r.content).toEqual([{ type: 'text', text: 'hi' }]);
  });

  it.each([
    ['a string body', 'oops', '(body)'],
    ['no content', { ...good, content: undefined }, 'content'],
    ['content not an array', { ...good, content: 'hi' }, 'content'],
    ['null stop_reason', { ...good, stop_reason: null }, 'stop_reason'],
    ['no usage', { ...good, usage: undefined }, 'usage'],
    ['negative tokens', { ...good, usage: { input_tokens: -1, output_tokens: 1 } }, 'usage.input_tokens'],
    ['wrong type', { ...good, type: 'error' }, 'type'],
    ['a text block without text', { ...good, content: [{ type: 'text' }] }, 'content[0].text'],
    [
      'a tool_use without id',
      { ...good, content: [{ type: 'tool_use', name: 'x', input: {} }] },
      'content[0].id',
    ],
    ['a block without type', { ...good, content: [{}] }, 'content[0]'],
  ])('rejects %s as LlmMalformedResponseError naming %s', (_name, body, field) => {
    let caught: unknown;
    try {
      parseMessage(body);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ApplicationFailure);
    const f = caught as ApplicationFailure;
    expect(f.type).toBe('LlmMalformedResponseError');
    expect(f.nonRetryable).toBe(false);
    expect(f.message).toContain(`: ${field}: `);
  });
});

describe('toCreateParams / assistantMessage', () => {
  it('sends tools with tool_choice and omits them when there are none', () => {
    const base = {
      model: 'claude-sonnet-4',
      system: 'You are Otto.',
      messages: [{ role: 'user' as const, content: 'hi' }],
      maxTokens: 256,
      temperature: 0.7,
    };
    const withTools = toCreateParams({
      ...base,
      tools: [{ name: 'hub_post', description: 'post', input_schema: { properties: {} } }],
      toolChoice: 'none',
    });
    expect(withTools).toMatchObject({ model: 'claude-sonnet-4', max_tokens: 256, system: 'You are Otto.' });
    expect(withTools.tools).toEqual([
      { name: 'hub_post', description: 'post', input_schema: { properties: {}, type: 'object' } },
    ]);
    expect(withTools.tool_choice).toEqual({ type: 'none' });
    const bare = toCreateParams({ ...base, system: '', tools: [] });
    expect(bare.tools).toBeUndefined();
    expect(bare.tool_choice).toBeUndefined();
    expect(bare.system).toBeUndefined();
  });

  it('declares the tools a history used, uncallable, when a step offers none (the API requires it)', () => {
    const messages = [
      { role: 'user' as const, content: 'hi' },
      {
        role: 'assistant' as const,
        content: [
          { type: 'tool_use' as const, id: 'toolu_1', name: 'hub_search', input: {} },
          { type: 'tool_use' as const, id: 'toolu_2', name: 'hub_search', input: {} },
          { type: 'tool_use' as const, id: 'toolu_3', name: 'hub_post', input: {} },
        ],
      },
      {
        role: 'user' as const,
        content: ['toolu_1', 'toolu_2', 'toolu_3'].map((id) => ({
          type: 'tool_result' as const,
          tool_use_id: id,
          content: 'r',
        })),
      },
    ];
    const p = toCreateParams({ model: 'm', system: '', messages, tools: [], maxTokens: 10, temperature: 1 });
    expect(p.tools?.map((t) => (t as { name: string }).name)).toEqual(['hub_search', 'hub_post']);
    expect(p.tool_choice).toEqual({ type: 'none' });
  });

  it('rebuilds the assistant turn without inputError', () => {
    expect(
      assistantMessage([
        { type: 'text', text: 'a' },
        { type: 'tool_use', id: 'toolu_9', name: 'hub_post', input: {}, inputError: 'bad' },
      ]),
    ).toEqual({
      role: 'assistant',
      content: [
        { type: 'text', text: 'a' },
        { type: 'tool_use', id: 'toolu_9', name: 'hub_post', input: {} },
      ],
    });
  });
});

describe('createAnthropicClient', () => {
  it('leaves retries to Temporal and uses the given timeout and base URL', () => {
    const c = createAnthropicClient({ apiKey: 'k', baseURL: 'http://127.0.0.1:1', timeoutMs: 1234 });
    expect(c.maxRetries).toBe(0);
    expect(c.timeout).toBe(1234);
    expect(c.baseURL).toBe('http://127.0.0.1:1');
    expect(c.apiKey).toBe('k');
    const logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };
    expect(createAnthropicClient({ apiKey: 'k', timeoutMs: 1, logger }).logger).toBe(logger);
  });
});
