/**
 * Backoff, jitter and dependency-health bookkeeping for the coordinator's loops.
 *
 * The coordinator talks to three services that can each go away (Hub, Temporal, Valkey). None of
 * their outages may crash it or flood the log, so every loop retries with capped exponential
 * backoff plus jitter, and `DependencyHealth` logs one line per state change (`hub: up→down`,
 * `hub: down→up`), never one per retry.
 */
import type { Logger } from '../logger';

export type Random = () => number;

export interface BackoffOptions {
  /** First delay (ms). */
  baseMs: number;
  /** Longest delay (ms). */
  maxMs: number;
}

/**
 * Delay before retry number `attempt` (0-based): `min(max, base·2^attempt)`, with "equal jitter"
 * (uniform in the upper half), so replicas that failed together do not retry in lockstep while
 * the delay still grows.
 */
export function backoffDelay(attempt: number, o: BackoffOptions, random: Random = Math.random): number {
  const exp = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return exp / 2 + random() * (exp / 2);
}

/** `ms` spread uniformly by ±`fraction` (0.1 → ±10 %), never negative. */
export function jittered(ms: number, fraction = 0.1, random: Random = Math.random): number {
  return Math.max(0, ms * (1 + (2 * random() - 1) * fraction));
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Up/down state of one dependency as seen by one loop. `failed()` returns the delay to wait before
 * the next attempt; the first failure after success logs `name: up→down`, the first success after
 * failures logs `name: down→up` with how long it was down and how many attempts failed.
 */
export class DependencyHealth {
  private failures = 0;
  private downSince: number | undefined;

  constructor(
    readonly name: string,
    private readonly logger: Logger,
    private readonly backoff: BackoffOptions,
    private readonly random: Random = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  get up(): boolean {
    return this.failures === 0;
  }

  /** Records a success; logs the recovery when the dependency was down. */
  ok(): void {
    if (this.failures > 0) {
      const downMs = this.downSince === undefined ? 0 : this.now() - this.downSince;
      this.logger.info(
        { dependency: this.name, downMs, failedAttempts: this.failures },
        `${this.name}: down→up`,
      );
    }
    this.failures = 0;
    this.downSince = undefined;
  }

  /** Records a failure; logs it when the dependency was up. Returns the delay before retrying (ms). */
  failed(err: unknown): number {
    if (this.failures === 0) {
      this.downSince = this.now();
      this.logger.warn({ dependency: this.name, err: describeError(err) }, `${this.name}: up→down`);
    }
    const delay = backoffDelay(this.failures, this.backoff, this.random);
    this.failures++;
    return delay;
  }
}

/** A short, log-friendly description of any thrown value (message and name, no stack). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (cause: ${err.cause.message})` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}
