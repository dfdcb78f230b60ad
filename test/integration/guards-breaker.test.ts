/**
 * Circuit breaker against the real Valkey, with an injected clock: the backoff sequence
 * 60, 120, 240 … 3600 s, the single half-open probe under concurrency, reset, and the DESIGN
 * keys `work:failures` / `work:backoff` (epoch seconds).
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { CircuitBreaker } from '../../lib/guards/breaker';
import { Keys } from '../../lib/keys';
import { createMetrics } from '../../lib/metrics';
import { createRedis } from '../../lib/redis';
import { services, unique } from '../support/env';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

describe('circuit breaker (real Valkey)', () => {
  const redis: Redis = createRedis(services().redisUrl);
  let keys: Keys;
  let now: number;
  let metrics: ReturnType<typeof createMetrics>;
  let breaker: CircuitBreaker;

  beforeEach(() => {
    keys = new Keys(`${unique('breaker')}:`);
    now = T0;
    metrics = createMetrics(new Registry(), { defaults: false });
    breaker = new CircuitBreaker(redis, keys, {
      threshold: 5,
      baseSeconds: 60,
      maxSeconds: 3600,
      probeTtlSeconds: 900,
      now: () => now,
      metrics,
    });
  });
  afterAll(() => redis.disconnect());

  async function gauge(g: 'breakerOpen' | 'breakerFailures', agent: string): Promise<number | undefined> {
    const { values } = await metrics[g].get();
    return values.find((v) => v.labels.agent_id === agent)?.value;
  }

  it('opens after 5 failures for 60, 120, 240 … 3600 s, one probe per backoff', async () => {
    const agent = 'research-agent';
    for (let i = 1; i <= 4; i++) {
      expect(await breaker.recordFailure(agent)).toEqual({ failures: i });
      expect(await breaker.check(agent, 'wf')).toMatchObject({ allowed: true, state: 'closed', failures: i });
    }
    const durations: number[] = [];
    for (let n = 5; n <= 13; n++) {
      // Each failure here is the probe of the previous backoff failing (or the 5th failure).
      const { failures, openUntil } = await breaker.recordFailure(agent);
      expect(failures).toBe(n);
      expect(openUntil).toBeDefined();
      durations.push((openUntil! - now) / 1000);
      // DESIGN contract: work:backoff holds epoch seconds, work:failures the count.
      expect(await redis.hget(keys.backoff(), agent)).toBe(String(openUntil! / 1000));
      expect(await redis.hget(keys.failures(), agent)).toBe(String(n));
      expect(await gauge('breakerOpen', agent)).toBe(1);
      expect(await gauge('breakerFailures', agent)).toBe(n);

      now = openUntil! - 1;
      expect(await breaker.check(agent, `wf-${n}`)).toEqual({
        allowed: false,
        state: 'open',
        failures: n,
        openUntil,
      });
      expect(await breaker.status(agent)).toEqual({ state: 'open', failures: n, openUntil });
      now = openUntil!;
      expect(await breaker.check(agent, `wf-${n}`)).toMatchObject({ allowed: true, state: 'half_open' });
      expect(await breaker.status(agent)).toMatchObject({ state: 'half_open', failures: n });
    }
    expect(durations).toEqual([60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    const refusals = await metrics.guardRefusals.get();
    expect(refusals.values.find((v) => v.labels.reason === 'circuit_open')?.value).toBe(9);

    // The last probe succeeds: closed, both hashes cleared.
    await breaker.recordSuccess(agent);
    expect(await breaker.check(agent, 'wf-next')).toEqual({ allowed: true, state: 'closed', failures: 0 });
    expect(await redis.hget(keys.failures(), agent)).toBeNull();
    expect(await redis.hget(keys.backoff(), agent)).toBeNull();
    expect(await gauge('breakerOpen', agent)).toBe(0);
    // After a reset, the next opening starts again at the first step.
    for (let i = 0; i < 5; i++) await breaker.recordFailure(agent);
    expect(await breaker.status(agent)).toEqual({ state: 'open', failures: 5, openUntil: now + 60_000 });
  });

  it('only consecutive failures count: a success in between starts over', async () => {
    const agent = 'a1';
    for (let i = 0; i < 4; i++) await breaker.recordFailure(agent);
    await breaker.recordSuccess(agent);
    for (let i = 0; i < 4; i++) await breaker.recordFailure(agent);
    expect(await breaker.check(agent, 'wf')).toMatchObject({ allowed: true, state: 'closed', failures: 4 });
    // Agents are independent.
    for (let i = 0; i < 5; i++) await breaker.recordFailure('other');
    expect((await breaker.check('other', 'wf')).allowed).toBe(false);
    expect((await breaker.check(agent, 'wf')).allowed).toBe(true);
  });

  it('lets exactly one of 50 concurrent callers probe; the others see open until it reports', async () => {
    const agent = 'busy-agent';
    for (let i = 0; i < 5; i++) await breaker.recordFailure(agent);
    now += 60_000;
    // Several clients, as several runner replicas would have.
    const clients = Array.from({ length: 5 }, () => createRedis(services().redisUrl));
    try {
      const breakers = clients.map(
        (c) =>
          new CircuitBreaker(c, keys, { threshold: 5, baseSeconds: 60, maxSeconds: 3600, now: () => now }),
      );
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => breakers[i % 5]!.check(agent, `wf-${round}-${i}`)),
        );
        const probes = results.map((r, i) => ({ r, i })).filter(({ r }) => r.allowed);
        expect(probes).toHaveLength(1);
        expect(probes[0]!.r.state).toBe('half_open');
        expect(results.filter((r) => !r.allowed).every((r) => r.state === 'open')).toBe(true);
        const owner = `wf-${round}-${probes[0]!.i}`;
        // The probe's own retry is let through again; a newcomer is not.
        expect((await breaker.check(agent, owner)).allowed).toBe(true);
        expect((await breaker.check(agent, 'late-comer')).allowed).toBe(false);
        // The probe fails: open again at the next step, then the next backoff passes.
        const failed = await breaker.recordFailure(agent);
        expect((failed.openUntil! - now) / 1000).toBe(60 * 2 ** (round + 1));
        expect((await breaker.check(agent, owner)).allowed).toBe(false);
        now = failed.openUntil!;
      }
      // Now the probe succeeds: everyone is let through.
      const winner = (
        await Promise.all(Array.from({ length: 10 }, (_, i) => breaker.check(agent, `final-${i}`)))
      ).filter((r) => r.allowed);
      expect(winner).toHaveLength(1);
      await breaker.recordSuccess(agent);
      const after = await Promise.all(Array.from({ length: 10 }, (_, i) => breaker.check(agent, `x-${i}`)));
      expect(after.every((r) => r.allowed && r.state === 'closed')).toBe(true);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('hands the probe to someone else when the probe never reports (lease expiry)', async () => {
    const agent = 'crashy';
    for (let i = 0; i < 5; i++) await breaker.recordFailure(agent);
    now += 60_000;
    expect((await breaker.check(agent, 'dead-probe')).allowed).toBe(true);
    now += 899_000;
    expect((await breaker.check(agent, 'next')).allowed).toBe(false);
    now += 1_000;
    expect(await breaker.check(agent, 'next')).toMatchObject({ allowed: true, state: 'half_open' });
    expect((await breaker.check(agent, 'dead-probe')).allowed).toBe(false);
  });

  it('a probe that ends without a verdict (budget, pause, cancel) hands the probe on at once', async () => {
    const agent = 'refused-probe';
    for (let i = 0; i < 5; i++) await breaker.recordFailure(agent);
    now += 60_000;
    expect((await breaker.check(agent, 'probe-1')).allowed).toBe(true);
    expect((await breaker.check(agent, 'probe-2')).allowed).toBe(false);
    // Only the holder can give it up.
    expect(await breaker.releaseProbe(agent, 'probe-2')).toBe(false);
    expect((await breaker.check(agent, 'probe-3')).allowed).toBe(false);
    expect(await breaker.releaseProbe(agent, 'probe-1')).toBe(true);
    expect(await breaker.releaseProbe(agent, 'probe-1')).toBe(false);
    // Still half open, failures unchanged: the next activation is the probe now.
    expect(await breaker.check(agent, 'probe-2')).toMatchObject({
      allowed: true,
      state: 'half_open',
      failures: 5,
    });
    expect((await breaker.check(agent, 'probe-1')).allowed).toBe(false);
  });

  it('manual reset closes an open breaker at once', async () => {
    const agent = 'stuck';
    for (let i = 0; i < 9; i++) await breaker.recordFailure(agent);
    expect(await breaker.status(agent)).toMatchObject({ state: 'open', failures: 9 });
    await breaker.reset(agent);
    expect(await breaker.status(agent)).toEqual({ state: 'closed', failures: 0 });
    expect(await breaker.check(agent, 'wf')).toEqual({ allowed: true, state: 'closed', failures: 0 });
    expect(await redis.exists(keys.probe(agent))).toBe(0);
  });
});
