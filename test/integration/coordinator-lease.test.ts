/**
 * The lease store's atomic operations on the suite's real Valkey (SET NX PX and the two Lua
 * scripts), and two `LeaderLease`s electing one leader on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { LeaderLease, createRedisLeaseStore } from '../../lib/coordinator/lease';
import { Keys } from '../../lib/keys';
import { createLogger } from '../../lib/logger';
import { createRedis } from '../../lib/redis';
import { services, unique } from '../support/env';
import { waitUntil } from './coordinator-support';

describe('coordinator lease on real Valkey', () => {
  let redis: Redis;

  beforeAll(() => {
    redis = createRedis(services().redisUrl, { name: 'coordinator-lease-test' });
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('acquires with NX and a TTL, extends and releases only for the owner', async () => {
    const key = new Keys(`${unique('lease')}:`).leader();
    const store = createRedisLeaseStore(redis, key);
    expect(await store.acquire('a', 3000)).toBe(true);
    expect(await store.acquire('b', 3000)).toBe(false);
    expect(await redis.get(key)).toBe('a');
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(2000);
    expect(pttl).toBeLessThanOrEqual(3000);

    expect(await store.extend('b', 60_000)).toBe(false);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(3000);
    expect(await store.extend('a', 60_000)).toBe(true);
    expect(await redis.pttl(key)).toBeGreaterThan(50_000);

    expect(await store.release('b')).toBe(false);
    expect(await redis.get(key)).toBe('a');
    expect(await store.release('a')).toBe(true);
    expect(await redis.exists(key)).toBe(0);
    // Extending a lease that is gone does not recreate it.
    expect(await store.extend('a', 3000)).toBe(false);
    expect(await redis.exists(key)).toBe(0);
  });

  it('two leases elect one leader; stop() hands over to the other at once', async () => {
    const key = new Keys(`${unique('lease')}:`).leader();
    const logger = createLogger('lease-test', 'silent');
    const make = (owner: string): LeaderLease =>
      new LeaderLease({ store: createRedisLeaseStore(redis, key), owner, ttlMs: 3000, logger });
    const a = make('a');
    const b = make('b');
    a.start();
    b.start();
    const first = await waitUntil(
      'a leader',
      () => (a.isLeader() ? a : b.isLeader() ? b : undefined),
      5000,
      20,
    );
    const second = first === a ? b : a;
    await new Promise((r) => setTimeout(r, 1500));
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(await redis.get(key)).toBe(first.owner);
    const stoppedAt = Date.now();
    await first.stop();
    await waitUntil('takeover', () => second.isLeader(), 3000, 10);
    expect(Date.now() - stoppedAt).toBeLessThan(1500);
    expect(await redis.get(key)).toBe(second.owner);
    await second.stop();
    expect(await redis.exists(key)).toBe(0);
  });
});
