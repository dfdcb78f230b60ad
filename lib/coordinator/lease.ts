/**
 * The coordinator's leader lease (`coordinator:leader`, DESIGN.md).
 *
 * Safety rule: a replica schedules only while it can prove, from its own monotonic clock, that the
 * lease is still its own. Every successful acquire or renewal that was *sent* at local time `t`
 * keeps the key alive on the server until at least `t + ttl` (the server's TTL starts after the
 * command arrives, so counting from the send time is conservative). We stop trusting it earlier,
 * at `t + ttl − safetyMargin`, which absorbs clock-rate drift between the hosts and the time between
 * our last `isLeader()` check and the effect of a call we then make. Past that deadline the key may
 * have expired and been taken by the other replica, so `isLeader()` answers false from then on even
 * if no timer has fired yet (an event-loop stall cannot extend leadership).
 *
 * Renewal runs every ttl/3. Any failed renewal — refused because the key has another owner, or
 * unanswered because Valkey is away — ends the leadership term at once (its AbortSignal aborts the
 * in-flight long poll and scheduling). The lease may then still be ours on the server, so while it
 * could be, the next attempts try compare-and-extend before SET NX: a brief Valkey blip costs one
 * short step-down, not a full TTL of nobody leading. Followers retry every min(ttl/3, 500 ms)
 * (two cheap SET NX a second), so a released lease (SIGTERM) is taken over within about half a
 * second and an expired one (SIGKILL) within ttl + 0.5 s.
 *
 * Scheduling races between an old and a new leader are harmless beyond wasted work: activations
 * use one workflow id per agent, so Temporal itself never runs two activations of one agent.
 */
import { setMaxListeners } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger';
import { DependencyHealth, describeError, jittered } from './backoff';
import type { Random } from './backoff';

/** The three atomic operations on the lease key. */
export interface LeaseStore {
  /** SET key owner NX PX ttl: true when we now hold the lease. */
  acquire(owner: string, ttlMs: number): Promise<boolean>;
  /** Compare-and-extend: true when the key still named `owner` and its TTL was reset. */
  extend(owner: string, ttlMs: number): Promise<boolean>;
  /** Compare-and-delete: true when the key named `owner` and was deleted. */
  release(owner: string): Promise<boolean>;
}

const EXTEND_LUA = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0`;

const RELEASE_LUA = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0`;

interface LeaseCommands {
  botburrowLeaseExtend(key: string, owner: string, ttlMs: number): Promise<number>;
  botburrowLeaseRelease(key: string, owner: string): Promise<number>;
}

/** A `LeaseStore` on Valkey: SET NX PX plus two Lua scripts registered with `defineCommand`. */
export function createRedisLeaseStore(redis: Redis, key: string): LeaseStore {
  redis.defineCommand('botburrowLeaseExtend', { numberOfKeys: 1, lua: EXTEND_LUA });
  redis.defineCommand('botburrowLeaseRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  const scripts = redis as unknown as LeaseCommands;
  return {
    async acquire(owner, ttlMs) {
      return (await redis.set(key, owner, 'PX', ttlMs, 'NX')) === 'OK';
    },
    async extend(owner, ttlMs) {
      return (await scripts.botburrowLeaseExtend(key, owner, ttlMs)) === 1;
    },
    async release(owner) {
      return (await scripts.botburrowLeaseRelease(key, owner)) === 1;
    },
  };
}

/** One uninterrupted period of leadership. Its signal aborts when the period ends. */
export interface LeaderTerm {
  readonly id: number;
  readonly signal: AbortSignal;
}

export interface LeaderLeaseOptions {
  store: LeaseStore;
  /** Unique per process, e.g. `host-pid-random`. */
  owner: string;
  ttlMs: number;
  /** Stop trusting the lease this long before it could expire. Default max(250 ms, ttl/10). */
  safetyMarginMs?: number;
  /** Follower retry period. Default min(ttl/3, 500 ms), jittered ±10 %. */
  followerRetryMs?: number;
  logger: Logger;
  /** Monotonic clock (ms). Default `performance.now`. */
  now?: () => number;
  random?: Random;
  /** Called on every leadership change (metrics). */
  onChange?: (leader: boolean) => void;
}

export class LeaseTimeoutError extends Error {
  override readonly name = 'LeaseTimeoutError';
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LeaseTimeoutError(`${what}: no answer within ${Math.round(ms)} ms`)),
      ms,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Leader election on a single Valkey key; see the module comment for the timing rules. */
export class LeaderLease {
  private readonly ttlMs: number;
  private readonly marginMs: number;
  private readonly followerRetryMs: number;
  private readonly now: () => number;
  private readonly random: Random;
  private readonly valkey: DependencyHealth;

  /** Monotonic instant after which the current term is no longer trusted. */
  private deadline = Number.NEGATIVE_INFINITY;
  /** Until then the key may still name us on the server (so extend is worth trying). */
  private mayOwnUntil = Number.NEGATIVE_INFINITY;
  private term: { term: LeaderTerm; controller: AbortController } | undefined;
  private termCount = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private waiters = new Set<(t: LeaderTerm | undefined) => void>();

  constructor(private readonly o: LeaderLeaseOptions) {
    this.ttlMs = o.ttlMs;
    this.marginMs = o.safetyMarginMs ?? Math.max(250, o.ttlMs / 10);
    if (this.marginMs >= this.ttlMs / 2) throw new Error('lease safety margin must be below ttl/2');
    this.followerRetryMs = o.followerRetryMs ?? Math.min(o.ttlMs / 3, 500);
    this.now = o.now ?? (() => performance.now());
    this.random = o.random ?? Math.random;
    this.valkey = new DependencyHealth('valkey', o.logger, { baseMs: 250, maxMs: 5000 }, this.random);
  }

  get owner(): string {
    return this.o.owner;
  }

  /** Starts trying to acquire (and then renewing) the lease in the background. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  /** True only while the current term is within its deadline; checked before every scheduling call. */
  isLeader(): boolean {
    return this.term !== undefined && !this.term.controller.signal.aborted && this.now() < this.deadline;
  }

  /** The current term, if leading. */
  currentTerm(): LeaderTerm | undefined {
    return this.isLeader() ? this.term?.term : undefined;
  }

  /** Resolves with the current or next term; with `undefined` when `signal` aborts or the lease stops. */
  nextTerm(signal?: AbortSignal): Promise<LeaderTerm | undefined> {
    const current = this.currentTerm();
    if (current || this.stopped || signal?.aborted) return Promise.resolve(current);
    return new Promise((resolve) => {
      const done = (t: LeaderTerm | undefined): void => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve(t);
      };
      const onAbort = (): void => done(undefined);
      this.waiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops renewing, ends the term and releases the key if it may still be ours (compare-and-delete). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.tickTimer);
    await this.ticking;
    this.stepDown('shutdown');
    for (const w of [...this.waiters]) w(undefined);
    if (this.now() < this.mayOwnUntil) {
      try {
        const released = await withTimeout(this.o.store.release(this.o.owner), 1000, 'lease release');
        this.o.logger.info({ released }, 'leader lease released');
      } catch (err) {
        // The key then expires by itself within one TTL.
        this.o.logger.warn({ err: describeError(err) }, 'leader lease release failed');
      }
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.tickTimer);
    this.tickTimer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule(this.term ? this.ttlMs / 3 : jittered(this.followerRetryMs, 0.1, this.random));
      });
    }, delayMs);
  }

  /** One acquire-or-renew attempt. Never throws. */
  private async tick(): Promise<void> {
    const sentAt = this.now();
    // After an event-loop stall the deadline may already be gone: end the term before anything else.
    if (this.term && sentAt >= this.deadline) this.stepDown('lease could not be renewed in time');
    const leading = this.term !== undefined;
    const { store, owner } = this.o;
    try {
      let ok: boolean;
      if (leading) {
        // A renewal that answers after the deadline is useless: the term must already be over.
        ok = await withTimeout(
          store.extend(owner, this.ttlMs),
          Math.max(1, this.deadline - sentAt),
          'lease renewal',
        );
      } else {
        const budget = this.ttlMs - this.marginMs;
        ok =
          sentAt < this.mayOwnUntil &&
          (await withTimeout(store.extend(owner, this.ttlMs), budget, 'lease extend'));
        if (!ok) ok = await withTimeout(store.acquire(owner, this.ttlMs), budget, 'lease acquire');
      }
      this.valkey.ok();
      if (this.stopped && !leading) {
        // stop() raced with a successful acquire: keep mayOwnUntil so stop() releases it.
        if (ok) this.mayOwnUntil = sentAt + this.ttlMs;
        return;
      }
      if (ok) {
        this.mayOwnUntil = sentAt + this.ttlMs;
        this.deadline = sentAt + this.ttlMs - this.marginMs;
        if (this.now() >= this.deadline) {
          this.stepDown('lease answer arrived too late to trust');
          return;
        }
        if (!this.term || this.term.controller.signal.aborted) this.becomeLeader();
        this.armDeadline();
      } else if (leading) {
        this.mayOwnUntil = Number.NEGATIVE_INFINITY;
        this.stepDown('lease is held by another owner');
      }
    } catch (err) {
      this.valkey.failed(err);
      if (this.term) this.stepDown(`lease renewal failed: ${describeError(err)}`);
    }
  }

  private becomeLeader(): void {
    const controller = new AbortController();
    // The term's signal is combined once per term, but the long poll and waits listen on it too.
    setMaxListeners(64, controller.signal);
    const term: LeaderTerm = { id: ++this.termCount, signal: controller.signal };
    this.term = { term, controller };
    this.o.logger.info({ term: term.id }, 'leadership acquired');
    this.o.onChange?.(true);
    for (const w of [...this.waiters]) w(term);
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(
      () => {
        if (this.term && this.now() >= this.deadline) this.stepDown('lease could not be renewed in time');
        else if (this.term) this.armDeadline();
      },
      Math.max(0, this.deadline - this.now()),
    );
  }

  private stepDown(reason: string): void {
    clearTimeout(this.deadlineTimer);
    this.deadline = Number.NEGATIVE_INFINITY;
    const current = this.term;
    if (!current) return;
    this.term = undefined;
    current.controller.abort(new Error(`leadership lost: ${reason}`));
    const level = reason === 'shutdown' ? 'info' : 'warn';
    this.o.logger[level]({ term: current.term.id, reason }, 'leadership lost');
    this.o.onChange?.(false);
  }
}
