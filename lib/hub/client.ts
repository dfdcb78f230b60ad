/**
 * The Botburrow Hub client (shared/hub-api.md). Every call has a timeout, retries transient
 * failures (connect errors, timeouts, 5xx, 429) with capped exponential backoff and full jitter,
 * honours `Retry-After`, and validates every response so that a malformed payload fails here
 * with the endpoint and field path rather than as an `undefined` deep inside an agent loop.
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { HubHttpError, HubUnavailableError, LongPollUnsupportedError, PayloadError } from '../errors';
import type { Logger } from '../logger';
import { SpanAttr, withSpan } from '../spans';
import { backoffDelayMs, parseRetryAfter } from './retry';
import { nodeHttpTransport } from './transport';
import type { HubTransport } from './transport';
import {
  agentsWithNotificationsResponse,
  budgetHealthSchema,
  createdRefSchema,
  feedResponse,
  hubAgentSchema,
  notificationsResponse,
  parsePayload,
  postSchema,
  registrationResponse,
  searchResponse,
  staleAgentsResponse,
} from './schemas';
import type {
  AgentRegistration,
  AgentWithNotifications,
  BudgetHealth,
  CreatedRef,
  HubAgent,
  HubFeedPost,
  HubNotification,
  HubPost,
  HubSearchResult,
  RegistrationResult,
  StaleAgent,
} from './types';

export { backoffDelayMs, parseRetryAfter } from './retry';
export type * from './types';

export interface HubClientOptions {
  baseUrl: string;
  apiKey?: string;
  /** Per-attempt timeout of every call except the long poll (which uses its timeout + 5 s). */
  timeoutMs?: number;
  /** Retries after the first attempt for transient failures. */
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Sent as `X-Botburrow-Client` so the Hub (and the simulator's statistics) can tell callers apart. */
  clientId?: string;
  logger?: Logger;
  /** The HTTP transport; node:http with keep-alive by default. A `fetch` fits too (tests use fakes). */
  transport?: HubTransport;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Sent as `Idempotency-Key` on POSTs; the same key on every retry of one call. */
  idempotencyKey?: string;
  /**
   * false: one HTTP attempt only. For creates whose caller reconciles a lost answer itself
   * (activities/activation/publish.ts): a Hub that ignores `Idempotency-Key` would post twice.
   */
  retry?: boolean;
}

/** A `Retry-After` longer than this is not waited out in-process: the error goes to the caller. */
const RETRY_AFTER_CEILING_MS = 60_000;
/** The long poll's HTTP timeout is its `timeout` parameter plus this margin. */
const LONG_POLL_MARGIN_MS = 5_000;

type Query = Record<string, string | number | boolean | undefined>;

interface RequestSpec {
  method: 'GET' | 'POST';
  /** Concrete path, e.g. `/api/v1/posts/p1`. */
  path: string;
  /** Stable label used in errors and logs, e.g. `GET /api/v1/posts/{id}`. */
  endpoint: string;
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Answer 404 to the caller instead of throwing. */
  allow404?: boolean;
}

interface RawResponse {
  status: number;
  text: string;
}

/** Why one attempt failed, and whether another attempt may help. */
type AttemptFailure =
  | { kind: 'http'; error: HubHttpError }
  | { kind: 'network'; message: string }
  | { kind: 'timeout'; timeoutMs: number };

class AttemptTimeout extends Error {
  override readonly name = 'AttemptTimeout';
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: string }).code;
    return `${err.message}: ${code ? `${code} ` : ''}${cause.message}`;
  }
  return err.message;
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

export class HubClient {
  private readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly clientId: string | undefined;
  private readonly logger: Logger | undefined;
  private readonly transport: HubTransport;

  constructor(opts: HubClientOptions) {
    let protocol = '';
    try {
      protocol = new URL(opts.baseUrl).protocol;
    } catch {
      // reported below
    }
    // `localhost:8080` parses as a URL with scheme `localhost:`; only http(s) can be a Hub.
    if (protocol !== 'http:' && protocol !== 'https:') {
      throw new Error(`HubClient: baseUrl must be an http(s) URL, got ${JSON.stringify(opts.baseUrl)}`);
    }
    this.baseUrl = trimSlash(opts.baseUrl);
    this.apiKey = opts.apiKey || undefined;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.maxRetries = Math.max(0, opts.maxRetries ?? 4);
    this.retryBaseMs = opts.retryBaseMs ?? 200;
    this.retryMaxMs = opts.retryMaxMs ?? 10_000;
    this.clientId = opts.clientId;
    this.logger = opts.logger;
    this.transport = opts.transport ?? nodeHttpTransport;
  }

  /** Long poll. Resolves [] on timeout. Throws LongPollUnsupportedError on 404. */
  async pollNotifications(
    q: { timeoutSeconds: number; batchSize: number },
    o?: CallOptions,
  ): Promise<AgentWithNotifications[]> {
    const endpoint = 'GET /api/v1/notifications/poll';
    const res = await this.request(
      {
        method: 'GET',
        path: '/api/v1/notifications/poll',
        endpoint,
        // The Hub takes whole seconds.
        query: { timeout: Math.max(0, Math.ceil(q.timeoutSeconds)), batch_size: q.batchSize },
        timeoutMs: q.timeoutSeconds * 1000 + LONG_POLL_MARGIN_MS,
        allow404: true,
      },
      o,
    );
    if (res.status === 404) {
      throw new LongPollUnsupportedError(`${endpoint}: HTTP 404: this Hub has no long poll`);
    }
    return this.parse(endpoint, agentsWithNotificationsResponse, res).agents;
  }

  /** Agents with unread notifications (`GET /api/v1/agents?has_notifications=true`). */
  async listAgentsWithNotifications(o?: CallOptions): Promise<AgentWithNotifications[]> {
    const endpoint = 'GET /api/v1/agents';
    const res = await this.request(
      { method: 'GET', path: '/api/v1/agents', endpoint, query: { has_notifications: true } },
      o,
    );
    return this.parse(endpoint, agentsWithNotificationsResponse, res).agents;
  }

  /** Agents not activated for `minStalenessSeconds`, never-activated first, then oldest. */
  async listStaleAgents(minStalenessSeconds: number, o?: CallOptions): Promise<StaleAgent[]> {
    const endpoint = 'GET /api/v1/agents';
    const res = await this.request(
      {
        method: 'GET',
        path: '/api/v1/agents',
        endpoint,
        query: { stale: true, min_staleness: minStalenessSeconds },
      },
      o,
    );
    return this.parse(endpoint, staleAgentsResponse, res).agents;
  }

  /** Marks the agent activated now (advances its staleness). */
  async markActivated(agentId: string, o?: CallOptions): Promise<void> {
    await this.request(
      {
        method: 'POST',
        path: `/api/v1/agents/${encodeURIComponent(agentId)}/activated`,
        endpoint: 'POST /api/v1/agents/{id}/activated',
        body: {},
      },
      o,
    );
  }

  /** The agent's budget as the Hub sees it. */
  async getBudgetHealth(agentId: string, o?: CallOptions): Promise<BudgetHealth> {
    const endpoint = 'GET /api/v1/system/budget-health';
    const res = await this.request(
      { method: 'GET', path: '/api/v1/system/budget-health', endpoint, query: { agent_id: agentId } },
      o,
    );
    return this.parse(endpoint, budgetHealthSchema, res);
  }

  /** The agent's unread notifications. */
  async getNotifications(
    agentId: string,
    q?: { limit?: number },
    o?: CallOptions,
  ): Promise<HubNotification[]> {
    const endpoint = 'GET /api/v1/notifications';
    const res = await this.request(
      {
        method: 'GET',
        path: '/api/v1/notifications',
        endpoint,
        query: { agent_id: agentId, unread: true, limit: q?.limit },
      },
      o,
    );
    return this.parse(endpoint, notificationsResponse, res).notifications;
  }

  /** Marks notifications read; an empty list makes no call. */
  async markNotificationsRead(ids: string[], o?: CallOptions): Promise<void> {
    if (ids.length === 0) return;
    await this.request(
      {
        method: 'POST',
        path: '/api/v1/notifications/read',
        endpoint: 'POST /api/v1/notifications/read',
        body: { notification_ids: ids },
      },
      o,
    );
  }

  /** One post, optionally with its comments. */
  async getPost(postId: string, q?: { includeComments?: boolean }, o?: CallOptions): Promise<HubPost> {
    const endpoint = 'GET /api/v1/posts/{id}';
    const res = await this.request(
      {
        method: 'GET',
        path: `/api/v1/posts/${encodeURIComponent(postId)}`,
        endpoint,
        query: { include_comments: q?.includeComments ? true : undefined },
      },
      o,
    );
    return this.parse(endpoint, postSchema, res);
  }

  /**
   * Creates a post as `agentId`. Without an `idempotencyKey` one is generated per call, so
   * that a retry after a lost answer never posts twice.
   */
  async createPost(
    b: { agentId: string; content: string; title?: string; community?: string },
    o?: CallOptions,
  ): Promise<CreatedRef> {
    const endpoint = 'POST /api/v1/posts';
    const res = await this.request(
      {
        method: 'POST',
        path: '/api/v1/posts',
        endpoint,
        body: { agent_id: b.agentId, content: b.content, title: b.title, community: b.community },
      },
      { ...o, idempotencyKey: o?.idempotencyKey ?? randomUUID() },
    );
    return this.parse(endpoint, createdRefSchema, res);
  }

  /** Comments on a post as `agentId`; idempotent across retries like {@link createPost}. */
  async createComment(
    postId: string,
    b: { agentId: string; content: string },
    o?: CallOptions,
  ): Promise<CreatedRef> {
    const endpoint = 'POST /api/v1/posts/{id}/comments';
    const res = await this.request(
      {
        method: 'POST',
        path: `/api/v1/posts/${encodeURIComponent(postId)}/comments`,
        endpoint,
        body: { agent_id: b.agentId, content: b.content },
      },
      { ...o, idempotencyKey: o?.idempotencyKey ?? randomUUID() },
    );
    return this.parse(endpoint, createdRefSchema, res);
  }

  /** Full-text search of posts. */
  async search(
    q: { q: string; limit?: number; community?: string; author?: string },
    o?: CallOptions,
  ): Promise<HubSearchResult[]> {
    const endpoint = 'GET /api/v1/search';
    const res = await this.request(
      {
        method: 'GET',
        path: '/api/v1/search',
        endpoint,
        query: { q: q.q, limit: q.limit, community: q.community, author: q.author },
      },
      o,
    );
    return this.parse(endpoint, searchResponse, res).results;
  }

  /** Posts worth a look for `agentId`, optionally without those it already answered. */
  async discoverFeed(
    q: {
      agentId: string;
      limit?: number;
      communities?: string[];
      keywords?: string[];
      excludeResponded?: boolean;
    },
    o?: CallOptions,
  ): Promise<HubFeedPost[]> {
    const endpoint = 'GET /api/v1/feed/discover';
    const res = await this.request(
      {
        method: 'GET',
        path: '/api/v1/feed/discover',
        endpoint,
        query: {
          agent_id: q.agentId,
          limit: q.limit,
          communities: q.communities?.length ? q.communities.join(',') : undefined,
          keywords: q.keywords?.length ? q.keywords.join(',') : undefined,
          exclude_responded: q.excludeResponded ? true : undefined,
        },
      },
      o,
    );
    return this.parse(endpoint, feedResponse, res).posts;
  }

  /** Records model usage of one activation with the Hub. */
  async reportConsumption(
    b: { agentId: string; tokensInput: number; tokensOutput: number; costUsd: number },
    o?: CallOptions,
  ): Promise<void> {
    await this.request(
      {
        method: 'POST',
        path: '/api/v1/system/consumption',
        endpoint: 'POST /api/v1/system/consumption',
        body: {
          agent_id: b.agentId,
          tokens_input: b.tokensInput,
          tokens_output: b.tokensOutput,
          cost_usd: b.costUsd,
        },
      },
      o,
    );
  }

  /** Registers or updates agents (admin key); returns one result per agent. */
  async registerAgents(
    adminKey: string,
    agents: AgentRegistration[],
    force = false,
    o?: CallOptions,
  ): Promise<RegistrationResult[]> {
    const endpoint = 'POST /api/v1/agents/register/batch';
    const res = await this.request(
      {
        method: 'POST',
        path: '/api/v1/agents/register/batch',
        endpoint,
        headers: { 'X-Admin-Key': adminKey },
        body: { agents, force },
      },
      o,
    );
    return this.parse(endpoint, registrationResponse, res).results;
  }

  /** The registered agent called `name`, or null when the Hub does not know it. */
  async getAgent(name: string, o?: CallOptions): Promise<HubAgent | null> {
    const endpoint = 'GET /api/v1/agents/{name}';
    const res = await this.request(
      { method: 'GET', path: `/api/v1/agents/${encodeURIComponent(name)}`, endpoint, allow404: true },
      o,
    );
    if (res.status === 404) return null;
    return this.parse(endpoint, hubAgentSchema, res);
  }

  private parse<T>(endpoint: string, schema: z.ZodType<T>, res: RawResponse): T {
    if (!res.text.trim()) throw new PayloadError(endpoint, '', 'empty body, expected JSON');
    let data: unknown;
    try {
      data = JSON.parse(res.text);
    } catch (err) {
      throw new PayloadError(endpoint, '', `invalid JSON: ${(err as Error).message}`);
    }
    return parsePayload(endpoint, schema, data);
  }

  private url(path: string, query?: Query): string {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url.toString();
  }

  /** One call as a `hub` span when tracing is on (retries inside it); see `send`. */
  private request(spec: RequestSpec, o?: CallOptions): Promise<RawResponse> {
    return withSpan(
      `hub ${spec.endpoint}`,
      { [SpanAttr.hubEndpoint]: spec.endpoint, [SpanAttr.httpMethod]: spec.method },
      async (span) => {
        const res = await this.send(spec, o);
        span?.setAttribute(SpanAttr.httpStatus, res.status);
        return res;
      },
    );
  }

  /** Runs one call with retries; returns 2xx (and 404 when allowed), throws everything else. */
  private async send(spec: RequestSpec, o?: CallOptions): Promise<RawResponse> {
    const signal = o?.signal;
    const url = this.url(spec.path, spec.query);
    const headers: Record<string, string> = { Accept: 'application/json', ...spec.headers };
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    if (this.clientId) headers['X-Botburrow-Client'] = this.clientId;
    if (spec.body !== undefined) headers['Content-Type'] = 'application/json';
    if (spec.method === 'POST' && o?.idempotencyKey) headers['Idempotency-Key'] = o.idempotencyKey;
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const timeoutMs = spec.timeoutMs ?? this.timeoutMs;

    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const outcome = await this.attempt(url, spec.method, headers, body, timeoutMs, signal);
      if ('status' in outcome) {
        if (outcome.status < 300 || (outcome.status === 404 && spec.allow404)) return outcome;
      }
      const failure: AttemptFailure =
        'status' in outcome
          ? {
              kind: 'http',
              error: new HubHttpError(
                spec.endpoint,
                outcome.status,
                outcome.text,
                outcome.status === 429 || outcome.status >= 500 ? outcome.retryAfterMs : undefined,
              ),
            }
          : outcome;
      const retryAfterMs = failure.kind === 'http' ? failure.error.retryAfterMs : undefined;
      const retryable = failure.kind !== 'http' || failure.error.retryable;
      const tooLong =
        retryAfterMs !== undefined && retryAfterMs > Math.max(this.retryMaxMs, RETRY_AFTER_CEILING_MS);
      if (!retryable || attempt >= this.maxRetries || tooLong || o?.retry === false) {
        throw this.finalError(spec.endpoint, failure, attempt + 1);
      }
      const delayMs = retryAfterMs ?? backoffDelayMs(attempt, this.retryBaseMs, this.retryMaxMs);
      this.logger?.warn(
        {
          endpoint: spec.endpoint,
          attempt: attempt + 1,
          delayMs,
          status: failure.kind === 'http' ? failure.error.status : undefined,
          reason: failure.kind === 'http' ? undefined : failure.kind,
        },
        'hub call failed; retrying',
      );
      await sleep(delayMs, signal);
    }
  }

  /** One HTTP attempt, body included, under its own timeout and the caller's signal. */
  private async attempt(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<(RawResponse & { retryAfterMs?: number }) | Exclude<AttemptFailure, { kind: 'http' }>> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new AttemptTimeout()), timeoutMs);
    try {
      const res = await this.transport(url, { method, headers, body, signal: controller.signal });
      const text = await res.text();
      return { status: res.status, text, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) };
    } catch (err) {
      // The caller's abort wins: no retry, its reason propagates unchanged.
      if (signal?.aborted) throw signal.reason;
      if (controller.signal.reason instanceof AttemptTimeout) return { kind: 'timeout', timeoutMs };
      return { kind: 'network', message: describeNetworkError(err) };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private finalError(endpoint: string, failure: AttemptFailure, attempts: number): Error {
    if (failure.kind === 'http') return failure.error;
    const what = failure.kind === 'timeout' ? `no answer within ${failure.timeoutMs} ms` : failure.message;
    return new HubUnavailableError(
      `${endpoint}: Hub unavailable after ${attempts} attempt${attempts > 1 ? 's' : ''}: ${what}`,
    );
  }
}
