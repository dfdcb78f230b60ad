/**
 * Valkey guards: circuit breaker, budgets, behaviour limits and pause flags. `createGuards` builds
 * all four from the process settings; the classes can also be built one by one.
 */
import type { Redis } from 'ioredis';
import type { Settings } from '../config';
import type { Keys } from '../keys';
import type { Metrics } from '../metrics';
import { CircuitBreaker } from './breaker';
import { BudgetGuard } from './budget';
import { BehaviorLimits } from './limits';
import { PauseFlags } from './pause';

export * from './breaker';
export * from './budget';
export * from './limits';
export * from './pause';
export { GuardUnavailableError } from '../errors';
export { isUnavailableError } from './script';

export interface Guards {
  breaker: CircuitBreaker;
  budget: BudgetGuard;
  limits: BehaviorLimits;
  pause: PauseFlags;
}

/** The four guards configured from `settings` (breaker and budget settings, overrides). */
export function createGuards(
  redis: Redis,
  keys: Keys,
  settings: Pick<
    Settings,
    | 'breakerThreshold'
    | 'breakerBaseSeconds'
    | 'breakerMaxSeconds'
    | 'dailyTokenLimit'
    | 'monthlyCostLimit'
    | 'fleetMonthlyCostLimit'
    | 'budgetOverrides'
    | 'reservationTtl'
    | 'activationTimeout'
  >,
  o: { metrics?: Metrics; now?: () => number } = {},
): Guards {
  const need = (name: keyof typeof settings): number => {
    const v = settings[name];
    // loadSettings applies defaults, so undefined means a hand-built settings object missed one.
    if (typeof v !== 'number') throw new Error(`createGuards: setting ${name} is missing`);
    return v;
  };
  return {
    breaker: new CircuitBreaker(redis, keys, {
      threshold: need('breakerThreshold'),
      baseSeconds: need('breakerBaseSeconds'),
      maxSeconds: need('breakerMaxSeconds'),
      // The probe is one activation; give it its whole time limit plus a margin.
      probeTtlSeconds: need('activationTimeout') + 300,
      now: o.now,
      metrics: o.metrics,
    }),
    budget: new BudgetGuard(redis, keys, {
      dailyTokenLimit: need('dailyTokenLimit'),
      monthlyCostLimitUsd: need('monthlyCostLimit'),
      fleetMonthlyCostLimitUsd: settings.fleetMonthlyCostLimit,
      overrides: settings.budgetOverrides,
      reservationTtlSeconds: need('reservationTtl'),
      now: o.now,
      metrics: o.metrics,
    }),
    limits: new BehaviorLimits(redis, keys, { now: o.now, metrics: o.metrics }),
    pause: new PauseFlags(redis, keys, { now: o.now }),
  };
}
