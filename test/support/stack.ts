/**
 * An isolated activation stack for integration tests, on real components: the suite's Temporal dev
 * server (a fresh namespace per stack), the suite's Valkey (a fresh key prefix), a Hub simulator and
 * a scripted Messages API server on free ports, a folder of agent definitions, and in-process runners.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowHandleWithSignaledRunId } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import type { WorldSeed } from '../../dev/hub-sim/seed';
import { writeAgentDefinition } from '../../dev/agent-files';
import { createHubSimulator } from '../../dev/hub-sim/server';
import type { HubSimulator } from '../../dev/hub-sim/server';
import { createModelServer } from '../../dev/model-server/server';
import type { Scenario } from '../../dev/model-server/scenario';
import { dataConverter } from '../../lib/codec';
import type { Settings } from '../../lib/config';
import { loadSettings } from '../../lib/config';
import type { ActivationInput, ActivationResult, ActivationTrigger } from '../../lib/contract';
import {
  ACTIVATION_WORKFLOW,
  activationExecutionTimeoutMs,
  TaskQueue,
  activationSearchAttributes,
  activationWorkflowId,
} from '../../lib/contract';
import { createGuards } from '../../lib/guards';
import type { Guards } from '../../lib/guards';
import { HubClient } from '../../lib/hub/client';
import { Keys } from '../../lib/keys';
import { createLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { createRedis } from '../../lib/redis';
import type { Tracing } from '../../lib/tracing';
import type { Runner } from '../../workers/runner-app';
import { createRunner } from '../../workers/runner-app';
import type * as workflows from '../../workflows/activation';
import { services, unique } from './env';
import { createTestNamespace } from './temporal';

export type ModelServer = Awaited<ReturnType<typeof createModelServer>>;

export interface AgentOptions {
  /** An exact id instead of `<prefix>-<random>`. */
  id?: string;
  maxIterations?: number;
  grants?: string[];
  maxTokens?: number;
  systemPrompt?: string;
  extra?: Record<string, unknown>;
}

export interface StackOptions {
  script: Scenario;
  seed?: WorldSeed;
  env?: Record<string, string>;
  /** false: the Hub simulator ignores `Idempotency-Key`, as a real Hub may (exactly-once tests). */
  hubDedupe?: boolean;
  /** Keys the model server accepts (401 for any other); default: any key. */
  modelApiKeys?: string[];
}

export interface ActivationStack {
  hub: HubSimulator;
  model: ModelServer;
  settings: Settings;
  env: Record<string, string>;
  namespace: string;
  client: Client;
  redis: Redis;
  keys: Keys;
  guards: Guards;
  definitionsDir: string;
  /** Writes agents/<id>/config.yaml (+ system-prompt.md) and registers the agent on the Hub. */
  addAgent(prefix: string, o?: AgentOptions): Promise<string>;
  startRunner(overrides?: Partial<Settings>, o?: { tracing?: Tracing }): Promise<Runner>;
  /** signal-with-start, as the coordinator does. */
  activate(
    agentId: string,
    trigger?: ActivationTrigger,
  ): Promise<WorkflowHandleWithSignaledRunId<typeof workflows.activationWorkflow>>;
  run(agentId: string, trigger?: ActivationTrigger): Promise<ActivationResult>;
  stop(): Promise<void>;
}

let runtimeInstalled = false;

/** Quiet SDK logs in tests (warnings and errors only); once per process. */
function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by an earlier file in this worker process.
  }
}

export async function startStack(o: StackOptions): Promise<ActivationStack> {
  installQuietRuntime();
  const { temporalAddress, redisUrl } = services();
  const [namespace, hub, model] = await Promise.all([
    createTestNamespace(temporalAddress),
    createHubSimulator({ seed: o.seed ?? { agents: [] }, dedupe: o.hubDedupe ?? true }),
    createModelServer({ script: o.script, ...(o.modelApiKeys && { apiKey: o.modelApiKeys }) }),
  ]);
  const definitionsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-defs-'));
  fs.mkdirSync(path.join(definitionsDir, 'agents'));
  const keyPrefix = `${unique('t')}:`;
  const env: Record<string, string> = {
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: namespace,
    BOTBURROW_REDIS_URL: redisUrl,
    BOTBURROW_KEY_PREFIX: keyPrefix,
    BOTBURROW_HUB_URL: hub.url,
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'test-key',
    BOTBURROW_AGENT_DEFINITIONS_PATH: definitionsDir,
    BOTBURROW_SHUTDOWN_GRACE: '2',
    BOTBURROW_LOG_LEVEL: 'warn',
    ...o.env,
  };
  const settings = loadSettings(env);
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace, dataConverter: dataConverter(settings) });
  const redis = createRedis(redisUrl, { name: 'test' });
  const keys = new Keys(keyPrefix);
  const guards = createGuards(redis, keys, settings);
  const runners: { runner: Runner; done: Promise<void> }[] = [];
  const logger = createLogger('test-runner', 'warn');
  const hubClient = new HubClient({ baseUrl: hub.url });

  const stack: ActivationStack = {
    hub,
    model,
    settings,
    env,
    namespace,
    client,
    redis,
    keys,
    guards,
    definitionsDir,
    async addAgent(prefix, a = {}) {
      const id = a.id ?? unique(prefix);
      writeAgentDefinition(definitionsDir, id, {
        config: {
          brain: { max_tokens: a.maxTokens ?? 1000 },
          capabilities: { grants: a.grants ?? ['hub:read', 'hub:write'] },
          behavior: { max_iterations: a.maxIterations ?? 5 },
          ...a.extra,
        },
        // The id in the prompt lets tests pick this agent's requests out of the model server's log.
        systemPrompt: `${a.systemPrompt ?? 'You are a test persona.'} Your id is ${id}.`,
      });
      await hubClient.registerAgents('test-admin', [
        { name: id, display_name: id, description: 'test agent', type: 'native', config_hash: id },
      ]);
      return id;
    },
    async startRunner(overrides = {}, o = {}) {
      const runner = await createRunner({
        ...(o.tracing && { tracing: o.tracing }),
        settings: { ...settings, ...overrides },
        // Model key variables are read from the stack's environment, as a runner reads its own.
        env,
        logger,
        metrics: createMetrics(undefined, { defaults: false }),
      });
      const done = runner.run();
      runners.push({ runner, done });
      return runner;
    },
    async activate(agentId, trigger = 'notification') {
      const input: ActivationInput = { agentId, trigger, requestedAt: new Date().toISOString() };
      return client.workflow.signalWithStart(ACTIVATION_WORKFLOW, {
        workflowId: activationWorkflowId(agentId),
        taskQueue: trigger === 'exploration' ? TaskQueue.normal : TaskQueue.high,
        args: [input],
        signal: 'inboxUpdated',
        signalArgs: [],
        typedSearchAttributes: activationSearchAttributes(agentId, trigger),
        workflowExecutionTimeout: activationExecutionTimeoutMs(settings.activationTimeout),
      }) as Promise<WorkflowHandleWithSignaledRunId<typeof workflows.activationWorkflow>>;
    },
    async run(agentId, trigger) {
      const handle = await stack.activate(agentId, trigger);
      return handle.result();
    },
    async stop() {
      for (const r of runners) r.runner.shutdown();
      await Promise.allSettled(runners.map((r) => r.done));
      await Promise.allSettled([hub.close(), model.close(), connection.close()]);
      redis.disconnect();
      fs.rmSync(definitionsDir, { recursive: true, force: true });
    },
  };
  return stack;
}
