/**
 * The narrow views of other components the coordinator depends on. Declared structurally so the
 * real classes (HubClient, PauseFlags, CircuitBreaker, AgentRegistry) fit without adapters and the
 * unit tests can pass small fakes.
 */
import type { AgentWithNotifications, StaleAgent } from '../hub/types';
import { describeError } from './backoff';

/** Reasons an activation was not scheduled (label `reason` of the skipped counter). */
export type SkipReason =
  | 'paused'
  | 'circuit_open'
  | 'guard_unavailable'
  | 'running'
  | 'frequency'
  | 'invalid_definition'
  | 'unrunnable_type';

/** What the coordinator calls on the Hub (a subset of `HubClient`). */
export interface CoordinatorHub {
  pollNotifications(
    q: { timeoutSeconds: number; batchSize: number },
    o?: { signal?: AbortSignal },
  ): Promise<AgentWithNotifications[]>;
  listAgentsWithNotifications(o?: { signal?: AbortSignal }): Promise<AgentWithNotifications[]>;
  listStaleAgents(minStalenessSeconds: number, o?: { signal?: AbortSignal }): Promise<StaleAgent[]>;
}

/** Starts or signals activation workflows (Temporal behind it; see `temporal-starter.ts`). */
export interface ActivationStarter {
  /**
   * Signal-with-start on `botburrow-high`: signals a running activation, starts one otherwise.
   * `signal` cancels the call in flight (leadership ended).
   */
  signalNotification(
    agentId: string,
    requestedAt: string,
    signal?: AbortSignal,
    /** Its unread notifications, for the run's summary in the Temporal UI. */
    notificationCount?: number,
  ): Promise<void>;
  /** Starts an exploration activation on `botburrow-normal`; `'running'` when one already runs. */
  startExploration(
    agentId: string,
    requestedAt: string,
    signal?: AbortSignal,
  ): Promise<'started' | 'running'>;
}

/** Decides whether an agent may be activated now: undefined, or the reason to skip it. */
export interface AgentGate {
  check(agentId: string): Promise<SkipReason | undefined>;
}

/** The parts of `PauseFlags` and `CircuitBreaker` the gate reads (never takes a half-open probe). */
export interface GateGuards {
  pauseFlags: { isPaused(agentId: string): Promise<{ paused: boolean; reason?: string }> };
  breaker: { status(agentId: string): Promise<{ state: 'closed' | 'open' | 'half_open' }> };
}

/**
 * The gate on the guards: paused → `paused`; breaker open → `circuit_open` (half-open is allowed:
 * the activation itself takes the single probe); Valkey not answering → `guard_unavailable`
 * (fail closed: the notification stays unread and is retried on a later poll).
 */
export function createAgentGate(
  guards: GateGuards,
  onError?: (agentId: string, err: string) => void,
): AgentGate {
  return {
    async check(agentId) {
      try {
        const [pause, breaker] = await Promise.all([
          guards.pauseFlags.isPaused(agentId),
          guards.breaker.status(agentId),
        ]);
        if (pause.paused) return 'paused';
        if (breaker.state === 'open') return 'circuit_open';
        return undefined;
      } catch (err) {
        onError?.(agentId, describeError(err));
        return 'guard_unavailable';
      }
    },
  };
}

/**
 * A gate that first skips agents whose type no runner can execute (goose: no CLI is obtainable),
 * so they are never started and never count against their breaker, then asks `inner`. A
 * definition that does not load passes: the activation reports why, as before.
 */
export function createRunnableTypeGate(
  inner: AgentGate,
  registry: DefinitionSource,
  isRunnable: (type: string) => boolean,
  onSkip?: (agentId: string, type: string) => void,
): AgentGate {
  return {
    async check(agentId) {
      // Side by side: both are Valkey reads, and the notification waits for the slower one only.
      const [type, verdict] = await Promise.all([
        registry.get(agentId).then(
          (d) => d.config.type,
          () => undefined,
        ),
        inner.check(agentId),
      ]);
      if (type !== undefined && !isRunnable(type)) {
        onSkip?.(agentId, type);
        return 'unrunnable_type';
      }
      return verdict;
    },
  };
}

/** `behavior.discovery` as the coordinator reads it from a definition. */
export interface DiscoveryView {
  enabled?: boolean;
  frequency?: 'staleness' | 'hourly' | 'daily';
}

/** The part of `AgentRegistry` exploration needs. `get` throws `DefinitionError` for an invalid one. */
export interface DefinitionSource {
  get(agentId: string): Promise<{ config: { type?: string; behavior: { discovery?: DiscoveryView } } }>;
}

/** When each agent's last exploration started (epoch ms), kept in Valkey across failovers. */
export interface ExplorationLog {
  lastStarts(agentIds: readonly string[]): Promise<Map<string, number>>;
  recordStart(agentId: string, epochMs: number): Promise<void>;
}
