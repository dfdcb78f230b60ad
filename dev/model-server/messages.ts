/**
 * The request side of `POST /v1/messages`: validation with the Anthropic API's error wording (so a
 * bug in the agent loop, such as a `tool_use` left without its `tool_result`, fails here as it
 * would against the real API), a view of the conversation for rule matching, and token counting.
 */
import { estimateTokens } from '../../lib/pricing';

export interface Block {
  type: string;
  [k: string]: unknown;
}
export interface Message {
  role: 'user' | 'assistant' | 'system';
  content: string | Block[];
}
export interface ToolDef {
  name: string;
  description?: string;
  input_schema?: unknown;
  [k: string]: unknown;
}
export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: Message[];
  system?: string | Block[];
  tools?: ToolDef[];
  tool_choice?: { type: string; name?: string };
  stream?: boolean;
  [k: string]: unknown;
}

export class InvalidRequest extends Error {
  override readonly name = 'InvalidRequest';
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function toolUseIds(content: Message['content']): string[] {
  if (typeof content === 'string') return [];
  return content.filter((b) => b.type === 'tool_use').map((b) => String(b.id));
}

/** The API version from which sampling parameters are refused (sent by SDK 1.x by default). */
export const NO_SAMPLING_PARAMS_VERSION = '2026-10-21';

/**
 * Validates a request body; throws `InvalidRequest` with the API's field-path style message.
 * `apiVersion` is the `anthropic-version` header: from 2026-10-21 on, `temperature`, `top_p` and
 * `top_k` are refused as the real API refuses them.
 */
export function validateRequest(body: unknown, apiVersion?: string): MessagesRequest {
  if (!isObject(body)) throw new InvalidRequest('body: expected a JSON object');
  if (apiVersion !== undefined && apiVersion >= NO_SAMPLING_PARAMS_VERSION) {
    for (const key of ['temperature', 'top_p', 'top_k']) {
      if (key in body) throw new InvalidRequest(`${key}: Extra inputs are not permitted`);
    }
  }
  if (typeof body.model !== 'string' || body.model === '') {
    throw new InvalidRequest('model: Field required');
  }
  if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1) {
    throw new InvalidRequest('max_tokens: Field required (an integer ≥ 1)');
  }
  if (!Array.isArray(body.messages)) throw new InvalidRequest('messages: Field required');
  if (body.messages.length === 0) throw new InvalidRequest('messages: at least one message is required');
  if (body.stream !== undefined && typeof body.stream !== 'boolean') {
    throw new InvalidRequest('stream: Input should be a valid boolean');
  }
  body.messages.forEach((m: unknown, i) => {
    if (!isObject(m)) throw new InvalidRequest(`messages.${i}: expected an object`);
    if (m.role !== 'user' && m.role !== 'assistant' && m.role !== 'system') {
      throw new InvalidRequest(`messages.${i}.role: Input should be 'user', 'assistant' or 'system'`);
    }
    if (typeof m.content === 'string') return;
    if (!Array.isArray(m.content)) throw new InvalidRequest(`messages.${i}.content: Field required`);
    m.content.forEach((b: unknown, j) => {
      const at = `messages.${i}.content.${j}`;
      if (!isObject(b) || typeof b.type !== 'string')
        throw new InvalidRequest(`${at}: expected a content block`);
      if (b.type === 'text' && typeof b.text !== 'string')
        throw new InvalidRequest(`${at}.text: Field required`);
      if (b.type === 'tool_use') {
        if (m.role !== 'assistant')
          throw new InvalidRequest(`${at}: tool_use blocks belong to assistant messages`);
        if (typeof b.id !== 'string' || typeof b.name !== 'string') {
          throw new InvalidRequest(`${at}.tool_use: id and name are required`);
        }
        if (!isObject(b.input))
          throw new InvalidRequest(`${at}.tool_use.input: Input should be a valid dictionary`);
      }
      if (b.type === 'tool_result') {
        if (m.role !== 'user') throw new InvalidRequest(`${at}: tool_result blocks belong to user messages`);
        if (typeof b.tool_use_id !== 'string') throw new InvalidRequest(`${at}.tool_use_id: Field required`);
      }
    });
  });
  const messages = body.messages as Message[];
  // Every tool_use must be answered in the very next message, and every tool_result must answer
  // the message before it — the real API's rule, which agent loops most often break.
  messages.forEach((m, i) => {
    const asked = toolUseIds(m.content);
    const next = messages[i + 1];
    if (m.role === 'assistant' && asked.length > 0) {
      const answered =
        next && typeof next.content !== 'string'
          ? next.content.filter((b) => b.type === 'tool_result').map((b) => String(b.tool_use_id))
          : [];
      const missing = asked.filter((id) => !answered.includes(id));
      if (missing.length > 0) {
        throw new InvalidRequest(
          `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
        );
      }
    }
    if (m.role === 'user' && typeof m.content !== 'string') {
      const prev = messages[i - 1];
      const offered = prev && prev.role === 'assistant' ? toolUseIds(prev.content) : [];
      m.content.forEach((b, j) => {
        if (b.type === 'tool_result' && !offered.includes(String(b.tool_use_id))) {
          throw new InvalidRequest(
            `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(b.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
          );
        }
      });
    }
  });
  const hasToolBlocks = messages.some(
    (m) =>
      typeof m.content !== 'string' &&
      m.content.some((b) => b.type === 'tool_use' || b.type === 'tool_result'),
  );
  if (hasToolBlocks && !(Array.isArray(body.tools) && body.tools.length > 0)) {
    throw new InvalidRequest('Requests which include `tool_use` or `tool_result` blocks must define tools.');
  }
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system)) {
    throw new InvalidRequest('system: Input should be a valid string or a list of text blocks');
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) throw new InvalidRequest('tools: Input should be a valid list');
    const names = new Set<string>();
    body.tools.forEach((t: unknown, i) => {
      if (!isObject(t) || typeof t.name !== 'string' || t.name === '') {
        throw new InvalidRequest(`tools.${i}.name: Field required`);
      }
      if (t.type === undefined || t.type === 'custom') {
        if (!isObject(t.input_schema))
          throw new InvalidRequest(`tools.${i}.custom.input_schema: Field required`);
      }
      if (names.has(t.name)) throw new InvalidRequest('tools: Tool names must be unique.');
      names.add(t.name);
    });
  }
  if (
    body.tool_choice !== undefined &&
    !(isObject(body.tool_choice) && typeof body.tool_choice.type === 'string')
  ) {
    throw new InvalidRequest('tool_choice: Input should be an object with a type');
  }
  return body as MessagesRequest;
}

/** What rules match on, derived from one request. */
export interface ConversationView {
  model: string;
  system: string;
  /** 1 + the number of assistant messages in the request. */
  turn: number;
  /** Text of the latest user message that has text. */
  userText: string;
  /** Text of the first user message. */
  firstUserText: string;
  /** Tool results in the last message, with the name of the tool each answers. */
  toolResults: { toolUseId: string; name: string | undefined; content: string; isError: boolean }[];
  /** Tools the model may call in this request (none when `tool_choice` is `none`). */
  offeredTools: string[];
  /** Names of tools called by earlier assistant turns. */
  called: string[];
  /** All user texts and tool results, oldest first. */
  conversationText: string;
}

/** The readable text of a content block (tool results flattened, images named). */
export function blockText(b: Block): string {
  switch (b.type) {
    case 'text':
      return typeof b.text === 'string' ? b.text : '';
    case 'tool_result': {
      const c = b.content;
      if (typeof c === 'string') return c;
      if (Array.isArray(c)) return c.map((x) => (isObject(x) ? blockText(x as Block) : '')).join('\n');
      return '';
    }
    case 'tool_use':
      return `${String(b.name)} ${JSON.stringify(b.input)}`;
    default:
      return `[${b.type}]`;
  }
}

function textOf(content: Message['content']): string {
  if (typeof content === 'string') return content;
  return content
    .filter((b) => b.type === 'text')
    .map(blockText)
    .join('\n');
}

export function systemText(system: MessagesRequest['system']): string {
  if (system === undefined) return '';
  if (typeof system === 'string') return system;
  return system.map(blockText).join('\n');
}

export function viewOf(req: MessagesRequest): ConversationView {
  const users = req.messages.filter((m) => m.role === 'user');
  const withText = users.filter((m) => textOf(m.content).length > 0);
  const toolNames = new Map<string, string>();
  const called: string[] = [];
  for (const m of req.messages) {
    if (m.role !== 'assistant' || typeof m.content === 'string') continue;
    for (const b of m.content) {
      if (b.type === 'tool_use') {
        toolNames.set(String(b.id), String(b.name));
        called.push(String(b.name));
      }
    }
  }
  const last = req.messages[req.messages.length - 1];
  const toolResults =
    last && last.role === 'user' && typeof last.content !== 'string'
      ? last.content
          .filter((b) => b.type === 'tool_result')
          .map((b) => ({
            toolUseId: String(b.tool_use_id),
            name: toolNames.get(String(b.tool_use_id)),
            content: blockText(b),
            isError: b.is_error === true,
          }))
      : [];
  const conversationText = users
    .map((m) => (typeof m.content === 'string' ? m.content : m.content.map(blockText).join('\n')))
    .join('\n\n');
  const toolsOff = req.tool_choice?.type === 'none';
  return {
    model: req.model,
    system: systemText(req.system),
    turn: 1 + req.messages.filter((m) => m.role === 'assistant').length,
    userText: withText.length > 0 ? textOf(withText[withText.length - 1]!.content) : '',
    firstUserText: users[0] ? textOf(users[0].content) : '',
    toolResults,
    offeredTools: toolsOff ? [] : (req.tools ?? []).map((t) => t.name),
    called,
    conversationText,
  };
}

/** Deterministic input token count over system, messages and tools (see `estimateTokens`). */
export function countInputTokens(req: MessagesRequest): number {
  let n = estimateTokens(systemText(req.system));
  for (const m of req.messages) {
    // A few tokens of framing per message, as real tokenizers spend on role markers.
    n += 3;
    n +=
      typeof m.content === 'string'
        ? estimateTokens(m.content)
        : m.content.reduce((s, b) => s + estimateTokens(blockText(b)), 0);
  }
  for (const t of req.tools ?? []) {
    n += estimateTokens(`${t.name} ${t.description ?? ''} ${JSON.stringify(t.input_schema ?? {})}`);
  }
  return Math.max(1, n);
}
