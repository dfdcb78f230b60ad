/**
 * Behaviour limits and pause flags against the real Valkey: each limit refuses exactly at its
 * boundary, release undoes one acquire once, the day rolls over at UTC midnight, and concurrent
 * acquires cannot pass a limit.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { BehaviorLimits } from '../../lib/guards/limits';
import type { BehaviorLimitsConfig } from '../../lib/guards/limits';
import { PauseFlags } from '../../lib/guards/pause';
import { Keys } from '../../lib/keys';
import { createMetrics } from '../../lib/metrics';
import { createRedis } from '../../lib/redis';
import { services, unique } from '../support/env';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const OPEN: BehaviorLimitsConfig = {
  max_daily_posts: 1000,
  max_daily_comments: 1000,
  max_responses_per_thread: 1000,
  min_interval_seconds: 0,
};

describe('behaviour limits (real Valkey)', () => {
  const redis: Redis = createRedis(services().redisUrl);
  let keys: Keys;
  let now: number;
  let limits: BehaviorLimits;
  let metrics: ReturnType<typeof createMetrics>;

  beforeEach(() => {
    keys = new Keys(`${unique('limits')}:`);
    now = T0;
    metrics = createMetrics(new Registry(), { defaults: false });
    limits = new BehaviorLimits(redis, keys, { now: () => now, metrics });
  });
  afterAll(() => redis.disconnect());

  it('max_daily_posts refuses exactly the (n+1)th post of the day', async () => {
    const l = { ...OPEN, max_daily_posts: 5 };
    for (let i = 0; i < 5; i++) {
      expect((await limits.acquire('a', { kind: 'post', limits: l })).ok).toBe(true);
      now += 1_000;
    }
    expect(await limits.acquire('a', { kind: 'post', limits: l })).toEqual({
      ok: false,
      reason: 'daily post limit 5 reached',
    });
    // Comments are counted separately.
    expect((await limits.acquire('a', { kind: 'comment', limits: l })).ok).toBe(true);
    expect(await limits.allowance('a', l)).toEqual({ postsLeft: 0, commentsLeft: 999 });
  });

  it('max_daily_comments refuses exactly the (n+1)th comment and resets at UTC midnight', async () => {
    now = Date.UTC(2026, 10, 27, 23, 59, 0);
    const l = { ...OPEN, max_daily_comments: 50 };
    const results = [];
    for (let i = 0; i < 51; i++) results.push(await limits.acquire('a', { kind: 'comment', limits: l }));
    expect(results.slice(0, 50).every((r) => r.ok)).toBe(true);
    expect(results[50]).toEqual({ ok: false, reason: 'daily comment limit 50 reached' });
    now = Date.UTC(2026, 10, 27, 23, 59, 59, 999);
    expect((await limits.acquire('a', { kind: 'comment', limits: l })).ok).toBe(false);
    now += 1;
    expect((await limits.acquire('a', { kind: 'comment', limits: l })).ok).toBe(true);
    expect(await limits.allowance('a', l)).toEqual({ postsLeft: 1000, commentsLeft: 49 });
  });

  it('max_responses_per_thread refuses exactly the (n+1)th reply in one thread', async () => {
    const l = { ...OPEN, max_responses_per_thread: 3 };
    for (let i = 0; i < 3; i++) {
      expect((await limits.acquire('a', { kind: 'comment', threadId: 'p1', limits: l })).ok).toBe(true);
    }
    expect(await limits.acquire('a', { kind: 'comment', threadId: 'p1', limits: l })).toEqual({
      ok: false,
      reason: 'thread limit 3 reached for post p1',
    });
    // Other threads and other agents are unaffected; threads do not reset at midnight.
    expect((await limits.acquire('a', { kind: 'comment', threadId: 'p2', limits: l })).ok).toBe(true);
    expect((await limits.acquire('b', { kind: 'comment', threadId: 'p1', limits: l })).ok).toBe(true);
    now += 86_400_000;
    expect((await limits.acquire('a', { kind: 'comment', threadId: 'p1', limits: l })).ok).toBe(false);
  });

  it('min_interval_seconds refuses until exactly the interval has passed, across posts and comments', async () => {
    const l = { ...OPEN, min_interval_seconds: 60 };
    expect((await limits.acquire('a', { kind: 'post', limits: l })).ok).toBe(true);
    now += 12_000;
    expect(await limits.acquire('a', { kind: 'comment', limits: l })).toEqual({
      ok: false,
      reason: 'min interval 60s not elapsed (12s since last post)',
    });
    now = T0 + 59_999;
    expect((await limits.acquire('a', { kind: 'post', limits: l })).ok).toBe(false);
    now = T0 + 60_000;
    expect((await limits.acquire('a', { kind: 'comment', limits: l })).ok).toBe(true);
    now += 30_000;
    expect(await limits.acquire('a', { kind: 'post', limits: l })).toEqual({
      ok: false,
      reason: 'min interval 60s not elapsed (30s since last comment)',
    });
    const refusals = (await metrics.guardRefusals.get()).values;
    expect(refusals).toEqual([expect.objectContaining({ labels: { reason: 'min_interval' }, value: 3 })]);
  });

  it('a limit of 0 refuses the first attempt', async () => {
    expect(await limits.acquire('a', { kind: 'post', limits: { ...OPEN, max_daily_posts: 0 } })).toEqual({
      ok: false,
      reason: 'daily post limit 0 reached',
    });
  });

  it('release undoes one acquire exactly once (counters, thread and last-post time)', async () => {
    const l = { ...OPEN, max_daily_comments: 2, max_responses_per_thread: 1, min_interval_seconds: 60 };
    const first = await limits.acquire('a', { kind: 'comment', threadId: 'p1', limits: l });
    expect(first.ok).toBe(true);
    now += 70_000;
    const second = await limits.acquire('a', { kind: 'comment', threadId: 'p2', limits: l });
    if (!second.ok) throw new Error(second.reason);
    expect(await limits.allowance('a', l)).toEqual({ postsLeft: 1000, commentsLeft: 0 });
    // The second comment failed to post: undo it, twice (a retried activity).
    await limits.release('a', second.token);
    await limits.release('a', second.token);
    expect(await limits.allowance('a', l)).toEqual({ postsLeft: 1000, commentsLeft: 1 });
    expect(await redis.get(keys.limitThread('a', 'p2'))).toBe('0');
    expect(await redis.get(keys.limitThread('a', 'p1'))).toBe('1');
    // The interval counts from the first comment again, so 70 s later a new comment is fine.
    expect((await limits.acquire('a', { kind: 'comment', threadId: 'p2', limits: l })).ok).toBe(true);
    await expect(limits.release('a', 'garbage')).rejects.toThrow(/not a token from acquire/);
  });

  it('50 concurrent acquires pass a limit of 7 exactly 7 times', async () => {
    const clients = Array.from({ length: 4 }, () => createRedis(services().redisUrl));
    try {
      const many = clients.map((c) => new BehaviorLimits(c, keys, { now: () => now }));
      const l = { ...OPEN, max_daily_comments: 7 };
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          many[i % 4]!.acquire('a', { kind: 'comment', threadId: 'p', limits: l }),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(7);
      expect(await redis.get(keys.limitComments('a', '2026-11-27'))).toBe('7');
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('rejects a malformed limits block with the field path', async () => {
    await expect(
      limits.acquire('a', { kind: 'post', limits: { ...OPEN, max_daily_posts: -1 } }),
    ).rejects.toThrow(
      'behaviour limits for a: behavior.limits.max_daily_posts must be an integer ≥ 0, got -1',
    );
  });
});

describe('pause flags (real Valkey)', () => {
  const redis: Redis = createRedis(services().redisUrl);
  afterAll(() => redis.disconnect());

  it('pauses with a reason and time, resumes, and honours a flag set by hand', async () => {
    const keys = new Keys(`${unique('pause')}:`);
    const flags = new PauseFlags(redis, keys, { now: () => T0 });
    expect(await flags.isPaused('a')).toEqual({ paused: false });
    await flags.pause('a', 'cost review');
    expect(await flags.isPaused('a')).toEqual({
      paused: true,
      reason: 'cost review',
      at: '2026-11-27T12:00:00.000Z',
    });
    expect(JSON.parse((await redis.get(keys.paused('a')))!)).toEqual({
      reason: 'cost review',
      at: '2026-11-27T12:00:00.000Z',
    });
    expect(await flags.isPaused('b')).toEqual({ paused: false });
    await flags.resume('a');
    expect(await flags.isPaused('a')).toEqual({ paused: false });
    await redis.set(keys.paused('c'), 'yes');
    expect(await flags.isPaused('c')).toEqual({ paused: true, reason: 'yes' });
  });
});
