import { describe, expect, it } from 'vitest';
import { backoffDelayMs, parseRetryAfter } from '../../lib/hub/retry';

describe('backoffDelayMs (capped exponential, full jitter)', () => {
  it('spans [0, base * 2^attempt) with the random factor', () => {
    expect(backoffDelayMs(0, 200, 10_000, () => 0)).toBe(0);
    expect(backoffDelayMs(0, 200, 10_000, () => 0.5)).toBe(100);
    expect(backoffDelayMs(1, 200, 10_000, () => 0.5)).toBe(200);
    expect(backoffDelayMs(3, 200, 10_000, () => 0.999)).toBe(1598);
  });

  it('never exceeds the cap however many attempts', () => {
    for (const attempt of [6, 10, 40, 5000]) {
      expect(backoffDelayMs(attempt, 200, 10_000, () => 0.999_999)).toBeLessThan(10_000);
      expect(backoffDelayMs(attempt, 200, 10_000, () => 0.5)).toBe(5000);
    }
  });

  it('varies with real randomness (jitter)', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelayMs(6, 200, 10_000)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(0);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('reads delta-seconds, decimals tolerated', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });

  it('ignores absent or unparseable values', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
