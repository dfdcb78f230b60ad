/**
 * Outages with two real coordinator processes on this file's OWN Valkey and Temporal dev server
 * (so they can be stopped and restarted), a Hub simulator with faults, and an in-process runner
 * with the real activationWorkflow. Nothing may crash, each outage is logged once per state change,
 * and every notification injected before, during and after an outage is handled in the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAgentDefinition } from '../../dev/agent-files';
import { createHubSimulator } from '../../dev/hub-sim/server';
import type { HubSimulator } from '../../dev/hub-sim/server';
import { createModelServer } from '../../dev/model-server/server';
import { freePort, startTemporal, startValkey } from '../../dev/services';
import type { ServiceHandle } from '../../dev/services';
import { loadSettings } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import type { Runner } from '../../workers/runner-app';
import { createRunner } from '../../workers/runner-app';
import { unique } from '../support/env';
import type { CoordinatorProcess, LogLine } from './coordinator-support';
import {
  activationRuns,
  coordinatorEnv,
  overlaps,
  ops,
  sleep,
  spawnCoordinator,
  waitUntil,
} from './coordinator-support';

const AGENTS = 6;

/** Leadership intervals [acquired, lost) per process, from their logs. */
function leadershipIntervals(p: CoordinatorProcess, endMs: number): [number, number][] {
  const out: [number, number][] = [];
  let since: number | undefined;
  for (const l of p.lines) {
    if (l.msg === 'leadership acquired') since = Date.parse(l.time);
    if (l.msg === 'leadership lost' && since !== undefined) {
      out.push([since, Date.parse(l.time)]);
      since = undefined;
    }
  }
  if (since !== undefined) out.push([since, endMs]);
  return out;
}

describe('coordinator: Hub, Valkey and Temporal outages', () => {
  let dir: string;
  let temporal: ServiceHandle & { address: string };
  let valkey: ServiceHandle & { url: string };
  let temporalPort: number;
  let valkeyPort: number;
  let hub: HubSimulator;
  let model: Awaited<ReturnType<typeof createModelServer>>;
  let runner: Runner;
  let runnerDone: Promise<void>;
  let client: Client;
  let connection: Connection;
  const agents: string[] = [];
  const procs: CoordinatorProcess[] = [];
  let counter = 0;

  const inject = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await hub.admin.injectNotification({
        agent_id: agents[counter++ % agents.length]!,
        content: `n${counter}`,
      });
    }
  };
  const allRead = async (): Promise<boolean> => (await hub.admin.notifications()).every((n) => n.read);
  const leaderNow = (): CoordinatorProcess | undefined => procs.find((p) => p.leading());
  const logged = (msg: string): LogLine[] => procs.flatMap((p) => p.lines.filter((l) => l.msg === msg));

  beforeAll(async () => {
    try {
      Runtime.install({
        logger: new DefaultLogger('ERROR'),
        // Restarting Temporal on purpose: the core's retry warnings are expected noise here.
        telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
      });
    } catch {
      // Already installed by an earlier file in this worker process.
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-coord-outage-'));
    [temporalPort, valkeyPort] = await Promise.all([freePort(), freePort()]);
    [temporal, valkey, model] = await Promise.all([
      startTemporal({
        port: temporalPort,
        dbFile: path.join(dir, 'temporal.db'),
        logFile: path.join(dir, 'temporal.log'),
      }),
      startValkey({ port: valkeyPort, logFile: path.join(dir, 'valkey.log') }),
      createModelServer({ script: { name: 'outages', rules: [], fallback: { text: 'NO_RESPONSE_NEEDED' } } }),
    ]);
    for (let i = 0; i < AGENTS; i++) agents.push(unique(`out${i}`));
    hub = await createHubSimulator({ seed: { agents: agents.map((id) => ({ id })) } });
    for (const id of agents) {
      writeAgentDefinition(path.join(dir, 'defs'), id, { config: { behavior: { max_iterations: 3 } } });
    }
    const env: Record<string, string> = {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      BOTBURROW_REDIS_URL: valkey.url,
      BOTBURROW_KEY_PREFIX: `${unique('out')}:`,
      BOTBURROW_HUB_URL: hub.url,
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: 'test-key',
      BOTBURROW_AGENT_DEFINITIONS_PATH: path.join(dir, 'defs'),
      BOTBURROW_SHUTDOWN_GRACE: '2',
      BOTBURROW_LOG_LEVEL: 'warn',
    };
    connection = await Connection.connect({ address: temporal.address });
    client = new Client({ connection, namespace: 'default' });
    runner = await createRunner({
      settings: loadSettings(env),
      logger: createLogger('outage-runner', 'error'),
      metrics: createMetrics(undefined, { defaults: false }),
    });
    runnerDone = runner.run();
    procs.push(spawnCoordinator('A', coordinatorEnv(env)), spawnCoordinator('B', coordinatorEnv(env)));
    await waitUntil('a leader', () => leaderNow(), 20_000, 25);
  });

  afterAll(async () => {
    for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGTERM');
    await Promise.all(procs.map((p) => Promise.race([p.exited, sleep(5000)])));
    for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
    runner?.shutdown();
    await Promise.race([runnerDone, sleep(10_000)]);
    await connection?.close();
    await Promise.allSettled([hub?.close(), model?.close(), temporal?.stop(), valkey?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('rides out 20 s of Hub 500s: one log line each way, then handles what arrived meanwhile', async () => {
    await inject(6);
    await waitUntil('baseline handled', allRead, 30_000, 200);
    const leader = leaderNow()!;
    // Metrics: only the leader reports leadership, and it exports the task-queue depths.
    const follower = procs.find((p) => p !== leader)!;
    const leaderMetrics = (await ops(leader, '/metrics')).body;
    expect(leaderMetrics).toMatch(/^botburrow_coordinator_is_leader 1$/m);
    expect(leaderMetrics).toMatch(/^botburrow_work_queue_depth\{queue="high"\} \d+$/m);
    expect(leaderMetrics).toMatch(
      /^botburrow_activations_scheduled_total\{trigger="notification",queue="botburrow-high"\} [1-9]/m,
    );
    expect((await ops(follower, '/metrics')).body).toMatch(/^botburrow_coordinator_is_leader 0$/m);
    expect((await ops(leader, '/ready')).status).toBe(200);
    const fault = await hub.admin.addFault({ endpoint: '*', status: 500 });
    await sleep(1000);
    await inject(12);
    await sleep(19_000);
    await hub.admin.clearFault(fault.id);
    const clearedAt = Date.now();
    await waitUntil('handled after the Hub outage', allRead, 30_000, 200);
    process.stderr.write(
      `coordinator outage: Hub 500s for 20 s → all handled ${Date.now() - clearedAt} ms after recovery\n`,
    );
    expect(leader.proc.exitCode).toBeNull();
    expect(leader.lines.filter((l) => l.msg === 'hub: up→down')).toHaveLength(1);
    expect(leader.lines.filter((l) => l.msg === 'hub: down→up')).toHaveLength(1);
  });

  it('Valkey restarted: both replicas step down while it is away, one leads again, nothing lost', async () => {
    const before = leaderNow()!;
    const mark = procs.map((p) => p.lines.length);
    await valkey.stop();
    const stoppedAt = Date.now();
    await before.waitFor((l) => l.msg === 'leadership lost', 5000, mark[procs.indexOf(before)]);
    await inject(6);
    await sleep(2000);
    expect(procs.filter((p) => p.leading())).toEqual([]);
    // /ready reports Valkey as the reason; /health stays fine (the process is alive).
    const ready = await ops(before, '/ready');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ ready: false, checks: { valkey: false, temporal: true } });
    expect((await ops(before, '/health')).status).toBe(200);
    expect((await ops(before, '/metrics')).body).toMatch(/^botburrow_coordinator_is_leader 0$/m);
    valkey = await startValkey({ port: valkeyPort, logFile: path.join(dir, 'valkey.log') });
    await waitUntil('a leader again', () => leaderNow(), 15_000, 50);
    process.stderr.write(
      `coordinator outage: Valkey restarted → leader again ${Date.now() - stoppedAt} ms after the stop\n`,
    );
    await waitUntil('handled after the Valkey restart', allRead, 45_000, 250);
    for (const p of procs)
      await waitUntil('ready again', async () => (await ops(p, '/ready')).status === 200, 10_000, 200);
    for (const p of procs) expect(p.proc.exitCode).toBeNull();
    expect(procs.every((p) => p.lines.filter((l) => l.msg === 'valkey: up→down').length <= 1)).toBe(true);
    expect(logged('valkey: up→down').length).toBeGreaterThanOrEqual(1);
  });

  it('Temporal restarted: scheduling pauses with one log line, resumes by itself, nothing lost', async () => {
    await waitUntil('a leader', () => leaderNow(), 10_000, 50);
    await temporal.stop();
    const stoppedAt = Date.now();
    await inject(12);
    // Longer than one start/signal call may take (5 s), so the outage is seen, not just waited out.
    await sleep(6000);
    temporal = await startTemporal({
      port: temporalPort,
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
    });
    await waitUntil('handled after the Temporal restart', allRead, 60_000, 250);
    process.stderr.write(
      `coordinator outage: Temporal restarted → all handled ${Date.now() - stoppedAt} ms after the stop\n`,
    );
    for (const p of procs) expect(p.proc.exitCode).toBeNull();
    const leader = leaderNow()!;
    expect(leader.lines.filter((l) => l.msg === 'temporal: up→down').length).toBeLessThanOrEqual(1);
    expect(logged('temporal: up→down').length).toBeGreaterThanOrEqual(1);
    expect(logged('temporal: down→up').length).toBeGreaterThanOrEqual(1);
  });

  it('never had two leaders at once, nor two activations of one agent at once', async () => {
    const now = Date.now();
    const intervals = procs.flatMap((p) => leadershipIntervals(p, now).map((iv) => ({ p: p.name, iv })));
    for (let i = 0; i < intervals.length; i++) {
      for (let j = i + 1; j < intervals.length; j++) {
        const a = intervals[i]!;
        const b = intervals[j]!;
        if (a.p === b.p) continue;
        const overlap = Math.min(a.iv[1], b.iv[1]) - Math.max(a.iv[0], b.iv[0]);
        expect(overlap, `${a.p} and ${b.p} both leading`).toBeLessThanOrEqual(0);
      }
    }
    expect(intervals.length).toBeGreaterThanOrEqual(2);
    for (const id of agents) {
      const runs = await activationRuns(client, id);
      expect(runs.length).toBeGreaterThan(0);
      expect(overlaps(runs)).toEqual([]);
    }
    expect(await hub.admin.notifications()).toHaveLength(counter);
  });
});
