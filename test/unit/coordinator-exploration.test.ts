/* eslint-disable @typescript-eslint/require-await -- fakes implement async interfaces with plain values */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ExplorationPlanner, explorationPeriodMs } from '../../lib/coordinator/exploration';
import type {
  ActivationStarter,
  CoordinatorHub,
  DefinitionSource,
  DiscoveryView,
  ExplorationLog,
  SkipReason,
} from '../../lib/coordinator/types';
import { DefinitionError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';

const HOUR = 3_600_000;

function recordingLogger() {
  const warnings: string[] = [];
  const logger = {
    info() {},
    debug() {},
    error() {},
    warn(_o: unknown, msg: string) {
      warnings.push(msg);
    },
  } as unknown as Logger;
  return { logger, warnings };
}

function setup(o: {
  stale: string[];
  definitions: Record<string, DiscoveryView | Error>;
  lastStarts?: Record<string, number>;
  running?: Set<string>;
  gate?: Record<string, SkipReason>;
  now?: number;
}) {
  const started: { agentId: string; requestedAt: string }[] = [];
  const recorded = new Map<string, number>(Object.entries(o.lastStarts ?? {}));
  const staleCalls: number[] = [];
  const hub: CoordinatorHub = {
    pollNotifications: async () => [],
    listAgentsWithNotifications: async () => [],
    listStaleAgents: async (min) => {
      staleCalls.push(min);
      return o.stale.map((id) => ({ id, name: id, last_activated_at: null }));
    },
  };
  const registry: DefinitionSource = {
    async get(id) {
      const d = o.definitions[id];
      if (d === undefined) throw new DefinitionError(`agents/${id}/config.yaml`, '', 'not found');
      if (d instanceof Error) throw d;
      return { config: { behavior: { discovery: d } } };
    },
  };
  const log: ExplorationLog = {
    async lastStarts(ids) {
      return new Map(ids.filter((id) => recorded.has(id)).map((id) => [id, recorded.get(id)!]));
    },
    async recordStart(id, ms) {
      recorded.set(id, ms);
    },
  };
  const starter: ActivationStarter = {
    async signalNotification() {},
    async startExploration(agentId, requestedAt) {
      if (o.running?.has(agentId)) return 'running';
      started.push({ agentId, requestedAt });
      return 'started';
    },
  };
  const metrics = createMetrics(new Registry(), { defaults: false });
  const { logger, warnings } = recordingLogger();
  const planner = new ExplorationPlanner({
    hub,
    registry,
    log,
    gate: { check: async (id) => o.gate?.[id] },
    starter,
    metrics,
    logger,
    minActivationIntervalSeconds: 900,
    wallNow: () => o.now ?? 10 * 24 * HOUR,
  });
  return { planner, started, recorded, staleCalls, warnings, metrics };
}

describe('explorationPeriodMs', () => {
  it('maps the discovery frequency to a minimum spacing', () => {
    expect(explorationPeriodMs('staleness')).toBe(0);
    expect(explorationPeriodMs(undefined)).toBe(0);
    expect(explorationPeriodMs('hourly')).toBe(HOUR);
    expect(explorationPeriodMs('daily')).toBe(24 * HOUR);
  });
});

describe('ExplorationPlanner', () => {
  it('starts exploration only for stale agents that enable discovery', async () => {
    const { planner, started, staleCalls, recorded } = setup({
      stale: ['explorer', 'quiet', 'no-discovery'],
      definitions: {
        explorer: { enabled: true, frequency: 'staleness' },
        quiet: { enabled: false },
        'no-discovery': {},
      },
    });
    const out = await planner.run(() => true);
    expect(staleCalls).toEqual([900]);
    expect(started.map((s) => s.agentId)).toEqual(['explorer']);
    expect(new Date(started[0]!.requestedAt).getTime()).toBe(10 * 24 * HOUR);
    expect(out.notEnabled.sort()).toEqual(['no-discovery', 'quiet']);
    expect(recorded.get('explorer')).toBe(10 * 24 * HOUR);
  });

  it('honours hourly and daily frequencies from the recorded last start', async () => {
    const now = 10 * 24 * HOUR;
    const { planner, started, metrics } = setup({
      now,
      stale: ['h-recent', 'h-old', 'd-recent', 'd-old', 'h-never'],
      definitions: {
        'h-recent': { enabled: true, frequency: 'hourly' },
        'h-old': { enabled: true, frequency: 'hourly' },
        'h-never': { enabled: true, frequency: 'hourly' },
        'd-recent': { enabled: true, frequency: 'daily' },
        'd-old': { enabled: true, frequency: 'daily' },
      },
      lastStarts: {
        'h-recent': now - 30 * 60_000,
        'h-old': now - HOUR,
        'd-recent': now - 23 * HOUR,
        'd-old': now - 25 * HOUR,
      },
    });
    const out = await planner.run(() => true);
    expect(started.map((s) => s.agentId).sort()).toEqual(['d-old', 'h-never', 'h-old']);
    expect(out.skipped.sort((a, b) => a.agentId.localeCompare(b.agentId))).toEqual([
      { agentId: 'd-recent', reason: 'frequency' },
      { agentId: 'h-recent', reason: 'frequency' },
    ]);
    const skipped = (await metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'botburrow_activations_skipped_total',
    );
    expect(skipped?.values.find((v) => v.labels.reason === 'frequency')?.value).toBe(2);
  });

  it('skips running, paused and circuit-open agents with their reasons', async () => {
    const { planner, started } = setup({
      stale: ['busy', 'paused', 'broken', 'free'],
      definitions: {
        busy: { enabled: true },
        paused: { enabled: true },
        broken: { enabled: true },
        free: { enabled: true },
      },
      running: new Set(['busy']),
      gate: { paused: 'paused', broken: 'circuit_open' },
    });
    const out = await planner.run(() => true);
    expect(started.map((s) => s.agentId)).toEqual(['free']);
    expect(Object.fromEntries(out.skipped.map((s) => [s.agentId, s.reason]))).toEqual({
      busy: 'running',
      paused: 'paused',
      broken: 'circuit_open',
    });
  });

  it('skips invalid definitions with a reason logged once, and keeps exploring the others', async () => {
    const bad = new DefinitionError(
      'agents/bad/config.yaml',
      'behavior.discovery.frequency',
      'must be one of …',
    );
    const { planner, started, warnings } = setup({
      stale: ['bad', 'missing', 'good'],
      definitions: { bad, good: { enabled: true } },
    });
    const first = await planner.run(() => true);
    await planner.run(() => true);
    expect(started.map((s) => s.agentId)).toEqual(['good', 'good']);
    expect(first.skipped).toEqual(
      expect.arrayContaining([
        { agentId: 'bad', reason: 'invalid_definition' },
        { agentId: 'missing', reason: 'invalid_definition' },
      ]),
    );
    // Two invalid agents, two rounds: each reported once.
    expect(warnings.filter((w) => w.includes('invalid agent definition'))).toHaveLength(2);
  });

  it('counts a store outage as a failure, not an invalid definition', async () => {
    const { planner, started } = setup({
      stale: ['a'],
      definitions: { a: new Error('S3 unavailable') },
    });
    const out = await planner.run(() => true);
    expect(started).toEqual([]);
    expect(out.failed).toEqual(['a']);
    expect(out.skipped).toEqual([]);
  });

  it('starts nothing when leadership is gone', async () => {
    const { planner, started } = setup({
      stale: ['a', 'b'],
      definitions: { a: { enabled: true }, b: { enabled: true } },
    });
    const out = await planner.run(() => false);
    expect(started).toEqual([]);
    expect(out.interrupted).toBe(true);
  });
});
