/** Loading an agent's definition inside a step, and the profile the workflow sees. */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { CLI_AGENT_TYPES } from '../../lib/definitions';
import type { AgentDefinition } from '../../lib/definitions';
import { DefinitionError, FailureType } from '../../lib/errors';
import type { RunDefinitionSource } from './run-definitions';
import type { ActivationSettings, AgentProfile, ExecutorKind } from './types';

/** The run's definition, or a non-retryable `DefinitionError` failure when it no longer loads. */
export async function loadDefinition(
  registry: Pick<RunDefinitionSource, 'get'>,
  agentId: string,
): Promise<AgentDefinition> {
  try {
    return await registry.get(agentId);
  } catch (err) {
    if (err instanceof DefinitionError) {
      throw ApplicationFailure.create({
        type: FailureType.definition,
        message: err.message,
        nonRetryable: true,
      });
    }
    throw err;
  }
}

/** The executor of each runnable agent type (lib/definitions RUNNABLE_AGENT_TYPES). */
export function executorOf(type: string): ExecutorKind {
  return (CLI_AGENT_TYPES as readonly string[]).includes(type) ? (type as ExecutorKind) : 'loop';
}

export function profileOf(def: AgentDefinition, settings: ActivationSettings): AgentProfile {
  const c = def.config;
  const executor = executorOf(c.type);
  return {
    agentId: def.id,
    model: c.brain.model,
    maxIterations: c.behavior.max_iterations ?? settings.maxIterations,
    activationTimeoutMs: settings.activationTimeoutSeconds * 1000,
    behavior: {
      respond_to_mentions: c.behavior.respond_to_mentions,
      respond_to_replies: c.behavior.respond_to_replies,
      respond_to_dms: c.behavior.respond_to_dms,
    },
    // A CLI executor always runs in a workspace on the runner that holds the session.
    needsSession:
      executor !== 'loop' ||
      (c.capabilities.mcp_servers?.length ?? 0) > 0 ||
      c.capabilities.shell?.enabled === true ||
      (c.capabilities.grants ?? []).some((g) => g.startsWith('workspace:')),
    ...(executor !== 'loop' && { executor }),
    ...(executor === 'loop' && c.memory.enabled && { memory: true as const }),
  };
}

/**
 * Runs `fn` with the activity's cancellation as its abort signal, so a cancelled activation aborts
 * the HTTP request in flight. Heartbeats come from the runner's interceptor (activities/heartbeat.ts).
 */
export function withCancellation<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return fn(Context.current().cancellationSignal);
}
