/** `prepareActivation`: the gate before any model call (definition, pause, breaker, budget health). */
import type { AgentDefinition } from '../../lib/definitions';
import { RUNNABLE_AGENT_TYPES, isRunnableAgentType } from '../../lib/definitions';
import { DefinitionError } from '../../lib/errors';
import { profileOf } from './definition';
import type { ActivationDeps, PrepareResult } from './types';

export type PrepareDeps = Pick<
  ActivationDeps,
  'registry' | 'pause' | 'breaker' | 'metrics' | 'logger' | 'settings'
> & {
  hub: Pick<ActivationDeps['hub'], 'getBudgetHealth'>;
};

export function createPrepareActivities(deps: PrepareDeps) {
  const { hub, settings, logger, metrics } = deps;
  return {
    /** Loads the definition and checks pause, breaker and budget before any model call. */
    async prepareActivation(input: { agentId: string; probeOwner: string }): Promise<PrepareResult> {
      const { agentId } = input;
      let def: AgentDefinition;
      try {
        // Pinned: every later step of this run reads this version (run-definitions.ts).
        def = await deps.registry.pin(agentId);
      } catch (err) {
        if (err instanceof DefinitionError) return { status: 'invalid', reason: err.message };
        throw err;
      }
      if (!isRunnableAgentType(def.config.type)) {
        return {
          status: 'invalid',
          reason: `agent type '${def.config.type}' cannot run on this runner (runnable: ${RUNNABLE_AGENT_TYPES.join(', ')})`,
        };
      }
      const paused = await deps.pause.isPaused(agentId);
      if (paused.paused) return { status: 'paused', reason: paused.reason ?? 'paused by an operator' };
      const breaker = await deps.breaker.check(agentId, input.probeOwner);
      if (!breaker.allowed) {
        const until = breaker.openUntil ? new Date(breaker.openUntil).toISOString() : 'unknown';
        return {
          status: 'circuit_open',
          reason: `circuit open after ${breaker.failures} consecutive failures (until ${until})`,
        };
      }
      if (settings.hubBudgetCheck !== 'off') {
        try {
          const health = await hub.getBudgetHealth(agentId);
          if (!health.healthy) {
            metrics.guardRefusals.inc({ reason: 'hub_budget' });
            return {
              status: 'budget_exceeded',
              reason: "the Hub's budget-health reports this agent unhealthy",
            };
          }
        } catch (err) {
          if (settings.hubBudgetCheck === 'fail-closed') {
            return {
              status: 'budget_exceeded',
              reason: `the Hub's budget-health could not be read and the check fails closed: ${String(err)}`,
            };
          }
          logger.warn({ err, agentId }, 'budget-health unavailable; failing open');
        }
      }
      return { status: 'ready', profile: profileOf(def, settings) };
    },
  };
}
