import { describe, expect, it, vi } from 'vitest';
import { DependencyHealth, backoffDelay, jittered, sleep } from '../../lib/coordinator/backoff';
import type { Logger } from '../../lib/logger';

function fakeLogger() {
  const lines: { level: string; msg: string }[] = [];
  const log =
    (level: string) =>
    (_obj: unknown, msg?: string): void => {
      lines.push({ level, msg: msg ?? '' });
    };
  const logger = { info: log('info'), warn: log('warn'), debug: log('debug'), error: log('error') };
  return { logger: logger as unknown as Logger, lines };
}

describe('backoffDelay', () => {
  const o = { baseMs: 100, maxMs: 5000 };

  it('grows exponentially within [d/2, d] and never exceeds the cap', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const d = Math.min(o.maxMs, o.baseMs * 2 ** attempt);
      expect(backoffDelay(attempt, o, () => 0)).toBe(d / 2);
      expect(backoffDelay(attempt, o, () => 0.999999)).toBeCloseTo(d, 0);
      const r = backoffDelay(attempt, o);
      expect(r).toBeGreaterThanOrEqual(d / 2);
      expect(r).toBeLessThanOrEqual(d);
    }
    expect(backoffDelay(1000, o, () => 1)).toBe(5000);
  });

  it('treats negative attempts as the first', () => {
    expect(backoffDelay(-3, o, () => 1)).toBe(100);
  });
});

describe('jittered', () => {
  it('stays within ±10 % and hits both ends', () => {
    expect(jittered(1000, 0.1, () => 0)).toBeCloseTo(900);
    expect(jittered(1000, 0.1, () => 1)).toBeCloseTo(1100);
    expect(jittered(1000, 0.1, () => 0.5)).toBeCloseTo(1000);
    const samples = Array.from({ length: 2000 }, () => jittered(30_000));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(27_000);
    expect(Math.max(...samples)).toBeLessThanOrEqual(33_000);
    // Actually spread, not constant.
    expect(Math.max(...samples) - Math.min(...samples)).toBeGreaterThan(3000);
  });

  it('is never negative', () => {
    expect(jittered(10, 2, () => 0)).toBe(0);
  });
});

describe('sleep', () => {
  it('resolves early when aborted', async () => {
    vi.useFakeTimers();
    try {
      const c = new AbortController();
      let done = false;
      const p = sleep(10_000, c.signal).then(() => (done = true));
      await vi.advanceTimersByTimeAsync(100);
      expect(done).toBe(false);
      c.abort();
      await p;
      expect(done).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('DependencyHealth', () => {
  it('logs one line per state change, not per retry', () => {
    const { logger, lines } = fakeLogger();
    let t = 0;
    const h = new DependencyHealth(
      'hub',
      logger,
      { baseMs: 100, maxMs: 1000 },
      () => 1,
      () => t,
    );
    expect(h.up).toBe(true);
    h.ok();
    expect(lines).toEqual([]);
    const delays = [1, 2, 3, 4, 5, 6].map(() => h.failed(new Error('ECONNREFUSED')));
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(h.up).toBe(false);
    expect(lines).toEqual([{ level: 'warn', msg: 'hub: up→down' }]);
    t = 5000;
    h.ok();
    h.ok();
    expect(lines).toEqual([
      { level: 'warn', msg: 'hub: up→down' },
      { level: 'info', msg: 'hub: down→up' },
    ]);
    // Backoff restarts after a recovery.
    expect(h.failed(new Error('again'))).toBe(100);
    expect(lines).toHaveLength(3);
  });
});
