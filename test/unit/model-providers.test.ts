/**
 * The provider seam without a network: which client a brain gets under the runner's allow-lists
 * (activities/models/providers.ts), the Chat Completions conversion both ways
 * (activities/models/openai-format.ts), the openai SDK's errors as stable failure types, and the
 * scripted server's reading of Chat Completions requests (dev/model-server/chat.ts).
 */
import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import type { MessageParam, ModelRequest } from '../../activities/model';
import { AnthropicModelClient } from '../../activities/models/anthropic';
import { OpenAiModelClient, classifyOpenAiError, redactKey } from '../../activities/models/openai';
import {
  TOOL_ERROR_PREFIX,
  parseCompletion,
  toChatMessages,
  toChatParams,
} from '../../activities/models/openai-format';
import { ModelProviders } from '../../activities/models/providers';
import type { ModelProviderSettings } from '../../activities/models/providers';
import { TOOL_ERROR_PREFIX as SERVER_TOOL_ERROR_PREFIX, chatToMessages } from '../../dev/model-server/chat';
import { loadSettings } from '../../lib/config';

const settings = (o: Partial<ModelProviderSettings> = {}): ModelProviderSettings => {
  const s = loadSettings({});
  return { keyEnvs: s.modelKeyEnvs, apiHosts: s.modelApiHosts, baseUrls: {}, timeoutMs: 1000, ...o };
};
const KEYS = { ANTHROPIC_API_KEY: 'sk-ant-1', OPENAI_API_KEY: 'sk-oa-1', GEMINI_API_KEY: 'gm-1' };

function refusal(f: () => unknown): ApplicationFailure {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected a refusal');
}

describe('ModelProviders.resolve', () => {
  const providers = new ModelProviders(settings(), KEYS);

  it('defaults each provider to its public endpoint and key variable', () => {
    const a = providers.resolve({ provider: 'anthropic' });
    expect(a.client).toBeInstanceOf(AnthropicModelClient);
    expect([a.baseUrl, a.keyEnv]).toEqual(['https://api.anthropic.com', 'ANTHROPIC_API_KEY']);
    const o = providers.resolve({ provider: 'openai' });
    expect(o.client).toBeInstanceOf(OpenAiModelClient);
    expect([o.baseUrl, o.keyEnv]).toEqual(['https://api.openai.com/v1', 'OPENAI_API_KEY']);
    const g = providers.resolve({ provider: 'google' });
    expect([g.baseUrl, g.keyEnv]).toEqual([
      'https://generativelanguage.googleapis.com/v1beta/openai/',
      'GEMINI_API_KEY',
    ]);
    expect(providers.resolve({ provider: 'openai' }).client).toBe(o.client);
  });

  it("uses the definition's api_base, and the runner's override over it", () => {
    expect(providers.resolve({ provider: 'openai', apiBase: 'http://127.0.0.1:8000/v1' }).baseUrl).toBe(
      'http://127.0.0.1:8000/v1',
    );
    const overridden = new ModelProviders(
      settings({ baseUrls: { openai: 'http://127.0.0.1:4010/v1' } }),
      KEYS,
    );
    expect(overridden.resolve({ provider: 'openai', apiBase: 'https://api.openai.com/v1' }).baseUrl).toBe(
      'http://127.0.0.1:4010/v1',
    );
  });

  it('refuses a key variable not on the list, naming it, even when the runner has it', () => {
    const p = new ModelProviders(settings(), { ...KEYS, TEMPORAL_API_KEY: 'tmprl-secret' });
    const f = refusal(() => p.resolve({ provider: 'openai', apiKeyEnv: 'TEMPORAL_API_KEY' }));
    expect(f.type).toBe('LlmNonRetryableError');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('brain.api_key_env TEMPORAL_API_KEY is not a model key variable');
    expect(f.message).toContain('BOTBURROW_MODEL_KEY_ENVS');
    expect(JSON.stringify([f.message, f.details])).not.toContain('tmprl-secret');
  });

  it('refuses an allowed variable the runner does not have, naming it', () => {
    const p = new ModelProviders(settings(), { ANTHROPIC_API_KEY: 'sk-ant-1' });
    const f = refusal(() => p.resolve({ provider: 'google' }));
    expect(f.message).toBe('brain.api_key_env GEMINI_API_KEY is not set on this runner (provider google)');
    expect(f.details?.[0]).toEqual({ provider: 'google', variable: 'GEMINI_API_KEY' });
  });

  it.each([
    ['https://evil.example/v1', /host evil\.example is not on this runner's allow-list/],
    ['http://api.openai.com/v1', /only https is allowed/],
    ['https://user:pw@api.openai.com/v1', /credentials in the URL/],
    ['not a url', /not a URL/],
  ])('refuses api_base %s', (apiBase, rule) => {
    const f = refusal(() => providers.resolve({ provider: 'openai', apiBase }));
    expect(f.type).toBe('LlmNonRetryableError');
    expect(f.message).toMatch(rule);
  });

  it('checks api_base even when the runner overrides the endpoint', () => {
    const p = new ModelProviders(settings({ baseUrls: { openai: 'http://127.0.0.1:1/v1' } }), KEYS);
    expect(refusal(() => p.resolve({ provider: 'openai', apiBase: 'https://evil.example' })).message).toMatch(
      /evil\.example/,
    );
  });

  it('allows loopback over http (IPv6 too) and hosts the operator adds', () => {
    expect(providers.resolve({ provider: 'local', apiBase: 'http://[::1]:11434/v1' }).keyEnv).toBeNull();
    expect(providers.resolve({ provider: 'local', apiBase: 'http://localhost:8000/v1' }).keyEnv).toBeNull();
    const p = new ModelProviders(
      settings({ apiHosts: ['llm.internal.example', 'http://vllm.ml.svc'] }),
      KEYS,
    );
    expect(p.resolve({ provider: 'local', apiBase: 'http://vllm.ml.svc:8000/v1' }).baseUrl).toBe(
      'http://vllm.ml.svc:8000/v1',
    );
    expect(
      refusal(() => p.resolve({ provider: 'local', apiBase: 'http://llm.internal.example/v1' })).message,
    ).toMatch(/only https/);
    expect(p.resolve({ provider: 'local', apiBase: 'https://LLM.internal.example/v1' }).baseUrl).toBe(
      'https://LLM.internal.example/v1',
    );
    expect(
      refusal(() => p.resolve({ provider: 'openai', apiBase: 'https://api.openai.com/v1' })).message,
    ).toMatch(/allow-list/);
  });

  it('needs an api_base for provider local', () => {
    expect(refusal(() => providers.resolve({ provider: 'local' })).message).toMatch(
      /brain.provider local needs brain.api_base/,
    );
  });
});

const tools = [{ name: 'hub_post', description: 'Post.', input_schema: { type: 'object', properties: {} } }];

function req(messages: MessageParam[], o: Partial<ModelRequest> = {}): ModelRequest {
  return { model: 'gpt-4o-mini', system: 'sys', messages, tools, maxTokens: 500, temperature: 0.4, ...o };
}

describe('Chat Completions conversion', () => {
  const history: MessageParam[] = [
    { role: 'user', content: [{ type: 'text', text: 'hello' }] },
    {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Let me post.' },
        { type: 'tool_use', id: 'call_1', name: 'hub_post', input: { content: 'hi' } },
        { type: 'tool_use', id: 'call_2', name: 'hub_post', input: {} },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'call_1', content: '{"id":"c1"}' },
        { type: 'tool_result', tool_use_id: 'call_2', content: 'bad input', is_error: true },
        { type: 'text', text: 'This is your last step.' },
      ],
    },
  ];

  it('sends tool calls with JSON-string arguments and tool results as tool messages, text after them', () => {
    expect(toChatMessages('sys', history)).toEqual([
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'hello' },
      {
        role: 'assistant',
        content: 'Let me post.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'hub_post', arguments: '{"content":"hi"}' } },
          { id: 'call_2', type: 'function', function: { name: 'hub_post', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"id":"c1"}' },
      { role: 'tool', tool_call_id: 'call_2', content: `${TOOL_ERROR_PREFIX}bad input` },
      { role: 'user', content: 'This is your last step.' },
    ]);
    expect(SERVER_TOOL_ERROR_PREFIX).toBe(TOOL_ERROR_PREFIX);
  });

  it('sends model, temperature, the max-tokens field asked for, tools and tool_choice', () => {
    const p = toChatParams(req(history, { toolChoice: 'none' }), 'max_completion_tokens');
    expect(p).toMatchObject({
      model: 'gpt-4o-mini',
      temperature: 0.4,
      max_completion_tokens: 500,
      tool_choice: 'none',
    });
    expect(p).not.toHaveProperty('max_tokens');
    expect(p.tools).toEqual([
      {
        type: 'function',
        function: { name: 'hub_post', description: 'Post.', parameters: tools[0]!.input_schema },
      },
    ]);
    // No tools this step but a history of tool calls: they stay declared, calling forbidden.
    const bare = toChatParams(req(history, { tools: [] }));
    expect(bare).toMatchObject({ max_tokens: 500, tool_choice: 'none' });
    expect(bare.tools?.map((t) => (t as { function: { name: string } }).function.name)).toEqual(['hub_post']);
  });

  it('is read back by the scripted server as the same conversation (round trip)', () => {
    const { request } = chatToMessages(toChatParams(req(history)));
    expect(request.system).toBe('sys');
    expect(request.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'hello' }] },
      history[1],
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '{"id":"c1"}' },
          { type: 'tool_result', tool_use_id: 'call_2', content: 'bad input', is_error: true },
          { type: 'text', text: 'This is your last step.' },
        ],
      },
    ]);
  });

  const completion = (message: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: 'tool_calls' }],
    usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
    ...extra,
  });

  it('parses text, tool calls and usage into the internal blocks', () => {
    const r = parseCompletion(
      completion({
        content: 'Posting.',
        tool_calls: [
          { id: 'call_9', type: 'function', function: { name: 'hub_post', arguments: '{"content":"x"}' } },
        ],
      }),
      'POST chat/completions',
      'gpt-4o-mini',
    );
    expect(r).toEqual({
      id: 'chatcmpl-1',
      model: 'gpt-4o-mini-2024-07-18',
      content: [
        { type: 'text', text: 'Posting.' },
        { type: 'tool_use', id: 'call_9', name: 'hub_post', input: { content: 'x' } },
      ],
      stopReason: 'tool_use',
      usage: { inputTokens: 12, outputTokens: 5 },
    });
  });

  it.each([
    ['{"content": "Hello, wor', /not valid JSON/],
    ['[1,2]', /must be a JSON object, got an array/],
    ['"text"', /must be a JSON object, got string/],
  ])('turns arguments %s into inputError', (args, rule) => {
    const r = parseCompletion(
      completion({
        content: null,
        tool_calls: [{ id: 'c', type: 'function', function: { name: 'hub_post', arguments: args } }],
      }),
      'src',
      'm',
    );
    const [call] = r.content;
    expect(call).toMatchObject({ type: 'tool_use', id: 'c', input: {} });
    expect(call?.type === 'tool_use' && call.inputError).toMatch(rule);
  });

  it('maps finish reasons, and makes up ids a compatible server left out', () => {
    const stop = (finish: unknown) =>
      parseCompletion(
        { ...completion({ content: 'x' }), choices: [{ message: { content: 'x' }, finish_reason: finish }] },
        's',
        'm',
      ).stopReason;
    expect([stop('stop'), stop('length'), stop('content_filter'), stop('new_reason'), stop(null)]).toEqual([
      'end_turn',
      'max_tokens',
      'refusal',
      'new_reason',
      'end_turn',
    ]);
    const r = parseCompletion(
      completion(
        { tool_calls: [{ type: 'function', function: { name: 'hub_post', arguments: '{}' } }] },
        { id: undefined, model: '' },
      ),
      's',
      'gemini-2.5-flash',
    );
    expect(r.model).toBe('gemini-2.5-flash');
    expect(r.content[0]).toMatchObject({ type: 'tool_use', name: 'hub_post' });
    expect((r.content[0] as { id: string }).id).not.toBe('');
  });

  it.each([
    [null, '(body): expected a JSON object'],
    [{ choices: [] }, 'choices: expected a non-empty array'],
    [{ choices: [{}] }, 'choices[0].message: expected an object'],
    [{ choices: [{ message: { content: 'x' } }] }, 'usage: expected an object'],
    [
      { choices: [{ message: { content: 'x' } }], usage: { prompt_tokens: -1, completion_tokens: 0 } },
      'usage.prompt_tokens',
    ],
    [
      { choices: [{ message: { content: 7 } }], usage: { prompt_tokens: 1, completion_tokens: 1 } },
      'content: expected a string or null',
    ],
    [
      {
        choices: [{ message: { tool_calls: [{ function: { arguments: '{}' } }] } }],
        usage: { prompt_tokens: 1, completion_tokens: 1 },
      },
      'function.name: expected a non-empty string',
    ],
  ])('refuses a malformed completion %j', (raw, rule) => {
    const f = refusal(() => parseCompletion(raw, 'POST chat/completions (openai at h)', 'm'));
    expect(f.type).toBe('LlmMalformedResponseError');
    expect(f.nonRetryable).toBe(false);
    expect(f.message).toContain(rule);
    expect(f.message).toMatch(/^POST chat\/completions \(openai at h\): /);
  });
});

describe('openai SDK errors', () => {
  const apiError = (status: number, headers: Record<string, string> = {}, message = `boom ${status}`) =>
    OpenAI.APIError.generate(
      status,
      { error: { message, type: 'x', code: null } },
      undefined,
      new Headers({ 'x-request-id': 'req_7', ...headers }),
    );

  it.each([429, 500, 503, 529, 408, 409])('HTTP %d is retryable', (status) => {
    const f = classifyOpenAiError(apiError(status), 'label');
    expect([f.type, f.nonRetryable]).toEqual(['LlmRetryableError', false]);
    expect(f.details?.[0]).toMatchObject({ status, requestId: 'req_7' });
  });

  it.each([400, 401, 403, 404, 422])('HTTP %d is not retryable (retry-after ignored)', (status) => {
    const f = classifyOpenAiError(apiError(status, { 'retry-after': '5' }), 'label');
    expect([f.type, f.nonRetryable, f.nextRetryDelay]).toEqual(['LlmNonRetryableError', true, undefined]);
  });

  it('honours retry-after and retry-after-ms', () => {
    expect(classifyOpenAiError(apiError(429, { 'retry-after': '7' }), 'l').nextRetryDelay).toBe(7000);
    expect(classifyOpenAiError(apiError(429, { 'retry-after-ms': '1500' }), 'l').nextRetryDelay).toBe(1500);
  });

  it('connection errors are retryable; no error text carries the key', () => {
    const conn = classifyOpenAiError(
      new OpenAI.APIConnectionError({ message: 'Connection error.' }),
      'label',
    );
    expect([conn.type, conn.message]).toEqual(['LlmRetryableError', 'label unreachable: Connection error.']);
    const key = 'sk-proj-abcdefghijklmnop';
    const f = classifyOpenAiError(apiError(401, {}, `Incorrect API key provided: ${key}.`), 'label', key);
    expect(f.message).not.toContain(key);
    expect(f.message).toContain('[redacted]');
    expect(f.cause).toBeUndefined();
    expect(redactKey('key gm-secret-1 and sk-abcdefghijkl', 'gm-secret-1')).toBe(
      'key [redacted] and [redacted]',
    );
  });
});
