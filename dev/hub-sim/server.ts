/**
 * The Hub simulator: every call of shared/hub-api.md over node:http, in memory, plus admin
 * endpoints under `/_admin/` (README.md beside this file) that tests and the demo use to inject
 * events, switch on faults and read back what agents did.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HubSimAdmin } from './admin';
import type { WorldSeed } from './seed';
import { resolveSeed } from './seed';
import type { Limits } from './world';
import { HubWorld, SimError, view } from './world';

export interface HubSimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** When set, every `/api/v1` call needs `Authorization: Bearer <apiKey>` (else 401). */
  apiKey?: string;
  /** When set, registration needs `X-Admin-Key: <adminKey>` (else 401). */
  adminKey?: string;
  /** The initial world: an object or a YAML/JSON file path. `reset` returns to it. */
  seed?: WorldSeed | string;
  /** false makes the long poll answer 404 (a Hub without one). Default true. */
  longPoll?: boolean;
  /** Mentions and comments notify the agents concerned. Default false (tests stay predictable). */
  social?: boolean;
  /** Limits for agents whose seed names none (0 = no limit). */
  defaultLimits?: Partial<Limits>;
  /** Inject a demo notification every this many seconds (the local run's ambient activity). */
  ambientEverySeconds?: number;
  /**
   * false ignores `Idempotency-Key` (the Hub contract does not define it; a real Hub may not
   * dedupe), so tests can show exactly-once posting without it. Default true.
   */
  dedupe?: boolean;
  /** Seed of the generator that decides which requests a fault with `probability` hits. Default 1. */
  faultSeed?: number;
  /** Clock for staleness and budgets. */
  now?: () => number;
  /** One line per notable event (ambient injections, handler crashes). */
  log?: (line: string) => void;
}

/** A fault switched on for one endpoint label (e.g. `GET /api/v1/search`) or `*`. */
export interface FaultSpec {
  endpoint: string;
  /** Answer with this status (and `body`, default `{ error }`) instead of handling the call. */
  status?: number;
  /** `Retry-After` header value (seconds or an HTTP date) sent with `status`. */
  retryAfter?: number | string;
  body?: unknown;
  /** Wait this long before answering (applies before everything else). */
  delayMs?: number;
  /** Destroy the connection without answering (a connect-level failure). */
  drop?: boolean;
  /** Handle the call, then destroy the connection: the Hub acted but the answer was lost. */
  loseAnswer?: boolean;
  /** Handle the call, then wait this long before answering: the Hub acted, the answer is late. */
  answerDelayMs?: number;
  /** Handle the call, then corrupt the 2xx body: `raw` replaces it, `set`/`delete` edit field paths. */
  malformed?: { raw?: string; set?: Record<string, unknown>; delete?: string[] };
  /** Requests it applies to before it clears itself; omitted = until cleared. */
  count?: number;
  /**
   * The share (0..1) of matching requests it hits, drawn from the simulator's seeded generator;
   * omitted = every one. A request it spares goes on to the next matching fault; `count` and
   * `hits` count only the requests it hit.
   */
  probability?: number;
}

export interface ActiveFault extends FaultSpec {
  id: string;
  /** Requests it has hit so far. */
  hits: number;
}

export interface PollClientStats {
  total: number;
  open: number;
}

export interface PollStats {
  clients: Record<string, PollClientStats>;
  open_now: number;
  max_concurrent_distinct_pollers: number;
  /** Present when `since`/`until` were given: who started polls inside that window. */
  window?: { since: string; until: string; clients: string[]; polls: number };
}

export interface HubSimulator {
  readonly url: string;
  readonly port: number;
  /** Typed client of the admin endpoints. */
  readonly admin: HubSimAdmin;
  /** The live in-memory world (replaced on reset), for in-process inspection. */
  world(): HubWorld;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  params: string[];
  body: () => Promise<Record<string, unknown>>;
  client: string;
}

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  pattern: RegExp;
  label: string;
  handle: (ctx: Ctx) => Reply | Promise<Reply>;
}

interface Waiter {
  batch: number;
  finish: (agents: unknown[]) => void;
}

const MAX_BODY_BYTES = 1024 * 1024;
/** Admin calls may carry a whole faulty answer (e.g. a notification list of 10 000 items). */
const MAX_ADMIN_BODY_BYTES = 32 * 1024 * 1024;
const MAX_CONTENT_CHARS = 40_000;
const ANONYMOUS_CLIENT = 'anonymous';

const ok = (body: unknown, status = 200): Reply => ({ status, body });

function json(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function readBody(req: http.IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new SimError(413, `body larger than ${maxBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        const data: unknown = JSON.parse(text);
        if (data === null || typeof data !== 'object' || Array.isArray(data)) {
          reject(new SimError(400, 'body must be a JSON object'));
        } else resolve(data as Record<string, unknown>);
      } catch (err) {
        reject(new SimError(400, `body is not valid JSON: ${(err as Error).message}`));
      }
    });
  });
}

/** Query and body field readers that fail with a 400 naming the field. */
const param = {
  int(url: URL, name: string, def: number, min: number, max: number): number {
    const raw = url.searchParams.get(name);
    if (raw === null || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new SimError(
        400,
        `query ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
      );
    }
    return n;
  },
  bool(url: URL, name: string): boolean {
    const raw = url.searchParams.get(name);
    if (raw === null || raw === '' || raw === 'false' || raw === '0') return false;
    if (raw === 'true' || raw === '1') return true;
    throw new SimError(400, `query ${name} must be true or false, got ${JSON.stringify(raw)}`);
  },
  list(url: URL, name: string): string[] {
    return (url.searchParams.get(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  },
  str(url: URL, name: string): string | undefined {
    const raw = url.searchParams.get(name);
    return raw === null || raw === '' ? undefined : raw;
  },
};

function field(body: Record<string, unknown>, name: string, kind: 'string', required: true): string;
function field(
  body: Record<string, unknown>,
  name: string,
  kind: 'string',
  required?: false,
): string | undefined;
function field(body: Record<string, unknown>, name: string, kind: 'number', required: true): number;
function field(
  body: Record<string, unknown>,
  name: string,
  kind: 'string' | 'number',
  required = false,
): string | number | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw new SimError(400, `body field ${name} is required`);
    return undefined;
  }
  if (kind === 'string' && typeof v !== 'string')
    throw new SimError(400, `body field ${name} must be a string`);
  if (kind === 'number' && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
    throw new SimError(400, `body field ${name} must be a non-negative number`);
  }
  return v as string | number;
}

function content(body: Record<string, unknown>): string {
  const text = field(body, 'content', 'string', true);
  if (!text.trim()) throw new SimError(400, 'body field content must not be empty');
  if (text.length > MAX_CONTENT_CHARS) {
    throw new SimError(400, `body field content is longer than ${MAX_CONTENT_CHARS} characters`);
  }
  return text;
}

function actorField(world: HubWorld, v: unknown, name: string, def: string): { id: string; name: string } {
  if (v === undefined || v === null) return world.actor(def);
  if (typeof v === 'string' && v) return world.actor(v);
  if (typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string') {
    const { id, name: n } = v as { id: string; name?: unknown };
    return typeof n === 'string' ? { id, name: n } : world.actor(id);
  }
  throw new SimError(400, `body field ${name} must be an agent id or { id, name }`);
}

/** `notifications[0].from_agent.id` or `notifications.0.from_agent.id` → segments. */
function pathSegments(path: string): string[] {
  return path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter(Boolean);
}

function editPath(
  target: unknown,
  path: string,
  edit: (parent: Record<string, unknown>, key: string) => void,
): void {
  const segs = pathSegments(path);
  let cur: unknown = target;
  for (const seg of segs.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return;
    cur = (cur as Record<string, unknown>)[seg];
  }
  const last = segs[segs.length - 1];
  if (cur !== null && typeof cur === 'object' && last !== undefined)
    edit(cur as Record<string, unknown>, last);
}

/** Applies a malformed-body fault to a 2xx body. */
function corrupt(body: unknown, m: NonNullable<FaultSpec['malformed']>): unknown {
  if (m.raw !== undefined) return m.raw;
  if (!m.set && !m.delete) return '{"truncated": ';
  const copy: unknown = body === undefined ? {} : JSON.parse(JSON.stringify(body));
  for (const [p, v] of Object.entries(m.set ?? {})) editPath(copy, p, (o, k) => (o[k] = v));
  for (const p of m.delete ?? []) editPath(copy, p, (o, k) => delete o[k]);
  return copy;
}

const AMBIENT_LINES = [
  'What do you think about the latest discussion in {community}?',
  'Could you summarise the main arguments of "{title}"?',
  '@{to} I would love your take on this thread.',
  'Is there a source for the claim in "{title}"?',
  'Quick question: what would you change about "{title}"?',
];
const AMBIENT_TYPES = ['mention', 'reply', 'comment', 'dm', 'thread_update'];

/** mulberry32: a small seeded generator, so a run with probabilistic faults can be repeated. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Starts a simulator and resolves once it listens. */
export async function createHubSimulator(options: HubSimulatorOptions = {}): Promise<HubSimulator> {
  const initialSeed = resolveSeed(options.seed);
  const log = options.log ?? ((): void => undefined);
  const worldOptions = { now: options.now, social: options.social, defaultLimits: options.defaultLimits };
  let world = new HubWorld(initialSeed, worldOptions);
  let longPollEnabled = options.longPoll ?? true;

  let faults: ActiveFault[] = [];
  let faultSeq = 0;
  let faultRandom = seededRandom(options.faultSeed ?? 1);
  const requestCounts = new Map<string, number>();
  const idempotency = new Map<string, { fingerprint: string; reply: Reply }>();

  // Long poll waiters and statistics.
  const waiters = new Set<Waiter>();
  const pollClients = new Map<string, PollClientStats>();
  let pollEvents: { client: string; at: number }[] = [];
  let maxDistinctPollers = 0;

  const distinctOpenPollers = (): number => [...pollClients.values()].filter((c) => c.open > 0).length;
  // One wake-up per burst: a request that creates several notifications (a comment that notifies
  // the author and mentions two agents) answers open polls once, after all of them exist.
  let wakeQueued = false;
  const wakePollers = (): void => {
    if (waiters.size === 0 || wakeQueued) return;
    wakeQueued = true;
    queueMicrotask(() => {
      wakeQueued = false;
      const agents = world.agentsWithUnread();
      if (agents.length === 0) return;
      for (const w of [...waiters]) w.finish(agents.slice(0, w.batch));
    });
  };
  let unsubscribe = world.onUnread(wakePollers);

  function longPoll(ctx: Ctx): Reply | Promise<Reply> {
    if (!longPollEnabled) throw new SimError(404, 'this Hub has no long poll');
    const timeout = param.int(ctx.url, 'timeout', 30, 0, 300);
    const batch = param.int(ctx.url, 'batch_size', 100, 1, 1000);
    const stats = pollClients.get(ctx.client) ?? { total: 0, open: 0 };
    pollClients.set(ctx.client, stats);
    stats.total += 1;
    pollEvents.push({ client: ctx.client, at: Date.now() });
    if (pollEvents.length > 20_000) pollEvents = pollEvents.slice(-10_000);
    const ready = world.agentsWithUnread(batch);
    if (ready.length > 0 || timeout === 0) return ok({ agents: ready });

    stats.open += 1;
    maxDistinctPollers = Math.max(maxDistinctPollers, distinctOpenPollers());
    return new Promise<Reply>((resolve) => {
      let done = false;
      const finish = (agents: unknown[]): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        waiters.delete(waiter);
        stats.open -= 1;
        resolve(ok({ agents }));
      };
      const waiter: Waiter = { batch, finish };
      const timer = setTimeout(() => finish([]), timeout * 1000);
      waiters.add(waiter);
      // A caller that gives up (abort, timeout) stops counting as an open poller at once.
      ctx.res.on('close', () => finish([]));
    });
  }

  /** Runs a POST at most once per Idempotency-Key; a replay gets the first answer. */
  async function idempotent(
    ctx: Ctx,
    label: string,
    run: (body: Record<string, unknown>) => Reply,
  ): Promise<Reply> {
    const body = await ctx.body();
    const key = ctx.req.headers['idempotency-key'];
    if (typeof key !== 'string' || !key || options.dedupe === false) return run(body);
    const slot = `${label}|${key}`;
    const fingerprint = `${ctx.url.pathname}|${JSON.stringify(body)}`;
    const seen = idempotency.get(slot);
    if (seen) {
      if (seen.fingerprint !== fingerprint) {
        throw new SimError(422, `Idempotency-Key ${key} was already used with a different request`);
      }
      return { ...seen.reply, headers: { ...seen.reply.headers, 'Idempotent-Replayed': 'true' } };
    }
    const reply = run(body);
    if (reply.status < 300) idempotency.set(slot, { fingerprint, reply });
    return reply;
  }

  const api: Route[] = [
    {
      method: 'GET',
      pattern: /^\/api\/v1\/notifications\/poll$/,
      label: 'GET /api/v1/notifications/poll',
      handle: longPoll,
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/agents$/,
      label: 'GET /api/v1/agents',
      handle: ({ url }) => {
        const hasNotifications = param.bool(url, 'has_notifications');
        const stale = param.bool(url, 'stale');
        if (hasNotifications && stale) throw new SimError(400, 'use has_notifications or stale, not both');
        if (hasNotifications) return ok({ agents: world.agentsWithUnread() });
        if (stale) {
          return ok({ agents: world.staleAgents(param.int(url, 'min_staleness', 0, 0, 10 * 365 * 86400)) });
        }
        const unread = new Map(world.agentsWithUnread().map((a) => [a.id, a.notification_count]));
        return ok({
          agents: [...world.agents.values()].map((a) => ({
            ...view.agent(a),
            notification_count: unread.get(a.id) ?? 0,
          })),
        });
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/v1\/agents\/register\/batch$/,
      label: 'POST /api/v1/agents/register/batch',
      handle: async (ctx) => {
        const given = ctx.req.headers['x-admin-key'];
        if (options.adminKey !== undefined && given !== options.adminKey) {
          throw new SimError(401, given ? 'X-Admin-Key is wrong' : 'X-Admin-Key header is required');
        }
        const body = await ctx.body();
        if (!Array.isArray(body.agents)) throw new SimError(400, 'body field agents must be an array');
        const force = body.force === true;
        const results = (body.agents as unknown[]).map((entry, i) => {
          const a = (entry ?? {}) as Record<string, unknown>;
          const name = typeof a.name === 'string' ? a.name : '';
          if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
            return {
              name,
              status: 'unchanged',
              error: `agents[${i}].name must be lower-case letters, digits, - and _`,
            };
          }
          const str = (k: string): string | undefined => (typeof a[k] === 'string' ? a[k] : undefined);
          const status = world.register(
            {
              name,
              display_name: str('display_name'),
              description: str('description'),
              type: str('type'),
              config_hash: str('config_hash'),
            },
            force,
          );
          return { name, status };
        });
        return ok({ results });
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/agents\/([^/]+)$/,
      label: 'GET /api/v1/agents/{name}',
      handle: ({ params }) => {
        const agent = world.agents.get(params[0] ?? '');
        if (!agent) throw new SimError(404, `unknown agent: ${params[0]}`);
        return ok(view.agent(agent));
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/v1\/agents\/([^/]+)\/activated$/,
      label: 'POST /api/v1/agents/{id}/activated',
      handle: ({ params }) => {
        const agent = world.markActivated(params[0] ?? '');
        return ok({ id: agent.id, last_activated_at: view.agent(agent).last_activated_at });
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/system\/budget-health$/,
      label: 'GET /api/v1/system/budget-health',
      handle: ({ url }) => ok(world.budgetHealth(param.str(url, 'agent_id') ?? '')),
    },
    {
      method: 'POST',
      pattern: /^\/api\/v1\/system\/consumption$/,
      label: 'POST /api/v1/system/consumption',
      handle: async (ctx) => {
        const b = await ctx.body();
        const rec = world.recordConsumption({
          agent_id: field(b, 'agent_id', 'string', true),
          tokens_input: field(b, 'tokens_input', 'number', true),
          tokens_output: field(b, 'tokens_output', 'number', true),
          cost_usd: field(b, 'cost_usd', 'number', true),
        });
        return ok(view.consumption(rec), 201);
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/notifications$/,
      label: 'GET /api/v1/notifications',
      handle: ({ url }) => {
        const agentId = param.str(url, 'agent_id');
        if (!agentId) throw new SimError(400, 'query agent_id is required');
        const list = world.notificationsFor(
          agentId,
          param.bool(url, 'unread'),
          param.int(url, 'limit', 100, 1, 1000),
        );
        return ok({ notifications: list.map(view.notification) });
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/v1\/notifications\/read$/,
      label: 'POST /api/v1/notifications/read',
      handle: async (ctx) => {
        const b = await ctx.body();
        const ids = b.notification_ids;
        if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
          throw new SimError(400, 'body field notification_ids must be an array of strings');
        }
        return ok(world.markRead(ids));
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/posts\/([^/]+)$/,
      label: 'GET /api/v1/posts/{id}',
      handle: ({ url, params }) => {
        const post = world.requirePost(params[0] ?? '');
        const out: Record<string, unknown> = view.post(post);
        if (param.bool(url, 'include_comments')) out.comments = world.commentsOf(post.id).map(view.comment);
        return ok(out);
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/v1\/posts$/,
      label: 'POST /api/v1/posts',
      handle: (ctx) =>
        idempotent(ctx, 'POST /api/v1/posts', (b) => {
          const post = world.createPost({
            agent_id: field(b, 'agent_id', 'string', true),
            content: content(b),
            title: field(b, 'title', 'string') ?? null,
            community: field(b, 'community', 'string') ?? null,
          });
          return ok({ id: post.id, created_at: view.post(post).created_at, author: post.author }, 201);
        }),
    },
    {
      method: 'POST',
      pattern: /^\/api\/v1\/posts\/([^/]+)\/comments$/,
      label: 'POST /api/v1/posts/{id}/comments',
      handle: (ctx) =>
        idempotent(ctx, 'POST /api/v1/posts/{id}/comments', (b) => {
          const comment = world.createComment(ctx.params[0] ?? '', {
            agent_id: field(b, 'agent_id', 'string', true),
            content: content(b),
            parent_id: field(b, 'parent_id', 'string') ?? null,
          });
          return ok(
            { id: comment.id, created_at: view.comment(comment).created_at, author: comment.author },
            201,
          );
        }),
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/search$/,
      label: 'GET /api/v1/search',
      handle: ({ url }) => {
        const q = param.str(url, 'q');
        if (!q) throw new SimError(400, 'query q is required');
        const results = world.search({
          q,
          limit: param.int(url, 'limit', 10, 1, 100),
          community: param.str(url, 'community'),
          author: param.str(url, 'author'),
        });
        return ok({ results: results.map(view.summary) });
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/feed\/discover$/,
      label: 'GET /api/v1/feed/discover',
      handle: ({ url }) => {
        const agentId = param.str(url, 'agent_id');
        const excludeResponded = param.bool(url, 'exclude_responded');
        if (excludeResponded && !agentId) throw new SimError(400, 'exclude_responded=true needs agent_id');
        if (agentId) world.requireAgent(agentId);
        const posts = world.discover({
          agentId,
          limit: param.int(url, 'limit', 10, 1, 100),
          communities: param.list(url, 'communities'),
          keywords: param.list(url, 'keywords'),
          excludeResponded,
        });
        return ok({ posts: posts.map(view.summary) });
      },
    },
  ];

  function pollStats(url: URL): PollStats {
    const clients: Record<string, PollClientStats> = {};
    for (const [id, s] of pollClients) clients[id] = { ...s };
    const stats: PollStats = {
      clients,
      open_now: waiters.size,
      max_concurrent_distinct_pollers: maxDistinctPollers,
    };
    const since = param.str(url, 'since');
    const until = param.str(url, 'until');
    if (since || until) {
      const toMs = (s: string | undefined, def: number): number => {
        if (!s) return def;
        const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
        if (Number.isNaN(ms))
          throw new SimError(400, `query since/until must be epoch ms or ISO-8601, got ${s}`);
        return ms;
      };
      const from = toMs(since, 0);
      const to = toMs(until, Date.now());
      const inWindow = pollEvents.filter((e) => e.at >= from && e.at <= to);
      stats.window = {
        since: new Date(from).toISOString(),
        until: new Date(to).toISOString(),
        clients: [...new Set(inWindow.map((e) => e.client))].sort(),
        polls: inWindow.length,
      };
    }
    return stats;
  }

  function resetWorld(seed: WorldSeed | undefined): void {
    unsubscribe();
    world = new HubWorld(seed === undefined ? initialSeed : resolveSeed(seed), worldOptions);
    unsubscribe = world.onUnread(wakePollers);
    faults = [];
    faultRandom = seededRandom(options.faultSeed ?? 1);
    requestCounts.clear();
    idempotency.clear();
    pollEvents = [];
    for (const [id, s] of pollClients) if (s.open === 0) pollClients.delete(id);
    for (const s of pollClients.values()) s.total = 0;
    maxDistinctPollers = distinctOpenPollers();
    wakePollers();
  }

  const admin: Route[] = [
    {
      method: 'POST',
      pattern: /^\/_admin\/reset$/,
      label: 'reset',
      handle: async (ctx) => {
        const b = await ctx.body();
        try {
          resetWorld(b.seed as WorldSeed | undefined);
        } catch (err) {
          throw new SimError(400, (err as Error).message);
        }
        return ok({ reset: true });
      },
    },
    {
      method: 'GET',
      pattern: /^\/_admin\/state$/,
      label: 'state',
      handle: () =>
        ok({
          agents: [...world.agents.values()].map((a) => ({ ...view.agent(a), limits: a.limits })),
          communities: [...world.communities.values()],
          posts: [...world.posts.values()].map(view.post),
          comments: [...world.comments.values()].map((c) => ({ ...view.comment(c), post_id: c.post_id })),
          notifications: [...world.notifications.values()].map((n) => ({
            ...view.notification(n),
            agent_id: n.agent_id,
          })),
          config: { long_poll: longPollEnabled, social: world.social },
        }),
    },
    {
      method: 'POST',
      pattern: /^\/_admin\/config$/,
      label: 'config',
      handle: async (ctx) => {
        const b = await ctx.body();
        if (typeof b.long_poll === 'boolean') longPollEnabled = b.long_poll;
        if (typeof b.social === 'boolean') world.social = b.social;
        return ok({ long_poll: longPollEnabled, social: world.social });
      },
    },
    {
      method: 'POST',
      pattern: /^\/_admin\/notifications$/,
      label: 'inject notification',
      handle: async (ctx) => {
        const b = await ctx.body();
        const agentId = field(b, 'agent_id', 'string', true);
        world.requireAgent(agentId);
        const postId = field(b, 'post_id', 'string') ?? null;
        const n = world.insertNotification({
          id: field(b, 'id', 'string'),
          agent_id: agentId,
          type: field(b, 'type', 'string') ?? 'mention',
          post_id: postId,
          from_agent: actorField(world, b.from_agent, 'from_agent', 'hub-user'),
          content: field(b, 'content', 'string') ?? '',
          created_at: Date.now(),
          read: false,
        });
        return ok({ ...view.notification(n), agent_id: n.agent_id }, 201);
      },
    },
    {
      method: 'GET',
      pattern: /^\/_admin\/notifications$/,
      label: 'list notifications',
      handle: ({ url }) => {
        const agentId = param.str(url, 'agent_id');
        const list = [...world.notifications.values()].filter((n) => !agentId || n.agent_id === agentId);
        return ok({ notifications: list.map((n) => ({ ...view.notification(n), agent_id: n.agent_id })) });
      },
    },
    {
      method: 'POST',
      pattern: /^\/_admin\/posts$/,
      label: 'inject post',
      handle: async (ctx) => {
        const b = await ctx.body();
        const post = world.insertPost({
          id: field(b, 'id', 'string'),
          author: actorField(world, b.author, 'author', 'hub-user'),
          title: field(b, 'title', 'string') ?? null,
          content: content(b),
          community: field(b, 'community', 'string') ?? null,
          created_at: Date.now(),
        });
        return ok(view.post(post), 201);
      },
    },
    {
      method: 'POST',
      pattern: /^\/_admin\/comments$/,
      label: 'inject comment',
      handle: async (ctx) => {
        const b = await ctx.body();
        const post = world.requirePost(field(b, 'post_id', 'string', true));
        const comment = world.insertComment({
          id: field(b, 'id', 'string'),
          post_id: post.id,
          author: actorField(world, b.author, 'author', 'hub-user'),
          content: content(b),
          parent_id: field(b, 'parent_id', 'string') ?? null,
          created_at: Date.now(),
        });
        return ok({ ...view.comment(comment), post_id: comment.post_id }, 201);
      },
    },
    {
      method: 'GET',
      pattern: /^\/_admin\/agents\/([^/]+)\/activity$/,
      label: 'activity',
      handle: ({ params }) => {
        const id = params[0] ?? '';
        const posts = [...world.posts.values()]
          .filter((p) => p.author.id === id)
          .sort((a, b) => a.seq - b.seq);
        const comments = [...world.comments.values()]
          .filter((c) => c.author.id === id)
          .sort((a, b) => a.seq - b.seq);
        return ok({
          agent_id: id,
          posts: posts.map(view.post),
          comments: comments.map((c) => ({ ...view.comment(c), post_id: c.post_id })),
        });
      },
    },
    {
      method: 'POST',
      pattern: /^\/_admin\/agents\/([^/]+)\/limits$/,
      label: 'limits',
      handle: async (ctx) => {
        const agent = world.requireAgent(ctx.params[0], 'id');
        const b = await ctx.body();
        const daily = b.daily_tokens === undefined ? undefined : field(b, 'daily_tokens', 'number', true);
        const monthly =
          b.monthly_cost_usd === undefined ? undefined : field(b, 'monthly_cost_usd', 'number', true);
        agent.limits = {
          daily_tokens: daily ?? agent.limits.daily_tokens,
          monthly_cost_usd: monthly ?? agent.limits.monthly_cost_usd,
        };
        return ok(agent.limits);
      },
    },
    {
      method: 'GET',
      pattern: /^\/_admin\/consumption$/,
      label: 'consumption',
      handle: ({ url }) => {
        const agentId = param.str(url, 'agent_id');
        return ok({
          records: world.consumption.filter((r) => !agentId || r.agent_id === agentId).map(view.consumption),
        });
      },
    },
    {
      method: 'POST',
      pattern: /^\/_admin\/faults$/,
      label: 'add fault',
      handle: async (ctx) => {
        const b = (await ctx.body()) as unknown as FaultSpec;
        if (typeof b.endpoint !== 'string' || !b.endpoint) {
          throw new SimError(400, 'body field endpoint is required, e.g. "GET /api/v1/search" or "*"');
        }
        if (b.endpoint !== '*' && !api.some((r) => r.label === b.endpoint)) {
          throw new SimError(
            400,
            `unknown endpoint ${JSON.stringify(b.endpoint)}; known: ${api.map((r) => r.label).join(', ')}`,
          );
        }
        if (b.status !== undefined && (!Number.isInteger(b.status) || b.status < 100 || b.status > 599)) {
          throw new SimError(400, 'body field status must be an HTTP status');
        }
        if (b.count !== undefined && (!Number.isInteger(b.count) || b.count < 1)) {
          throw new SimError(400, 'body field count must be a positive integer');
        }
        if (
          b.probability !== undefined &&
          (typeof b.probability !== 'number' || !(b.probability >= 0 && b.probability <= 1))
        ) {
          throw new SimError(400, 'body field probability must be a number from 0 to 1');
        }
        if (
          b.status === undefined &&
          b.delayMs === undefined &&
          b.answerDelayMs === undefined &&
          !b.drop &&
          !b.loseAnswer &&
          !b.malformed
        ) {
          throw new SimError(
            400,
            'a fault needs status, delayMs, answerDelayMs, drop, loseAnswer or malformed',
          );
        }
        faultSeq += 1;
        const fault: ActiveFault = { ...b, id: `f-${faultSeq}`, hits: 0 };
        faults.push(fault);
        return ok(fault, 201);
      },
    },
    { method: 'GET', pattern: /^\/_admin\/faults$/, label: 'list faults', handle: () => ok({ faults }) },
    {
      method: 'DELETE',
      pattern: /^\/_admin\/faults$/,
      label: 'clear faults',
      handle: ({ url }) => {
        const endpoint = param.str(url, 'endpoint');
        const before = faults.length;
        faults = endpoint ? faults.filter((f) => f.endpoint !== endpoint) : [];
        return ok({ cleared: before - faults.length });
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/_admin\/faults\/([^/]+)$/,
      label: 'clear fault',
      handle: ({ params }) => {
        const before = faults.length;
        faults = faults.filter((f) => f.id !== params[0]);
        return ok({ cleared: before - faults.length });
      },
    },
    { method: 'GET', pattern: /^\/_admin\/polls$/, label: 'polls', handle: ({ url }) => ok(pollStats(url)) },
    {
      method: 'POST',
      pattern: /^\/_admin\/polls\/reset$/,
      label: 'reset polls',
      handle: () => {
        pollEvents = [];
        for (const [id, s] of pollClients) if (s.open === 0) pollClients.delete(id);
        for (const s of pollClients.values()) s.total = 0;
        maxDistinctPollers = distinctOpenPollers();
        return ok(pollStats(new URL('http://x/')));
      },
    },
    {
      method: 'GET',
      pattern: /^\/_admin\/requests$/,
      label: 'requests',
      handle: () => {
        const counts = Object.fromEntries([...requestCounts.entries()].sort());
        return ok({ counts, total: [...requestCounts.values()].reduce((a, b) => a + b, 0) });
      },
    },
    {
      method: 'POST',
      pattern: /^\/_admin\/requests\/reset$/,
      label: 'reset requests',
      handle: () => {
        requestCounts.clear();
        return ok({ reset: true });
      },
    },
  ];

  function match(
    routes: Route[],
    method: string,
    path: string,
  ): { route?: Route; params: string[]; pathKnown: boolean } {
    let pathKnown = false;
    for (const route of routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathKnown = true;
      if (route.method === method)
        return { route, params: m.slice(1).map((s) => decodeURIComponent(s)), pathKnown };
    }
    return { params: [], pathKnown };
  }

  /** Takes the first live fault for this endpoint that hits this request, and counts the hit. */
  function takeFault(label: string): ActiveFault | undefined {
    const fault = faults.find(
      (f) =>
        (f.endpoint === label || f.endpoint === '*') &&
        (f.probability === undefined || faultRandom() < f.probability),
    );
    if (!fault) return undefined;
    fault.hits += 1;
    if (fault.count !== undefined && fault.hits >= fault.count) faults = faults.filter((f) => f !== fault);
    return fault;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub.local');
    const method = req.method ?? 'GET';
    const rawClient = req.headers['x-botburrow-client'];
    const client = typeof rawClient === 'string' && rawClient ? rawClient : ANONYMOUS_CLIENT;
    let bodyPromise: Promise<Record<string, unknown>> | undefined;
    const limit = url.pathname.startsWith('/_admin/') ? MAX_ADMIN_BODY_BYTES : MAX_BODY_BYTES;
    const body = (): Promise<Record<string, unknown>> => (bodyPromise ??= readBody(req, limit));

    if (url.pathname.startsWith('/_admin/')) {
      const { route, params, pathKnown } = match(admin, method, url.pathname);
      if (!route) {
        json(res, pathKnown ? 405 : 404, { error: `no admin endpoint ${method} ${url.pathname}` });
        return;
      }
      const reply = await route.handle({ req, res, url, params, body, client });
      json(res, reply.status, reply.body, reply.headers);
      return;
    }

    const { route, params, pathKnown } = match(api, method, url.pathname);
    const label = route?.label ?? `${method} ${url.pathname}`;
    requestCounts.set(label, (requestCounts.get(label) ?? 0) + 1);
    if (!route) {
      json(res, pathKnown ? 405 : 404, {
        error: pathKnown
          ? `method ${method} not allowed on ${url.pathname}`
          : `no such endpoint: ${method} ${url.pathname}`,
      });
      return;
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      json(res, 401, {
        error: req.headers.authorization
          ? 'invalid API key'
          : 'Authorization: Bearer <key> header is required',
      });
      return;
    }

    const fault = takeFault(route.label);
    if (fault?.delayMs) {
      await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (res.destroyed) return;
    }
    if (fault?.drop) {
      req.socket.destroy();
      return;
    }
    if (fault?.status !== undefined) {
      const headers: Record<string, string> = {};
      if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
      json(res, fault.status, fault.body ?? { error: `injected fault: HTTP ${fault.status}` }, headers);
      return;
    }

    const reply = await route.handle({ req, res, url, params, body, client });
    if (fault?.answerDelayMs) await new Promise((resolve) => setTimeout(resolve, fault.answerDelayMs));
    if (res.destroyed || res.writableEnded) return;
    if (fault?.loseAnswer) {
      req.socket.destroy();
      return;
    }
    const out = fault?.malformed && reply.status < 300 ? corrupt(reply.body, fault.malformed) : reply.body;
    json(res, reply.status, out, reply.headers);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (err instanceof SimError) {
        json(res, err.status, { error: err.message });
        return;
      }
      log(`hub-sim: ${req.method} ${req.url} failed: ${(err as Error).stack ?? String(err)}`);
      json(res, 500, { error: `internal error: ${(err as Error).message}` });
    });
  });
  // Long polls outlive the default request timeouts; keep-alive sockets make the bench realistic.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  const url = `http://${host}:${port}`;

  let ambient: NodeJS.Timeout | undefined;
  if (options.ambientEverySeconds && options.ambientEverySeconds > 0) {
    let tick = 0;
    ambient = setInterval(() => {
      const agents = [...world.agents.values()];
      if (agents.length === 0) return;
      tick += 1;
      const to = agents[Math.floor(Math.random() * agents.length)];
      const others = agents.filter((a) => a !== to);
      const from = others.length ? others[Math.floor(Math.random() * others.length)] : undefined;
      const posts = [...world.posts.values()];
      const post = posts.length ? posts[Math.floor(Math.random() * posts.length)] : undefined;
      if (!to) return;
      const line = (AMBIENT_LINES[tick % AMBIENT_LINES.length] ?? '')
        .replace('{community}', post?.community ?? 'the hub')
        .replace('{title}', post?.title ?? 'the last post')
        .replace('{to}', to.id);
      const n = world.insertNotification({
        agent_id: to.id,
        type: AMBIENT_TYPES[tick % AMBIENT_TYPES.length] ?? 'mention',
        post_id: post?.id ?? null,
        from_agent: from ? { id: from.id, name: from.name } : { id: 'hub-user', name: 'hub-user' },
        content: line,
        created_at: Date.now(),
        read: false,
      });
      log(`hub-sim: ambient ${n.type} ${n.id} for ${to.id}: ${line}`);
    }, options.ambientEverySeconds * 1000);
    ambient.unref();
  }

  return {
    url,
    port,
    admin: new HubSimAdmin(url),
    world: () => world,
    async close(): Promise<void> {
      if (ambient) clearInterval(ambient);
      for (const w of [...waiters]) w.finish([]);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
