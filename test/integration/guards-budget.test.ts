/**
 * Budgets against the real Valkey: concurrent reservations near a limit (randomized rounds),
 * refusal texts, expiry of abandoned reservations, idempotent settle, overrides, the fleet cap
 * and UTC day / month rollover with an injected clock.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { BudgetGuard, DAY_KEY_TTL_SECONDS, MONTH_KEY_TTL_SECONDS } from '../../lib/guards/budget';
import type { BudgetGuardOptions } from '../../lib/guards/budget';
import { PauseFlags } from '../../lib/guards/pause';
import { Keys } from '../../lib/keys';
import { createMetrics } from '../../lib/metrics';
import { createRedis } from '../../lib/redis';
import { services, unique } from '../support/env';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

/** Small deterministic PRNG so a failing round can be replayed from its printed seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('budgets (real Valkey)', () => {
  const redis: Redis = createRedis(services().redisUrl);
  const clients = Array.from({ length: 4 }, () => createRedis(services().redisUrl));
  let keys: Keys;
  let now: number;

  const guard = (o: Partial<BudgetGuardOptions> = {}, client: Redis = redis): BudgetGuard =>
    new BudgetGuard(client, keys, {
      dailyTokenLimit: 100_000,
      monthlyCostLimitUsd: 100,
      reservationTtlSeconds: 600,
      now: () => now,
      ...o,
    });

  beforeEach(() => {
    keys = new Keys(`${unique('budget')}:`);
    now = T0;
  });
  afterAll(() => {
    redis.disconnect();
    for (const c of clients) c.disconnect();
  });

  it('refuses with the limit and the numbers, counting open reservations', async () => {
    const b = guard();
    await b.settle('research-agent', 'r0', { tokens: 99_000, costUsd: 1 });
    expect(await b.reserve('research-agent', { reservationId: 'r1', tokens: 5_000, costUsd: 0.05 })).toEqual({
      ok: false,
      limit: 'daily_tokens',
      message: 'daily token limit 100000 reached for research-agent (99000 used, 5000 requested)',
    });
    expect(await b.reserve('research-agent', { reservationId: 'r2', tokens: 600, costUsd: 0.01 })).toEqual({
      ok: true,
    });
    expect(await b.reserve('research-agent', { reservationId: 'r3', tokens: 500, costUsd: 0.01 })).toEqual({
      ok: false,
      limit: 'daily_tokens',
      message:
        'daily token limit 100000 reached for research-agent (99000 used + 600 reserved, 500 requested)',
    });
    // Exactly at the limit is allowed; one more token is not.
    expect((await b.reserve('research-agent', { reservationId: 'r4', tokens: 400, costUsd: 0 })).ok).toBe(
      true,
    );
    expect((await b.reserve('research-agent', { reservationId: 'r5', tokens: 1, costUsd: 0 })).ok).toBe(
      false,
    );
    expect(await b.status('research-agent')).toEqual({
      agentId: 'research-agent',
      day: '2026-11-27',
      month: '2026-11',
      dailyTokens: { used: 99_000, reserved: 1_000, limit: 100_000 },
      monthlyCostUsd: { used: 1, reserved: 0.01, limit: 100 },
    });
    // Settling the real (smaller) usage frees the difference.
    await b.settle('research-agent', 'r2', { tokens: 300, costUsd: 0.004 });
    expect((await b.reserve('research-agent', { reservationId: 'r6', tokens: 300, costUsd: 0 })).ok).toBe(
      true,
    );

    const cost = guard({ dailyTokenLimit: 10_000_000 });
    await cost.settle('spender', 'c0', { tokens: 1, costUsd: 99.99 });
    expect(await cost.reserve('spender', { reservationId: 'c1', tokens: 10, costUsd: 0.02 })).toEqual({
      ok: false,
      limit: 'monthly_cost',
      message: 'monthly cost limit $100.00 reached for spender ($99.99 used, $0.02 requested)',
    });
  });

  it('50 concurrent reservations near the limit never settle past it (randomized rounds)', async () => {
    const ROUNDS = 50;
    let refusedTotal = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const seed = 1000 + round;
      const rand = rng(seed);
      const agent = `agent-${round}`;
      const onCost = round % 2 === 1;
      const limit = 20_000 + Math.floor(rand() * 80_000);
      // Several guard instances on several connections, as several runner replicas would be.
      const guards = clients.map((c) =>
        guard(
          onCost
            ? { dailyTokenLimit: 1e12, monthlyCostLimitUsd: limit / 1e6 }
            : { dailyTokenLimit: limit, monthlyCostLimitUsd: 1e6 },
          c,
        ),
      );
      const preUsed = limit - Math.floor(rand() * Math.min(30_000, limit / 2)) - 1;
      await guards[0]!.settle(
        agent,
        'pre',
        onCost ? { tokens: 0, costUsd: preUsed / 1e6 } : { tokens: preUsed, costUsd: 0 },
      );
      const plans = Array.from({ length: 50 }, () => ({
        amount: 200 + Math.floor(rand() * 4_000),
        spentShare: rand(),
        delay: Math.floor(rand() * 5),
        release: rand() < 0.1,
      }));
      const maxReservation = Math.max(...plans.map((p) => p.amount));
      const outcomes = await Promise.all(
        plans.map(async (p, i) => {
          const g = guards[i % guards.length]!;
          const id = `r${i}`;
          const r = await g.reserve(
            agent,
            onCost
              ? { reservationId: id, tokens: 0, costUsd: p.amount / 1e6 }
              : { reservationId: id, tokens: p.amount, costUsd: 0 },
          );
          if (!r.ok) return r;
          await new Promise((res) => setTimeout(res, p.delay));
          if (p.release) {
            await g.release(agent, id);
          } else {
            const spent = Math.floor(p.amount * p.spentShare);
            await g.settle(
              agent,
              id,
              onCost ? { tokens: 0, costUsd: spent / 1e6 } : { tokens: spent, costUsd: 0 },
            );
          }
          return r;
        }),
      );
      const refused = outcomes.filter((o) => !o.ok);
      refusedTotal += refused.length;
      for (const o of refused) {
        expect(o.ok === false && o.limit).toBe(onCost ? 'monthly_cost' : 'daily_tokens');
        expect(o.ok === false && o.message).toMatch(
          /limit .* reached for agent-\d+ \(.* used.*, .* requested\)/,
        );
      }
      const status = await guards[0]!.status(agent);
      const settled = onCost ? Math.round(status.monthlyCostUsd.used * 1e6) : status.dailyTokens.used;
      const context = `round ${round} (seed ${seed}, limit ${limit}, pre ${preUsed}, settled ${settled})`;
      // The contract: never more than one reservation past the limit ...
      expect(settled, context).toBeLessThanOrEqual(limit + maxReservation);
      // ... and here not at all, since every call spent at most its reservation.
      expect(settled, context).toBeLessThanOrEqual(limit);
      expect(settled, context).toBeGreaterThanOrEqual(preUsed);
      expect(onCost ? status.monthlyCostUsd.reserved : status.dailyTokens.reserved, context).toBe(0);
    }
    // The rounds really were near the limit: many reservations were turned away.
    expect(refusedTotal).toBeGreaterThan(ROUNDS * 5);
  });

  it('caps the whole fleet across agents', async () => {
    const guards = clients.map((c) =>
      guard({ dailyTokenLimit: 1e9, monthlyCostLimitUsd: 1_000, fleetMonthlyCostLimitUsd: 1 }, c),
    );
    await guards[0]!.settle('a', 'pre', { tokens: 0, costUsd: 0.5 });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        guards[i % guards.length]!.reserve(`agent-${i % 8}`, {
          reservationId: `f${i}`,
          tokens: 1,
          costUsd: 0.05,
        }),
      ),
    );
    // $0.50 left at $0.05 each: exactly ten fit, from whichever agents came first.
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    const refusal = results.find((r) => !r.ok);
    expect(refusal).toMatchObject({ ok: false, limit: 'fleet_monthly_cost' });
    expect(refusal?.ok === false && refusal.message).toMatch(
      /^fleet monthly cost limit \$1\.00 reached \(\$0\.50 used \+ \$0\.50 reserved by all agents, \$0\.05 requested by agent-\d\)$/,
    );
    expect((await guards[0]!.status('agent-0')).fleetMonthlyCostUsd).toEqual({
      used: 0.5,
      reserved: 0.5,
      limit: 1,
    });
    expect(await redis.get(keys.fleetCost('2026-11'))).toBe('500000');
  });

  it('releases an abandoned reservation by expiry', async () => {
    const b = guard({ dailyTokenLimit: 10_000, reservationTtlSeconds: 60 });
    expect((await b.reserve('a', { reservationId: 'dead', tokens: 10_000, costUsd: 0 })).ok).toBe(true);
    expect((await b.reserve('a', { reservationId: 'x', tokens: 1, costUsd: 0 })).ok).toBe(false);
    now += 59_999;
    expect((await b.reserve('a', { reservationId: 'x', tokens: 1, costUsd: 0 })).ok).toBe(false);
    now += 1;
    expect((await b.status('a')).dailyTokens.reserved).toBe(0);
    expect((await b.reserve('a', { reservationId: 'x', tokens: 10_000, costUsd: 0 })).ok).toBe(true);
    // The expired one is gone from the hash, the live one is there.
    expect(await redis.hkeys(keys.reservations('a'))).toEqual(['x']);
  });

  it('settles once per reservation, also when retried concurrently or after expiry', async () => {
    const b = guard({ reservationTtlSeconds: 60 });
    await b.reserve('a', { reservationId: 'r1', tokens: 1_000, costUsd: 0.1 });
    await Promise.all(Array.from({ length: 10 }, () => b.settle('a', 'r1', { tokens: 700, costUsd: 0.07 })));
    expect(await b.status('a')).toMatchObject({
      dailyTokens: { used: 700, reserved: 0 },
      monthlyCostUsd: { used: 0.07, reserved: 0 },
    });
    // The settled marker outlives the reservation but cleans itself up after a day.
    const markerTtl = await redis.pttl(keys.budgetSettled('a', 'r1'));
    expect(markerTtl).toBeGreaterThan(86_000_000);
    expect(markerTtl).toBeLessThanOrEqual(86_400_000);
    // A reservation that expired before the (late) settle: counted once, the retry is a no-op.
    await b.reserve('a', { reservationId: 'r2', tokens: 1_000, costUsd: 0.1 });
    now += 120_000;
    await b.settle('a', 'r2', { tokens: 300, costUsd: 0.03 });
    await b.settle('a', 'r2', { tokens: 300, costUsd: 0.03 });
    expect((await b.status('a')).dailyTokens.used).toBe(1_000);
    // Reserving an open id again (retried reserve) does not double count.
    await b.reserve('a', { reservationId: 'r3', tokens: 2_000, costUsd: 0 });
    await b.reserve('a', { reservationId: 'r3', tokens: 2_000, costUsd: 0 });
    expect((await b.status('a')).dailyTokens.reserved).toBe(2_000);
    // A settled id reserved again is the next attempt of that call: reserved and settled anew.
    await b.settle('a', 'r3', { tokens: 100, costUsd: 0 });
    await b.reserve('a', { reservationId: 'r3', tokens: 2_000, costUsd: 0 });
    expect((await b.status('a')).dailyTokens).toMatchObject({ used: 1_100, reserved: 2_000 });
    await b.settle('a', 'r3', { tokens: 50, costUsd: 0 });
    await b.settle('a', 'r3', { tokens: 50, costUsd: 0 });
    expect((await b.status('a')).dailyTokens).toMatchObject({ used: 1_150, reserved: 0 });
    // A released reservation frees its room.
    await b.reserve('a', { reservationId: 'r4', tokens: 5_000, costUsd: 0 });
    await b.release('a', 'r4');
    expect((await b.status('a')).dailyTokens.reserved).toBe(0);
  });

  it('applies per-agent overrides', async () => {
    const b = guard({ overrides: { small: { daily_tokens: 1_000, monthly_cost: 0.5 } } });
    expect(b.limitsFor('small')).toEqual({ dailyTokens: 1_000, monthlyCostUsd: 0.5 });
    expect((await b.reserve('small', { reservationId: '1', tokens: 1_001, costUsd: 0 })).ok).toBe(false);
    expect((await b.reserve('big', { reservationId: '1', tokens: 1_001, costUsd: 0 })).ok).toBe(true);
    expect(await b.reserve('small', { reservationId: '2', tokens: 10, costUsd: 0.6 })).toMatchObject({
      ok: false,
      limit: 'monthly_cost',
      message: 'monthly cost limit $0.50 reached for small ($0.00 used, $0.60 requested)',
    });
  });

  it('rolls over at the UTC day and month boundaries', async () => {
    now = Date.UTC(2026, 10, 30, 23, 59, 59, 999);
    const b = guard({ dailyTokenLimit: 1_000, monthlyCostLimitUsd: 1 });
    await b.settle('a', 'd1', { tokens: 1_000, costUsd: 1 });
    const refused = await b.reserve('a', { reservationId: 'd2', tokens: 1, costUsd: 0 });
    expect(refused).toMatchObject({ ok: false, limit: 'daily_tokens' });
    expect((await b.reserve('a', { reservationId: 'd2', tokens: 0, costUsd: 0.01 })).ok).toBe(false);

    now += 1; // 2026-12-01T00:00:00.000Z: new day and new month
    expect(await b.status('a')).toMatchObject({
      day: '2026-12-01',
      month: '2026-12',
      dailyTokens: { used: 0 },
      monthlyCostUsd: { used: 0 },
    });
    expect((await b.reserve('a', { reservationId: 'd3', tokens: 1_000, costUsd: 1 })).ok).toBe(true);
    await b.settle('a', 'd3', { tokens: 900, costUsd: 0.9 });
    expect(await redis.get(keys.budgetTokens('a', '2026-11-30'))).toBe('1000');
    expect(await redis.get(keys.budgetTokens('a', '2026-12-01'))).toBe('900');
    expect(await redis.get(keys.budgetCost('a', '2026-11'))).toBe('1000000');
    expect(await redis.get(keys.budgetCost('a', '2026-12'))).toBe('900000');

    // Next day, same month: tokens start over, cost carries on.
    now = Date.UTC(2026, 11, 2, 0, 0, 0);
    expect((await b.reserve('a', { reservationId: 'd4', tokens: 1_000, costUsd: 0.2 })).ok).toBe(false);
    const s = await b.status('a');
    expect(s.dailyTokens.used).toBe(0);
    expect(s.monthlyCostUsd.used).toBe(0.9);
    expect((await b.reserve('a', { reservationId: 'd4', tokens: 1_000, costUsd: 0.1 })).ok).toBe(true);

    // Old periods clean themselves up.
    const dayTtl = await redis.ttl(keys.budgetTokens('a', '2026-12-01'));
    const monthTtl = await redis.ttl(keys.budgetCost('a', '2026-12'));
    expect(dayTtl).toBeGreaterThan(DAY_KEY_TTL_SECONDS - 60);
    expect(dayTtl).toBeLessThanOrEqual(DAY_KEY_TTL_SECONDS);
    expect(monthTtl).toBeGreaterThan(MONTH_KEY_TTL_SECONDS - 60);
    expect(monthTtl).toBeLessThanOrEqual(MONTH_KEY_TTL_SECONDS);
  });

  it('exports used and limit gauges and counts refusals by limit', async () => {
    const metrics = createMetrics(new Registry(), { defaults: false });
    const b = guard({ dailyTokenLimit: 5_000, monthlyCostLimitUsd: 2, metrics });
    await b.reserve('m', { reservationId: '1', tokens: 4_000, costUsd: 0.5 });
    await b.settle('m', '1', { tokens: 3_500, costUsd: 0.25 });
    await b.reserve('m', { reservationId: '2', tokens: 2_000, costUsd: 0 });
    const used = (await metrics.budgetUsed.get()).values.filter((v) => v.labels.agent_id === 'm');
    const limit = (await metrics.budgetLimit.get()).values.filter((v) => v.labels.agent_id === 'm');
    expect(Object.fromEntries(used.map((v) => [v.labels.period, v.value]))).toEqual({
      daily_tokens: 3_500,
      monthly_cost_usd: 0.25,
    });
    expect(Object.fromEntries(limit.map((v) => [v.labels.period, v.value]))).toEqual({
      daily_tokens: 5_000,
      monthly_cost_usd: 2,
    });
    const refusals = (await metrics.guardRefusals.get()).values;
    expect(refusals).toEqual([expect.objectContaining({ labels: { reason: 'daily_tokens' }, value: 1 })]);
  });

  it('rejects bad amounts with a clear error and counts nothing', async () => {
    const b = guard();
    await expect(b.reserve('a', { reservationId: 'x', tokens: -1, costUsd: 0 })).rejects.toThrow(
      'budget reserve for a: tokens must be a number ≥ 0, got -1',
    );
    await expect(b.settle('a', '', { tokens: 1, costUsd: 0 })).rejects.toThrow(/reservationId is empty/);
    await expect(b.settle('a', 'y', { tokens: 1, costUsd: Number.NaN })).rejects.toThrow(/costUsd must be/);
    expect((await b.status('a')).dailyTokens).toEqual({ used: 0, reserved: 0, limit: 100_000 });
  });

  it('with checkPause refuses a paused agent in the same script and reserves nothing', async () => {
    const b = guard();
    const flags = new PauseFlags(redis, keys);
    await flags.pause('a', 'cost review');
    const req = { reservationId: 'p1', tokens: 1_000, costUsd: 0.01 };
    expect(await b.reserve('a', req, { checkPause: true })).toEqual({
      ok: false,
      limit: 'paused',
      message: 'cost review',
    });
    expect((await b.status('a')).dailyTokens.reserved).toBe(0);
    // Without checkPause the flag is not the budget's business.
    expect(await b.reserve('a', { ...req, reservationId: 'p2' })).toEqual({ ok: true });
    await flags.resume('a');
    expect(await b.reserve('a', { ...req, reservationId: 'p3' }, { checkPause: true })).toEqual({ ok: true });
    expect((await b.status('a')).dailyTokens.reserved).toBe(2_000);
  });

  it('settles a settled id reserved again once more, and a repeated settle not at all', async () => {
    const b = guard();
    const req = { reservationId: 's1', tokens: 1_000, costUsd: 0.01 };
    await b.reserve('a', req);
    await b.settle('a', 's1', { tokens: 300, costUsd: 0.003 });
    await b.settle('a', 's1', { tokens: 300, costUsd: 0.003 });
    expect((await b.status('a')).dailyTokens).toEqual({ used: 300, reserved: 0, limit: 100_000 });
    await b.reserve('a', req);
    expect((await b.status('a')).dailyTokens.reserved).toBe(1_000);
    await b.settle('a', 's1', { tokens: 200, costUsd: 0.002 });
    await b.settle('a', 's1', { tokens: 200, costUsd: 0.002 });
    expect((await b.status('a')).dailyTokens).toEqual({ used: 500, reserved: 0, limit: 100_000 });
    // A counter gets its TTL when it is created.
    const ttl = await redis.ttl(keys.budgetTokens('a', '2026-11-27'));
    expect(ttl).toBeGreaterThan(DAY_KEY_TTL_SECONDS - 60);
  });
});
