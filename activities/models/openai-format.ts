/**
 * Conversion between the internal transcript (Anthropic Messages blocks) and OpenAI Chat
 * Completions: assistant `tool_use` blocks become `tool_calls` with JSON-string arguments,
 * `tool_result` blocks become `tool` messages with their `tool_call_id`, and the answer comes back
 * as `ModelContent` with the Messages stop reasons. Pure, so the scripted server and unit tests can
 * use it too.
 */
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { ApplicationFailure } from '@temporalio/common';
import type { MessageParam, ModelContent, ModelRequest, ModelResponse } from '../model';
import { isCount, isObject, malformed, preview } from './failures';

/**
 * Chat Completions has no `is_error` on tool output: a failed tool's output is sent with this
 * prefix, so the model (and the scripted server, dev/model-server/chat.ts) can tell.
 */
export const TOOL_ERROR_PREFIX = '[tool error] ';

/** Where `max_tokens` goes: OpenAI's own API wants `max_completion_tokens`, compatible servers `max_tokens`. */
export type MaxTokensField = 'max_tokens' | 'max_completion_tokens';

function textOfBlocks(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((b): b is { type: 'text'; text: string } => isObject(b) && b.type === 'text')
    .map((b) => b.text)
    .join('\n');
}

/**
 * The transcript as Chat Completions messages: the system prompt first; per user turn its tool
 * results as `tool` messages (which must follow the assistant's `tool_calls` directly), then its
 * text as one user message; per assistant turn its text and its `tool_calls`.
 */
export function toChatMessages(
  system: string,
  messages: readonly MessageParam[],
): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  if (system !== '') out.push({ role: 'system', content: system });
  for (const m of messages) {
    if (typeof m.content === 'string') {
      out.push(
        m.role === 'user' ? { role: 'user', content: m.content } : { role: 'assistant', content: m.content },
      );
      continue;
    }
    if (m.role === 'user') {
      const texts: string[] = [];
      for (const b of m.content) {
        if (b.type === 'tool_result') {
          const content = textOfBlocks(b.content);
          out.push({
            role: 'tool',
            tool_call_id: b.tool_use_id,
            content: b.is_error === true ? `${TOOL_ERROR_PREFIX}${content}` : content,
          });
        } else if (b.type === 'text') texts.push(b.text);
      }
      if (texts.length > 0) out.push({ role: 'user', content: texts.join('\n\n') });
      continue;
    }
    const texts: string[] = [];
    const calls: { id: string; type: 'function'; function: { name: string; arguments: string } }[] = [];
    for (const b of m.content) {
      if (b.type === 'text') texts.push(b.text);
      else if (b.type === 'tool_use') {
        calls.push({
          id: b.id,
          type: 'function',
          function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
        });
      }
    }
    const text = texts.join('\n');
    out.push({
      role: 'assistant',
      content: text === '' ? null : text,
      ...(calls.length > 0 && { tool_calls: calls }),
    });
  }
  return out;
}

function usedToolNames(messages: readonly MessageParam[]): string[] {
  const names = new Set<string>();
  for (const m of messages) {
    if (m.role !== 'assistant' || typeof m.content === 'string') continue;
    for (const b of m.content) if (b.type === 'tool_use') names.add(b.name);
  }
  return [...names];
}

/** The request body for `chat.completions.create` (non-streaming). */
export function toChatParams(
  req: ModelRequest,
  maxTokensField: MaxTokensField = 'max_tokens',
): ChatCompletionCreateParamsNonStreaming {
  const params: ChatCompletionCreateParamsNonStreaming = {
    model: req.model,
    messages: toChatMessages(req.system, req.messages),
    temperature: req.temperature,
    [maxTokensField]: req.maxTokens,
  };
  const fn = (
    name: string,
    description: string,
    parameters: Record<string, unknown>,
  ): ChatCompletionTool => ({
    type: 'function',
    function: { name, description, parameters },
  });
  if (req.tools.length > 0) {
    params.tools = req.tools.map((t) => fn(t.name, t.description, { ...t.input_schema, type: 'object' }));
    params.tool_choice = req.toolChoice ?? 'auto';
  } else {
    // As for the Messages API: a history of tool calls keeps its tools declared, calling forbidden.
    const used = usedToolNames(req.messages);
    if (used.length > 0) {
      params.tools = used.map((name) => fn(name, 'Not available in this step.', { type: 'object' }));
      params.tool_choice = 'none';
    }
  }
  return params;
}

/** Chat Completions finish reasons in the Messages vocabulary; others pass through. */
const STOP_REASONS: Record<string, string> = {
  stop: 'end_turn',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  length: 'max_tokens',
  content_filter: 'refusal',
};

/**
 * Validates a `chat.completion` and converts its first choice to plain JSON. A tool call whose
 * `arguments` are not a JSON object becomes a `tool_use` with `inputError` (the agent loop answers
 * it with an error result instead of running it); a structural fault throws
 * `LlmMalformedResponseError`. Ids that compatible servers leave out are made up.
 */
export function parseCompletion(raw: unknown, source: string, requestModel: string): ModelResponse {
  const bad = (field: string, rule: string): ApplicationFailure => malformed(source, field, rule, raw);
  if (!isObject(raw)) throw bad('', `expected a JSON object, got ${raw === null ? 'null' : typeof raw}`);
  if (!Array.isArray(raw.choices) || raw.choices.length === 0)
    throw bad('choices', 'expected a non-empty array');
  const choice: unknown = raw.choices[0];
  if (!isObject(choice)) throw bad('choices[0]', 'expected an object');
  const message = choice.message;
  if (!isObject(message)) throw bad('choices[0].message', 'expected an object');
  const usage = raw.usage;
  if (!isObject(usage)) throw bad('usage', 'expected an object');
  if (!isCount(usage.prompt_tokens)) throw bad('usage.prompt_tokens', 'expected an integer ≥ 0');
  if (!isCount(usage.completion_tokens)) throw bad('usage.completion_tokens', 'expected an integer ≥ 0');
  const id = typeof raw.id === 'string' && raw.id !== '' ? raw.id : `chatcmpl-${Date.now().toString(36)}`;

  const content: ModelContent[] = [];
  const text =
    typeof message.content === 'string'
      ? message.content
      : message.content === null || message.content === undefined
        ? ''
        : Array.isArray(message.content)
          ? textOfBlocks(message.content)
          : undefined;
  if (text === undefined) throw bad('choices[0].message.content', 'expected a string or null');
  if (text !== '') content.push({ type: 'text', text });
  const calls = message.tool_calls ?? [];
  if (!Array.isArray(calls)) throw bad('choices[0].message.tool_calls', 'expected an array');
  calls.forEach((call: unknown, i) => {
    const at = `choices[0].message.tool_calls[${i}]`;
    if (!isObject(call) || !isObject(call.function)) throw bad(at, 'expected a function tool call');
    const name = call.function.name;
    if (typeof name !== 'string' || name === '')
      throw bad(`${at}.function.name`, 'expected a non-empty string');
    const callId = typeof call.id === 'string' && call.id !== '' ? call.id : `call_${id}_${i}`;
    const args = call.function.arguments;
    let input: unknown = args;
    let error: string | undefined;
    if (typeof args === 'string') {
      try {
        input = args.trim() === '' ? {} : JSON.parse(args);
      } catch (err) {
        error = `the arguments of tool ${name} are not valid JSON (${(err as Error).message}): ${preview(args)}`;
      }
    }
    if (error === undefined && !isObject(input)) {
      const got = input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input;
      error = `the arguments of tool ${name} must be a JSON object, got ${got}: ${preview(args)}`;
    }
    content.push(
      error === undefined && isObject(input)
        ? { type: 'tool_use', id: callId, name, input }
        : { type: 'tool_use', id: callId, name, input: {}, inputError: error },
    );
  });
  const finish =
    typeof choice.finish_reason === 'string' && choice.finish_reason !== ''
      ? choice.finish_reason
      : undefined;
  const stopReason =
    finish !== undefined ? (STOP_REASONS[finish] ?? finish) : calls.length > 0 ? 'tool_use' : 'end_turn';
  return {
    id,
    model: typeof raw.model === 'string' && raw.model !== '' ? raw.model : requestModel,
    content,
    stopReason,
    usage: { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens },
  };
}
