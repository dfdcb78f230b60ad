/**
 * Valkey outage: on a Valkey this test starts itself, stopped mid-test every guard fails fast
 * (< 3 s) with GuardUnavailableError instead of spending unguarded or hanging; restarted on the
 * same port, the same client and guards work again (scripts are reloaded after the restart).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { freePort, startValkey, toolPaths } from '../../dev/services';
import type { ServiceHandle } from '../../dev/services';
import { GuardUnavailableError } from '../../lib/errors';
import { createGuards } from '../../lib/guards';
import type { Guards } from '../../lib/guards';
import { Keys } from '../../lib/keys';
import { createRedis } from '../../lib/redis';
import { unique } from '../support/env';

const SETTINGS = {
  breakerThreshold: 5,
  breakerBaseSeconds: 60,
  breakerMaxSeconds: 3600,
  dailyTokenLimit: 100_000,
  monthlyCostLimit: 100,
  fleetMonthlyCostLimit: undefined,
  budgetOverrides: {},
  reservationTtl: 600,
  activationTimeout: 600,
};
const LIMITS = {
  max_daily_posts: 5,
  max_daily_comments: 50,
  max_responses_per_thread: 3,
  min_interval_seconds: 0,
};

/** Every guard operation an activation performs, as thunks. */
function operations(g: Guards, tag: string): [string, () => Promise<unknown>][] {
  return [
    [
      'budget reserve',
      () => g.budget.reserve('a', { reservationId: `r-${tag}`, tokens: 10, costUsd: 0.001 }),
    ],
    ['budget settle', () => g.budget.settle('a', `r-${tag}`, { tokens: 5, costUsd: 0.0005 })],
    ['budget status', () => g.budget.status('a')],
    ['circuit breaker check', () => g.breaker.check('a', `wf-${tag}`)],
    ['circuit breaker failure', () => g.breaker.recordFailure('a')],
    ['circuit breaker success', () => g.breaker.recordSuccess('a')],
    ['circuit breaker reset', () => g.breaker.reset('a')],
    ['behaviour limits acquire', () => g.limits.acquire('a', { kind: 'comment', limits: LIMITS })],
    ['behaviour limits allowance', () => g.limits.allowance('a', LIMITS)],
    ['pause check', () => g.pause.isPaused('a')],
    ['pause', () => g.pause.pause('a', 'x')],
  ];
}

async function expectFailsFast(name: string, op: () => Promise<unknown>, port: number): Promise<number> {
  const started = Date.now();
  const err = await op().then(
    () => undefined,
    (e: unknown) => e,
  );
  const ms = Date.now() - started;
  expect(err, name).toBeInstanceOf(GuardUnavailableError);
  expect((err as Error).message, name).toMatch(
    new RegExp(
      `^Valkey unreachable at 127\\.0\\.0\\.1:${port} \\(${name}\\): .+; no budget spent unguarded$`,
    ),
  );
  expect(ms, name).toBeLessThan(3_000);
  return ms;
}

describe('guards when Valkey goes away (own Valkey)', () => {
  const started: ServiceHandle[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop(2_000)));
  });

  it('fail safe within 3 s while Valkey is down and work again after it restarts on the same port', async () => {
    const first = await startValkey();
    started.push(first);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    const redis = createRedis(first.url, { logger, name: 'outage-test' });
    try {
      const guards = createGuards(redis, new Keys(`${unique('outage')}:`), SETTINGS);
      for (const [name, op] of operations(guards, 'before')) await expect(op(), name).resolves.not.toThrow();

      await first.stop();
      for (const [name, op] of operations(guards, 'down')) await expectFailsFast(name, op, first.port);
      // Concurrent callers fail fast too (nothing waits in a queue).
      const burst = Date.now();
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) =>
          guards.budget.reserve('a', { reservationId: `b${i}`, tokens: 1, costUsd: 0 }),
        ),
      );
      expect(results.every((r) => r.status === 'rejected' && r.reason instanceof GuardUnavailableError)).toBe(
        true,
      );
      expect(Date.now() - burst).toBeLessThan(3_000);

      // Still failing fast after the client's reconnect attempts started being refused.
      await new Promise((r) => setTimeout(r, 700));
      await expectFailsFast('budget reserve', operations(guards, 'later')[0]![1], first.port);

      const second = await startValkey({ port: first.port });
      started.push(second);
      const restartedAt = Date.now();
      // The client reconnects on its own (capped backoff ≤ 2 s); poll until the guard answers.
      let reserved: Awaited<ReturnType<Guards['budget']['reserve']>> | undefined;
      while (reserved === undefined) {
        try {
          reserved = await guards.budget.reserve('a', { reservationId: 'after', tokens: 100, costUsd: 0.01 });
        } catch (err) {
          expect(err).toBeInstanceOf(GuardUnavailableError);
          expect(Date.now() - restartedAt).toBeLessThan(10_000);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(reserved).toEqual({ ok: true });
      // Every script works on the fresh server (its script cache was empty: EVALSHA → EVAL).
      for (const [name, op] of operations(guards, 'after')) await expect(op(), name).resolves.not.toThrow();
      // The new server starts empty: only what was counted after the restart is there.
      expect((await guards.budget.status('a')).dailyTokens).toMatchObject({ used: 5, reserved: 100 });
      const log = lines.map((l) => JSON.parse(l) as { msg: string });
      expect(log.map((l) => l.msg)).toEqual([
        'Valkey connection lost; reconnecting',
        'Valkey connection error',
        'Valkey connection restored',
      ]);
    } finally {
      redis.disconnect();
    }
  });

  it('fails within the command timeout when Valkey stops answering, and recovers when it answers again', async () => {
    const valkey = await startValkey();
    started.push(valkey);
    const redis = createRedis(valkey.url);
    // The server itself, not its watchdog: the watchdog's redis-server child.
    const serverPid = Number(
      execFileSync('pgrep', ['-P', String(valkey.process.pid), '-x', path.basename(toolPaths().valkey)], {
        encoding: 'utf8',
      }).trim(),
    );
    expect(serverPid).toBeGreaterThan(0);
    try {
      const guards = createGuards(redis, new Keys(`${unique('frozen')}:`), SETTINGS);
      expect(await guards.budget.reserve('a', { reservationId: 'x', tokens: 1, costUsd: 0 })).toEqual({
        ok: true,
      });
      process.kill(serverPid, 'SIGSTOP');
      try {
        const ms = await expectFailsFast('budget reserve', operations(guards, 'frozen')[0]![1], valkey.port);
        // It is the command timeout (~2 s) that ends the wait, not a refused connection.
        expect(ms).toBeGreaterThanOrEqual(1_900);
      } finally {
        process.kill(serverPid, 'SIGCONT');
      }
      expect(await guards.breaker.check('a', 'wf')).toMatchObject({ allowed: true, state: 'closed' });
      // The timed-out reserve did run once the server woke up: it errs on the safe side (counted,
      // released by expiry), and the activity's retry with the same id does not count it twice.
      expect((await guards.budget.status('a')).dailyTokens.reserved).toBe(11);
      await operations(guards, 'frozen')[0]![1]();
      expect((await guards.budget.status('a')).dailyTokens.reserved).toBe(11);
    } finally {
      redis.disconnect();
    }
  });

  it('fails fast when Valkey was never reachable', async () => {
    const port = await freePort();
    const redis = createRedis(`redis://127.0.0.1:${port}`);
    try {
      const guards = createGuards(redis, new Keys('never:'), SETTINGS);
      await expectFailsFast('budget reserve', operations(guards, 'x')[0]![1], port);
      await expectFailsFast('circuit breaker check', operations(guards, 'x')[3]![1], port);
    } finally {
      redis.disconnect();
    }
  });
});
