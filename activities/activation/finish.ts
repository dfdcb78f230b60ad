/** `finishActivation`: breaker verdict, metrics, consumption report and activated mark, once per run. */
import { HubHttpError } from '../../lib/errors';
import type { ActivationDeps, FinishInput } from './types';
import { IDEMPOTENCY_TTL_SECONDS } from './types';

export type FinishDeps = Pick<ActivationDeps, 'redis' | 'keys' | 'breaker' | 'metrics' | 'logger'> & {
  hub: Pick<ActivationDeps['hub'], 'reportConsumption' | 'markActivated'>;
  /**
   * How long an attempt in progress holds a step's lease: above the finish step's 4 s
   * start-to-close, below the 10 s in which a dead runner's step is run again (default 5 s).
   */
  leaseMs?: number;
};

const DONE = 'done';

/** Another attempt holds the step's lease: retry once it has finished or its lease has expired. */
export class StepInProgressError extends Error {
  override readonly name = 'StepInProgressError';
}

export function createFinishActivities(deps: FinishDeps) {
  const { hub, metrics, redis, keys, logger } = deps;
  const leaseMs = deps.leaseMs ?? 5_000;

  /**
   * Runs `fn` once successfully per key. The marker is a lease while an attempt runs (it expires,
   * so an attempt whose runner died does not block the step) and `done` once `fn` succeeded; a
   * failed `fn` drops the lease so the retry runs it again. Resolves to whether `fn` ran now.
   */
  async function once(key: string, fn: () => Promise<unknown>): Promise<boolean> {
    const marker = keys.idempotency(key);
    const lease = `lease:${Date.now()}:${Math.random().toString(36).slice(2)}`;
    if ((await redis.set(marker, lease, 'PX', leaseMs, 'NX')) !== 'OK') {
      const value = await redis.get(marker);
      // `1` is the marker of runs finished before leases existed: done.
      if (value === DONE || value === '1') return false;
      if (value !== null) throw new StepInProgressError(`${key}: another attempt is running it`);
      return once(key, fn);
    }
    try {
      await fn();
    } catch (err) {
      await redis.del(marker);
      throw err;
    }
    await redis.set(marker, DONE, 'EX', IDEMPOTENCY_TTL_SECONDS);
    return true;
  }

  /** A Hub report the Hub refuses (4xx) is logged, not retried: nothing would change on a retry. */
  async function report(what: string, agentId: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const refused =
        err instanceof HubHttpError &&
        err.status >= 400 &&
        err.status < 500 &&
        ![408, 429].includes(err.status);
      if (!refused) throw err;
      logger.warn({ err, agentId }, `the Hub refused ${what}; not retrying it`);
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
      if (input.tokensInput + input.tokensOutput > 0) {
        await once(`consumption:${input.reportKey}`, () =>
          report('the consumption report', agentId, () =>
            hub.reportConsumption({
              agentId,
              tokensInput: input.tokensInput,
              tokensOutput: input.tokensOutput,
              costUsd: input.costUsd,
            }),
          ),
        );
      }
      await report('the activated mark', agentId, () => hub.markActivated(agentId));
    },
  };
}
