/**
 * Pure helpers of the guards: backoff formula, money conversion, refusal texts, release tokens,
 * error classification and the client options. The scripts themselves are tested against a real
 * Valkey in test/integration/guards-*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Redis, ReplyError as AnyReplyError } from 'ioredis';
import { loadSettings, secretSettingValues } from '../../lib/config';
import { createGuards } from '../../lib/guards';
import { Keys } from '../../lib/keys';
import { CircuitBreaker, backoffSeconds } from '../../lib/guards/breaker';
import { budgetRefusalMessage, formatUsd, toMicros } from '../../lib/guards/budget';
import {
  dailyLimitReason,
  decodeToken,
  encodeToken,
  intervalReason,
  threadLimitReason,
} from '../../lib/guards/limits';
import { parsePauseValue } from '../../lib/guards/pause';
import { isUnavailableError, unavailableMessage } from '../../lib/guards/script';
import { createRedis, reconnectDelayMs, redactUrl, redisAuth, redisOptions } from '../../lib/redis';

// ioredis declares ReplyError as `any`.
const ReplyError = AnyReplyError as new (message: string) => Error;

describe('breaker backoff formula', () => {
  const design = { threshold: 5, baseSeconds: 60, maxSeconds: 3600 };

  it('is closed below the threshold, then 60·2^(n−5) capped at 3600', () => {
    const seq = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 40, 500].map((n) => backoffSeconds(n, design));
    expect(seq).toEqual([0, 0, 0, 0, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]);
  });

  it('follows other thresholds and bases', () => {
    const o = { threshold: 2, baseSeconds: 10, maxSeconds: 35 };
    expect([1, 2, 3, 4, 5].map((n) => backoffSeconds(n, o))).toEqual([0, 10, 20, 35, 35]);
  });
});

describe('budget money and messages', () => {
  it('converts USD to micro-dollars, rounding reservations up', () => {
    expect(toMicros(0.07)).toBe(70_000);
    expect(toMicros(0.07, 'ceil')).toBe(70_000);
    expect(toMicros(0.0000001, 'ceil')).toBe(1);
    expect(toMicros(0.0000001)).toBe(0);
    expect(toMicros(100)).toBe(100_000_000);
    expect(toMicros(1.2345675)).toBe(1_234_568);
  });

  it('formats micro-dollars as cents unless that would hide the amount', () => {
    expect(formatUsd(100_000_000)).toBe('$100.00');
    expect(formatUsd(99_990_000)).toBe('$99.99');
    expect(formatUsd(20_000)).toBe('$0.02');
    expect(formatUsd(1_500)).toBe('$0.0015');
    expect(formatUsd(1_234)).toBe('$0.001234');
    expect(formatUsd(0)).toBe('$0.00');
  });

  it('names the limit, the agent and the numbers', () => {
    expect(
      budgetRefusalMessage('daily_tokens', 'research-agent', {
        used: 99_000,
        reserved: 0,
        requested: 5_000,
        limit: 100_000,
      }),
    ).toBe('daily token limit 100000 reached for research-agent (99000 used, 5000 requested)');
    expect(
      budgetRefusalMessage('daily_tokens', 'a', {
        used: 90_000,
        reserved: 8_000,
        requested: 5_000,
        limit: 100_000,
      }),
    ).toBe('daily token limit 100000 reached for a (90000 used + 8000 reserved, 5000 requested)');
    expect(
      budgetRefusalMessage('monthly_cost', 'a', {
        used: 99_990_000,
        reserved: 0,
        requested: 20_000,
        limit: 100_000_000,
      }),
    ).toBe('monthly cost limit $100.00 reached for a ($99.99 used, $0.02 requested)');
    expect(
      budgetRefusalMessage('fleet_monthly_cost', 'b', {
        used: 400_000_000,
        reserved: 100_000_000,
        requested: 1_500,
        limit: 500_000_000,
      }),
    ).toBe(
      'fleet monthly cost limit $500.00 reached ($400.00 used + $100.00 reserved by all agents, $0.0015 requested by b)',
    );
  });
});

describe('behaviour limit reasons and tokens', () => {
  it('reads exactly as the model is told', () => {
    expect(dailyLimitReason('comment', 50)).toBe('daily comment limit 50 reached');
    expect(dailyLimitReason('post', 5)).toBe('daily post limit 5 reached');
    expect(threadLimitReason(3, 'p1')).toBe('thread limit 3 reached for post p1');
    expect(intervalReason(60, 12_900, 'post')).toBe('min interval 60s not elapsed (12s since last post)');
    expect(intervalReason(60, 0, 'comment')).toBe('min interval 60s not elapsed (0s since last comment)');
    // A clock behind another runner's must not print negative seconds.
    expect(intervalReason(60, -3_000, 'post')).toBe('min interval 60s not elapsed (0s since last post)');
  });

  it('round-trips release tokens and rejects foreign ones with a clear error', () => {
    const t = { id: 'x1', kind: 'comment' as const, day: '2026-11-27', thread: 'p1', last: '1|comment|x1' };
    expect(decodeToken(encodeToken(t))).toEqual(t);
    expect(() => decodeToken('not-a-token')).toThrow(/not a token from acquire/);
    expect(() => decodeToken(Buffer.from('{"id":1}').toString('base64url'))).toThrow(/not a token/);
  });
});

describe('pause flag values', () => {
  it('decodes JSON flags and still honours hand-set ones', () => {
    expect(parsePauseValue('{"reason":"cost review","at":"2026-11-27T10:00:00.000Z"}')).toEqual({
      paused: true,
      reason: 'cost review',
      at: '2026-11-27T10:00:00.000Z',
    });
    expect(parsePauseValue('yes')).toEqual({ paused: true, reason: 'yes' });
    expect(parsePauseValue('1')).toEqual({ paused: true, reason: 'paused' });
  });
});

describe('Valkey client and failure classification', () => {
  it('treats connection failures and LOADING/BUSY as unavailable, script errors as bugs', () => {
    expect(isUnavailableError(new Error('Connection is closed.'))).toBe(true);
    expect(isUnavailableError(new Error('Command timed out'))).toBe(true);
    expect(isUnavailableError(new ReplyError('LOADING Redis is loading the dataset in memory'))).toBe(true);
    expect(isUnavailableError(new ReplyError('BUSY Redis is busy running a script'))).toBe(true);
    expect(isUnavailableError(new ReplyError('ERR user_script:3: attempt to compare nil'))).toBe(false);
    expect(isUnavailableError('a string')).toBe(false);
    expect(isUnavailableError(new TypeError('x is not a function'))).toBe(false);
  });

  it('says where, what and that nothing was spent', () => {
    expect(unavailableMessage('127.0.0.1:6379', 'budget reserve', 'Connection is closed.')).toBe(
      'Valkey unreachable at 127.0.0.1:6379 (budget reserve): Connection is closed.; no budget spent unguarded',
    );
  });

  it('fails fast: bounded timeouts, one retry, capped reconnect backoff', () => {
    const o = redisOptions();
    expect(o).toMatchObject({
      connectTimeout: 2000,
      commandTimeout: 2000,
      maxRetriesPerRequest: 1,
      lazyConnect: false,
      enableAutoPipelining: true,
    });
    expect([1, 2, 3, 4, 5, 6, 50].map((t) => reconnectDelayMs(t, 2000))).toEqual([
      100, 200, 400, 800, 1600, 2000, 2000,
    ]);
    expect(o.retryStrategy?.(100)).toBe(2000);
  });

  it("logs in with the settings' user and password, which win over the URL", () => {
    const settings = loadSettings({
      BOTBURROW_REDIS_URL: 'redis://old:stale@cache:6379',
      BOTBURROW_REDIS_USERNAME: 'runner',
      BOTBURROW_REDIS_PASSWORD: 'pw-from-the-secret',
    });
    expect(redisOptions(redisAuth(settings))).toMatchObject({
      username: 'runner',
      password: 'pw-from-the-secret',
    });
    const plain = redisOptions(redisAuth(loadSettings({})));
    expect('username' in plain || 'password' in plain).toBe(false);
    // The password is a secret setting, so it is scrubbed from tool output and logs.
    expect(secretSettingValues(settings)).toContain('pw-from-the-secret');
    const client = createRedis(settings.redisUrl, redisAuth(settings));
    try {
      expect(client.options).toMatchObject({
        username: 'runner',
        password: 'pw-from-the-secret',
        host: 'cache',
      });
    } finally {
      client.disconnect();
    }
  });

  it('never shows credentials of the Valkey URL', () => {
    expect(redactUrl('redis://user:secret@cache:6380/2')).toBe('redis://cache:6380/2');
    expect(redactUrl('nonsense')).toBe('(invalid Valkey URL)');
  });
});

describe('createGuards wiring from settings', () => {
  it('applies the env limits and per-agent overrides (no server needed to build)', () => {
    const redis = new Redis({ lazyConnect: true });
    try {
      const settings = loadSettings({
        BOTBURROW_DAILY_TOKEN_LIMIT: '5000',
        BOTBURROW_BUDGET_OVERRIDES: '{"research-agent":{"daily_tokens":50000,"monthly_cost":20}}',
      });
      const guards = createGuards(redis, new Keys('t:'), settings);
      expect(guards.budget.limitsFor('research-agent')).toEqual({ dailyTokens: 50_000, monthlyCostUsd: 20 });
      expect(guards.budget.limitsFor('other')).toEqual({ dailyTokens: 5_000, monthlyCostUsd: 100 });
      expect(() =>
        createGuards(redis, new Keys(), {
          ...settings,
          breakerThreshold: undefined,
        } as unknown as typeof settings),
      ).toThrow('createGuards: setting breakerThreshold is missing');
      expect(
        () => new CircuitBreaker(redis, new Keys(), { threshold: 0, baseSeconds: 60, maxSeconds: 3600 }),
      ).toThrow(/threshold must be an integer ≥ 1, got 0/);
    } finally {
      redis.disconnect();
    }
  });
});
