/**
 * Token and cost budgets in Valkey (DESIGN.md: `budget:tokens:<agent>:<day>`,
 * `budget:cost:<agent>:<month>`, `budget:cost:_all:<month>`).
 *
 * Before each LLM call the caller reserves the call's worst case; the reserve script counts
 * settled usage plus every open (unexpired) reservation against the daily token limit, the
 * monthly cost limit and the optional fleet cap, and records the reservation, all atomically.
 * Concurrent activations therefore never pass a limit together by more than one call's
 * reservation (and not at all while real usage stays within its reservation). After the call,
 * `settle` replaces the reservation by the real usage, once per reservation id. A reservation
 * whose activation died simply expires and stops counting.
 *
 * Money is counted in integer micro-dollars so that Valkey's integer counters stay exact.
 */
import type { Redis } from 'ioredis';
import type { BudgetOverride } from '../config';
import type { Keys } from '../keys';
import { utcDay, utcMonth } from '../keys';
import type { Metrics } from '../metrics';
import { parsePauseValue } from './pause';
import { asNumbers, defineScript } from './script';
import type { Script } from './script';

export type BudgetLimitKind = 'daily_tokens' | 'monthly_cost' | 'fleet_monthly_cost';

export type ReserveResult =
  | { ok: true }
  | { ok: false; limit: BudgetLimitKind; message: string }
  /** With `checkPause`: the agent is paused (`message` is the operator's reason); nothing reserved. */
  | { ok: false; limit: 'paused'; message: string };

export interface BudgetAmount {
  /** Settled usage this period. */
  used: number;
  /** Open (unexpired) reservations. */
  reserved: number;
  limit: number;
}

export interface BudgetStatus {
  agentId: string;
  /** UTC day `YYYY-MM-DD` the token figures are for. */
  day: string;
  /** UTC month `YYYY-MM` the cost figures are for. */
  month: string;
  dailyTokens: BudgetAmount;
  /** In USD. */
  monthlyCostUsd: BudgetAmount;
  /** In USD; present when a fleet cap is configured. */
  fleetMonthlyCostUsd?: BudgetAmount;
}

export interface BudgetGuardOptions {
  /** Tokens per agent per UTC day (`BOTBURROW_DAILY_TOKEN_LIMIT`). 0 allows nothing. */
  dailyTokenLimit: number;
  /** USD per agent per UTC month (`BOTBURROW_MONTHLY_COST_LIMIT`). 0 allows nothing. */
  monthlyCostLimitUsd: number;
  /** USD for all agents together per UTC month; undefined = no fleet cap. */
  fleetMonthlyCostLimitUsd?: number;
  /** Per-agent limits replacing the defaults (`BOTBURROW_BUDGET_OVERRIDES`). */
  overrides?: Record<string, BudgetOverride>;
  /** An unsettled reservation stops counting after this many seconds. */
  reservationTtlSeconds: number;
  /** Clock in epoch ms (tests inject one). */
  now?: () => number;
  metrics?: Metrics;
}

/** Keys of old periods expire on their own: days after 3 days, months after 40. */
export const DAY_KEY_TTL_SECONDS = 3 * 86400;
export const MONTH_KEY_TTL_SECONDS = 40 * 86400;
/**
 * How long a settled reservation id is remembered (a later settle of it stays a no-op): a day,
 * far beyond any activity retry, or twice the reservation TTL if that is longer. One small key
 * per model call, so not longer than needed.
 */
export const SETTLED_MARKER_TTL_SECONDS = 86400;

/** USD → integer micro-dollars; reservations round up so a worst case is never under-counted. */
export function toMicros(usd: number, rounding: 'ceil' | 'round' = 'round'): number {
  // toFixed first: 0.07 * 1e6 is 70000.00000000001, which must not ceil to 70001.
  const exact = Number((usd * 1e6).toFixed(3));
  return rounding === 'ceil' ? Math.ceil(exact) : Math.round(exact);
}

/** Micro-dollars as `$12.34`, with more digits only when cents would hide the amount. */
export function formatUsd(micros: number): string {
  const usd = micros / 1e6;
  if (micros % 10_000 === 0) return `$${usd.toFixed(2)}`;
  return `$${usd.toFixed(6).replace(/0+$/, '')}`;
}

/** Numbers behind a refusal (tokens, or micro-dollars for the cost limits). */
export interface RefusalFigures {
  used: number;
  reserved: number;
  requested: number;
  limit: number;
}

/** The refusal text the activation reports (pure, unit-tested). */
export function budgetRefusalMessage(kind: BudgetLimitKind, agentId: string, f: RefusalFigures): string {
  const fmt = kind === 'daily_tokens' ? (n: number) => String(n) : formatUsd;
  const used = f.reserved > 0 ? `${fmt(f.used)} used + ${fmt(f.reserved)} reserved` : `${fmt(f.used)} used`;
  switch (kind) {
    case 'daily_tokens':
      return `daily token limit ${f.limit} reached for ${agentId} (${used}, ${f.requested} requested)`;
    case 'monthly_cost':
      return `monthly cost limit ${fmt(f.limit)} reached for ${agentId} (${used}, ${fmt(f.requested)} requested)`;
    case 'fleet_monthly_cost':
      return `fleet monthly cost limit ${fmt(f.limit)} reached (${used} by all agents, ${fmt(f.requested)} requested by ${agentId})`;
  }
}

// Reservation entries: agent hash field <id> → "tokens|micros|expiresMs";
// fleet hash field "<agent>|<id>" → "micros|expiresMs" (only written when a fleet cap is set).
// `fleet` ('1' when a fleet cap is set): only then do fleet entries exist to be purged.
const SCAN_AGENT = `
local function scanAgent(key, fleetKey, agent, now, purge, fleet)
  local tokens, micros, found = 0, 0, {}
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local t, c, e = string.match(all[i + 1], '^(%d+)|(%d+)|(%d+)$')
    if e == nil or tonumber(e) <= now then
      if purge then
        redis.call('HDEL', key, all[i])
        if fleet then redis.call('HDEL', fleetKey, agent .. '|' .. all[i]) end
      end
    else
      tokens = tokens + tonumber(t)
      micros = micros + tonumber(c)
      found[all[i]] = true
    end
  end
  return tokens, micros, found
end
local function scanFleet(fleetKey, now, purge)
  local micros = 0
  local all = redis.call('HGETALL', fleetKey)
  for i = 1, #all, 2 do
    local c, e = string.match(all[i + 1], '^(%d+)|(%d+)$')
    if e == nil or tonumber(e) <= now then
      if purge then redis.call('HDEL', fleetKey, all[i]) end
    else
      micros = micros + tonumber(c)
    end
  end
  return micros
end
local function num(key)
  return tonumber(redis.call('GET', key) or '0')
end
local function nums(...)
  local v = redis.call('MGET', ...)
  for i = 1, #v do v[i] = tonumber(v[i] or '0') end
  return v
end
`;

/**
 * KEYS tokensDay, costMonth, fleetMonth, reservations, fleetReservations, settledMarker, pauseFlag
 * ARGV agent, id, tokens, micros, nowMs, expiresMs, dailyLimit, monthlyLimitMicros,
 *      fleetLimitMicros (-1 = none), gcTtlMs, checkPause ('1': refuse while the pause flag is set)
 * → {0, usedTokens, reservedTokens, usedMicros, reservedMicros}   reserved (or already open)
 *   {1|2|3, used, reserved, requested, limit}                      refused: daily/monthly/fleet
 *   {4, 0, 0, 0, 0, pauseValue}                                     refused: paused
 */
const RESERVE_LUA = `${SCAN_AGENT}
local agent, id, now = ARGV[1], ARGV[2], tonumber(ARGV[5])
local fleet = tonumber(ARGV[9]) >= 0
-- A settled id reserved again is the next attempt of the same call: a new reservation, which its
-- settle counts (settle goes by the open entry first, by the settled marker only without one).
local used = ARGV[11] == '1' and redis.call('MGET', KEYS[1], KEYS[2], KEYS[7])
  or redis.call('MGET', KEYS[1], KEYS[2])
if used[3] then
  return {4, 0, 0, 0, 0, used[3]}
end
local usedT, usedC = tonumber(used[1] or '0'), tonumber(used[2] or '0')
local pendingT, pendingC, open = scanAgent(KEYS[4], KEYS[5], agent, now, true, fleet)
if open[id] then
  return {0, usedT, pendingT, usedC, pendingC}
end
local reqT, reqC = tonumber(ARGV[3]), tonumber(ARGV[4])
local dailyLimit, monthlyLimit, fleetLimit = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
if usedT + pendingT + reqT > dailyLimit then
  return {1, usedT, pendingT, reqT, dailyLimit}
end
if usedC + pendingC + reqC > monthlyLimit then
  return {2, usedC, pendingC, reqC, monthlyLimit}
end
if fleetLimit >= 0 then
  local fleetPending = scanFleet(KEYS[5], now, true)
  local fleetUsed = num(KEYS[3])
  if fleetUsed + fleetPending + reqC > fleetLimit then
    return {3, fleetUsed, fleetPending, reqC, fleetLimit}
  end
  redis.call('HSET', KEYS[5], agent .. '|' .. id, ARGV[4] .. '|' .. ARGV[6])
  redis.call('PEXPIRE', KEYS[5], ARGV[10])
end
redis.call('HSET', KEYS[4], id, ARGV[3] .. '|' .. ARGV[4] .. '|' .. ARGV[6])
redis.call('PEXPIRE', KEYS[4], ARGV[10])
return {0, usedT, pendingT + reqT, usedC, pendingC + reqC}
`;

/**
 * KEYS tokensDay, costMonth, fleetMonth, reservations, fleetReservations, settledMarker
 * ARGV agent, id, tokens, micros, markerTtlMs, dayTtlS, monthTtlS, fleet ('1' with a fleet cap)
 * → {settledNow 0|1, usedTokens, usedMicros, fleetUsedMicros}
 *
 * A period counter gets its TTL when this creates it (the first usage of the day or month): it
 * then expires DAY_KEY_TTL_SECONDS / MONTH_KEY_TTL_SECONDS after its period began, long after the
 * period ended, without an EXPIRE on every settle.
 */
const SETTLE_LUA = `${SCAN_AGENT}
-- An open reservation is settled now (a settled id reserved again included); without one, the
-- marker says whether this id was settled already (then a no-op) or never was (count it once).
if redis.call('HDEL', KEYS[4], ARGV[2]) == 1 then
  redis.call('SET', KEYS[6], '1', 'PX', ARGV[5])
elseif not redis.call('SET', KEYS[6], '1', 'NX', 'PX', ARGV[5]) then
  local v = nums(KEYS[1], KEYS[2], KEYS[3])
  return {0, v[1], v[2], v[3]}
end
if ARGV[8] == '1' then redis.call('HDEL', KEYS[5], ARGV[1] .. '|' .. ARGV[2]) end
local function add(key, amount, ttl)
  local n = redis.call('INCRBY', key, amount)
  if n == tonumber(amount) then redis.call('EXPIRE', key, ttl) end
  return n
end
return {1, add(KEYS[1], ARGV[3], ARGV[6]), add(KEYS[2], ARGV[4], ARGV[7]), add(KEYS[3], ARGV[4], ARGV[7])}
`;

/** KEYS reservations, fleetReservations; ARGV agent, id. */
const RELEASE_LUA = `
local a = redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[1] .. '|' .. ARGV[2])
return a
`;

/**
 * KEYS tokensDay, costMonth, fleetMonth, reservations, fleetReservations; ARGV agent, nowMs
 * → {usedTokens, reservedTokens, usedMicros, reservedMicros, fleetUsedMicros, fleetReservedMicros}
 */
const STATUS_LUA = `${SCAN_AGENT}
local now = tonumber(ARGV[2])
local pendingT, pendingC = scanAgent(KEYS[4], KEYS[5], ARGV[1], now, false)
return {num(KEYS[1]), pendingT, num(KEYS[2]), pendingC, num(KEYS[3]), scanFleet(KEYS[5], now, false)}
`;

const KINDS: Record<number, BudgetLimitKind> = {
  1: 'daily_tokens',
  2: 'monthly_cost',
  3: 'fleet_monthly_cost',
};

/** Per-agent token and cost budgets (see the module comment). */
export class BudgetGuard {
  private readonly now: () => number;
  private readonly reserveScript: Script;
  private readonly settleScript: Script;
  private readonly releaseScript: Script;
  private readonly statusScript: Script;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    private readonly o: BudgetGuardOptions,
  ) {
    for (const [name, v] of [
      ['dailyTokenLimit', o.dailyTokenLimit],
      ['monthlyCostLimitUsd', o.monthlyCostLimitUsd],
      ['reservationTtlSeconds', o.reservationTtlSeconds],
    ] as const) {
      if (!Number.isFinite(v) || v < 0)
        throw new Error(`BudgetGuard: ${name} must be a number ≥ 0, got ${v}`);
    }
    this.now = o.now ?? Date.now;
    this.reserveScript = defineScript(redis, 'botburrowBudgetReserve', RESERVE_LUA, 'budget reserve');
    this.settleScript = defineScript(redis, 'botburrowBudgetSettle', SETTLE_LUA, 'budget settle');
    this.releaseScript = defineScript(redis, 'botburrowBudgetRelease', RELEASE_LUA, 'budget release');
    this.statusScript = defineScript(redis, 'botburrowBudgetStatus', STATUS_LUA, 'budget status');
  }

  /** The limits that apply to `agentId` (defaults with its override applied). */
  limitsFor(agentId: string): { dailyTokens: number; monthlyCostUsd: number } {
    const override = this.o.overrides?.[agentId];
    return {
      dailyTokens: override?.daily_tokens ?? this.o.dailyTokenLimit,
      monthlyCostUsd: override?.monthly_cost ?? this.o.monthlyCostLimitUsd,
    };
  }

  private periodKeys(agentId: string, reservationId: string, now: number): string[] {
    return [
      this.keys.budgetTokens(agentId, utcDay(now)),
      this.keys.budgetCost(agentId, utcMonth(now)),
      this.keys.fleetCost(utcMonth(now)),
      this.keys.reservations(agentId),
      this.keys.fleetReservations(),
      this.keys.budgetSettled(agentId, reservationId),
    ];
  }

  /**
   * Reserves one LLM call's worst case (`tokens` = prompt estimate + max_tokens, `costUsd` at the
   * model's price). Refused when settled usage plus open reservations plus this one would pass the
   * agent's daily tokens, its monthly cost or the fleet cap; the message names the limit and the
   * numbers. One `reservationId` per model call (e.g. conversation + turn): reserving an id that is
   * still open again (the activity retried before settling) is a no-op success; reserving an id
   * that was settled starts a new reservation (the next attempt of that call), which its own settle
   * then counts.
   */
  async reserve(
    agentId: string,
    r: { reservationId: string; tokens: number; costUsd: number },
    /** Also refuse while the agent is paused (the pause flag read in the same script). */
    o: { checkPause?: boolean } = {},
  ): Promise<ReserveResult> {
    checkAmounts('reserve', agentId, r.reservationId, r);
    const now = Math.floor(this.now());
    const limits = this.limitsFor(agentId);
    const fleet = this.o.fleetMonthlyCostLimitUsd;
    const micros = toMicros(r.costUsd, 'ceil');
    const raw = await this.reserveScript(
      [...this.periodKeys(agentId, r.reservationId, now), this.keys.paused(agentId)],
      [
        agentId,
        r.reservationId,
        Math.round(r.tokens),
        micros,
        now,
        now + Math.round(this.o.reservationTtlSeconds * 1000),
        Math.floor(limits.dailyTokens),
        toMicros(limits.monthlyCostUsd),
        fleet === undefined ? -1 : toMicros(fleet),
        Math.round(this.o.reservationTtlSeconds * 1000) * 2 + 86_400_000,
        o.checkPause ? '1' : '0',
      ],
    );
    if (Array.isArray(raw) && Number(raw[0]) === 4) {
      return {
        ok: false,
        limit: 'paused',
        message: parsePauseValue(String(raw[5])).reason ?? 'paused by an operator',
      };
    }
    const [code, a, b, c, d] = asNumbers(raw, 'budget reserve') as [number, number, number, number, number];
    if (code === 0) {
      this.reportUsage(agentId, a, c / 1e6);
      return { ok: true };
    }
    const limit = KINDS[code];
    if (limit === undefined) throw new Error(`budget reserve: unexpected reply code ${code}`);
    this.o.metrics?.guardRefusals.inc({ reason: limit });
    return {
      ok: false,
      limit,
      message: budgetRefusalMessage(limit, agentId, { used: a, reserved: b, requested: c, limit: d }),
    };
  }

  /**
   * Replaces the reservation by the real usage (also after a failed call that spent tokens).
   * Idempotent: settling the same reservation id again (without a new `reserve` in between) is a
   * no-op, even after the reservation expired. Settling an unknown, expired or released id still
   * counts the usage once, since the tokens were spent. Usage counts toward the current UTC day
   * and month.
   */
  async settle(
    agentId: string,
    reservationId: string,
    actual: { tokens: number; costUsd: number },
  ): Promise<void> {
    checkAmounts('settle', agentId, reservationId, actual);
    const now = Math.floor(this.now());
    const [, tokens, micros, fleetMicros] = asNumbers(
      await this.settleScript(this.periodKeys(agentId, reservationId, now), [
        agentId,
        reservationId,
        Math.round(actual.tokens),
        toMicros(actual.costUsd),
        Math.max(SETTLED_MARKER_TTL_SECONDS, 2 * this.o.reservationTtlSeconds) * 1000,
        DAY_KEY_TTL_SECONDS,
        MONTH_KEY_TTL_SECONDS,
        this.o.fleetMonthlyCostLimitUsd === undefined ? '0' : '1',
      ]),
      'budget settle',
    ) as [number, number, number, number];
    this.reportUsage(agentId, tokens, micros / 1e6);
    this.o.metrics?.budgetUsed.set({ agent_id: '_all', period: 'monthly_cost_usd' }, fleetMicros / 1e6);
  }

  /** Drops an open reservation without usage (the call was never made). */
  async release(agentId: string, reservationId: string): Promise<void> {
    if (!reservationId) throw new Error(`budget release for ${agentId}: reservationId is empty`);
    await this.releaseScript(
      [this.keys.reservations(agentId), this.keys.fleetReservations()],
      [agentId, reservationId],
    );
  }

  /** Usage, open reservations and limits of `agentId` for the current UTC day and month. */
  async status(agentId: string): Promise<BudgetStatus> {
    const now = Math.floor(this.now());
    const [usedT, resT, usedC, resC, fleetUsed, fleetRes] = asNumbers(
      await this.statusScript(this.periodKeys(agentId, '-', now).slice(0, 5), [agentId, now]),
      'budget status',
    ) as [number, number, number, number, number, number];
    const limits = this.limitsFor(agentId);
    this.reportUsage(agentId, usedT, usedC / 1e6);
    const out: BudgetStatus = {
      agentId,
      day: utcDay(now),
      month: utcMonth(now),
      dailyTokens: { used: usedT, reserved: resT, limit: limits.dailyTokens },
      monthlyCostUsd: { used: usedC / 1e6, reserved: resC / 1e6, limit: limits.monthlyCostUsd },
    };
    const fleet = this.o.fleetMonthlyCostLimitUsd;
    if (fleet !== undefined) {
      out.fleetMonthlyCostUsd = { used: fleetUsed / 1e6, reserved: fleetRes / 1e6, limit: fleet };
    }
    return out;
  }

  private reportUsage(agentId: string, tokens: number, costUsd: number): void {
    const m = this.o.metrics;
    if (!m) return;
    const limits = this.limitsFor(agentId);
    m.budgetUsed.set({ agent_id: agentId, period: 'daily_tokens' }, tokens);
    m.budgetUsed.set({ agent_id: agentId, period: 'monthly_cost_usd' }, costUsd);
    m.budgetLimit.set({ agent_id: agentId, period: 'daily_tokens' }, limits.dailyTokens);
    m.budgetLimit.set({ agent_id: agentId, period: 'monthly_cost_usd' }, limits.monthlyCostUsd);
    if (this.o.fleetMonthlyCostLimitUsd !== undefined) {
      m.budgetLimit.set({ agent_id: '_all', period: 'monthly_cost_usd' }, this.o.fleetMonthlyCostLimitUsd);
    }
  }
}

function checkAmounts(
  op: string,
  agentId: string,
  reservationId: string,
  a: { tokens: number; costUsd: number },
): void {
  if (!agentId) throw new Error(`budget ${op}: agentId is empty`);
  if (!reservationId) throw new Error(`budget ${op} for ${agentId}: reservationId is empty`);
  if (!Number.isFinite(a.tokens) || a.tokens < 0) {
    throw new Error(`budget ${op} for ${agentId}: tokens must be a number ≥ 0, got ${a.tokens}`);
  }
  if (!Number.isFinite(a.costUsd) || a.costUsd < 0) {
    throw new Error(`budget ${op} for ${agentId}: costUsd must be a number ≥ 0, got ${a.costUsd}`);
  }
}
