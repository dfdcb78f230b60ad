/**
 * The coordinator: leader lease, Hub polling, notification scheduling, exploration, queue depths.
 * `buildCoordinator` wires the parts from already-built clients, so the entry point stays short
 * and tests can build a coordinator in-process the same way.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Settings } from '../config';
import type { Keys } from '../keys';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { ReadinessCheck } from '../http-server';
import { Coordinator } from './coordinator';
import { ExplorationPlanner, createRedisExplorationLog } from './exploration';
import { LeaderLease, createRedisLeaseStore } from './lease';
import { readQueueDepths } from './queue-depth';
import { NotificationScheduler } from './scheduler';
import { createTemporalStarter } from './temporal-starter';
import { createAgentGate, createRunnableTypeGate } from './types';
import { activationExecutionTimeoutMs } from '../contract';
import { isRunnableAgentType } from '../definitions';
import type { CoordinatorHub, DefinitionSource, GateGuards } from './types';

export { Coordinator } from './coordinator';
export type { CoordinatorOptions } from './coordinator';
export { LeaderLease, createRedisLeaseStore } from './lease';
export type { LeaderTerm, LeaseStore, LeaderLeaseOptions } from './lease';
export { NotificationScheduler, RecentlyScheduled, forEachLimit } from './scheduler';
export type { ScheduleOutcome } from './scheduler';
export { ExplorationPlanner, createRedisExplorationLog, explorationPeriodMs } from './exploration';
export { readQueueDepth, readQueueDepths } from './queue-depth';
export { createTemporalStarter, INBOX_UPDATED_SIGNAL } from './temporal-starter';
export { backoffDelay, jittered, sleep, DependencyHealth } from './backoff';
export * from './types';

/** A lease owner id unique to this process: `host-pid-random`. */
export function newOwnerId(): string {
  return `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

export interface CoordinatorDeps {
  ownerId: string;
  redis: Redis;
  keys: Keys;
  hub: CoordinatorHub;
  temporal: Client;
  guards: GateGuards;
  registry: DefinitionSource;
  metrics: Metrics;
  logger: Logger;
  settings: Pick<
    Settings,
    | 'pollInterval'
    | 'pollBatchSize'
    | 'leaderTtl'
    | 'minActivationInterval'
    | 'activationTimeout'
    | 'agentPriority'
  >;
}

/** Wires lease, scheduler, exploration and queue depths into a `Coordinator` (not yet started). */
export function buildCoordinator(d: CoordinatorDeps): Coordinator {
  const { settings, metrics, logger } = d;
  const lease = new LeaderLease({
    store: createRedisLeaseStore(d.redis, d.keys.leader()),
    owner: d.ownerId,
    ttlMs: settings.leaderTtl * 1000,
    logger,
    onChange: (leader) => metrics.isLeader.set(leader ? 1 : 0),
  });
  const reported = new Set<string>();
  const gate = createRunnableTypeGate(
    createAgentGate(d.guards, (agentId, err) =>
      logger.debug({ agentId, err }, 'guard check failed: skipping the agent for now'),
    ),
    d.registry,
    isRunnableAgentType,
    (agentId, type) => {
      if (reported.has(`${agentId}:${type}`)) return;
      reported.add(`${agentId}:${type}`);
      logger.warn(
        { agentId, type },
        `agent type '${type}' cannot run on any runner: not scheduling ${agentId}`,
      );
    },
  );
  const starter = createTemporalStarter(d.temporal, {
    executionTimeoutMs: activationExecutionTimeoutMs(settings.activationTimeout),
    agentPriority: settings.agentPriority,
  });
  const pollIntervalMs = settings.pollInterval * 1000;
  const scheduler = new NotificationScheduler({
    starter,
    gate,
    metrics,
    logger,
    // The safety-net re-signal of an agent that still has unread notifications grows up to one
    // poll interval: never slower than the Hub-listing fallback would be.
    dedupe: { baseMs: 5000, maxMs: Math.max(5000, pollIntervalMs) },
  });
  const exploration = new ExplorationPlanner({
    hub: d.hub,
    registry: d.registry,
    log: createRedisExplorationLog(d.redis, d.keys),
    gate,
    starter,
    metrics,
    logger,
    minActivationIntervalSeconds: settings.minActivationInterval,
  });
  metrics.isLeader.set(0);
  return new Coordinator({
    lease,
    hub: d.hub,
    scheduler,
    exploration,
    queueDepths: () => readQueueDepths(d.temporal),
    metrics,
    logger,
    pollIntervalMs,
    pollBatchSize: settings.pollBatchSize,
  });
}

/** `/ready` checks: Valkey answers PING and Temporal answers GetSystemInfo. */
export function readinessChecks(redis: Redis, temporal: Client): Record<string, ReadinessCheck> {
  return {
    valkey: async () => (await redis.ping()) === 'PONG',
    temporal: async () => {
      await temporal.connection.withDeadline(Date.now() + 2000, () =>
        temporal.workflowService.getSystemInfo({}),
      );
      return true;
    },
  };
}
