/* eslint-disable @typescript-eslint/require-await -- fakes implement async interfaces with plain values */
/**
 * The coordinator's poll loop against fakes (real timers, short intervals): long-poll fallback,
 * outage logging, the idle pause, and aborting the long poll when leadership ends.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../lib/coordinator/coordinator';
import { ExplorationPlanner } from '../../lib/coordinator/exploration';
import { LeaderLease } from '../../lib/coordinator/lease';
import type { LeaseStore } from '../../lib/coordinator/lease';
import { NotificationScheduler } from '../../lib/coordinator/scheduler';
import type { ActivationStarter, CoordinatorHub } from '../../lib/coordinator/types';
import { HubHttpError, LongPollUnsupportedError } from '../../lib/errors';
import type { AgentWithNotifications } from '../../lib/hub/types';
import type { Logger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function memoryStore(): LeaseStore & { steal(): void } {
  let owner: string | undefined;
  return {
    async acquire(o) {
      if (owner !== undefined) return false;
      owner = o;
      return true;
    },
    async extend(o) {
      return owner === o;
    },
    async release(o) {
      if (owner !== o) return false;
      owner = undefined;
      return true;
    },
    steal() {
      owner = 'someone-else';
    },
  };
}

function recordingLogger() {
  const lines: string[] = [];
  // pino style: (object, message) or just (message).
  const rec = (o: unknown, msg?: string): void => {
    lines.push(msg ?? (typeof o === 'string' ? o : ''));
  };
  return { logger: { info: rec, warn: rec, debug() {}, error: rec } as unknown as Logger, lines };
}

const running: Coordinator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});

function build(
  hub: CoordinatorHub,
  o: {
    store?: LeaseStore;
    pollIntervalMs?: number;
    idlePauseMs?: number;
    starter?: ActivationStarter;
    batchSize?: number;
    longPollRecheckMs?: number;
  } = {},
) {
  const { logger, lines } = recordingLogger();
  const metrics = createMetrics(new Registry(), { defaults: false });
  const signalled: string[] = [];
  const starter: ActivationStarter = o.starter ?? {
    async signalNotification(id) {
      signalled.push(id);
    },
    async startExploration() {
      return 'started';
    },
  };
  const gate = { check: async () => undefined };
  const lease = new LeaderLease({ store: o.store ?? memoryStore(), owner: 'me', ttlMs: 3000, logger });
  const c = new Coordinator({
    lease,
    hub,
    scheduler: new NotificationScheduler({
      starter,
      gate,
      metrics,
      logger,
      dedupe: { baseMs: 3000, maxMs: 3000 },
    }),
    exploration: new ExplorationPlanner({
      hub,
      registry: { get: async () => ({ config: { behavior: {} } }) },
      log: { lastStarts: async () => new Map(), recordStart: async () => {} },
      gate,
      starter,
      metrics,
      logger,
      minActivationIntervalSeconds: 900,
    }),
    metrics,
    logger,
    pollIntervalMs: o.pollIntervalMs ?? 200,
    pollBatchSize: o.batchSize ?? 100,
    idlePauseMs: o.idlePauseMs ?? 250,
    hubBackoff: { baseMs: 20, maxMs: 50 },
    ...(o.longPollRecheckMs !== undefined ? { longPollRecheckMs: o.longPollRecheckMs } : {}),
  });
  running.push(c);
  return { c, lines, signalled, lease };
}

function hubWith(parts: Partial<CoordinatorHub>): CoordinatorHub {
  return {
    pollNotifications: async () => [],
    listAgentsWithNotifications: async () => [],
    listStaleAgents: async () => [],
    ...parts,
  };
}

const a = (id: string, n = 1): AgentWithNotifications => ({ id, name: id, notification_count: n });

describe('Coordinator poll loop', () => {
  it('falls back to listing agents every poll interval when the Hub has no long poll', async () => {
    let polls = 0;
    let lists = 0;
    const hub = hubWith({
      pollNotifications: async () => {
        polls++;
        throw new LongPollUnsupportedError('GET /api/v1/notifications/poll: HTTP 404');
      },
      listAgentsWithNotifications: async () => {
        lists++;
        return lists === 2 ? [a('x')] : [];
      },
    });
    const { c, signalled, lines } = build(hub, { pollIntervalMs: 200 });
    c.start();
    await wait(1100);
    expect(polls).toBe(1);
    // ~5 lists in 1.1 s at 200 ms ±10 %, not a tight loop.
    expect(lists).toBeGreaterThanOrEqual(4);
    expect(lists).toBeLessThanOrEqual(7);
    expect(signalled).toEqual(['x']);
    expect(lines.filter((l) => l.includes('no long poll'))).toHaveLength(1);
  });

  it('asks a listing-only Hub for the long poll again now and then, and uses it once it answers', async () => {
    let supported = false;
    let polls = 0;
    let lists = 0;
    const hub = hubWith({
      pollNotifications: async () => {
        polls++;
        if (!supported) throw new LongPollUnsupportedError('GET /api/v1/notifications/poll: HTTP 404');
        await wait(50);
        return [];
      },
      listAgentsWithNotifications: async () => {
        lists++;
        return [];
      },
    });
    const { c, lines } = build(hub, { pollIntervalMs: 100, longPollRecheckMs: 400 });
    c.start();
    await wait(1000);
    // Asked at start, then about every 400 ms; listing in between.
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(polls).toBeLessThanOrEqual(4);
    expect(lists).toBeGreaterThanOrEqual(3);
    supported = true; // the Hub was upgraded
    const upgradedAt = Date.now();
    while (!lines.some((l) => l.includes('answers the long poll again')) && Date.now() - upgradedAt < 3000) {
      await wait(20);
    }
    expect(Date.now() - upgradedAt).toBeLessThan(1500); // within one re-check period (and some slack)
    const listsAfterUpgrade = lists;
    const pollsAfterUpgrade = polls;
    await wait(300);
    expect(lists).toBe(listsAfterUpgrade);
    expect(polls).toBeGreaterThan(pollsAfterUpgrade);
    expect(lines.filter((l) => l.includes('no long poll'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('answers the long poll again'))).toHaveLength(1);
  });

  it('logs a Hub outage once when it starts and once when it ends, and resumes scheduling', async () => {
    let down = true;
    let calls = 0;
    const hub = hubWith({
      pollNotifications: async () => {
        calls++;
        if (down) throw new HubHttpError('GET /api/v1/notifications/poll', 500, 'boom');
        await wait(20);
        return [a('y')];
      },
    });
    const { c, lines, signalled } = build(hub);
    c.start();
    await wait(500);
    expect(calls).toBeGreaterThan(3);
    down = false;
    await wait(300);
    expect(signalled).toContain('y');
    expect(lines.filter((l) => l === 'hub: up→down')).toHaveLength(1);
    expect(lines.filter((l) => l === 'hub: down→up')).toHaveLength(1);
  });

  it('pauses instead of spinning while the long poll keeps reporting agents already signalled', async () => {
    let polls = 0;
    const hub = hubWith({
      pollNotifications: async () => {
        polls++;
        return [a('busy', 2)];
      },
    });
    const { c, signalled } = build(hub, { idlePauseMs: 250 });
    c.start();
    await wait(1000);
    expect(signalled).toEqual(['busy']);
    // Without the pause this would be thousands of polls per second.
    expect(polls).toBeGreaterThanOrEqual(3);
    expect(polls).toBeLessThanOrEqual(6);
  });

  it('aborts the in-flight long poll as soon as leadership is lost', async () => {
    const store = memoryStore();
    let aborted = 0;
    let started = 0;
    const hub = hubWith({
      pollNotifications: (_q, o) =>
        new Promise((_, reject) => {
          started++;
          o?.signal?.addEventListener('abort', () => {
            aborted++;
            reject(new Error('aborted'));
          });
        }),
    });
    const { c, lease } = build(hub, { store });
    c.start();
    await wait(100);
    expect(lease.isLeader()).toBe(true);
    expect(started).toBe(1);
    store.steal();
    // The next renewal (ttl/3 = 1 s) is refused.
    await wait(1200);
    expect(lease.isLeader()).toBe(false);
    expect(aborted).toBe(1);
    expect(started).toBe(1);
  });

  it('on stop, cancels the start/signal call in flight before it releases the lease', async () => {
    const events: string[] = [];
    const base = memoryStore();
    const store: LeaseStore = {
      acquire: (o, t) => base.acquire(o, t),
      extend: (o, t) => base.extend(o, t),
      release: async (o) => {
        events.push('release');
        return base.release(o);
      },
    };
    const starter: ActivationStarter = {
      signalNotification: (_id, _at, signal) =>
        new Promise((_, reject) => {
          events.push('call started');
          signal?.addEventListener('abort', () => {
            events.push('call aborted');
            reject(new Error('cancelled'));
          });
        }),
      async startExploration() {
        return 'started';
      },
    };
    const hub = hubWith({ pollNotifications: async () => [a('slow')] });
    const { c } = build(hub, { store, starter });
    c.start();
    await wait(200);
    expect(events).toEqual(['call started']);
    await c.stop();
    expect(events).toEqual(['call started', 'call aborted', 'release']);
  });

  it('looks beyond a full batch of agents already handled, so agents past the batch are not starved', async () => {
    let lists = 0;
    const hub = hubWith({
      // The Hub keeps answering with the same first two agents (batch size 2)...
      pollNotifications: async () => [a('first'), a('second')],
      // ...while a third one waits beyond the batch.
      listAgentsWithNotifications: async () => {
        lists++;
        return [a('first'), a('second'), a('third')];
      },
    });
    const { c, signalled } = build(hub, { batchSize: 2, idlePauseMs: 100 });
    c.start();
    await wait(700);
    expect(signalled.sort()).toEqual(['first', 'second', 'third']);
    // Rate-limited: a few complete listings, not one per poll.
    expect(lists).toBeGreaterThanOrEqual(1);
    expect(lists).toBeLessThanOrEqual(4);
  });

  it('asks for as many more agents as the last answer held already handled, so a new one is in the next answer', async () => {
    // A Hub that honours batch_size: ten agents being handled stay ahead of the one that just got
    // a notification; the complete listing never shows it (so only the long poll can).
    const pending = Array.from({ length: 10 }, (_, i) => a(`busy-${i}`));
    const asked: number[] = [];
    let polls = 0;
    const hub = hubWith({
      pollNotifications: async ({ batchSize }) => {
        asked.push(batchSize);
        polls++;
        const all = polls >= 3 ? [...pending, a('new')] : pending;
        return all.slice(0, batchSize);
      },
      listAgentsWithNotifications: async () => pending,
    });
    const { c, signalled } = build(hub, { batchSize: 4, idlePauseMs: 30 });
    c.start();
    await wait(600);
    expect(signalled).toContain('new');
    // 4 (nothing held yet), then 4 + the agents held by the answer before.
    expect(asked[0]).toBe(4);
    expect(asked).toContain(4 + pending.length);
  });
});
