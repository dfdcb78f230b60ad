/**
 * The skill-sync process: a Temporal worker on `botburrow-maintenance` running
 * `skillSyncWorkflow`, which also creates (or updates) the hourly `botburrow-skill-sync` Schedule
 * at start, and serves `/metrics` `/health` `/ready` on :9092.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { ScheduleOptions } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { WorkerOptions } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createSkillSyncActivities } from '../activities/skill-sync';
import { dataConverter, logCodecState } from '../lib/codec';
import { loadSettingsOrExit } from '../lib/config';
import { SKILL_SYNC_SCHEDULE_ID, SKILL_SYNC_WORKFLOW, TaskQueue } from '../lib/contract';
import { createDefinitionStore, s3ClientFromSettings } from '../lib/definitions/store';
import { startOpsServer } from '../lib/http-server';
import { createLogger } from '../lib/logger';
import type { Logger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { temporalConnectionOptions } from '../lib/temporal';
import { installTracing, prebuiltBundle, workflowInterceptorModules } from '../lib/tracing';
import type { Tracing } from '../lib/tracing';
import type { SkillSyncInput, SkillSyncResult } from '../workflows/skill-sync';
import { installTemporalRuntime } from './runtime';

export interface SkillSyncScheduleOptions {
  intervalSeconds: number;
  scheduleId?: string;
  taskQueue?: string;
  logger?: Logger;
}

/** The Schedule definition: every `intervalSeconds`, overlapping runs skipped. */
export function skillSyncScheduleOptions(o: SkillSyncScheduleOptions): ScheduleOptions {
  const scheduleId = o.scheduleId ?? SKILL_SYNC_SCHEDULE_ID;
  return {
    scheduleId,
    spec: { intervals: [{ every: `${o.intervalSeconds}s` }] },
    action: {
      type: 'startWorkflow',
      workflowType: SKILL_SYNC_WORKFLOW,
      // No sources in the arguments: the worker's configured sources apply, so changing them needs
      // no schedule change.
      args: [{} satisfies SkillSyncInput],
      taskQueue: o.taskQueue ?? TaskQueue.maintenance,
      workflowId: scheduleId,
      workflowExecutionTimeout: `${Math.max(o.intervalSeconds, 600)}s`,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' },
    memo: { description: 'copies skills from BOTBURROW_SKILL_SYNC_SOURCES into the definitions store' },
  };
}

/** Creates the skill-sync Schedule, or updates its spec, action and policies if it exists. */
export async function ensureSkillSyncSchedule(
  client: Client,
  o: SkillSyncScheduleOptions,
): Promise<'created' | 'updated'> {
  const options = skillSyncScheduleOptions(o);
  try {
    await client.schedule.create(options);
    o.logger?.info(
      { scheduleId: options.scheduleId, every: o.intervalSeconds },
      'skill-sync schedule created',
    );
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(options.scheduleId).update((prev) => ({
    ...prev,
    spec: options.spec,
    action: options.action,
    policies: { ...prev.policies, ...options.policies },
  }));
  o.logger?.info({ scheduleId: options.scheduleId, every: o.intervalSeconds }, 'skill-sync schedule updated');
  return 'updated';
}

/**
 * Runs one skill sync now (the CLI's `skills sync`) and waits for its result. `sources` omitted
 * → the worker's configured sources. Needs a running skill-sync worker on the task queue.
 */
export async function runSkillSyncOnce(
  client: Client,
  sources?: string[],
  o: { taskQueue?: string; workflowId?: string } = {},
): Promise<SkillSyncResult> {
  const input: SkillSyncInput = sources === undefined ? {} : { sources };
  return client.workflow.execute<(i: SkillSyncInput) => Promise<SkillSyncResult>>(SKILL_SYNC_WORKFLOW, {
    taskQueue: o.taskQueue ?? TaskQueue.maintenance,
    workflowId: o.workflowId ?? `skill-sync-manual-${Date.now()}`,
    args: [input],
    workflowExecutionTimeout: '30 minutes',
  });
}

/** The workflow code for this worker: the prebuilt bundle when configured, else the source file. */
function workflowSource(
  bundlePath: string | undefined,
  tracing: Tracing,
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (bundlePath) return { workflowBundle: { codePath: prebuiltBundle(bundlePath, tracing, fs.existsSync) } };
  const base = path.resolve(__dirname, '../workflows/skill-sync');
  const file = ['.ts', '.js'].map((ext) => base + ext).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`workflow source ${base}.{ts,js} not found`);
  return { workflowsPath: file };
}

async function main(): Promise<void> {
  const settings = loadSettingsOrExit();
  const logger = createLogger('skill-sync', settings.logLevel);
  const metrics = createMetrics(new Registry(), { process: 'skill-sync' });
  const sdkMetrics = await installTemporalRuntime(logger);
  const tracing = await installTracing(settings, 'skill-sync', { logger });
  const connectionOptions = temporalConnectionOptions(settings);
  const namespace = settings.temporalNamespace ?? 'default';
  const s3 = s3ClientFromSettings(settings);
  // lib/temporal.ts only ever sets a string apiKey, which both connection kinds accept.
  const nativeConnection = await NativeConnection.connect(
    connectionOptions as Parameters<typeof NativeConnection.connect>[0],
  );
  const connection = await Connection.connect(connectionOptions);
  let ops: Awaited<ReturnType<typeof startOpsServer>> | undefined;
  let worker: Worker | undefined;
  let stopping = false;
  const stop = (signal: string): void => {
    logger.info({ signal }, 'shutting down');
    stopping = true;
    if (worker?.getState() === 'RUNNING') worker.shutdown();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  try {
    // Serve /health at once: bundling the workflow code can take a while on a small CPU limit.
    ops = await startOpsServer({
      port: settings.metricsPort ?? 9092,
      registry: metrics.registry,
      logger,
      extraMetrics: sdkMetrics,
      readiness: {
        worker: () => worker?.getState() === 'RUNNING',
        temporal: async () => {
          await connection.workflowService.getSystemInfo({});
          return true;
        },
      },
    });
    const client = new Client({
      connection,
      namespace,
      dataConverter: dataConverter(settings),
      interceptors: tracing.clientInterceptors,
    });
    logCodecState(settings, logger);
    worker = await Worker.create({
      connection: nativeConnection,
      namespace,
      taskQueue: TaskQueue.maintenance,
      dataConverter: dataConverter(settings),
      ...workflowSource(settings.workflowBundlePath, tracing),
      // A prebuilt bundle has its interceptor modules in it already (scripts/build-bundle.ts).
      interceptors: {
        activity: tracing.activityInterceptors,
        ...(settings.workflowBundlePath ? {} : { workflowModules: workflowInterceptorModules(tracing) }),
      },
      sinks: tracing.sinks,
      activities: createSkillSyncActivities({
        store: createDefinitionStore(settings),
        logger,
        ...(s3 ? { s3 } : {}),
        defaultSources: settings.skillSyncSources ?? [],
      }),
    });
    await ensureSkillSyncSchedule(client, { intervalSeconds: settings.skillSyncInterval ?? 3600, logger });
    if (stopping) return;
    logger.info(
      { taskQueue: TaskQueue.maintenance, sources: settings.skillSyncSources },
      'skill-sync worker started',
    );
    await worker.run();
    logger.info('skill-sync worker stopped');
  } finally {
    await ops?.close();
    await tracing.shutdown();
    await connection.close();
    await nativeConnection.close();
    s3?.destroy();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`skill-sync: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
