/**
 * Behaviour limits from an agent definition (`behavior.limits`), enforced when the agent posts:
 * daily posts, daily comments, responses per thread and the minimum interval between two
 * posts or comments (DESIGN.md: `limits:<agent>:posts:<date>`, `:comments:<date>`,
 * `:thread:<postId>`, `:last`). `acquire` checks and counts in one script; `release` undoes an
 * acquire whose post then failed, once.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../keys';
import { utcDay } from '../keys';
import type { Metrics } from '../metrics';
import { asNumbers, defineScript, guarded } from './script';
import type { Script } from './script';

/** The schema's `behavior.limits` (snake_case as in agent config files). */
export interface BehaviorLimitsConfig {
  max_daily_posts: number;
  max_daily_comments: number;
  max_responses_per_thread: number;
  min_interval_seconds: number;
}

export type PostKind = 'post' | 'comment';

export type AcquireResult = { ok: true; token: string } | { ok: false; reason: string };

export interface BehaviorLimitsOptions {
  /** Clock in epoch ms (tests inject one). */
  now?: () => number;
  metrics?: Metrics;
}

/** Day counters live 3 days, thread counters 30 days after the agent's last reply there. */
const DAY_TTL_SECONDS = 3 * 86400;
const THREAD_TTL_SECONDS = 30 * 86400;
/** An acquire can be undone for a day (a post attempt never takes that long). */
const UNDO_TTL_MS = 86_400_000;

/** "daily comment limit 50 reached" (pure, unit-tested). */
export function dailyLimitReason(kind: PostKind, max: number): string {
  return `daily ${kind} limit ${max} reached`;
}

/** "thread limit 3 reached for post p1". */
export function threadLimitReason(max: number, postId: string): string {
  return `thread limit ${max} reached for post ${postId}`;
}

/** "min interval 60s not elapsed (12s since last post)". */
export function intervalReason(intervalSeconds: number, sinceMs: number, lastKind: PostKind): string {
  const since = Math.max(0, Math.floor(sinceMs / 1000));
  return `min interval ${intervalSeconds}s not elapsed (${since}s since last ${lastKind})`;
}

interface TokenData {
  id: string;
  kind: PostKind;
  day: string;
  thread?: string;
  /** The value written to the `last` key by this acquire. */
  last: string;
}

/** Opaque release token: what to undo, so release needs no lookup (pure, unit-tested). */
export function encodeToken(t: TokenData): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

/** Inverse of `encodeToken`; a foreign or damaged token is a clear error. */
export function decodeToken(token: string): TokenData {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  const t = v as Partial<TokenData> | undefined;
  if (
    typeof t !== 'object' ||
    t === null ||
    typeof t.id !== 'string' ||
    (t.kind !== 'post' && t.kind !== 'comment') ||
    typeof t.day !== 'string' ||
    typeof t.last !== 'string' ||
    (t.thread !== undefined && typeof t.thread !== 'string')
  ) {
    throw new Error(
      `behaviour limits release: not a token from acquire: ${JSON.stringify(token.slice(0, 40))}`,
    );
  }
  return t as TokenData;
}

/**
 * KEYS dayCounter, last, undoMarker, [thread]
 * ARGV lastValue, dailyMax, threadMax, intervalMs, nowMs, dayTtlS, threadTtlS, undoTtlMs, lastTtlMs
 * → {0, count} acquired; {1, max} daily; {2, max} thread; {3, intervalMs, sinceMs, lastWasComment}
 */
const ACQUIRE_LUA = `
local dailyMax, threadMax = tonumber(ARGV[2]), tonumber(ARGV[3])
local interval, now = tonumber(ARGV[4]), tonumber(ARGV[5])
-- One read of every counter; the counts are then written back with their TTLs (SET EX), which
-- counts and refreshes the TTL in one command each.
local v = KEYS[4] and redis.call('MGET', KEYS[1], KEYS[2], KEYS[4]) or redis.call('MGET', KEYS[1], KEYS[2])
local count = tonumber(v[1] or '0')
local prev = v[2]
local threadCount = tonumber(v[3] or '0')
if count >= dailyMax then
  return {1, dailyMax, 0, 0}
end
if KEYS[4] and threadCount >= threadMax then
  return {2, threadMax, 0, 0}
end
if prev and interval > 0 then
  local at, kind = string.match(prev, '^(%d+)|(%a+)|')
  if at and now - tonumber(at) < interval then
    return {3, interval, now - tonumber(at), kind == 'comment' and 1 or 0}
  end
end
redis.call('SET', KEYS[1], tostring(count + 1), 'EX', ARGV[6])
if KEYS[4] then
  redis.call('SET', KEYS[4], tostring(threadCount + 1), 'EX', ARGV[7])
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[9])
redis.call('SET', KEYS[3], prev or '', 'PX', ARGV[8])
return {0, count + 1, 0, 0}
`;

/** KEYS dayCounter, last, undoMarker, [thread]; ARGV lastValue → 1 undone, 0 nothing to undo. */
const RELEASE_LUA = `
local prev = redis.call('GET', KEYS[3])
if not prev then
  return 0
end
redis.call('DEL', KEYS[3])
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  redis.call('DECR', KEYS[1])
end
if KEYS[4] and tonumber(redis.call('GET', KEYS[4]) or '0') > 0 then
  redis.call('DECR', KEYS[4])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  if prev == '' then
    redis.call('DEL', KEYS[2])
  else
    redis.call('SET', KEYS[2], prev, 'KEEPTTL')
  end
end
return 1
`;

/** Checks and counts an agent's posts and comments against its `behavior.limits`. */
export class BehaviorLimits {
  private readonly now: () => number;
  private readonly acquireScript: Script;
  private readonly releaseScript: Script;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly o: BehaviorLimitsOptions = {},
  ) {
    this.now = o.now ?? Date.now;
    this.acquireScript = defineScript(
      redis,
      'botburrowLimitsAcquire',
      ACQUIRE_LUA,
      'behaviour limits acquire',
    );
    this.releaseScript = defineScript(
      redis,
      'botburrowLimitsRelease',
      RELEASE_LUA,
      'behaviour limits release',
    );
  }

  private counterKey(agentId: string, kind: PostKind, day: string): string {
    return kind === 'post' ? this.keys.limitPosts(agentId, day) : this.keys.limitComments(agentId, day);
  }

  /**
   * Checks every limit that applies and, if all pass, counts this post or comment. `threadId` is
   * the post a comment replies to (counted against `max_responses_per_thread`). Refusals carry the
   * reason to show the model, e.g. "daily comment limit 50 reached". Keep the token: pass it to
   * `release` if the post then fails.
   */
  async acquire(
    agentId: string,
    a: { kind: PostKind; threadId?: string; limits: BehaviorLimitsConfig },
  ): Promise<AcquireResult> {
    checkLimits(agentId, a.limits);
    const now = Math.floor(this.now());
    const day = utcDay(now);
    const data: TokenData = { id: randomUUID(), kind: a.kind, day, last: '' };
    data.last = `${now}|${a.kind}|${data.id}`;
    if (a.threadId) data.thread = a.threadId;
    const intervalMs = a.limits.min_interval_seconds * 1000;
    const [code, x, y, z] = asNumbers(
      await this.acquireScript(this.tokenKeys(agentId, data), [
        data.last,
        a.limits[a.kind === 'post' ? 'max_daily_posts' : 'max_daily_comments'],
        a.limits.max_responses_per_thread,
        intervalMs,
        now,
        DAY_TTL_SECONDS,
        THREAD_TTL_SECONDS,
        UNDO_TTL_MS,
        Math.max(intervalMs + 60_000, 2 * 86_400_000),
      ]),
      'behaviour limits acquire',
    ) as [number, number, number, number];
    if (code === 0) return { ok: true, token: encodeToken(data) };
    let reason: string;
    let metric: string;
    if (code === 1) {
      reason = dailyLimitReason(a.kind, x);
      metric = a.kind === 'post' ? 'daily_posts' : 'daily_comments';
    } else if (code === 2) {
      reason = threadLimitReason(x, a.threadId ?? '');
      metric = 'thread_limit';
    } else {
      reason = intervalReason(x / 1000, y, z === 1 ? 'comment' : 'post');
      metric = 'min_interval';
    }
    this.o.metrics?.guardRefusals.inc({ reason: metric });
    return { ok: false, reason };
  }

  /** Undoes an acquire (the post failed): counters and last-post time as before. Idempotent. */
  async release(agentId: string, token: string): Promise<void> {
    const data = decodeToken(token);
    await this.releaseScript(this.tokenKeys(agentId, data), [data.last]);
  }

  /** Posts and comments the agent may still make today (UTC). */
  async allowance(
    agentId: string,
    limits: BehaviorLimitsConfig,
  ): Promise<{ postsLeft: number; commentsLeft: number }> {
    checkLimits(agentId, limits);
    const day = utcDay(this.now());
    const [posts, comments] = await guarded(this.redis, 'behaviour limits allowance', () =>
      this.redis.mget(this.keys.limitPosts(agentId, day), this.keys.limitComments(agentId, day)),
    );
    return {
      postsLeft: Math.max(0, limits.max_daily_posts - Number(posts ?? 0)),
      commentsLeft: Math.max(0, limits.max_daily_comments - Number(comments ?? 0)),
    };
  }

  private tokenKeys(agentId: string, t: TokenData): string[] {
    const keys = [
      this.counterKey(agentId, t.kind, t.day),
      this.keys.limitLast(agentId),
      this.keys.limitAcquire(agentId, t.id),
    ];
    if (t.thread) keys.push(this.keys.limitThread(agentId, t.thread));
    return keys;
  }
}

function checkLimits(agentId: string, limits: BehaviorLimitsConfig): void {
  for (const field of [
    'max_daily_posts',
    'max_daily_comments',
    'max_responses_per_thread',
    'min_interval_seconds',
  ] as const) {
    const v = limits[field];
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(
        `behaviour limits for ${agentId}: behavior.limits.${field} must be an integer ≥ 0, got ${String(v)}`,
      );
    }
  }
}
