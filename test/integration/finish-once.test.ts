/**
 * The finish step's once-per-run reports are once-*succeeded*, on real Valkey and the Hub
 * simulator: an attempt whose runner dies in the middle of the consumption report leaves only a
 * lease, and the next attempt (after the lease) reports it; a finished report is not repeated.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubSimulator } from '../../dev/hub-sim/server';
import type { HubSimulator } from '../../dev/hub-sim/server';
import { createFinishActivities } from '../../activities/activation/finish';
import type { FinishInput } from '../../activities/activation/types';
import { loadSettings } from '../../lib/config';
import { createGuards } from '../../lib/guards';
import { HubClient } from '../../lib/hub/client';
import { Keys } from '../../lib/keys';
import { createMetrics } from '../../lib/metrics';
import { createRedis } from '../../lib/redis';
import type { Redis } from 'ioredis';
import { services } from '../support/env';

const LEASE_MS = 1_500;

describe('finishActivation: once succeeded, not at most once', () => {
  let hub: HubSimulator;
  let redis: Redis;

  beforeAll(async () => {
    hub = await createHubSimulator({
      seed: { agents: [{ id: 'reporter', name: 'reporter' }] },
    });
    redis = createRedis(services().redisUrl, { name: 'finish-once' });
  });
  afterAll(async () => {
    redis?.disconnect();
    await hub?.close();
  });

  function finisher() {
    const keys = new Keys(`finish-once-${process.pid}:`);
    const settings = loadSettings({});
    const guards = createGuards(redis, keys, settings);
    return createFinishActivities({
      redis,
      keys,
      breaker: guards.breaker,
      metrics: createMetrics(undefined, { defaults: false }),
      logger: pino({ level: 'silent' }),
      hub: new HubClient({ baseUrl: hub.url, timeoutMs: 60_000, maxRetries: 0 }),
      leaseMs: LEASE_MS,
    });
  }

  const input: FinishInput = {
    agentId: 'reporter',
    trigger: 'notification',
    outcome: 'succeeded',
    model: 'claude-sonnet-4',
    tokensInput: 120,
    tokensOutput: 30,
    costUsd: 0.01,
    durationMs: 1000,
    reportKey: `activation-reporter:run-${process.pid}`,
    breaker: 'success',
  };

  it('reports the consumption after an attempt died mid-report, and only once', async () => {
    // The first attempt's report hangs (its runner is about to die); it is abandoned, never settled.
    await hub.admin.addFault({ endpoint: 'POST /api/v1/system/consumption', delayMs: 30_000, count: 1 });
    const dying = finisher().finishActivation(input);
    dying.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    // A retry while the lease is held waits for it rather than skipping the report.
    await expect(finisher().finishActivation(input)).rejects.toThrow(/another attempt is running it/);
    await new Promise((r) => setTimeout(r, LEASE_MS + 200));
    await hub.admin.clearFaults();
    await finisher().finishActivation(input);
    // The abandoned attempt's request is still parked in the simulator: only the retry's counts.
    const records = await hub.admin.consumption('reporter');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ tokens_input: 120, tokens_output: 30 });
    // Done is done: one more attempt reports nothing again.
    await finisher().finishActivation(input);
    expect(await hub.admin.consumption('reporter')).toHaveLength(1);
  }, 20_000);
});
