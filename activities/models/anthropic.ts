/**
 * The Anthropic Messages protocol behind `ModelClient` (`brain.provider: anthropic`): one
 * non-streaming `messages.create` call, as plain JSON in and out.
 *
 * The SDK's own retries are off: Temporal owns retries, so every failure leaves here as an
 * `ApplicationFailure` with a stable type (`LlmRetryableError`, `LlmNonRetryableError`,
 * `LlmMalformedResponseError`) and, for rate limits and overload, the server's `retry-after` as
 * `nextRetryDelay`. An abort (activity cancellation) really aborts the HTTP request and leaves as a
 * `CancelledFailure`, so the worker reports the activity as cancelled, not failed.
 *
 * `temperature` is not sent: API version 2026-10-21 (the SDK 1.x default) answers 400 to
 * `temperature`, `top_p` and `top_k`; the runner says so once at start.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { ClientOptions } from '@anthropic-ai/sdk';
import type { MessageCreateParamsNonStreaming, MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../lib/errors';
import type { ModelClient, ModelContent, ModelRequest, ModelResponse } from '../model';
import { asCancelled, httpFailure, isCount, isObject, malformed, preview } from './failures';

const SOURCE = 'POST /v1/messages';
const bad = (field: string, rule: string, body?: unknown): ApplicationFailure =>
  malformed(SOURCE, field, rule, body);

/**
 * An Anthropic client for activities: no SDK retries (Temporal retries) and the given timeout.
 * The key comes from the arguments (settings), never from the SDK reading `ANTHROPIC_API_KEY` or
 * `ANTHROPIC_AUTH_TOKEN` itself; without one the SDK's profile chain is tried, and a call with no
 * credential at all fails as `LlmNonRetryableError`.
 */
export function createAnthropicClient(o: {
  apiKey?: string;
  baseURL?: string;
  timeoutMs: number;
  /** Where the SDK's own warnings go (e.g. the process's pino logger); default the console. */
  logger?: ClientOptions['logger'];
}): Anthropic {
  return new Anthropic({
    apiKey: o.apiKey ?? null,
    authToken: null,
    ...(o.baseURL !== undefined && { baseURL: o.baseURL }),
    ...(o.logger !== undefined && { logger: o.logger }),
    timeout: o.timeoutMs,
    maxRetries: 0,
  });
}

/** The request body for `messages.create`; exported so tests and the reservation can see it. */
export function toCreateParams(req: ModelRequest): MessageCreateParamsNonStreaming {
  const params: MessageCreateParamsNonStreaming = {
    model: req.model,
    max_tokens: req.maxTokens,
    messages: req.messages,
  };
  if (req.system !== '') params.system = req.system;
  if (req.tools.length > 0) {
    params.tools = req.tools.map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: { ...t.input_schema, type: 'object' },
    }));
    params.tool_choice = { type: req.toolChoice ?? 'auto' };
  } else {
    // The API refuses a history with tool_use/tool_result blocks and no tools ("Requests which
    // include `tool_use` or `tool_result` blocks must define tools"), e.g. a final step that
    // withdraws the tools. Declare the tools the history used and forbid calling them.
    const used = toolNamesIn(req.messages);
    if (used.length > 0) {
      params.tools = used.map((name) => ({
        name,
        description: 'Not available in this step.',
        input_schema: { type: 'object' as const },
      }));
      params.tool_choice = { type: 'none' };
    }
  }
  return params;
}

function toolNamesIn(messages: readonly MessageParam[]): string[] {
  const names = new Set<string>();
  for (const m of messages) {
    if (m.role !== 'assistant' || typeof m.content === 'string') continue;
    for (const b of m.content) if (b.type === 'tool_use') names.add(b.name);
  }
  return [...names];
}

/**
 * Calls the Messages API once (non-streaming). `signal` aborts the HTTP request itself.
 *
 * @throws ApplicationFailure typed by {@link classifyModelError}, or `LlmMalformedResponseError`
 *   (retryable) when the body is not a well-formed message.
 * @throws CancelledFailure when `signal` aborted the call.
 */
export async function callModel(
  client: Anthropic,
  req: ModelRequest,
  signal?: AbortSignal,
): Promise<ModelResponse> {
  let raw: unknown;
  try {
    raw = await client.messages.create(toCreateParams(req), signal ? { signal } : undefined);
  } catch (err) {
    if (signal?.aborted) throw asCancelled(signal, err);
    throw classifyModelError(err);
  }
  return parseMessage(raw);
}

/** `ModelClient` over the Messages API. */
export class AnthropicModelClient implements ModelClient {
  readonly protocol = 'anthropic-messages';
  constructor(private readonly client: Anthropic) {}

  call(req: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
    return callModel(this.client, req, signal);
  }
}

/**
 * Validates an SDK `Message` and converts it to plain JSON. Block types this project never asks
 * for (thinking, server tools) are skipped; a structural fault throws `LlmMalformedResponseError`.
 */
export function parseMessage(raw: unknown): ModelResponse {
  if (!isObject(raw)) {
    throw bad('', `expected a JSON object, got ${raw === null ? 'null' : typeof raw}`, raw);
  }
  if (raw.type !== 'message') throw bad('type', `expected "message", got ${preview(raw.type)}`, raw);
  if (typeof raw.id !== 'string' || raw.id === '') throw bad('id', 'expected a non-empty string', raw);
  if (typeof raw.model !== 'string') throw bad('model', 'expected a string', raw);
  if (!Array.isArray(raw.content)) throw bad('content', 'expected an array', raw);
  if (typeof raw.stop_reason !== 'string' || raw.stop_reason === '') {
    throw bad('stop_reason', 'expected a non-empty string', raw);
  }
  const usage = raw.usage;
  if (!isObject(usage)) throw bad('usage', 'expected an object', raw);
  if (!isCount(usage.input_tokens)) throw bad('usage.input_tokens', 'expected an integer ≥ 0', raw);
  if (!isCount(usage.output_tokens)) throw bad('usage.output_tokens', 'expected an integer ≥ 0', raw);

  const content: ModelContent[] = [];
  raw.content.forEach((block: unknown, i) => {
    const at = `content[${i}]`;
    if (!isObject(block) || typeof block.type !== 'string') {
      throw bad(at, 'expected a content block with a string type', raw);
    }
    if (block.type === 'text') {
      if (typeof block.text !== 'string') throw bad(`${at}.text`, 'expected a string', raw);
      content.push({ type: 'text', text: block.text });
    } else if (block.type === 'tool_use') {
      if (typeof block.id !== 'string' || block.id === '') {
        throw bad(`${at}.id`, 'expected a non-empty string', raw);
      }
      if (typeof block.name !== 'string' || block.name === '') {
        throw bad(`${at}.name`, 'expected a non-empty string', raw);
      }
      if (isObject(block.input)) {
        content.push({ type: 'tool_use', id: block.id, name: block.name, input: block.input });
      } else {
        const got =
          block.input === null ? 'null' : Array.isArray(block.input) ? 'an array' : typeof block.input;
        content.push({
          type: 'tool_use',
          id: block.id,
          name: block.name,
          input: {},
          inputError: `the input of tool ${block.name} must be a JSON object, got ${got}: ${preview(block.input)}`,
        });
      }
    }
  });

  return {
    id: raw.id,
    model: raw.model,
    content,
    stopReason: raw.stop_reason,
    usage: { inputTokens: usage.input_tokens, outputTokens: usage.output_tokens },
  };
}

/**
 * Maps an error from the SDK to an `ApplicationFailure` with a stable type:
 * 429, 529, other 5xx, 408/409, connection errors and timeouts → `LlmRetryableError` (with
 * `nextRetryDelay` from `retry-after`); 400, 401, 403, 404, 422 and other 4xx →
 * `LlmNonRetryableError` (`nonRetryable: true`); a body that is not JSON →
 * `LlmMalformedResponseError`. Details carry `{ status, requestId, errorType, retryAfterMs }`.
 */
export function classifyModelError(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof Anthropic.APIError && typeof err.status === 'number') {
    return httpFailure({
      status: err.status,
      message: `Anthropic API ${err.message}`,
      headers: err.headers as Headers | undefined,
      requestId: err.requestID ?? null,
      errorType: err.type ?? null,
      cause: err,
    });
  }
  if (err instanceof Anthropic.APIError) {
    // No status: APIConnectionError, APIConnectionTimeoutError, APIUserAbortError without a signal.
    return ApplicationFailure.create({
      type: FailureType.llmRetryable,
      message: `Anthropic API unreachable: ${err.message}`,
      nonRetryable: false,
      details: [{ status: null, requestId: null, errorType: err.name, retryAfterMs: null }],
      cause: err,
    });
  }
  if (err instanceof SyntaxError) {
    // A 2xx whose JSON did not parse: the SDK surfaces the parser's error.
    return malformed(SOURCE, '', `response body is not valid JSON: ${err.message}`);
  }
  if (
    err instanceof Anthropic.AnthropicError ||
    // SDK 1.14 raises a plain Error when no credential resolves; no retry can fix that.
    (err instanceof Error && err.message.startsWith('Could not resolve authentication method'))
  ) {
    // Raised before any request (bad options, missing credentials): the same call fails again.
    return ApplicationFailure.create({
      type: FailureType.llmNonRetryable,
      message: `Anthropic client: ${err.message}`,
      nonRetryable: true,
      cause: err,
    });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return ApplicationFailure.create({
    type: FailureType.llmRetryable,
    message: `model call failed: ${e.message}`,
    nonRetryable: false,
    cause: e,
  });
}
