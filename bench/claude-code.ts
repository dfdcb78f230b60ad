/**
 * What a claude-code activation (or, with `--type`, an opencode or aider one) costs beyond the
 * model's own time: the real CLI in the real sandbox behind the run's bridge (Hub MCP endpoint, metering model proxy), on a real Temporal
 * dev server, Valkey, the Hub simulator and the scripted model server answering instantly.
 *
 * Each run is one mention answered in text (one model call; the workflow posts the reply). From the
 * run's history and the model server's transcript it prints, as median / p99 / max over the runs:
 *   activation   signal-with-start to result
 *   cli run      the runCliConversation activity, started to completed
 *   model        time the model server spent on the run's requests (receipt to answer)
 *   overhead     cli run minus model: process start, sandbox, MCP start, the CLI's own work
 *   to first call  activity start to the CLI's first model request (process, sandbox, MCP start)
 *
 *   npx tsx bench/claude-code.ts [--runs 20] [--type claude-code|opencode|aider]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { writeAgentDefinition } from '../dev/agent-files';
import { createHubSimulator } from '../dev/hub-sim/server';
import { createModelServer } from '../dev/model-server/server';
import type { Scenario } from '../dev/model-server/scenario';
import { startTemporal, startValkey } from '../dev/services';
import { loadSettings } from '../lib/config';
import { CLI_AGENT_TYPES } from '../lib/definitions';
import type { ActivationInput, ActivationResult } from '../lib/contract';
import { ACTIVATION_WORKFLOW, activationWorkflowId, TaskQueue } from '../lib/contract';
import { HubClient } from '../lib/hub/client';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { createRunner } from '../workers/runner-app';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, type: { type: 'string', default: 'claude-code' } },
});
const RUNS = Number(values.runs);
const TYPE = values.type;
if (!(CLI_AGENT_TYPES as readonly string[]).includes(TYPE)) {
  throw new Error(`--type: expected one of ${CLI_AGENT_TYPES.join(', ')}, got ${TYPE}`);
}

const script: Scenario = {
  name: 'bench-claude-code',
  rules: [{ name: 'answer', when: {}, reply: { text: 'Otters sleep holding paws.' } }],
};

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function row(name: string, xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (n: number): string => `${n.toFixed(0).padStart(6)} ms`;
  return `${name.padEnd(15)} median ${f(pct(s, 50))}   p99 ${f(pct(s, 99))}   max ${f(s.at(-1) ?? NaN)}`;
}

const ms = (t: temporal.api.history.v1.IHistoryEvent['eventTime']): number =>
  Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const [temporal, valkey, hub, model] = await Promise.all([
    startTemporal(),
    startValkey(),
    createHubSimulator({
      seed: {
        agents: [],
        posts: [{ id: 'p-bench', author: { id: 'alice', name: 'Alice' }, content: 'Otters?' }],
      },
    }),
    createModelServer({ script, instant: true }),
  ]);
  const defsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-bench-cc-defs-'));
  const settings = loadSettings({
    TEMPORAL_ADDRESS: temporal.address,
    BOTBURROW_REDIS_URL: valkey.url,
    BOTBURROW_HUB_URL: hub.url,
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'bench',
    BOTBURROW_AGENT_DEFINITIONS_PATH: defsDir,
    BOTBURROW_WORKSPACE_ROOT: fs.mkdtempSync(path.join(os.tmpdir(), 'bb-bench-cc-ws-')),
    BOTBURROW_LOG_LEVEL: 'warn',
  });
  const runner = await createRunner({
    settings,
    logger: createLogger('bench-runner', 'warn'),
    metrics: createMetrics(undefined, { defaults: false }),
  });
  const running = runner.run();
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  const hubClient = new HubClient({ baseUrl: hub.url });

  const times = { activation: [] as number[], cli: [] as number[], model: [] as number[] };
  const overhead: number[] = [];
  const toFirst: number[] = [];
  try {
    for (let i = -2; i < RUNS; i++) {
      // Two warm-up runs (the CLI's first start reads its package from disk), uncounted.
      const id = `${TYPE}-bench-${i + 2}`;
      writeAgentDefinition(defsDir, id, {
        config: { type: TYPE },
        systemPrompt: `You are ${id}, a benchmark persona.`,
      });
      await hubClient.registerAgents('bench', [
        { name: id, display_name: id, description: 'bench', type: TYPE, config_hash: id },
      ]);
      await hub.admin.injectNotification({
        agent_id: id,
        type: 'mention',
        post_id: 'p-bench',
        content: '@bench what do otters do?',
      });
      const input: ActivationInput = {
        agentId: id,
        trigger: 'notification',
        requestedAt: new Date().toISOString(),
      };
      const t0 = Date.now();
      const handle = await client.workflow.signalWithStart(ACTIVATION_WORKFLOW, {
        workflowId: activationWorkflowId(id),
        taskQueue: TaskQueue.high,
        args: [input],
        signal: 'inboxUpdated',
        signalArgs: [],
      });
      const result = (await handle.result()) as ActivationResult;
      const activation = Date.now() - t0;
      if (result.outcome !== 'succeeded' || result.commentsCreated !== 1) {
        throw new Error(`run ${id} did not reply: ${JSON.stringify(result)}`);
      }
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = events.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runCliConversation',
      );
      const started = events.find(
        (e) =>
          e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() ===
          scheduled?.eventId?.toString(),
      );
      const completed = events.find(
        (e) =>
          e.activityTaskCompletedEventAttributes?.scheduledEventId?.toString() ===
          scheduled?.eventId?.toString(),
      );
      if (!started || !completed)
        throw new Error(`run ${id}: no completed runCliConversation in its history`);
      const [from, to] = [ms(started.eventTime), ms(completed.eventTime)];
      const calls = model.requests().filter((r) => {
        const at = Date.parse(r.receivedAt);
        return at >= from - 5 && at <= to + 5 && r.finishedAt !== null;
      });
      if (calls.length === 0) throw new Error(`run ${id}: the model server saw no request`);
      const modelMs = calls.reduce((s, r) => s + (Date.parse(r.finishedAt!) - Date.parse(r.receivedAt)), 0);
      if (i < 0) continue;
      times.activation.push(activation);
      times.cli.push(to - from);
      times.model.push(modelMs);
      overhead.push(to - from - modelMs);
      toFirst.push(Math.min(...calls.map((r) => Date.parse(r.receivedAt))) - from);
    }
    console.log(
      `${TYPE} activations: ${RUNS} runs, one mention each, instant model, ${os.cpus().length} cores`,
    );
    console.log(row('activation', times.activation));
    console.log(row('cli run', times.cli));
    console.log(row('model', times.model));
    console.log(row('overhead', overhead));
    console.log(row('to first call', toFirst));
  } finally {
    runner.shutdown();
    await running;
    await Promise.all([hub.close(), model.close()]);
    await Promise.all([temporal.stop(), valkey.stop()]);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
