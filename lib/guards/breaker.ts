/**
 * Per-agent circuit breaker in Valkey (DESIGN.md: `work:failures`, `work:backoff`).
 *
 * closed ──threshold consecutive failures──► open for min(base·2^(n−threshold), max) s
 * open ──backoff passed──► half open: exactly one caller (the probe) is let through
 * probe succeeds → closed (both counters reset); probe fails → open again at the next step.
 *
 * Each operation is one Lua script; the clock is passed in, so tests drive time.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys';
import type { Metrics } from '../metrics';
import { asNumbers, defineScript } from './script';
import type { Script } from './script';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerCheck {
  allowed: boolean;
  state: BreakerState;
  failures: number;
  /** Epoch ms until which the breaker stays open (or the current probe's lease ends). */
  openUntil?: number;
}

export interface BreakerStatus {
  state: BreakerState;
  failures: number;
  /** Epoch ms the current backoff ends (also set while half open: when it ended). */
  openUntil?: number;
}

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker (DESIGN: 5). */
  threshold: number;
  /** First backoff in seconds (DESIGN: 60). */
  baseSeconds: number;
  /** Longest backoff in seconds (DESIGN: 3600). */
  maxSeconds: number;
  /**
   * How long a half-open probe may take before another caller may probe instead (s). Covers a
   * probe whose activation died without reporting. Default 900 (above the activation timeout).
   */
  probeTtlSeconds?: number;
  /** Clock in epoch ms (tests inject one). */
  now?: () => number;
  metrics?: Metrics;
}

/**
 * Backoff after `failures` consecutive failures: 0 below the threshold, then
 * min(base·2^(failures−threshold), max) seconds. Mirrors the Lua in `recordFailure`.
 */
export function backoffSeconds(
  failures: number,
  o: Pick<CircuitBreakerOptions, 'threshold' | 'baseSeconds' | 'maxSeconds'>,
): number {
  if (failures < o.threshold) return 0;
  return Math.min(o.baseSeconds * 2 ** Math.min(failures - o.threshold, 30), o.maxSeconds);
}

const STATES: readonly BreakerState[] = ['closed', 'open', 'half_open'];

// Shared by check and status: decode HGETs into failures, open-until (epoch s) and the probe lease.
const READ_STATE = `
local failures = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local untilS = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local probe = redis.call('GET', KEYS[3])
local probeDeadline, probeOwner = 0, ''
if probe then
  local sep = string.find(probe, '|', 1, true)
  if sep then
    probeDeadline = tonumber(string.sub(probe, 1, sep - 1)) or 0
    probeOwner = string.sub(probe, sep + 1)
  end
end
`;

/**
 * KEYS failures, backoff, probe; ARGV agent, owner, nowMs, threshold, probeTtlMs
 * → {allowed, state (0 closed, 1 open, 2 half open), failures, untilMs}
 */
const CHECK_LUA = `
local owner, now, threshold, probeTtl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
-- Below the threshold the breaker is closed whatever else is stored: one read.
local count = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if count < threshold then
  return {1, 0, count, 0}
end
${READ_STATE}
if untilS == 0 then
  return {1, 0, failures, 0}
end
if now < untilS * 1000 then
  return {0, 1, failures, untilS * 1000}
end
if probeOwner ~= '' and probeOwner ~= owner and now < probeDeadline then
  return {0, 1, failures, probeDeadline}
end
redis.call('SET', KEYS[3], string.format('%d|%s', now + probeTtl, owner), 'PX', probeTtl + 86400000)
return {1, 2, failures, untilS * 1000}
`;

/** KEYS failures, backoff, probe; ARGV agent, nowMs, threshold, base, max → {failures, untilMs}. */
const FAILURE_LUA = `
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local threshold = tonumber(ARGV[3])
if n < threshold then
  return {n, 0}
end
local dur = math.min(tonumber(ARGV[4]) * 2 ^ math.min(n - threshold, 30), tonumber(ARGV[5]))
local untilS = math.ceil(tonumber(ARGV[2]) / 1000) + dur
redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', untilS))
redis.call('DEL', KEYS[3])
return {n, untilS * 1000}
`;

/**
 * KEYS failures, backoff, probe; ARGV agent. A success of an agent without failures (the usual
 * case) finds nothing to reset: the backoff and the probe exist only after failures.
 */
const SUCCESS_LUA = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
`;

/** KEYS failures, backoff, probe; ARGV agent (the operator's reset: everything, unconditionally). */
const RESET_LUA = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
`;

/** KEYS failures, backoff, probe; ARGV agent, owner → 1 released, 0 not held by owner. */
const RELEASE_PROBE_LUA = `${READ_STATE}
if probeOwner ~= '' and probeOwner == ARGV[2] then
  redis.call('DEL', KEYS[3])
  return 1
end
return 0
`;

/** KEYS failures, backoff, probe; ARGV agent → {failures, untilS, probeDeadline}. */
const STATUS_LUA = `${READ_STATE}
return {failures, untilS, probeDeadline}
`;

/** The per-agent circuit breaker (see the module comment for the state machine). */
export class CircuitBreaker {
  private readonly now: () => number;
  private readonly probeTtlMs: number;
  private readonly checkScript: Script;
  private readonly failureScript: Script;
  private readonly successScript: Script;
  private readonly resetScript: Script;
  private readonly statusScript: Script;
  private readonly releaseProbeScript: Script;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    private readonly o: CircuitBreakerOptions,
  ) {
    if (!Number.isInteger(o.threshold) || o.threshold < 1) {
      throw new Error(`CircuitBreaker: threshold must be an integer ≥ 1, got ${o.threshold}`);
    }
    if (!(o.baseSeconds > 0) || !(o.maxSeconds >= o.baseSeconds)) {
      throw new Error(
        `CircuitBreaker: need 0 < baseSeconds ≤ maxSeconds, got ${o.baseSeconds} and ${o.maxSeconds}`,
      );
    }
    this.now = o.now ?? Date.now;
    this.probeTtlMs = Math.round((o.probeTtlSeconds ?? 900) * 1000);
    this.checkScript = defineScript(redis, 'botburrowBreakerCheck', CHECK_LUA, 'circuit breaker check');
    this.failureScript = defineScript(
      redis,
      'botburrowBreakerFailure',
      FAILURE_LUA,
      'circuit breaker failure',
    );
    this.successScript = defineScript(
      redis,
      'botburrowBreakerSuccess',
      SUCCESS_LUA,
      'circuit breaker success',
    );
    this.resetScript = defineScript(redis, 'botburrowBreakerReset', RESET_LUA, 'circuit breaker reset');
    this.releaseProbeScript = defineScript(
      redis,
      'botburrowBreakerReleaseProbe',
      RELEASE_PROBE_LUA,
      'circuit breaker release probe',
    );
    this.statusScript = defineScript(redis, 'botburrowBreakerStatus', STATUS_LUA, 'circuit breaker status');
  }

  private keyList(agentId: string): string[] {
    return [this.keys.failures(), this.keys.backoff(), this.keys.probe(agentId)];
  }

  /**
   * May `agentId` start an activation now? Closed → yes. Open → no. Once the backoff has passed,
   * exactly one caller becomes the half-open probe (`allowed`, state `half_open`); everyone else
   * sees `open` until the probe reports (or its lease of `probeTtlSeconds` runs out). Calling again
   * with the same `probeOwner` (e.g. an activity retry, pass the workflow id) is allowed again.
   */
  async check(agentId: string, probeOwner: string): Promise<BreakerCheck> {
    const [allowed, stateCode, failures, untilMs] = asNumbers(
      await this.checkScript(this.keyList(agentId), [
        agentId,
        probeOwner,
        Math.floor(this.now()),
        this.o.threshold,
        this.probeTtlMs,
      ]),
      'breaker check',
    ) as [number, number, number, number];
    const state = STATES[stateCode] ?? 'open';
    this.report(agentId, state, failures);
    if (!allowed) this.o.metrics?.guardRefusals.inc({ reason: 'circuit_open' });
    const out: BreakerCheck = { allowed: allowed === 1, state, failures };
    if (untilMs > 0) out.openUntil = untilMs;
    return out;
  }

  /** A successful activation: closes the breaker and resets the failure count. */
  async recordSuccess(agentId: string): Promise<void> {
    await this.successScript(this.keyList(agentId), [agentId]);
    this.report(agentId, 'closed', 0);
  }

  /**
   * A failed activation (outcome `failed` or `timed_out`). Callers must NOT report budget
   * refusals, pauses, cancels or breaker refusals here: those are decisions, not failures of the
   * agent, and counting them would open the breaker on a healthy agent (if such an activation
   * was the half-open probe, call `releaseProbe` instead). Reaching the threshold
   * opens the breaker; a failure at or above it (a failed probe) re-opens it at the next step.
   */
  async recordFailure(agentId: string): Promise<{ failures: number; openUntil?: number }> {
    const [failures, untilMs] = asNumbers(
      await this.failureScript(this.keyList(agentId), [
        agentId,
        Math.floor(this.now()),
        this.o.threshold,
        this.o.baseSeconds,
        this.o.maxSeconds,
      ]),
      'breaker failure',
    ) as [number, number];
    this.report(agentId, untilMs > 0 ? 'open' : 'closed', failures);
    return untilMs > 0 ? { failures, openUntil: untilMs } : { failures };
  }

  /**
   * Gives up the half-open probe without a verdict: for an activation that took the probe but
   * ended neither succeeded nor failed (budget refusal, pause, cancel). The next caller may probe
   * at once instead of waiting for the probe lease to run out. A no-op unless `probeOwner` holds
   * the probe. Returns whether it did.
   */
  async releaseProbe(agentId: string, probeOwner: string): Promise<boolean> {
    const reply = await this.releaseProbeScript(this.keyList(agentId), [agentId, probeOwner]);
    return reply === 1;
  }

  /** Operator reset: closes the breaker as if the agent had just succeeded. */
  async reset(agentId: string): Promise<void> {
    await this.resetScript(this.keyList(agentId), [agentId]);
    this.report(agentId, 'closed', 0);
  }

  /** Current state without taking the probe. */
  async status(agentId: string): Promise<BreakerStatus> {
    const [failures, untilS] = asNumbers(
      await this.statusScript(this.keyList(agentId), [agentId]),
      'breaker status',
    ) as [number, number, number];
    const now = this.now();
    let state: BreakerState = 'closed';
    if (failures >= this.o.threshold && untilS > 0) state = now < untilS * 1000 ? 'open' : 'half_open';
    this.report(agentId, state, failures);
    const out: BreakerStatus = { state, failures };
    if (untilS > 0) out.openUntil = untilS * 1000;
    return out;
  }

  private report(agentId: string, state: BreakerState, failures: number): void {
    this.o.metrics?.breakerOpen.set({ agent_id: agentId }, state === 'closed' ? 0 : 1);
    this.o.metrics?.breakerFailures.set({ agent_id: agentId }, failures);
  }
}
