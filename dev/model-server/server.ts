/**
 * A scripted stand-in for the Anthropic Messages API (`POST /v1/messages`, JSON or, with
 * `stream: true`, server-sent events as the API defines them; `POST /v1/messages/count_tokens`) that
 * the real `@anthropic-ai/sdk` and the real claude CLI talk to through their base URL, and for
 * OpenAI-compatible Chat Completions (`POST …/chat/completions`, see chat.ts) for the `openai` SDK. Answers come from a scenario script; faults
 * (429 with retry-after, 529, 500, 400, 401, slow, malformed bodies, invalid tool input, connection
 * resets) are switched on through `/_admin/faults` or the in-process API. Every request is recorded,
 * including whether the client gave up on it (`aborted`), so tests can assert on transcripts.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chatError, chatToMessages, completionChunks, completionFromMessage } from './chat';
import { countInputTokens, InvalidRequest, systemText, validateRequest, viewOf } from './messages';
import type { MessagesRequest } from './messages';
import { embeddingInputs, hashedEmbedding } from './embeddings';
import { decide } from './engine';
import type { Decision } from './engine';
import { estimateTokens } from '../../lib/pricing';
import {
  compileRegex,
  demoScenarioPath,
  faultSchema,
  loadScenarioFile,
  parseScenario,
  parseScenarioText,
  ScenarioError,
} from './scenario';
import type { Fault, FaultKind, ParsedScenario, Scenario, ScriptedFault } from './scenario';

export type { Fault, FaultKind, Scenario } from './scenario';

export interface ModelServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** A scenario object or the path of a YAML/JSON file; default: the demo persona script. */
  script?: Scenario | string;
  /** Delay before every answer (ms) unless a rule sets its own; overrides the script's value. */
  defaultDelayMs?: number;
  /** Ignore every configured delay (rules and defaults); `slow` faults still delay. */
  instant?: boolean;
  /**
   * When set, requests must carry it (or one of them) as `x-api-key` or `Authorization: Bearer`;
   * 401 otherwise.
   */
  apiKey?: string | readonly string[];
  /** One line per answered request, for the standalone server. */
  log?: (line: string) => void;
}

export interface RecordedRequest {
  seq: number;
  requestId: string;
  method: string;
  path: string;
  /** Request headers without credentials (`x-api-key`, `authorization`, `cookie`). */
  headers: Record<string, string>;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body: unknown;
  receivedAt: string;
  /** When the answer was sent or the client went away; null while in flight. */
  finishedAt: string | null;
  status: number | null;
  /** The client closed the connection before the answer was complete. */
  aborted: boolean;
  /** The scenario rule that answered (`fallback` when none matched). */
  rule: string | null;
  fault: FaultKind | null;
  /** The body that was sent (JSON), or null. */
  response: unknown;
}

export interface ActiveFault extends Fault {
  id: number;
  remaining: number;
}

export interface ServerConfig {
  defaultDelayMs: number;
  instant: boolean;
  /**
   * Hold every answer until this many requests are in flight at once (or `holdMaxMs` passed),
   * then answer after the usual delay: benchmarks put many calls inside the model at the same
   * moment however slowly they arrive. 0: off.
   */
  holdUntilInFlight: number;
  holdMaxMs: number;
}

export interface ModelServer {
  url: string;
  port: number;
  close(): Promise<void>;
  /** Copies of the recorded requests, oldest first. */
  requests(): RecordedRequest[];
  clearRequests(): void;
  /** Replaces the active faults. */
  setFaults(faults: Fault[]): void;
  addFault(fault: Fault): ActiveFault;
  faults(): ActiveFault[];
  setScript(script: Scenario | string): void;
  script(): ParsedScenario;
  configure(c: Partial<ServerConfig>): ServerConfig;
  /** Requests in flight now and the most seen at once. */
  stats(): { inFlight: number; maxInFlight: number; total: number };
  /** Clears requests and faults and restores the initial script and configuration. */
  reset(): void;
  /** Resolves once `done(requests)` holds; rejects after `timeoutMs`. */
  waitForRequests(done: (r: RecordedRequest[]) => boolean, timeoutMs?: number): Promise<RecordedRequest[]>;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Requests kept in the log; a long local run would otherwise grow without bound. */
const MAX_RECORDED = 5000;
const SECRET_HEADERS = new Set(['x-api-key', 'authorization', 'cookie']);

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** An id shaped like Anthropic's: a prefix and 24 base62 characters. */
function randomId(prefix: string): string {
  let out = prefix;
  for (const b of randomBytes(24)) out += BASE62[b % 62];
  return out;
}

function loadScript(script: Scenario | string | undefined): ParsedScenario {
  if (script === undefined) return loadScenarioFile(demoScenarioPath());
  if (typeof script === 'string') return loadScenarioFile(script);
  return parseScenario(script, script.name ?? 'scenario');
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(!signal.aborted);
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve(!signal.aborted);
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`request body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function publicHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || SECRET_HEADERS.has(k)) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** Starts the scripted Messages API server. */
export async function createModelServer(opts: ModelServerOptions = {}): Promise<ModelServer> {
  const initialScript = loadScript(opts.script);
  let script = initialScript;
  const initialConfig = (): ServerConfig => ({
    defaultDelayMs: opts.defaultDelayMs ?? script.defaultDelayMs ?? 0,
    instant: opts.instant ?? false,
    holdUntilInFlight: 0,
    holdMaxMs: 120_000,
  });
  let config = initialConfig();
  let log: RecordedRequest[] = [];
  let faults: ActiveFault[] = [];
  let seq = 0;
  let faultSeq = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const waiters = new Set<() => void>();
  const notify = (): void => waiters.forEach((w) => w());
  /** Answers held until enough requests are in flight (`holdUntilInFlight`). */
  const held = new Set<() => void>();
  /** Open once `holdUntilInFlight` requests were in flight together, until the next hold is set. */
  let gateOpen = true;
  const releaseHeld = (): void => {
    if (config.holdUntilInFlight > 0 && inFlight < config.holdUntilInFlight) return;
    gateOpen = true;
    for (const release of held) release();
    held.clear();
  };
  function holdUntilCrowded(signal: AbortSignal): Promise<void> {
    if (config.holdUntilInFlight <= 0 || gateOpen) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        held.delete(done);
        resolve();
      };
      const timer = setTimeout(done, config.holdMaxMs);
      signal.addEventListener('abort', done);
      held.add(done);
    });
  }

  function addFault(f: Fault): ActiveFault {
    const parsed = faultSchema.parse(f);
    const active: ActiveFault = { ...parsed, id: ++faultSeq, remaining: parsed.count ?? 1 };
    faults.push(active);
    return active;
  }

  /** Takes one use of the first active fault that matches this request. */
  function takeFault(body: MessagesRequest): ActiveFault | undefined {
    const system = systemText(body.system);
    const f = faults.find(
      (x) =>
        x.remaining > 0 &&
        (x.match?.system === undefined || compileRegex(x.match.system).test(system)) &&
        (x.match?.model === undefined || compileRegex(x.match.model).test(body.model)),
    );
    if (!f) return undefined;
    f.remaining -= 1;
    faults = faults.filter((x) => x.remaining > 0);
    return f;
  }

  const apiKeys: readonly string[] | undefined =
    opts.apiKey === undefined ? undefined : typeof opts.apiKey === 'string' ? [opts.apiKey] : opts.apiKey;

  /** The request carries an accepted key (any, when the server has none). */
  function authorized(req: http.IncomingMessage): boolean {
    if (apiKeys === undefined) return true;
    const key = req.headers['x-api-key'];
    const bearer = req.headers.authorization?.replace(/^Bearer\s+/i, '');
    return apiKeys.some((k) => k === key || k === bearer);
  }

  function send(
    res: http.ServerResponse,
    rec: RecordedRequest,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (res.destroyed) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    rec.status = status;
    rec.response = body;
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'request-id': rec.requestId,
      ...headers,
    });
    res.end(text);
  }

  /**
   * A message as the streaming API sends it: message_start, per block a start, deltas (text_delta,
   * input_json_delta) and a stop, message_delta with the stop reason and output usage, message_stop.
   */
  function sendStream(res: http.ServerResponse, rec: RecordedRequest, answer: Record<string, unknown>): void {
    if (res.destroyed) return;
    const msg = answer as {
      content: Record<string, unknown>[];
      usage: Record<string, unknown>;
      stop_reason: string;
    };
    rec.status = 200;
    rec.response = answer;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': rec.requestId,
    });
    const event = (type: string, data: Record<string, unknown>): void => {
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    };
    event('message_start', {
      message: {
        ...answer,
        content: [],
        stop_reason: null,
        usage: { ...msg.usage, output_tokens: 1 },
      },
    });
    msg.content.forEach((block, index) => {
      if (block.type === 'tool_use') {
        event('content_block_start', { index, content_block: { ...block, input: {} } });
        const json = typeof block.input === 'string' ? block.input : JSON.stringify(block.input);
        event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json } });
      } else {
        const text = typeof block.text === 'string' ? block.text : '';
        event('content_block_start', { index, content_block: { ...block, text: '' } });
        event('content_block_delta', { index, delta: { type: 'text_delta', text } });
      }
      event('content_block_stop', { index });
    });
    event('message_delta', {
      delta: { stop_reason: msg.stop_reason, stop_sequence: null },
      usage: { output_tokens: msg.usage.output_tokens },
    });
    event('message_stop', {});
    res.end();
  }

  function sendError(
    res: http.ServerResponse,
    rec: RecordedRequest,
    status: number,
    type: string,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    send(res, rec, status, { type: 'error', error: { type, message }, request_id: rec.requestId }, headers);
  }

  function message(body: MessagesRequest, d: Decision): Record<string, unknown> {
    let text = d.text;
    let calls = d.toolCalls;
    let stopReason = d.stopReason ?? (calls.length > 0 ? 'tool_use' : 'end_turn');
    let outputTokens =
      estimateTokens(text ?? '') +
      calls.reduce((n, c) => n + estimateTokens(`${c.name} ${JSON.stringify(c.input)}`), 0);
    if (outputTokens > body.max_tokens) {
      // What a real model does when it runs out: the text stops mid-way and no tool call follows.
      text = (text ?? '').slice(0, body.max_tokens * 4);
      calls = [];
      stopReason = 'max_tokens';
      outputTokens = body.max_tokens;
    }
    const content: Record<string, unknown>[] = [];
    if (text !== undefined && text !== '') content.push({ type: 'text', text, citations: null });
    for (const c of calls) {
      content.push({
        type: 'tool_use',
        id: randomId('toolu_'),
        name: c.name,
        input: c.input,
        caller: { type: 'direct' },
      });
    }
    return {
      id: randomId('msg_'),
      type: 'message',
      role: 'assistant',
      model: body.model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      stop_details: null,
      container: null,
      usage: {
        input_tokens: countInputTokens(body),
        output_tokens: Math.max(1, outputTokens),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        cache_creation: null,
        server_tool_use: null,
        service_tier: 'standard',
      },
    };
  }

  async function applyFault(
    kind: ScriptedFault,
    res: http.ServerResponse,
    rec: RecordedRequest,
    body: MessagesRequest,
    d: Decision,
    signal: AbortSignal,
  ): Promise<void> {
    rec.fault = kind.kind;
    const retryAfter =
      kind.retryAfterSeconds !== undefined
        ? { 'retry-after': String(kind.retryAfterSeconds) }
        : kind.kind === '429'
          ? { 'retry-after': '1' }
          : undefined;
    switch (kind.kind) {
      case '429':
        return sendError(
          res,
          rec,
          429,
          'rate_limit_error',
          'Number of requests has exceeded your rate limit (scripted fault).',
          retryAfter,
        );
      case '529':
        return sendError(res, rec, 529, 'overloaded_error', 'Overloaded (scripted fault)', retryAfter);
      case '500':
        return sendError(res, rec, 500, 'api_error', 'Internal server error (scripted fault)');
      case '400':
        return sendError(res, rec, 400, 'invalid_request_error', 'Invalid request (scripted fault)');
      case '401':
        return sendError(res, rec, 401, 'authentication_error', 'invalid x-api-key (scripted fault)');
      case 'reset':
        res.socket?.destroy();
        return;
      case 'slow':
        if (!(await sleep(kind.delayMs ?? 5000, signal))) return;
        return send(res, rec, 200, message(body, d));
      case 'malformed': {
        const full = message(body, d);
        if (kind.variant === 'missing_fields') {
          return send(res, rec, 200, { id: full.id, type: 'message', role: 'assistant', model: body.model });
        }
        const json = JSON.stringify(full);
        return send(res, rec, 200, json.slice(0, Math.max(10, Math.floor(json.length / 2))));
      }
      case 'invalid_tool_json': {
        const full = message(body, d);
        const tool = d.toolCalls[0]?.name ?? viewOf(body).offeredTools[0] ?? 'hub_post';
        full.content = [
          // The model emitted a string where an object belongs: truncated JSON text.
          {
            type: 'tool_use',
            id: randomId('toolu_'),
            name: tool,
            input: '{"content": "Hello, wor',
            caller: { type: 'direct' },
          },
        ];
        full.stop_reason = 'tool_use';
        return send(res, rec, 200, full);
      }
    }
  }

  async function handleMessages(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rec: RecordedRequest,
    signal: AbortSignal,
  ): Promise<void> {
    let raw: string;
    try {
      raw = await readBody(req);
    } catch (err) {
      return sendError(res, rec, 413, 'request_too_large', (err as Error).message);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
      rec.body = parsed;
    } catch (err) {
      rec.body = raw;
      return sendError(
        res,
        rec,
        400,
        'invalid_request_error',
        `body: not valid JSON: ${(err as Error).message}`,
      );
    }
    if (!authorized(req)) return sendError(res, rec, 401, 'authentication_error', 'invalid x-api-key');
    let body: MessagesRequest;
    try {
      const version = req.headers['anthropic-version'];
      body = validateRequest(parsed, typeof version === 'string' ? version : undefined);
    } catch (err) {
      if (err instanceof InvalidRequest)
        return sendError(res, rec, 400, 'invalid_request_error', err.message);
      throw err;
    }
    const decision = decide(script, viewOf(body));
    rec.rule = decision.rule;
    const fault = takeFault(body) ?? decision.fault;
    if (fault && fault.kind !== 'slow') return applyFault(fault, res, rec, body, decision, signal);
    await holdUntilCrowded(signal);
    const delay = config.instant ? 0 : (decision.delayMs ?? config.defaultDelayMs);
    if (!(await sleep(delay, signal))) return;
    if (fault) return applyFault(fault, res, rec, body, decision, signal);
    if (body.stream === true) return sendStream(res, rec, message(body, decision));
    send(res, rec, 200, message(body, decision));
  }

  /** A Chat Completions answer: JSON, or chunks when the request streams. */
  function sendCompletion(
    res: http.ServerResponse,
    rec: RecordedRequest,
    chat: { stream?: boolean; stream_options?: { include_usage?: boolean } },
    completion: Record<string, unknown>,
  ): void {
    if (chat.stream !== true) return send(res, rec, 200, completion);
    if (res.destroyed) return;
    rec.status = 200;
    rec.response = completion;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': rec.requestId,
    });
    for (const c of completionChunks(completion, chat.stream_options?.include_usage === true)) res.write(c);
    res.end();
  }

  function sendChatError(
    res: http.ServerResponse,
    rec: RecordedRequest,
    status: number,
    type: string,
    message: string,
    code: string | null = null,
    headers: Record<string, string> = {},
  ): void {
    send(res, rec, status, chatError(type, message, code), { 'x-request-id': rec.requestId, ...headers });
  }

  /**
   * `POST …/chat/completions` (OpenAI, Gemini's OpenAI-compatible endpoint, local servers): the
   * same scenario and faults as /v1/messages, in the Chat Completions shapes.
   */
  async function handleChat(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rec: RecordedRequest,
    signal: AbortSignal,
  ): Promise<void> {
    let parsed: unknown;
    try {
      const raw = await readBody(req);
      try {
        parsed = JSON.parse(raw);
        rec.body = parsed;
      } catch (err) {
        rec.body = raw;
        return sendChatError(
          res,
          rec,
          400,
          'invalid_request_error',
          `We could not parse the JSON body of your request: ${(err as Error).message}`,
        );
      }
    } catch (err) {
      return sendChatError(res, rec, 413, 'invalid_request_error', (err as Error).message);
    }
    if (!authorized(req)) {
      return sendChatError(
        res,
        rec,
        401,
        'invalid_request_error',
        'Incorrect API key provided.',
        'invalid_api_key',
      );
    }
    let converted: ReturnType<typeof chatToMessages>;
    try {
      converted = chatToMessages(parsed);
    } catch (err) {
      if (err instanceof InvalidRequest)
        return sendChatError(res, rec, 400, 'invalid_request_error', err.message);
      throw err;
    }
    const { chat, request: body } = converted;
    const decision = decide(script, viewOf(body));
    rec.rule = decision.rule;
    const fault = takeFault(body) ?? decision.fault;
    const created = Math.floor(Date.now() / 1000);
    const answer = (): Record<string, unknown> => completionFromMessage(message(body, decision), created);
    if (fault && fault.kind === 'slow') {
      rec.fault = 'slow';
      if (!(await sleep(fault.delayMs ?? 5000, signal))) return;
      return sendCompletion(res, rec, chat, answer());
    }
    if (fault) {
      rec.fault = fault.kind;
      const retryAfter: Record<string, string> =
        fault.retryAfterSeconds !== undefined
          ? { 'retry-after': String(fault.retryAfterSeconds) }
          : fault.kind === '429'
            ? { 'retry-after': '1' }
            : {};
      switch (fault.kind) {
        case '429':
          return sendChatError(
            res,
            rec,
            429,
            'requests',
            'Rate limit reached for requests (scripted fault).',
            'rate_limit_exceeded',
            retryAfter,
          );
        case '529':
          return sendChatError(
            res,
            rec,
            529,
            'server_error',
            'The server is overloaded (scripted fault).',
            null,
            retryAfter,
          );
        case '500':
          return sendChatError(
            res,
            rec,
            500,
            'server_error',
            'The server had an error while processing your request (scripted fault).',
          );
        case '400':
          return sendChatError(res, rec, 400, 'invalid_request_error', 'Invalid request (scripted fault).');
        case '401':
          return sendChatError(
            res,
            rec,
            401,
            'invalid_request_error',
            'Incorrect API key provided (scripted fault).',
            'invalid_api_key',
          );
        case 'reset':
          res.socket?.destroy();
          return;
        case 'malformed': {
          const full = answer();
          if (fault.variant === 'missing_fields') {
            return send(res, rec, 200, { id: full.id, object: 'chat.completion', model: body.model });
          }
          const json = JSON.stringify(full);
          return send(res, rec, 200, json.slice(0, Math.max(10, Math.floor(json.length / 2))));
        }
        case 'invalid_tool_json': {
          const full = message(body, decision);
          const tool = decision.toolCalls[0]?.name ?? viewOf(body).offeredTools[0] ?? 'hub_post';
          full.content = [
            { type: 'tool_use', id: randomId('toolu_'), name: tool, input: '{"content": "Hello, wor' },
          ];
          full.stop_reason = 'tool_use';
          return sendCompletion(res, rec, chat, completionFromMessage(full, created));
        }
      }
    }
    await holdUntilCrowded(signal);
    const delay = config.instant ? 0 : (decision.delayMs ?? config.defaultDelayMs);
    if (!(await sleep(delay, signal))) return;
    sendCompletion(res, rec, chat, answer());
  }

  /** `POST …/embeddings` (OpenAI-compatible): deterministic hashed bag-of-words vectors (embeddings.ts). */
  async function handleEmbeddings(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rec: RecordedRequest,
    signal: AbortSignal,
  ): Promise<void> {
    let parsed: unknown;
    try {
      const raw = await readBody(req);
      try {
        parsed = JSON.parse(raw);
        rec.body = parsed;
      } catch (err) {
        rec.body = raw;
        return sendChatError(
          res,
          rec,
          400,
          'invalid_request_error',
          `invalid JSON body: ${(err as Error).message}`,
        );
      }
    } catch (err) {
      return sendChatError(res, rec, 413, 'invalid_request_error', (err as Error).message);
    }
    if (!authorized(req)) {
      return sendChatError(
        res,
        rec,
        401,
        'invalid_request_error',
        'Incorrect API key provided.',
        'invalid_api_key',
      );
    }
    const inputs = embeddingInputs(parsed);
    if (typeof inputs === 'string') return sendChatError(res, rec, 400, 'invalid_request_error', inputs);
    // Only faults that name the embedding model apply here (chat faults stay for chat requests).
    const model = (parsed as { model: string }).model;
    const fault = faults.find(
      (x) => x.remaining > 0 && x.match?.model !== undefined && compileRegex(x.match.model).test(model),
    );
    if (fault) {
      fault.remaining -= 1;
      faults = faults.filter((x) => x.remaining > 0);
      rec.fault = fault.kind;
      if (fault.kind === 'slow') {
        if (!(await sleep(fault.delayMs ?? 5000, signal))) return;
      } else if (fault.kind === '429') {
        return sendChatError(res, rec, 429, 'requests', 'Rate limit reached (scripted fault).', null, {
          'retry-after': String(fault.retryAfterSeconds ?? 1),
        });
      } else {
        return sendChatError(res, rec, 500, 'server_error', `scripted ${fault.kind} fault on embeddings`);
      }
    }
    const tokens = inputs.reduce((n, t) => n + estimateTokens(t), 0);
    send(res, rec, 200, {
      object: 'list',
      model,
      data: inputs.map((t, index) => ({ object: 'embedding', index, embedding: hashedEmbedding(t) })),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  /** `POST /v1/messages/count_tokens`: the same estimate the answers' usage uses. */
  async function handleCountTokens(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rec: RecordedRequest,
  ) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readBody(req));
      rec.body = parsed;
    } catch (err) {
      return sendError(
        res,
        rec,
        400,
        'invalid_request_error',
        `body: not valid JSON: ${(err as Error).message}`,
      );
    }
    const body = parsed as MessagesRequest;
    if (typeof body !== 'object' || body === null || !Array.isArray(body.messages)) {
      return sendError(res, rec, 400, 'invalid_request_error', 'messages: Field required');
    }
    send(res, rec, 200, { input_tokens: countInputTokens(body) });
  }

  async function readJson(req: http.IncomingMessage): Promise<unknown> {
    const text = await readBody(req);
    if (text.trim() === '') return undefined;
    return JSON.parse(text);
  }

  async function handleAdmin(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
  ): Promise<void> {
    const reply = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    const bad = (message: string): void =>
      reply(400, { type: 'error', error: { type: 'invalid_request_error', message } });
    const route = `${req.method ?? 'GET'} ${path}`;
    try {
      switch (route) {
        case 'GET /_admin/requests':
          return reply(200, { requests: api.requests() });
        case 'DELETE /_admin/requests':
          api.clearRequests();
          return reply(200, { requests: [] });
        case 'GET /_admin/faults':
          return reply(200, { faults });
        case 'POST /_admin/faults': {
          const b = await readJson(req);
          const list = Array.isArray(b)
            ? b
            : typeof b === 'object' && b !== null && 'faults' in b
              ? b.faults
              : [b];
          if (!Array.isArray(list)) return bad('faults: expected a list');
          const checked = list.map((f, i) => {
            const r = faultSchema.safeParse(f);
            if (!r.success) {
              throw new ScenarioError(
                r.error.issues.map((x) => `faults[${i}].${x.path.join('.')}: ${x.message}`).join('; '),
              );
            }
            return r.data;
          });
          return reply(200, { added: checked.map(addFault), faults });
        }
        case 'DELETE /_admin/faults':
          faults = [];
          return reply(200, { faults });
        case 'GET /_admin/script':
          return reply(200, { script });
        case 'PUT /_admin/script':
        case 'POST /_admin/script': {
          api.setScript(parseScenarioText(await readBody(req), 'PUT /_admin/script'));
          return reply(200, { script });
        }
        case 'GET /_admin/config':
          return reply(200, config);
        case 'POST /_admin/config': {
          const b = (await readJson(req)) as Partial<ServerConfig> | undefined;
          if (typeof b !== 'object' || b === null) return bad('expected {defaultDelayMs?, instant?}');
          if (
            b.defaultDelayMs !== undefined &&
            !(Number.isInteger(b.defaultDelayMs) && b.defaultDelayMs >= 0)
          ) {
            return bad('defaultDelayMs: expected an integer ≥ 0');
          }
          if (b.instant !== undefined && typeof b.instant !== 'boolean')
            return bad('instant: expected true or false');
          for (const k of ['holdUntilInFlight', 'holdMaxMs'] as const) {
            if (b[k] !== undefined && !(Number.isInteger(b[k]) && b[k] >= 0))
              return bad(`${k}: expected an integer ≥ 0`);
          }
          return reply(200, api.configure(b));
        }
        case 'GET /_admin/stats':
          return reply(200, api.stats());
        case 'POST /_admin/reset':
          api.reset();
          return reply(200, { ok: true });
        default:
          return reply(404, {
            type: 'error',
            error: { type: 'not_found_error', message: `no admin route ${route}` },
          });
      }
    } catch (err) {
      if (err instanceof ScenarioError || err instanceof SyntaxError) return bad(err.message);
      throw err;
    }
  }

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith('/_admin/')) {
      handleAdmin(req, res, path).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(err) } }));
      });
      return;
    }
    if (path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
      return;
    }
    const rec: RecordedRequest = {
      seq: ++seq,
      requestId: randomId('req_'),
      method: req.method ?? 'GET',
      path,
      headers: publicHeaders(req.headers),
      body: null,
      receivedAt: new Date().toISOString(),
      finishedAt: null,
      status: null,
      aborted: false,
      rule: null,
      fault: null,
      response: null,
    };
    log.push(rec);
    if (log.length > MAX_RECORDED) log = log.slice(-MAX_RECORDED);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    if (!gateOpen) releaseHeld();
    const gone = new AbortController();
    res.on('close', () => {
      inFlight--;
      // 'close' without a finished response: the client hung up (or a `reset` fault cut it).
      if (!res.writableFinished && rec.fault !== 'reset') {
        rec.aborted = true;
        gone.abort();
      }
      rec.finishedAt = new Date().toISOString();
      opts.log?.(
        `${rec.method} ${rec.path} → ${rec.aborted ? 'aborted' : rec.status} rule=${rec.rule ?? '-'}${rec.fault ? ` fault=${rec.fault}` : ''}`,
      );
      notify();
    });
    const handled =
      req.method === 'POST' && path === '/v1/messages'
        ? handleMessages(req, res, rec, gone.signal)
        : req.method === 'POST' && path === '/v1/messages/count_tokens'
          ? handleCountTokens(req, res, rec)
          : req.method === 'POST' && path.endsWith('/chat/completions')
            ? handleChat(req, res, rec, gone.signal)
            : req.method === 'POST' && path.endsWith('/embeddings')
              ? handleEmbeddings(req, res, rec, gone.signal)
              : Promise.resolve(
                  sendError(
                    res,
                    rec,
                    404,
                    'not_found_error',
                    `${req.method ?? 'GET'} ${path}: not found (only POST /v1/messages, /v1/messages/count_tokens, …/chat/completions and …/embeddings are scripted)`,
                  ),
                );
    handled.catch((err: unknown) => {
      if (!res.headersSent) sendError(res, rec, 500, 'api_error', `scripted server bug: ${String(err)}`);
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  const api: ModelServer = {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    requests: () => structuredClone(log),
    clearRequests: () => {
      log = [];
    },
    setFaults: (list) => {
      faults = [];
      list.forEach(addFault);
    },
    addFault,
    faults: () => structuredClone(faults),
    setScript: (s) => {
      script = loadScript(s);
      if (opts.defaultDelayMs === undefined && script.defaultDelayMs !== undefined) {
        config.defaultDelayMs = script.defaultDelayMs;
      }
    },
    script: () => script,
    configure: (c) => {
      config = { ...config, ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) };
      // A hold set anew closes the gate for the next wave of requests.
      if (c.holdUntilInFlight !== undefined && c.holdUntilInFlight > 0) gateOpen = false;
      releaseHeld();
      return { ...config };
    },
    stats: () => ({ inFlight, maxInFlight, total: seq }),
    reset: () => {
      log = [];
      faults = [];
      script = initialScript;
      config = initialConfig();
      releaseHeld();
      maxInFlight = inFlight;
    },
    waitForRequests: (done, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const snapshot = api.requests();
          if (done(snapshot)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(snapshot);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`waitForRequests: condition not met within ${timeoutMs} ms (${log.length} requests)`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
  return api;
}
