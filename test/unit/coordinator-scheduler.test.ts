/* eslint-disable @typescript-eslint/require-await -- fakes implement async interfaces with plain values */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { NotificationScheduler, RecentlyScheduled, forEachLimit } from '../../lib/coordinator/scheduler';
import { createAgentGate, createRunnableTypeGate } from '../../lib/coordinator/types';
import type { ActivationStarter, AgentGate, SkipReason } from '../../lib/coordinator/types';
import type { Logger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';

const quiet = { info() {}, warn() {}, debug() {}, error() {} } as unknown as Logger;

function clock() {
  const c = { t: 0, now: () => c.t };
  return c;
}

const agent = (id: string, count = 1) => ({ id, name: id, notification_count: count });

describe('RecentlyScheduled (dedupe window)', () => {
  it('holds an agent off within its window while its unread count does not grow', () => {
    const c = clock();
    const r = new RecentlyScheduled({ baseMs: 3000, maxMs: 30_000, now: c.now });
    expect(r.due('a', 2)).toEqual({ due: true, renewed: false });
    r.record('a', 2, false);
    c.t = 100;
    expect(r.due('a', 2).due).toBe(false);
    c.t = 2999;
    expect(r.due('a', 1).due).toBe(false);
    // A count above the lowest seen since (1) means a new notification: due at once.
    expect(r.due('a', 2)).toEqual({ due: true, renewed: false });
  });

  it('re-signals after the window as a safety net, doubling the window up to the cap', () => {
    const c = clock();
    const r = new RecentlyScheduled({ baseMs: 1000, maxMs: 5000, now: c.now });
    r.record('a', 1, false);
    const gaps: number[] = [];
    let last = 0;
    for (let t = 0; t <= 30_000; t += 10) {
      c.t = t;
      const d = r.due('a', 1);
      if (d.due) {
        gaps.push(t - last);
        last = t;
        r.record('a', 1, d.renewed);
      }
    }
    expect(gaps.slice(0, 5)).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it('a new notification resets the window to the base', () => {
    const c = clock();
    const r = new RecentlyScheduled({ baseMs: 1000, maxMs: 8000, now: c.now });
    r.record('a', 1, false);
    c.t = 1000;
    r.record('a', 1, r.due('a', 1).renewed); // window now 2000
    c.t = 1500;
    const d = r.due('a', 2);
    expect(d).toEqual({ due: true, renewed: false });
    r.record('a', 2, d.renewed);
    c.t = 2499;
    expect(r.due('a', 2).due).toBe(false);
    c.t = 2500;
    expect(r.due('a', 2).due).toBe(true);
  });

  it('after a complete answer without the agent, its next notification counts as new', () => {
    const c = clock();
    const r = new RecentlyScheduled({ baseMs: 3000, maxMs: 30_000, now: c.now });
    r.record('a', 1, false);
    c.t = 500;
    r.observeComplete(new Set(['b']));
    expect(r.due('a', 1).due).toBe(true);
  });

  it('forgets idle entries after the max window', () => {
    const c = clock();
    const r = new RecentlyScheduled({ baseMs: 1000, maxMs: 5000, now: c.now });
    r.record('a', 1, false);
    r.record('b', 1, false);
    c.t = 6000;
    r.observeComplete(new Set(['b']));
    expect(r.size).toBe(1);
  });
});

describe('forEachLimit', () => {
  it('never runs more than the limit at once and visits every item once', async () => {
    let inFlight = 0;
    let max = 0;
    const seen: number[] = [];
    await forEachLimit(
      Array.from({ length: 100 }, (_, i) => i),
      7,
      async (i) => {
        inFlight++;
        max = Math.max(max, inFlight);
        await new Promise((r) => setTimeout(r, i % 3));
        seen.push(i);
        inFlight--;
      },
    );
    expect(max).toBe(7);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});

function fakeStarter(opts: { failFor?: Set<string>; delayMs?: number } = {}) {
  const calls: string[] = [];
  let inFlight = 0;
  const stats = { maxInFlight: 0 };
  const starter: ActivationStarter = {
    async signalNotification(agentId) {
      inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 0));
      inFlight--;
      if (opts.failFor?.has(agentId)) throw new Error('14 UNAVAILABLE: connect ECONNREFUSED');
      calls.push(agentId);
    },
    async startExploration() {
      return 'started';
    },
  };
  return { starter, calls, stats };
}

function gate(reasons: Record<string, SkipReason>): AgentGate {
  return { check: async (id) => reasons[id] };
}

async function counter(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values ?? []).find((x) =>
    Object.entries(labels).every(([k, val]) => (x.labels as Record<string, string>)[k] === val),
  );
  return v ? Number(v.value) : 0;
}

describe('NotificationScheduler', () => {
  it('signals due agents, skips paused and circuit-open ones with counted reasons', async () => {
    const metrics = createMetrics(new Registry(), { defaults: false });
    const { starter, calls } = fakeStarter();
    const s = new NotificationScheduler({
      starter,
      gate: gate({ p: 'paused', o: 'circuit_open' }),
      metrics,
      logger: quiet,
    });
    const out = await s.schedule([agent('a'), agent('p'), agent('o'), agent('b')], () => true, true);
    expect(calls.sort()).toEqual(['a', 'b']);
    expect(out.scheduled.sort()).toEqual(['a', 'b']);
    expect(out.skipped).toEqual(
      expect.arrayContaining([
        { agentId: 'p', reason: 'paused' },
        { agentId: 'o', reason: 'circuit_open' },
      ]),
    );
    expect(await counter(metrics.registry, 'botburrow_activations_skipped_total', { reason: 'paused' })).toBe(
      1,
    );
    expect(
      await counter(metrics.registry, 'botburrow_activations_skipped_total', { reason: 'circuit_open' }),
    ).toBe(1);
    expect(
      await counter(metrics.registry, 'botburrow_activations_scheduled_total', {
        trigger: 'notification',
        queue: 'botburrow-high',
      }),
    ).toBe(2);

    // The same answer again right away: everyone is held off (no hot loop, no double counting).
    const again = await s.schedule([agent('a'), agent('p'), agent('o'), agent('b')], () => true, true);
    expect(again.scheduled).toEqual([]);
    expect(again.deduped.sort()).toEqual(['a', 'b', 'o', 'p']);
    expect(calls).toHaveLength(2);
    expect(await counter(metrics.registry, 'botburrow_activations_skipped_total', { reason: 'paused' })).toBe(
      1,
    );
  });

  it('retries an agent whose signal failed on the very next answer', async () => {
    const metrics = createMetrics(new Registry(), { defaults: false });
    const failFor = new Set(['a']);
    const { starter, calls } = fakeStarter({ failFor });
    const s = new NotificationScheduler({ starter, gate: gate({}), metrics, logger: quiet });
    const first = await s.schedule([agent('a')], () => true, true);
    expect(first.failed).toEqual(['a']);
    expect(first.lastError).toBeInstanceOf(Error);
    failFor.clear();
    const second = await s.schedule([agent('a')], () => true, true);
    expect(second.scheduled).toEqual(['a']);
    expect(calls).toEqual(['a']);
  });

  it('schedules nothing once leadership is gone', async () => {
    const metrics = createMetrics(new Registry(), { defaults: false });
    const { starter, calls } = fakeStarter({ delayMs: 5 });
    const s = new NotificationScheduler({ starter, gate: gate({}), metrics, logger: quiet, concurrency: 2 });
    let leader = true;
    let checks = 0;
    const out = await s.schedule(
      Array.from({ length: 20 }, (_, i) => agent(`a${i}`)),
      () => {
        checks++;
        if (checks > 6) leader = false;
        return leader;
      },
      true,
    );
    expect(out.interrupted).toBe(true);
    expect(calls.length).toBeLessThanOrEqual(4);
    expect(out.scheduled.length + out.deduped.length).toBeLessThan(20);
  });

  it('keeps at most `concurrency` signal-with-start calls in flight for 1000 agents', async () => {
    const metrics = createMetrics(new Registry(), { defaults: false });
    const { starter, calls, stats } = fakeStarter({ delayMs: 1 });
    const s = new NotificationScheduler({ starter, gate: gate({}), metrics, logger: quiet, concurrency: 32 });
    const out = await s.schedule(
      Array.from({ length: 1000 }, (_, i) => agent(`agent-${i}`)),
      () => true,
      true,
    );
    expect(out.scheduled).toHaveLength(1000);
    expect(new Set(calls).size).toBe(1000);
    expect(stats.maxInFlight).toBe(32);
  });

  it('signals agents with new notifications before safety-net re-signals', async () => {
    const metrics = createMetrics(new Registry(), { defaults: false });
    const { starter, calls } = fakeStarter();
    let t = 0;
    const s = new NotificationScheduler({
      starter,
      gate: gate({}),
      metrics,
      logger: quiet,
      concurrency: 1,
      dedupe: { baseMs: 1000, maxMs: 8000 },
      now: () => t,
    });
    await s.schedule([agent('old-1'), agent('old-2')], () => true, true);
    t = 1500;
    calls.length = 0;
    await s.schedule([agent('old-1'), agent('old-2'), agent('new-1'), agent('new-2')], () => true, true);
    expect(calls).toEqual(['new-1', 'new-2', 'old-1', 'old-2']);
  });
});

describe('NotificationScheduler cancellation', () => {
  it('counts a call cancelled by the end of the term as interrupted, not as a Temporal failure', async () => {
    const metrics = createMetrics(new Registry(), { defaults: false });
    const controller = new AbortController();
    const starter: ActivationStarter = {
      signalNotification: (_id, _at, signal) =>
        new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('CANCELLED')))),
      startExploration: () => Promise.resolve('started'),
    };
    const s = new NotificationScheduler({ starter, gate: gate({}), metrics, logger: quiet });
    const pending = s.schedule([agent('a')], () => !controller.signal.aborted, true, controller.signal);
    setTimeout(() => controller.abort(), 10);
    const out = await pending;
    expect(out.failed).toEqual([]);
    expect(out.interrupted).toBe(true);
    // Not remembered as scheduled: the next leader's (or term's) answer schedules it.
    expect(s.recent.due('a', 1).due).toBe(true);
  });
});

describe('createAgentGate', () => {
  const guards = (paused: boolean, state: 'closed' | 'open' | 'half_open', fail = false) => ({
    pauseFlags: {
      isPaused: async () => {
        if (fail) throw new Error('Valkey unavailable');
        return { paused };
      },
    },
    breaker: { status: async () => ({ state }) },
  });

  it('maps pause and breaker state to skip reasons; half-open is let through', async () => {
    expect(await createAgentGate(guards(false, 'closed')).check('a')).toBeUndefined();
    expect(await createAgentGate(guards(false, 'half_open')).check('a')).toBeUndefined();
    expect(await createAgentGate(guards(true, 'closed')).check('a')).toBe('paused');
    expect(await createAgentGate(guards(true, 'open')).check('a')).toBe('paused');
    expect(await createAgentGate(guards(false, 'open')).check('a')).toBe('circuit_open');
  });

  it('fails closed with guard_unavailable when Valkey does not answer', async () => {
    const errors: string[] = [];
    const gate = createAgentGate(guards(false, 'closed', true), (_id, err) => errors.push(err));
    expect(await gate.check('a')).toBe('guard_unavailable');
    expect(errors).toEqual(['Error: Valkey unavailable']);
  });
});

describe('createRunnableTypeGate', () => {
  const types: Record<string, string> = { coder: 'claude-code', goose: 'goose', native: 'native' };
  const registry = {
    get: async (id: string) => {
      if (!(id in types)) throw new Error(`no agent ${id}`);
      return { config: { type: types[id], behavior: {} } };
    },
  };
  const runnable = (t: string): boolean => t === 'native' || t === 'claude-code';
  const open = { check: async () => undefined };
  const paused = { check: async () => 'paused' as const };

  it('skips an agent whose type no runner executes, before the guards, and says so', async () => {
    const skipped: string[] = [];
    const gate = createRunnableTypeGate(paused, registry, runnable, (id, type) =>
      skipped.push(`${id}:${type}`),
    );
    expect(await gate.check('goose')).toBe('unrunnable_type');
    expect(skipped).toEqual(['goose:goose']);
  });

  it('passes runnable types and definitions that do not load on to the inner gate', async () => {
    expect(await createRunnableTypeGate(open, registry, runnable).check('coder')).toBeUndefined();
    expect(await createRunnableTypeGate(paused, registry, runnable).check('native')).toBe('paused');
    expect(await createRunnableTypeGate(open, registry, runnable).check('missing')).toBeUndefined();
  });
});
