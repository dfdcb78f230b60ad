/** `finishActivation`: breaker verdict, metrics, consumption report and activated mark, once per run. */
import { HubHttpError } from '../../lib/errors';
import type { ActivationDeps, FinishInput } from './types';
import { IDEMPOTENCY_TTL_SECONDS } from './types';

export type FinishDeps = Pick<ActivationDeps, 'redis' | 'keys' | 'breaker' | 'metrics' | 'logger'> & {
  hub: Pick<ActivationDeps['hub'], 'reportConsumption' | 'markActivated'>;
  /**
   * How long an attempt in progress holds a step's lease: above the finish step's 5 s
   * start-to-close, below the 10 s in which a dead runner's step is run again (default 6 s).
   */
  leaseMs?: number;
  /** How long each Hub report may take, retries included (default 3 s). */
  reportMs?: number;
};

const DONE = 'done';
const RELEASE_LEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

/** Another attempt holds the step's lease: retry once it has finished or its lease has expired. */
export class StepInProgressError extends Error {
  override readonly name = 'StepInProgressError';
}

export function createFinishActivities(deps: FinishDeps) {
  const { hub, metrics, redis, keys, logger } = deps;
  const leaseMs = deps.leaseMs ?? 6_000;
  const reportMs = deps.reportMs ?? 3_000;

  /**
   * Runs `fn` once successfully per key. The marker is a lease while an attempt runs (it expires,
   * so an attempt whose runner died does not block the step) and `done` once `fn` succeeded; a
   * failed `fn` (or one answering `false`) drops the lease so a later run does it again. Resolves
   * to whether `fn` ran and succeeded now.
   */
  /** Drops the lease if it is still this attempt's (a later attempt may hold it, or be done). */
  async function release(marker: string, lease: string): Promise<void> {
    await redis.eval(RELEASE_LEASE, 1, marker, lease);
  }

  async function once(key: string, fn: () => Promise<boolean | void>): Promise<boolean> {
    const marker = keys.idempotency(key);
    const lease = `lease:${Date.now()}:${Math.random().toString(36).slice(2)}`;
    if ((await redis.set(marker, lease, 'PX', leaseMs, 'NX')) !== 'OK') {
      const value = await redis.get(marker);
      // `1` is the marker of runs finished before leases existed: done.
      if (value === DONE || value === '1') return false;
      if (value !== null) throw new StepInProgressError(`${key}: another attempt is running it`);
      return once(key, fn);
    }
    let done: boolean | void;
    try {
      done = await fn();
    } catch (err) {
      await release(marker, lease);
      throw err;
    }
    // `false`: not done after all (a report that did not get through); a later run of the step may.
    if (done === false) {
      await release(marker, lease);
      return false;
    }
    await redis.set(marker, DONE, 'EX', IDEMPOTENCY_TTL_SECONDS);
    return true;
  }

  /**
   * One Hub report, within `reportMs` (the client's own retries included). It never fails the
   * step: a Hub that refuses it (4xx) would refuse it again, and one that does not answer in time
   * must not keep a finished run open, so either is logged and the run ends. (Retrying the step
   * would not help either: a local activity retried past its workflow task outlives its bounds.)
   */
  async function report(
    what: string,
    agentId: string,
    fn: (signal: AbortSignal) => Promise<unknown>,
  ): Promise<boolean> {
    try {
      await fn(AbortSignal.timeout(reportMs));
      return true;
    } catch (err) {
      const refused =
        err instanceof HubHttpError &&
        err.status >= 400 &&
        err.status < 500 &&
        ![408, 429].includes(err.status);
      logger.warn(
        { err, agentId },
        refused
          ? `the Hub refused ${what}; not retrying it`
          : `${what} did not reach the Hub in time; given up`,
      );
      // Refused counts as done (it would be refused again); not delivered does not.
      return refused;
    }
  }

  return {
    /**
     * Records the breaker verdict and metrics (Valkey, first: they decide what the agent may do
     * next), then reports usage and marks the agent activated on the Hub.
     */
    async finishActivation(input: FinishInput): Promise<void> {
      const { agentId } = input;
      // The verdict and the counts are taken once per run, however often this step runs (a local
      // activity runs again when its runner dies before the workflow task recorded its result).
      const first = await once(`verdict:${input.reportKey}`, async () => {
        if (input.breaker === 'success') await deps.breaker.recordSuccess(agentId);
        if (input.breaker === 'failure') await deps.breaker.recordFailure(agentId);
        // A run that held the half-open probe but neither succeeded nor failed hands it back at once.
        if (input.breaker === 'none') await deps.breaker.releaseProbe(agentId, input.reportKey);
      });
      if (first) {
        metrics.activations.inc({ agent_id: agentId, trigger: input.trigger, outcome: input.outcome });
        metrics.activationDuration.observe(
          { trigger: input.trigger, outcome: input.outcome },
          input.durationMs / 1000,
        );
        if (input.outcome === 'failed' || input.outcome === 'timed_out')
          metrics.activationFailures.inc({ agent_id: agentId });
      }
      // The two Hub reports are independent: side by side, so a slow Hub costs one wait, not two.
      const consumptionKey = `consumption:${input.reportKey}`;
      await Promise.all([
        input.tokensInput + input.tokensOutput > 0
          ? once(consumptionKey, () =>
              report('the consumption report', agentId, (signal) =>
                hub.reportConsumption(
                  {
                    agentId,
                    tokensInput: input.tokensInput,
                    tokensOutput: input.tokensOutput,
                    costUsd: input.costUsd,
                  },
                  // A Hub that honours it counts a retried report once.
                  { idempotencyKey: consumptionKey, signal },
                ),
              ),
            )
          : undefined,
        report('the activated mark', agentId, (signal) => hub.markActivated(agentId, { signal })),
      ]);
    },
  };
}
