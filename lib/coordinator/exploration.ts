/**
 * Exploration: agents that have been idle long enough (the Hub's stale list) and whose definition
 * enables discovery get an exploration activation on `botburrow-normal`, unless one already runs.
 */
import type { Redis } from 'ioredis';
import { TaskQueue } from '../contract';
import { DefinitionError } from '../errors';
import type { Keys } from '../keys';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { describeError } from './backoff';
import { forEachLimit } from './scheduler';
import type {
  ActivationStarter,
  AgentGate,
  CoordinatorHub,
  DefinitionSource,
  DiscoveryView,
  ExplorationLog,
  SkipReason,
} from './types';

const HOUR_MS = 3_600_000;

/** Shortest time between two exploration starts for a `behavior.discovery.frequency`. */
export function explorationPeriodMs(frequency: DiscoveryView['frequency']): number {
  switch (frequency) {
    case 'hourly':
      return HOUR_MS;
    case 'daily':
      return 24 * HOUR_MS;
    default:
      // 'staleness' (and unset): the Hub's stale list already spaces activations out.
      return 0;
  }
}

/** The exploration log in Valkey: hash agent → epoch ms of the last exploration start. */
export function createRedisExplorationLog(redis: Redis, keys: Keys): ExplorationLog {
  const key = keys.explorationStarts();
  return {
    async lastStarts(agentIds) {
      const out = new Map<string, number>();
      if (agentIds.length === 0) return out;
      const values = await redis.hmget(key, ...agentIds);
      agentIds.forEach((id, i) => {
        const v = Number(values[i]);
        if (values[i] !== null && Number.isFinite(v)) out.set(id, v);
      });
      return out;
    },
    async recordStart(agentId, epochMs) {
      await redis.hset(key, agentId, String(epochMs));
    },
  };
}

export interface ExplorationOutcome {
  started: string[];
  skipped: { agentId: string; reason: SkipReason }[];
  /** Stale agents whose definition does not enable discovery. */
  notEnabled: string[];
  failed: string[];
  lastError?: unknown;
  interrupted: boolean;
}

export interface ExplorationPlannerOptions {
  hub: CoordinatorHub;
  registry: DefinitionSource;
  log: ExplorationLog;
  gate: AgentGate;
  starter: ActivationStarter;
  metrics: Pick<Metrics, 'scheduled' | 'skipped'>;
  logger: Logger;
  minActivationIntervalSeconds: number;
  concurrency?: number;
  wallNow?: () => number;
}

type Candidate = { agentId: string; periodMs: number };

/** One exploration round per call to `run`. */
export class ExplorationPlanner {
  /** Last reported definition problem per agent, so an invalid definition is logged once, not per round. */
  private readonly reported = new Map<string, string>();
  private readonly wallNow: () => number;

  constructor(private readonly o: ExplorationPlannerOptions) {
    this.wallNow = o.wallNow ?? Date.now;
  }

  /**
   * Asks the Hub for stale agents and starts the explorations that are due. Hub errors are thrown
   * (the caller backs off); per-agent problems are skips or failures in the outcome.
   */
  async run(stillLeader: () => boolean, signal?: AbortSignal): Promise<ExplorationOutcome> {
    const out: ExplorationOutcome = {
      started: [],
      skipped: [],
      notEnabled: [],
      failed: [],
      interrupted: false,
    };
    const stale = await this.o.hub.listStaleAgents(this.o.minActivationIntervalSeconds, { signal });
    const candidates: Candidate[] = [];
    await forEachLimit(stale, this.o.concurrency ?? 8, async ({ id }) => {
      const discovery = await this.discovery(id, out);
      if (!discovery) return;
      candidates.push({ agentId: id, periodMs: explorationPeriodMs(discovery.frequency) });
    });
    const periodic = candidates.filter((c) => c.periodMs > 0).map((c) => c.agentId);
    const lastStarts = await this.o.log.lastStarts(periodic);
    await forEachLimit(candidates, this.o.concurrency ?? 8, async (c) => {
      if (!stillLeader()) {
        out.interrupted = true;
        return;
      }
      const last = lastStarts.get(c.agentId);
      if (c.periodMs > 0 && last !== undefined && this.wallNow() - last < c.periodMs) {
        this.skip(out, c.agentId, 'frequency');
        return;
      }
      const gated = await this.o.gate.check(c.agentId);
      if (gated) {
        this.skip(out, c.agentId, gated);
        return;
      }
      if (!stillLeader()) {
        out.interrupted = true;
        return;
      }
      const startedAt = this.wallNow();
      try {
        const result = await this.o.starter.startExploration(
          c.agentId,
          new Date(startedAt).toISOString(),
          signal,
        );
        if (result === 'running') {
          this.skip(out, c.agentId, 'running');
          return;
        }
      } catch (err) {
        if (signal?.aborted) {
          out.interrupted = true;
          return;
        }
        out.failed.push(c.agentId);
        out.lastError = err;
        return;
      }
      out.started.push(c.agentId);
      this.o.metrics.scheduled.inc({ trigger: 'exploration', queue: TaskQueue.normal });
      try {
        await this.o.log.recordStart(c.agentId, startedAt);
      } catch (err) {
        // Worst case an hourly/daily agent explores once more than it should after a failover.
        this.o.logger.warn(
          { agentId: c.agentId, err: describeError(err) },
          'could not record exploration start',
        );
      }
    });
    return out;
  }

  /** The agent's discovery settings when enabled; otherwise records why not and returns undefined. */
  private async discovery(agentId: string, out: ExplorationOutcome): Promise<DiscoveryView | undefined> {
    let discovery: DiscoveryView | undefined;
    try {
      discovery = (await this.o.registry.get(agentId)).config.behavior.discovery;
    } catch (err) {
      if (!(err instanceof DefinitionError)) {
        out.failed.push(agentId);
        out.lastError = err;
        return undefined;
      }
      if (this.reported.get(agentId) !== err.message) {
        this.reported.set(agentId, err.message);
        this.o.logger.warn({ agentId, reason: err.message }, 'invalid agent definition: not exploring');
      }
      this.skip(out, agentId, 'invalid_definition');
      return undefined;
    }
    this.reported.delete(agentId);
    if (discovery?.enabled !== true) {
      out.notEnabled.push(agentId);
      return undefined;
    }
    return discovery;
  }

  private skip(out: ExplorationOutcome, agentId: string, reason: SkipReason): void {
    out.skipped.push({ agentId, reason });
    this.o.metrics.skipped.inc({ reason });
  }
}
