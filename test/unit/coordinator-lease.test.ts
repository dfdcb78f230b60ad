/**
 * Lease timing with a fake clock: vitest's fake timers drive both the lease's timers and its
 * clock (`Date.now`), and the fake store expires keys on the same clock, like Valkey would.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaderLease } from '../../lib/coordinator/lease';
import type { LeaseStore } from '../../lib/coordinator/lease';
import type { Logger } from '../../lib/logger';

const quiet = { info() {}, warn() {}, debug() {}, error() {} } as unknown as Logger;

/** One Valkey key with a TTL. */
class FakeKey {
  owner: string | undefined;
  expiresAt = 0;
  current(): string | undefined {
    if (this.owner !== undefined && Date.now() >= this.expiresAt) this.owner = undefined;
    return this.owner;
  }
}

type Mode = 'ok' | 'fail' | 'hang';

/** A client's view of the key: its own network mode and latency. */
class FakeStore implements LeaseStore {
  mode: Mode = 'ok';
  latencyMs = 0;
  calls: string[] = [];
  constructor(readonly key: FakeKey) {}

  private async op<T>(name: string, fn: () => T): Promise<T> {
    this.calls.push(name);
    if (this.mode === 'hang') return new Promise<T>(() => {});
    // Half the latency on the way in (the key changes on arrival), half on the way back.
    const leg = this.latencyMs / 2;
    if (leg > 0) await new Promise((r) => setTimeout(r, leg));
    if (this.mode === 'fail') throw new Error('ECONNREFUSED');
    const result = fn();
    if (leg > 0) await new Promise((r) => setTimeout(r, leg));
    return result;
  }
  acquire(owner: string, ttlMs: number): Promise<boolean> {
    return this.op('acquire', () => {
      if (this.key.current() !== undefined) return false;
      this.key.owner = owner;
      this.key.expiresAt = Date.now() + ttlMs;
      return true;
    });
  }
  extend(owner: string, ttlMs: number): Promise<boolean> {
    return this.op('extend', () => {
      if (this.key.current() !== owner) return false;
      this.key.expiresAt = Date.now() + ttlMs;
      return true;
    });
  }
  release(owner: string): Promise<boolean> {
    return this.op('release', () => {
      if (this.key.current() !== owner) return false;
      this.key.owner = undefined;
      return true;
    });
  }
}

function lease(store: LeaseStore, owner: string, ttlMs = 3000, onChange?: (l: boolean) => void): LeaderLease {
  return new LeaderLease({
    store,
    owner,
    ttlMs,
    safetyMarginMs: 300,
    logger: quiet,
    now: () => Date.now(),
    random: () => 0.5,
    onChange,
  });
}

/** stop() waits for an in-flight attempt (bounded by timeouts): let fake time run meanwhile. */
async function stopAll(...leases: LeaderLease[]): Promise<void> {
  const done = Promise.all(leases.map((l) => l.stop()));
  await vi.advanceTimersByTimeAsync(5000);
  await done;
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LeaderLease', () => {
  it('acquires a free lease, renews every ttl/3 and stays leader while renewals succeed', async () => {
    const key = new FakeKey();
    const store = new FakeStore(key);
    const changes: boolean[] = [];
    const l = lease(store, 'a', 3000, (v) => changes.push(v));
    l.start();
    await vi.advanceTimersByTimeAsync(1);
    expect(l.isLeader()).toBe(true);
    expect(key.owner).toBe('a');
    const term = l.currentTerm()!;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(l.isLeader()).toBe(true);
    expect(l.currentTerm()?.id).toBe(term.id);
    expect(term.signal.aborted).toBe(false);
    // 1 acquire + one renewal per second (ttl/3) for 10 s.
    expect(store.calls.filter((c) => c === 'extend').length).toBeGreaterThanOrEqual(9);
    expect(store.calls.filter((c) => c === 'extend').length).toBeLessThanOrEqual(11);
    expect(changes).toEqual([true]);
    await stopAll(l);
  });

  it('steps down at once when a renewal is refused (another owner)', async () => {
    const key = new FakeKey();
    const l = lease(new FakeStore(key), 'a');
    l.start();
    await vi.advanceTimersByTimeAsync(1);
    const term = l.currentTerm()!;
    key.owner = 'b';
    key.expiresAt = Date.now() + 60_000;
    await vi.advanceTimersByTimeAsync(1000);
    expect(l.isLeader()).toBe(false);
    expect(term.signal.aborted).toBe(true);
    await stopAll(l);
    expect(key.owner).toBe('b');
  });

  it('steps down at once when a renewal fails, and regains the still-owned key by compare-and-extend', async () => {
    const key = new FakeKey();
    const store = new FakeStore(key);
    const l = lease(store, 'a');
    l.start();
    await vi.advanceTimersByTimeAsync(1);
    const first = l.currentTerm()!;
    store.mode = 'fail';
    await vi.advanceTimersByTimeAsync(1000);
    expect(l.isLeader()).toBe(false);
    expect(first.signal.aborted).toBe(true);
    store.mode = 'ok';
    store.calls = [];
    await vi.advanceTimersByTimeAsync(1000);
    expect(l.isLeader()).toBe(true);
    expect(l.currentTerm()!.id).toBe(first.id + 1);
    // The key was still ours: regained by extend without waiting for it to expire.
    expect(store.calls[0]).toBe('extend');
    await stopAll(l);
  });

  it('stops trusting an unanswered renewal at lastOk + ttl − margin, before the key can expire', async () => {
    const key = new FakeKey();
    const store = new FakeStore(key);
    const l = lease(store, 'a', 3000);
    l.start();
    await vi.advanceTimersByTimeAsync(1);
    const acquiredAt = Date.now() - 1;
    const term = l.currentTerm()!;
    store.mode = 'hang';
    // Renewal at +1000 hangs; leadership must end at acquiredAt + 3000 − 300 = +2700.
    await vi.advanceTimersByTimeAsync(2600);
    expect(l.isLeader()).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(Date.now() - acquiredAt).toBeGreaterThanOrEqual(2700);
    expect(l.isLeader()).toBe(false);
    expect(term.signal.aborted).toBe(true);
    // The key itself is still alive at that moment: nobody else can be leader yet.
    expect(key.current()).toBe('a');
    await stopAll(l);
  });

  it('answers isLeader() false past the deadline even when no timer has run (event-loop stall)', async () => {
    const key = new FakeKey();
    const store = new FakeStore(key);
    const l = lease(store, 'a', 3000);
    l.start();
    await vi.advanceTimersByTimeAsync(1);
    expect(l.isLeader()).toBe(true);
    // Jump the clock without running timers, as if the process had been frozen.
    vi.setSystemTime(Date.now() + 2800);
    expect(l.isLeader()).toBe(false);
    expect(l.currentTerm()).toBeUndefined();
    await stopAll(l);
  });

  it('after a stall past the deadline, ends the term first and only then regains the key', async () => {
    const key = new FakeKey();
    const store = new FakeStore(key);
    const l = lease(store, 'a', 3000);
    const changes: boolean[] = [];
    (l as unknown as { o: { onChange: (v: boolean) => void } }).o.onChange = (v) => changes.push(v);
    l.start();
    await vi.advanceTimersByTimeAsync(1);
    const first = l.currentTerm()!;
    // Freeze for 1.8 s: the renewal timer (due at +1 s) then fires at +2.8 s, past the 2.7 s
    // deadline but before the key expires at +3 s.
    vi.setSystemTime(Date.now() + 1800);
    store.calls = [];
    await vi.advanceTimersByTimeAsync(1000);
    expect(first.signal.aborted).toBe(true);
    expect(changes).toEqual([true, false, true]);
    // Regained by compare-and-extend (the key was still ours), as a new term.
    expect(store.calls).toEqual(['extend']);
    expect(l.isLeader()).toBe(true);
    expect(l.currentTerm()!.id).toBe(first.id + 1);
    await stopAll(l);
  });

  it('counts the deadline from when the renewal was sent, not when it answered', async () => {
    const key = new FakeKey();
    const store = new FakeStore(key);
    const l = lease(store, 'a', 3000);
    l.start();
    await vi.advanceTimersByTimeAsync(1);
    store.latencyMs = 800;
    // Renewal sent at +1000 answers at +1800: deadline = 1000 + 2700 = +3700, not 1800 + 2700.
    await vi.advanceTimersByTimeAsync(1900);
    store.mode = 'hang';
    await vi.advanceTimersByTimeAsync(3700 - 1901 - 50);
    expect(l.isLeader()).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(l.isLeader()).toBe(false);
    await stopAll(l);
  });

  it('a follower takes over an abandoned lease within ttl + retry, and a released one within the retry', async () => {
    const key = new FakeKey();
    const a = lease(new FakeStore(key), 'a');
    const bStore = new FakeStore(key);
    const b = lease(bStore, 'b');
    a.start();
    await vi.advanceTimersByTimeAsync(1);
    b.start();
    await vi.advanceTimersByTimeAsync(5000);
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);

    // "SIGKILL" a: its store hangs forever and it never renews again.
    const killedAt = Date.now();
    (a as unknown as { o: { store: FakeStore } }).o.store.mode = 'hang';
    let tookOverAfter = -1;
    for (let t = 0; t < 10_000; t += 50) {
      await vi.advanceTimersByTimeAsync(50);
      if (b.isLeader()) {
        tookOverAfter = Date.now() - killedAt;
        break;
      }
    }
    expect(tookOverAfter).toBeGreaterThan(0);
    expect(tookOverAfter).toBeLessThanOrEqual(3000 + 550 + 100);
    expect(a.isLeader()).toBe(false);

    // Now b releases (SIGTERM): a fresh follower c takes over within its retry period.
    const c = lease(new FakeStore(key), 'c');
    c.start();
    await vi.advanceTimersByTimeAsync(2000);
    expect(c.isLeader()).toBe(false);
    const releasedAt = Date.now();
    const stopping = b.stop();
    await vi.advanceTimersByTimeAsync(0);
    await stopping;
    expect(key.current()).not.toBe('b');
    let cAfter = -1;
    for (let t = 0; t < 5000; t += 20) {
      await vi.advanceTimersByTimeAsync(20);
      if (c.isLeader()) {
        cAfter = Date.now() - releasedAt;
        break;
      }
    }
    expect(cAfter).toBeGreaterThan(0);
    expect(cAfter).toBeLessThanOrEqual(600);
    await stopAll(a);
    await stopAll(c);
  });

  it('never has two leaders at once under random latency, failures and hangs', async () => {
    const key = new FakeKey();
    let seed = 42;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const stores = ['a', 'b', 'c'].map(() => new FakeStore(key));
    const leases = stores.map((s, i) => lease(s, `owner-${i}`, 3000));
    leases.forEach((l) => l.start());
    let leaderSamples = 0;
    for (let step = 0; step < 3000; step++) {
      if (step % 20 === 0) {
        for (const s of stores) {
          const r = rnd();
          s.mode = r < 0.1 ? 'fail' : r < 0.15 ? 'hang' : 'ok';
          s.latencyMs = Math.floor(rnd() * 1500);
        }
      }
      await vi.advanceTimersByTimeAsync(50);
      const leaders = leases.filter((l) => l.isLeader());
      expect(leaders.length).toBeLessThanOrEqual(1);
      // Whoever believes it leads really owns the key right now.
      if (leaders[0]) expect(key.current()).toBe(leaders[0].owner);
      if (leaders.length === 1) leaderSamples++;
    }
    // The test is meaningful only if leadership actually existed and moved around.
    expect(leaderSamples).toBeGreaterThan(500);
    for (const s of stores) {
      s.mode = 'ok';
      s.latencyMs = 0;
    }
    await stopAll(...leases);
  });

  it('stop() aborts the term and releases the key by compare-and-delete', async () => {
    const key = new FakeKey();
    const changes: boolean[] = [];
    const l = lease(new FakeStore(key), 'a', 3000, (v) => changes.push(v));
    l.start();
    await vi.advanceTimersByTimeAsync(1);
    const term = l.currentTerm()!;
    const waiting = l.nextTerm();
    await expect(waiting).resolves.toBe(term);
    await stopAll(l);
    expect(term.signal.aborted).toBe(true);
    expect(key.current()).toBeUndefined();
    expect(changes).toEqual([true, false]);
    await expect(l.nextTerm()).resolves.toBeUndefined();
  });

  it('stop() does not delete a key that another owner holds', async () => {
    const key = new FakeKey();
    key.owner = 'other';
    key.expiresAt = Date.now() + 60_000;
    const l = lease(new FakeStore(key), 'a');
    l.start();
    await vi.advanceTimersByTimeAsync(3000);
    expect(l.isLeader()).toBe(false);
    await stopAll(l);
    expect(key.current()).toBe('other');
  });
});
