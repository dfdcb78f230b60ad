/**
 * The model seam: one turn in, one turn out, whatever the protocol behind it.
 *
 * The conversation is kept in one internal format, Anthropic Messages blocks (`MessageParam`
 * history, `ModelContent` answers), so transcripts, claim checks and replay are the same for every
 * provider. Each protocol is one `ModelClient` under activities/models/ that converts to and from
 * its wire format: `anthropic.ts` (Messages API) and `openai.ts` (Chat Completions, for
 * `provider: openai`, `local` and `google` through Gemini's OpenAI-compatible endpoint).
 * `providers.ts` picks the client for a definition's brain under the runner's allow-lists.
 *
 * Every failure leaves a client as an `ApplicationFailure` with a stable type
 * (`LlmRetryableError`, `LlmNonRetryableError`, `LlmMalformedResponseError`), with the server's
 * `retry-after` as `nextRetryDelay`; an abort leaves as a `CancelledFailure` (activities/models/failures.ts).
 */
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';

export type { MessageParam } from '@anthropic-ai/sdk/resources/messages';

export interface ToolSpec {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

export interface ModelRequest {
  model: string;
  system: string;
  messages: MessageParam[];
  tools: ToolSpec[];
  maxTokens: number;
  /**
   * The persona's sampling temperature: sent to OpenAI-compatible providers; not to Anthropic, whose
   * API version 2026-10-21 (the SDK 1.x default) answers 400 to `temperature`, `top_p` and `top_k`.
   */
  temperature: number;
  /**
   * `none` keeps the tools declared but forbids calling them: the way to ask for a final answer
   * once the history holds tool calls (see `toCreateParams`).
   */
  toolChoice?: 'auto' | 'none';
}

export type ModelContent =
  | { type: 'text'; text: string }
  | {
      type: 'tool_use';
      id: string;
      name: string;
      input: Record<string, unknown>;
      /**
       * Set when the model's input was not a JSON object; `input` is then `{}`. The agent loop
       * answers such a call with an `is_error` tool_result carrying this text instead of running it.
       */
      inputError?: string;
    };

export interface ModelResponse {
  id: string;
  model: string;
  content: ModelContent[];
  /** The API's `stop_reason`; values newer than this code are passed through unchanged. */
  stopReason: string;
  usage: { inputTokens: number; outputTokens: number };
}

/** Stop reasons the API documents; anything else is passed through (see `ModelResponse`). */
export const KNOWN_STOP_REASONS: readonly string[] = [
  'end_turn',
  'max_tokens',
  'stop_sequence',
  'tool_use',
  'pause_turn',
  'refusal',
  'model_context_window_exceeded',
];

/** One model protocol: a single non-streaming turn, `signal` aborting the HTTP request itself. */
export interface ModelClient {
  /** The wire protocol, for logs: `anthropic-messages` or `openai-chat`. */
  readonly protocol: string;
  /**
   * @throws ApplicationFailure `LlmRetryableError` / `LlmNonRetryableError` /
   *   `LlmMalformedResponseError` (see activities/models/failures.ts).
   * @throws CancelledFailure when `signal` aborted the call.
   */
  call(req: ModelRequest, signal?: AbortSignal): Promise<ModelResponse>;
}

/** Builds the assistant turn to send back next iteration (drops `inputError`, keeps ids). */
export function assistantMessage(content: readonly ModelContent[]): MessageParam {
  return {
    role: 'assistant',
    content: content.map((c) =>
      c.type === 'text'
        ? { type: 'text' as const, text: c.text }
        : { type: 'tool_use' as const, id: c.id, name: c.name, input: c.input },
    ),
  };
}

export { retryAfterMs } from './models/failures';
export {
  AnthropicModelClient,
  callModel,
  classifyModelError,
  createAnthropicClient,
  parseMessage,
  toCreateParams,
} from './models/anthropic';
