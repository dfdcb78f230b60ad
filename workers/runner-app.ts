/**
 * The runner: Temporal workers for the task queues of its mode (DESIGN.md), plus a worker on its own
 * task queue for runner-bound sessions. Built from settings by `createRunner`, which the process
 * entry point (workers/runner.ts) and the tests use alike.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkerOptions, WorkflowBundleOption } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import { RunDefinitions, createActivationActivities, createPublisher } from '../activities/activation';
import { cliExecutors, createCliActivities } from '../activities/executors';
import type { CliExecutor } from '../activities/executors';
import { ConversationStore } from '../activities/conversation';
import { classifyInterceptor } from '../activities/classify';
import { AgentMemory } from '../activities/memory/service';
import { MemoryStore } from '../activities/memory/store';
import { heartbeatInterceptor } from '../activities/heartbeat';
import { ModelProviders } from '../activities/models/providers';
import type { SessionHost } from '../activities/session';
import { createSessionActivities, readSessionTools } from '../activities/session';
import { sandboxFromSettings } from '../activities/sandbox';
import type { Sandbox } from '../activities/sandbox';
import { createSessionManager } from '../activities/tools';
import { dataConverter, logCodecState } from '../lib/codec';
import type { Settings } from '../lib/config';
import { RUNNER_MODE_QUEUES } from '../lib/contract';
import { AgentRegistry, SkillLibrary, createDefinitionStore } from '../lib/definitions';
import { createGuards } from '../lib/guards';
import { HubClient } from '../lib/hub/client';
import { Keys } from '../lib/keys';
import type { Logger } from '../lib/logger';
import { TRACING_OFF, prebuiltBundle, workflowInterceptorModules } from '../lib/tracing';
import type { Tracing } from '../lib/tracing';
import { bundlerLogger } from './runtime';
import { WorkflowTaskWatch } from './workflow-task-watch';
import type { Metrics } from '../lib/metrics';
import { createRedis, redisAuth } from '../lib/redis';
import { temporalConnectionOptions } from '../lib/temporal';

export interface RunnerOptions {
  settings: Settings;
  logger: Logger;
  metrics: Metrics;
  /** Host of runner-bound sessions (MCP servers, workspaces); default: the SessionManager of activities/tools. */
  sessions?: (deps: { logger: Logger; settings: Settings; sandbox: Sandbox }) => SessionHost;
  runnerId?: string;
  /** The CLI executors by agent type; default: activities/executors `cliExecutors()`. */
  executors?: Record<string, CliExecutor>;
  /** Where the model key variables of BOTBURROW_MODEL_KEY_ENVS are read; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Traces (lib/tracing.ts `installTracing`); default off. */
  tracing?: Tracing;
}

export interface Runner {
  readonly runnerId: string;
  readonly queues: string[];
  /** Runs every worker until `shutdown()` (or a shutdown signal handled by the Temporal runtime). */
  run(): Promise<void>;
  /** Stops polling; in-flight activities get the shutdown grace before they are handed back. */
  shutdown(): void;
  /** True while every worker is running. */
  isRunning(): boolean;
  readonly redis: Redis;
}

/** This runner's own task queue, for session-bound tool calls. */
export function runnerQueue(runnerId: string): string {
  return `botburrow-runner-${runnerId}`;
}

/** One bundle per process and tracing state (in-process runners of the tests share them). */
const bundles = new Map<boolean, Promise<WorkflowBundleOption>>();

/**
 * The prebuilt bundle in production (BOTBURROW_WORKFLOW_BUNDLE, or its traced twin with tracing
 * on), else one bundle per process, with the tracing interceptors only when tracing is on.
 */
function workflowBundle(settings: Settings, logger: Logger, tracing: Tracing): Promise<WorkflowBundleOption> {
  if (settings.workflowBundlePath) {
    const file = prebuiltBundle(path.resolve(settings.workflowBundlePath), tracing, fs.existsSync);
    return Promise.resolve({ codePath: file });
  }
  const base = path.resolve(__dirname, '../workflows/index');
  const workflowsPath = ['.ts', '.js'].map((ext) => base + ext).find((p) => fs.existsSync(p)) ?? base;
  let bundle = bundles.get(tracing.enabled);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath,
      workflowInterceptorModules: workflowInterceptorModules(tracing),
      logger: bundlerLogger(logger),
    }).then((b) => ({ code: b.code }));
    bundles.set(tracing.enabled, bundle);
  }
  return bundle;
}

export async function createRunner(o: RunnerOptions): Promise<Runner> {
  const { settings, logger, metrics } = o;
  const runnerId = o.runnerId ?? `${os.hostname()}-${randomUUID().slice(0, 8)}`;
  const log = logger.child({ component: 'runner', runnerId });
  const keys = new Keys(settings.keyPrefix ?? '');
  const redis = createRedis(settings.redisUrl, { logger: log, name: 'runner', ...redisAuth(settings) });
  const connection = await NativeConnection.connect(temporalOptions(settings));
  const hub = new HubClient({
    baseUrl: settings.hubUrl,
    apiKey: settings.hubApiKey,
    timeoutMs: settings.hubTimeout * 1000,
    clientId: `runner:${runnerId}`,
    logger: log,
  });
  const store = createDefinitionStore(settings);
  // Every step reads the definition its run pinned at the start (and, on this runner, from memory).
  const registry = new RunDefinitions({
    registry: new AgentRegistry({ store, redis, keys, logger: log }),
    redis,
    keys,
    logger: log,
    ttlSeconds: settings.activationTimeout + 3600,
  });
  const skills = new SkillLibrary({
    store,
    logger: log,
    cache: { redis, keys, ttlSeconds: settings.skillsCacheTtl },
  });
  const guards = createGuards(redis, keys, settings, { metrics });
  const conversations = new ConversationStore(redis, keys);
  const models = modelProviders(settings, o.env ?? process.env);
  // Said once rather than silently: the Messages API version the SDK speaks refuses sampling knobs.
  log.info(
    'brain.temperature is sent to OpenAI-compatible providers (openai, google, local) but not to anthropic: Messages API version 2026-10-21 refuses temperature, top_p and top_k',
  );
  // Agent memory: items in Valkey, archived beside the definitions, embedded by each brain's provider.
  const memory = new AgentMemory({
    store: new MemoryStore(redis, keys, { vectorCacheBytes: settings.memoryVectorCacheMb * 1024 * 1024 }),
    models,
    archive: store,
    logger: log,
    settings,
  });
  const sandbox = await sandboxFromSettings(settings, log);
  const sessionHost = (o.sessions ?? createSessionManager)({
    logger: log,
    settings,
    sandbox,
    loadAgent: (id) => registry.get(id),
  });
  const ownQueue = runnerQueue(runnerId);
  // One publisher for every path that posts: native tool, final reply, Hub MCP (loop and CLIs).
  const publish = createPublisher({ hub, redis, keys, limits: guards.limits });

  const activationActivities = createActivationActivities({
    hub,
    registry,
    skills,
    ...guards,
    conversations,
    models,
    memory,
    redis,
    keys,
    metrics,
    logger: log,
    settings: {
      activationTimeoutSeconds: settings.activationTimeout,
      maxIterations: settings.maxIterations,
      priceTable: settings.priceTable,
      unknownModelPrice: settings.unknownModelPrice,
      hubBudgetCheck: settings.hubBudgetCheck,
    },
    sessionTools: (sessionId) => readSessionTools(redis, keys, sessionId),
    // The loop's Bash runs with the runner's PATH (activities/tools/sessions.ts).
    cliSearchPath: (o.env ?? process.env).PATH,
  });
  // A CLI conversation runs on the runner that holds its session: registered on the own queue.
  const cliActivities = createCliActivities({
    registry,
    skills,
    ...guards,
    conversations,
    metrics,
    logger: log,
    hub,
    publish,
    sessions: sessionHost,
    sessionTools: (sessionId) => readSessionTools(redis, keys, sessionId),
    sandbox,
    executors: o.executors ?? cliExecutors(),
    models,
    settings: {
      priceTable: settings.priceTable,
      unknownModelPrice: settings.unknownModelPrice,
      ...(settings.anthropicBaseUrl !== undefined && { anthropicBaseUrl: settings.anthropicBaseUrl }),
      ...(settings.anthropicApiKey !== undefined && { anthropicApiKey: settings.anthropicApiKey }),
    },
  });
  const sessionActivities = createSessionActivities({
    sessions: sessionHost,
    publish,
    registry,
    runnerQueue: ownQueue,
    callTimeoutSeconds: settings.mcpTimeout,
    conversations,
    redis,
    keys,
    metrics,
  });

  const tracing = o.tracing ?? TRACING_OFF;
  const bundle = await workflowBundle(settings, logger, tracing);
  const queues = [...RUNNER_MODE_QUEUES[settings.runnerMode]];
  const common = {
    connection,
    namespace: settings.temporalNamespace,
    identity: `runner@${runnerId}`,
    shutdownGraceTime: `${settings.shutdownGrace} seconds`,
    maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivities,
    // Cancels reach a heartbeating activity within ~2 s instead of 0.8 × its heartbeat timeout.
    maxHeartbeatThrottleInterval: '2 seconds',
    dataConverter: dataConverter(settings),
    ...deploymentOptions(settings),
  } as const;
  logCodecState(settings, log);
  const interceptors = {
    activity: [...tracing.activityInterceptors, heartbeatInterceptor, classifyInterceptor],
  };
  const workers = await Promise.all([
    ...queues.map((taskQueue) =>
      Worker.create({
        ...common,
        taskQueue,
        interceptors,
        workflowBundle: bundle,
        sinks: tracing.sinks,
        activities: { ...activationActivities, ...sessionActivities },
        maxConcurrentWorkflowTaskExecutions: settings.maxConcurrentWorkflowTasks,
        // Many short I/O-bound tasks: more pollers keep hundreds of activations moving.
        maxConcurrentWorkflowTaskPolls: Math.min(10, settings.maxConcurrentWorkflowTasks),
        maxConcurrentActivityTaskPolls: 10,
        maxCachedWorkflows: Math.max(2, Math.floor(settings.maxCachedWorkflows / queues.length)),
      }),
    ),
    // Session-bound tool calls only: no workflows on the runner's own queue.
    ...(sessionHost
      ? [
          Worker.create({
            ...common,
            taskQueue: ownQueue,
            interceptors,
            activities: { ...sessionActivities, ...cliActivities },
          }),
        ]
      : []),
  ]);

  // Workflow tasks that keep failing (non-determinism, payloads too large) are logged by workflow id.
  const taskWatch = new WorkflowTaskWatch({
    service: connection.workflowService,
    namespace: settings.temporalNamespace,
    logger: log,
    metrics,
  }).listen();

  let running = false;
  return {
    runnerId,
    queues,
    redis,
    isRunning: () => running && workers.every((w) => w.getState() === 'RUNNING'),
    shutdown: () => {
      for (const w of workers) {
        if (w.getState() === 'RUNNING') w.shutdown();
      }
    },
    async run() {
      running = true;
      log.info(
        {
          queues,
          ownQueue,
          mode: settings.runnerMode,
          deployment: settings.buildId ? `${settings.deploymentName}:${settings.buildId}` : 'unversioned',
        },
        'runner started',
      );
      try {
        await runWorkers(workers);
      } finally {
        running = false;
        taskWatch.close();
        await sessionHost?.closeAll?.();
        await connection.close();
        redis.disconnect();
        log.info('runner stopped');
      }
    },
  };
}

/**
 * Runs `workers` until all have stopped. One failing (e.g. its workflow thread out of memory)
 * stops the others, and this resolves or rejects only once none runs, so the connection can close:
 * the error reported is the first worker's, not the close's "Workers hold a reference to it".
 */
export async function runWorkers(
  workers: readonly Pick<Worker, 'run' | 'getState' | 'shutdown'>[],
): Promise<void> {
  const results = await Promise.allSettled(
    workers.map((w) =>
      w.run().catch((err: unknown) => {
        for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
        throw err;
      }),
    ),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * The runner's model clients: the values of the allow-listed key variables are read here, once
 * (`ANTHROPIC_API_KEY` from settings first), and handed to nothing but the SDK clients.
 */
function modelProviders(
  settings: Settings,
  env: Readonly<Record<string, string | undefined>>,
): ModelProviders {
  const keys: Record<string, string | undefined> = {};
  for (const name of settings.modelKeyEnvs) keys[name] = env[name];
  if (settings.anthropicApiKey !== undefined) keys.ANTHROPIC_API_KEY = settings.anthropicApiKey;
  return new ModelProviders(
    {
      keyEnvs: settings.modelKeyEnvs,
      apiHosts: settings.modelApiHosts,
      baseUrls: {
        ...(settings.anthropicBaseUrl !== undefined && { anthropic: settings.anthropicBaseUrl }),
        ...(settings.openaiBaseUrl !== undefined && { openai: settings.openaiBaseUrl }),
        ...(settings.geminiBaseUrl !== undefined && { google: settings.geminiBaseUrl }),
      },
      timeoutMs: 280_000,
    },
    keys,
  );
}

/**
 * With BOTBURROW_BUILD_ID every worker of the runner registers that worker deployment version, and
 * activations stay on the version they started on (PINNED): a new version takes only new runs,
 * the old one drains. Without it the runner is unversioned (local run, tests).
 */
function deploymentOptions(settings: Settings): Pick<WorkerOptions, 'workerDeploymentOptions'> {
  if (settings.buildId === undefined) return {};
  return {
    workerDeploymentOptions: {
      version: { deploymentName: settings.deploymentName, buildId: settings.buildId },
      useWorkerVersioning: true,
      defaultVersioningBehavior: 'PINNED',
    },
  };
}

function temporalOptions(settings: Settings): Parameters<typeof NativeConnection.connect>[0] {
  // NativeConnection accepts the same address/TLS/API-key shape as the client connection.
  return temporalConnectionOptions(settings) as Parameters<typeof NativeConnection.connect>[0];
}
