/** `finishActivation`: consumption report, activated mark, breaker verdict and metrics, once per run. */
import type { ActivationDeps, FinishInput } from './types';
import { IDEMPOTENCY_TTL_SECONDS } from './types';

export type FinishDeps = Pick<ActivationDeps, 'redis' | 'keys' | 'breaker' | 'metrics'> & {
  hub: Pick<ActivationDeps['hub'], 'reportConsumption' | 'markActivated'>;
};

export function createFinishActivities(deps: FinishDeps) {
  const { hub, metrics } = deps;

  /**
   * Runs `fn` unless a run of it with this key already succeeded (a Valkey marker); a failed `fn`
   * clears the marker so a retry runs it again. Resolves to whether `fn` ran now.
   */
  async function once(key: string, fn: () => Promise<unknown>): Promise<boolean> {
    const marker = deps.keys.idempotency(key);
    if ((await deps.redis.set(marker, '1', 'EX', IDEMPOTENCY_TTL_SECONDS, 'NX')) !== 'OK') return false;
    try {
      await fn();
    } catch (err) {
      await deps.redis.del(marker);
      throw err;
    }
    return true;
  }

  return {
    /** Reports usage, marks the agent activated, records the breaker result and metrics. */
    async finishActivation(input: FinishInput): Promise<void> {
      const { agentId } = input;
      if (input.tokensInput + input.tokensOutput > 0) {
        await once(`consumption:${input.reportKey}`, () =>
          hub.reportConsumption({
            agentId,
            tokensInput: input.tokensInput,
            tokensOutput: input.tokensOutput,
            costUsd: input.costUsd,
          }),
        );
      }
      await hub.markActivated(agentId);
      // The verdict and the counts are taken once per run, however often this step runs (a local
      // activity runs again when its runner dies before the workflow task recorded its result).
      const first = await once(`verdict:${input.reportKey}`, async () => {
        if (input.breaker === 'success') await deps.breaker.recordSuccess(agentId);
        if (input.breaker === 'failure') await deps.breaker.recordFailure(agentId);
        // A run that held the half-open probe but neither succeeded nor failed hands it back at once.
        if (input.breaker === 'none') await deps.breaker.releaseProbe(agentId, input.reportKey);
      });
      if (!first) return;
      metrics.activations.inc({ agent_id: agentId, trigger: input.trigger, outcome: input.outcome });
      metrics.activationDuration.observe(
        { trigger: input.trigger, outcome: input.outcome },
        input.durationMs / 1000,
      );
      if (input.outcome === 'failed' || input.outcome === 'timed_out')
        metrics.activationFailures.inc({ agent_id: agentId });
    },
  };
}
