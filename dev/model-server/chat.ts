/**
 * The OpenAI Chat Completions dialect of the scripted server (`POST …/chat/completions`): request
 * validation with that API's rules and error wording, conversion to the Messages shape the scenario
 * engine reads (so one script answers both APIs alike), and the answer as a `chat.completion` or as
 * `chat.completion.chunk` server-sent events.
 */
import type { Block, Message, MessagesRequest } from './messages';
import { InvalidRequest } from './messages';

/** Output limit assumed when a request names none (the API's own default is the model's maximum). */
const DEFAULT_MAX_TOKENS = 4096;

/**
 * The prefix this project's OpenAI adapter (activities/models/openai.ts) gives a failed tool's
 * output, since Chat Completions has no `is_error`; the server reads it back as `toolError`.
 */
export const TOOL_ERROR_PREFIX = '[tool error] ';

export interface ChatRequest {
  model: string;
  messages: Record<string, unknown>[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  [k: string]: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The text of a message's `content`: a string, or text parts. */
function contentText(content: unknown, at: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content))
    throw new InvalidRequest(`${at}: Invalid type for '${at}': expected a string or an array`);
  return content
    .map((p: unknown, i) => {
      if (!isObject(p) || typeof p.type !== 'string')
        throw new InvalidRequest(`${at}[${i}]: expected a content part`);
      if (p.type !== 'text') return `[${p.type}]`;
      if (typeof p.text !== 'string')
        throw new InvalidRequest(`${at}[${i}].text: Missing required parameter`);
      return p.text;
    })
    .join('\n');
}

function parseArguments(raw: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(raw);
    return isObject(v) ? v : {};
  } catch {
    return {};
  }
}

/**
 * Validates a Chat Completions body and converts it to a Messages request: system and developer
 * messages become `system`; `tool_calls` become `tool_use` blocks; consecutive `tool` messages, and
 * a user message right after them, become one user message of `tool_result` (and text) blocks.
 */
export function chatToMessages(body: unknown): { chat: ChatRequest; request: MessagesRequest } {
  if (!isObject(body)) throw new InvalidRequest('body: expected a JSON object');
  if (typeof body.model !== 'string' || body.model === '') {
    throw new InvalidRequest("Missing required parameter: 'model'.");
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new InvalidRequest("Missing required parameter: 'messages'.");
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') {
    throw new InvalidRequest("Invalid type for 'stream': expected a boolean.");
  }
  for (const key of ['max_tokens', 'max_completion_tokens']) {
    const v = body[key];
    if (v !== undefined && v !== null && !(typeof v === 'number' && Number.isInteger(v) && v >= 1)) {
      throw new InvalidRequest(`Invalid '${key}': expected an integer ≥ 1.`);
    }
  }
  if (body.temperature !== undefined && body.temperature !== null) {
    const t = body.temperature;
    if (typeof t !== 'number' || t < 0 || t > 2) {
      throw new InvalidRequest("Invalid 'temperature': decimal above maximum value. Expected a value <= 2.");
    }
  }
  const tools: { name: string; description?: string; input_schema: unknown }[] = [];
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) throw new InvalidRequest("Invalid type for 'tools': expected an array.");
    const names = new Set<string>();
    body.tools.forEach((t: unknown, i) => {
      if (!isObject(t) || t.type !== 'function' || !isObject(t.function)) {
        throw new InvalidRequest(`Invalid 'tools[${i}]': expected {type: 'function', function: {...}}.`);
      }
      const f = t.function;
      if (typeof f.name !== 'string' || f.name === '') {
        throw new InvalidRequest(`Missing required parameter: 'tools[${i}].function.name'.`);
      }
      if (f.parameters !== undefined && !isObject(f.parameters)) {
        throw new InvalidRequest(`Invalid 'tools[${i}].function.parameters': expected an object.`);
      }
      if (names.has(f.name)) throw new InvalidRequest(`Invalid 'tools': duplicate function name ${f.name}.`);
      names.add(f.name);
      tools.push({
        name: f.name,
        ...(typeof f.description === 'string' && { description: f.description }),
        input_schema: f.parameters ?? { type: 'object' },
      });
    });
  }
  const choice = body.tool_choice;
  let toolChoice: MessagesRequest['tool_choice'];
  if (choice !== undefined) {
    if (choice === 'none' || choice === 'auto' || choice === 'required') {
      toolChoice = { type: choice === 'required' ? 'any' : choice };
    } else if (isObject(choice) && choice.type === 'function' && isObject(choice.function)) {
      toolChoice = { type: 'tool', name: String(choice.function.name) };
    } else {
      throw new InvalidRequest("Invalid 'tool_choice': expected 'none', 'auto', 'required' or a function.");
    }
    if (tools.length === 0) {
      throw new InvalidRequest(
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
      );
    }
  }

  const system: string[] = [];
  const messages: Message[] = [];
  /** Tool call ids of the latest assistant message not yet answered by `tool` messages. */
  let pending: string[] = [];
  let pendingAt = -1;
  const unanswered = (): InvalidRequest =>
    new InvalidRequest(
      `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${pending.join(', ')} (messages[${pendingAt}])`,
    );
  body.messages.forEach((m: unknown, i) => {
    const at = `messages[${i}]`;
    if (!isObject(m)) throw new InvalidRequest(`Invalid '${at}': expected an object.`);
    const role = m.role;
    if (role !== 'tool' && pending.length > 0) throw unanswered();
    const last = messages[messages.length - 1];
    switch (role) {
      case 'system':
      case 'developer':
        system.push(contentText(m.content, `${at}.content`));
        return;
      case 'user': {
        const text: Block = { type: 'text', text: contentText(m.content, `${at}.content`) };
        // Text right after tool results travels with them, as one Messages user turn.
        if (last?.role === 'user' && typeof last.content !== 'string') last.content.push(text);
        else messages.push({ role: 'user', content: [text] });
        return;
      }
      case 'assistant': {
        const blocks: Block[] = [];
        const text = contentText(m.content, `${at}.content`);
        if (text !== '') blocks.push({ type: 'text', text });
        const calls = m.tool_calls;
        if (calls !== undefined && calls !== null) {
          if (!Array.isArray(calls))
            throw new InvalidRequest(`Invalid '${at}.tool_calls': expected an array.`);
          calls.forEach((c: unknown, j) => {
            const ct = `${at}.tool_calls[${j}]`;
            if (!isObject(c) || typeof c.id !== 'string' || c.id === '') {
              throw new InvalidRequest(`Missing required parameter: '${ct}.id'.`);
            }
            if (c.type !== 'function' || !isObject(c.function) || typeof c.function.name !== 'string') {
              throw new InvalidRequest(`Missing required parameter: '${ct}.function.name'.`);
            }
            if (typeof c.function.arguments !== 'string') {
              throw new InvalidRequest(`Invalid type for '${ct}.function.arguments': expected a string.`);
            }
            blocks.push({
              type: 'tool_use',
              id: c.id,
              name: c.function.name,
              input: parseArguments(c.function.arguments),
            });
            pending.push(c.id);
          });
          pendingAt = i;
        }
        if (blocks.length === 0) {
          throw new InvalidRequest(`Invalid '${at}': an assistant message needs 'content' or 'tool_calls'.`);
        }
        messages.push({ role: 'assistant', content: blocks });
        return;
      }
      case 'tool': {
        const id = m.tool_call_id;
        if (typeof id !== 'string' || !pending.includes(id)) {
          throw new InvalidRequest(
            `Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls' (${at}, tool_call_id ${String(id)}).`,
          );
        }
        pending = pending.filter((p) => p !== id);
        const content = contentText(m.content, `${at}.content`);
        const isError = content.startsWith(TOOL_ERROR_PREFIX);
        const result: Block = {
          type: 'tool_result',
          tool_use_id: id,
          content: isError ? content.slice(TOOL_ERROR_PREFIX.length) : content,
          ...(isError && { is_error: true }),
        };
        const prev = messages[messages.length - 1];
        const continues =
          prev?.role === 'user' &&
          typeof prev.content !== 'string' &&
          prev.content.every((b) => b.type === 'tool_result');
        if (continues && typeof prev.content !== 'string') prev.content.push(result);
        else messages.push({ role: 'user', content: [result] });
        return;
      }
      default:
        throw new InvalidRequest(
          `Invalid value: '${String(role)}'. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool' (${at}.role).`,
        );
    }
  });
  if (pending.length > 0) throw unanswered();
  if (messages.length === 0) throw new InvalidRequest("Invalid 'messages': no user or assistant message.");
  const maxTokens = (body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS) as number;
  const request: MessagesRequest = {
    model: body.model,
    max_tokens: maxTokens,
    messages,
    ...(system.length > 0 && { system: system.join('\n\n') }),
    ...(tools.length > 0 && { tools }),
    ...(toolChoice !== undefined && { tool_choice: toolChoice }),
  };
  return { chat: body as ChatRequest, request };
}

const FINISH_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
};

/**
 * A `chat.completion` carrying the same answer as a Messages `message` (text joined, `tool_use`
 * blocks as `tool_calls` with JSON-string arguments, usage as prompt/completion tokens). A
 * `tool_use` whose input is a string (the invalid-tool-JSON fault) keeps that string as arguments.
 */
export function completionFromMessage(
  message: Record<string, unknown>,
  created: number,
): Record<string, unknown> {
  const content = message.content as Record<string, unknown>[];
  const usage = message.usage as { input_tokens: number; output_tokens: number };
  const text = content
    .filter((b) => b.type === 'text')
    .map((b) => String(b.text))
    .join('');
  const calls = content
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({
      id: `call_${String(b.id).replace(/^toolu_/, '')}`,
      type: 'function',
      function: {
        name: b.name,
        arguments: typeof b.input === 'string' ? b.input : JSON.stringify(b.input),
      },
    }));
  return {
    id: `chatcmpl-${String(message.id).replace(/^msg_/, '')}`,
    object: 'chat.completion',
    created,
    model: message.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text === '' ? null : text,
          refusal: null,
          ...(calls.length > 0 && { tool_calls: calls }),
        },
        logprobs: null,
        finish_reason: FINISH_REASONS[String(message.stop_reason)] ?? 'stop',
      },
    ],
    usage: {
      prompt_tokens: usage.input_tokens,
      completion_tokens: usage.output_tokens,
      total_tokens: usage.input_tokens + usage.output_tokens,
    },
    system_fingerprint: null,
  };
}

/**
 * The completion as server-sent `chat.completion.chunk` events: the role, the text, per tool call
 * a chunk with id and name and then its arguments in two pieces, the finish reason, the usage
 * (with `stream_options.include_usage`) and `[DONE]`.
 */
export function completionChunks(completion: Record<string, unknown>, includeUsage: boolean): string[] {
  const choice = (completion.choices as Record<string, unknown>[])[0]!;
  const message = choice.message as {
    content: string | null;
    tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
  };
  const base = {
    id: completion.id,
    object: 'chat.completion.chunk',
    created: completion.created,
    model: completion.model,
    system_fingerprint: null,
  };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): string =>
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  const out = [chunk({ role: 'assistant', content: '', refusal: null })];
  if (message.content !== null) out.push(chunk({ content: message.content }));
  (message.tool_calls ?? []).forEach((c, index) => {
    out.push(
      chunk({
        tool_calls: [
          { index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } },
        ],
      }),
    );
    const half = Math.ceil(c.function.arguments.length / 2);
    for (const part of [c.function.arguments.slice(0, half), c.function.arguments.slice(half)]) {
      if (part !== '') out.push(chunk({ tool_calls: [{ index, function: { arguments: part } }] }));
    }
  });
  out.push(chunk({}, String(choice.finish_reason)));
  if (includeUsage)
    out.push(`data: ${JSON.stringify({ ...base, choices: [], usage: completion.usage })}\n\n`);
  out.push('data: [DONE]\n\n');
  return out;
}

/** The error body of the OpenAI API: `{ error: { message, type, param, code } }`. */
export function chatError(
  type: string,
  message: string,
  code: string | null = null,
): Record<string, unknown> {
  return { error: { message, type, param: null, code } };
}
