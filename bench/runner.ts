/**
 * Runner benchmarks on real components: their own Temporal dev server and Valkey, the Hub
 * simulator, the scripted model server, and ONE runner as a separate process (workers/runner.ts
 * with the prebuilt bundle, as deployed). Prints:
 *
 * 1. bundle: the workflow bundle build time.
 * 2. startup: the runner's time from process start to its first task (an activation queued before
 *    it started completes its first activity).
 * 3. density: activations inside a model call at the same moment (the model server holds each
 *    first call until all are inside, then answers after 2 s), the runner's RSS while all are inside
 *    and its peak RSS, with the runner's default slot and cache settings and the memory settings of
 *    k8s/base/runner-notification.yaml (target: 1000 at once within 512 MiB).
 * 4. throughput: activations per second with an instant model and three tool calls each, next to a
 *    bare Temporal baseline of the same regular/local activity mix — a minimal workflow on the same
 *    server, in the same run, on a worker process with the same settings — and their ratio
 *    (target ≥ 0.9; a bare workflow of as many regular activities is printed too). After a
 *    warm-up, activation and baseline batches alternate for `--rounds` rounds and the median ratio
 *    is the result; each batch prints the CPU seconds of every process (and per activation), the
 *    activation's Valkey commands (target ≤ 25) and its history: events and bytes (no regression
 *    from 44 events).
 *
 *   npx tsx bench/runner.ts [--density 1000] [--throughput 200] [--rounds 5] [--warmup 50] [--monitor FILE] [--tsx]
 *
 * The runner runs as the image runs it: compiled first (`tsc -p tsconfig.build.json` into dist/),
 * then `node dist/workers/runner.js` with NODE_ENV=production; `--tsx` runs the sources under tsx.
 *
 * `--monitor FILE` writes every Valkey command of the first round to FILE; BENCH_HISTORY_FILE=path
 * writes the history of one activation of each round there (JSON); BENCH_RUNNER_LOG=path keeps the
 * runner's output. Any BOTBURROW_* or MALLOC_* variable in the bench's environment is passed to the runner
 * (e.g. BOTBURROW_MAX_CACHED_WORKFLOWS=250 to measure another cache size).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { Redis } from 'ioredis';
import { writeAgentDefinition } from '../dev/agent-files';
import { createHubSimulator } from '../dev/hub-sim/server';
import type { HubSimulator } from '../dev/hub-sim/server';
import { createModelServer } from '../dev/model-server/server';
import type { ModelServer } from '../dev/model-server/server';
import type { Scenario } from '../dev/model-server/scenario';
import { startEntryProcess, startTemporal, startValkey, freePort, waitForPort } from '../dev/services';
import type { ServiceHandle } from '../dev/services';
import type { ActivationInput, ActivationResult } from '../lib/contract';
import {
  ACTIVATION_WORKFLOW,
  TaskQueue,
  activationSearchAttributes,
  activationWorkflowId,
} from '../lib/contract';
import { HubClient } from '../lib/hub/client';
import { buildWorkflowBundle } from '../scripts/build-bundle';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const script: Scenario = {
  name: 'bench',
  vars: { post_id: { from: 'first_user', pattern: 'post id ([\\w-]+)' } },
  rules: [
    { name: 'final', when: { tools: false }, reply: { text: 'NO_RESPONSE_NEEDED' } },
    {
      name: 'three-tools',
      when: { turn: 1 },
      reply: {
        toolCalls: [
          { name: 'hub_search', input: { query: 'bench', limit: 2 } },
          { name: 'hub_get_thread', input: { post_id: '{{post_id}}' } },
          { name: 'hub_post', input: { post_id: '{{post_id}}', content: 'bench reply' } },
        ],
      },
    },
    { name: 'done', when: {}, reply: { text: 'NO_RESPONSE_NEEDED' } },
  ],
};

interface World {
  hub: HubSimulator;
  model: ModelServer;
  client: Client;
  defsDir: string;
  env: Record<string, string>;
  /** `dist/workers/runner.js` as deployed, or `workers/runner.ts` under tsx (`--tsx`). */
  runnerEntry: string;
}

/** Resident memory of process `pid` in MiB: its peak so far (`VmHWM`) or now (`VmRSS`). */
function rssMiB(pid: number, which: 'VmHWM' | 'VmRSS' = 'VmHWM'): number {
  const m = new RegExp(`${which}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The first process under `handle` (itself or a descendant) whose command line matches. */
function descendantPid(handle: ServiceHandle, matches: (cmdline: string) => boolean): number {
  const children = (pid: number): number[] => {
    try {
      return fs
        .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  };
  const queue = [handle.process.pid!];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (matches(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '))) return pid;
    queue.push(...children(pid));
  }
  throw new Error('process not found under the service handle');
}

/** The runner's node process (the watchdog's child's child: watchdog → env → node). */
function nodePidOf(handle: ServiceHandle, entry = 'workers/runner.'): number {
  return descendantPid(handle, (cmd) => cmd.startsWith(process.execPath) && cmd.includes(entry));
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** Events of the standard activation's history when issue 22 was filed: not to grow. */
const HISTORY_EVENTS_BEFORE = 44;

/** Regular activities (scheduled events) and local activities (their markers) in a history. */
function activityCounts(history: { events?: proto.api.history.v1.IHistoryEvent[] | null }): {
  regular: number;
  local: number;
} {
  const events = history.events ?? [];
  return {
    regular: events.filter((e) => e.activityTaskScheduledEventAttributes).length,
    local: events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length,
  };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Calls per Valkey command since the server started (INFO commandstats). */
async function valkeyCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_(\S+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  return calls;
}

/** Target of Valkey commands per activation, counting those inside scripts (issue 22). */
const VALKEY_TARGET = 25;

/**
 * "52.0 (set 14.0, evalsha 7.0, …) (target ≤ 25: NOT met)": Valkey commands per activation between
 * two `valkeyCalls` readings. INFO commandstats counts the commands a script runs as well as the
 * EVALSHA itself.
 */
function perActivation(before: Map<string, number>, after: Map<string, number>, n: number): string {
  const rows = [...after]
    .map(([cmd, c]) => [cmd, (c - (before.get(cmd) ?? 0)) / n] as const)
    .filter(([cmd, c]) => c > 0 && cmd !== 'info')
    .sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((sum, [, c]) => sum + c, 0);
  return (
    `${total.toFixed(1)} (${rows.map(([cmd, c]) => `${cmd} ${c.toFixed(1)}`).join(', ')}) ` +
    `(target ≤ ${VALKEY_TARGET}: ${total <= VALKEY_TARGET ? 'met' : 'NOT met'})`
  );
}

/**
 * CPU seconds used by each named process between `start()` and the returned function's call, in
 * total and per workflow (`n` of them ran meanwhile).
 */
function cpuMeter(pids: Record<string, number>): (n: number) => string {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const selfBefore = process.cpuUsage();
  return (n) => {
    const self = process.cpuUsage(selfBefore);
    const used = Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid) - before[k]!] as const);
    used.push(['bench process (Hub simulator, model server, client)', (self.user + self.system) / 1e6]);
    const parts = used.map(([k, sec]) => `${k} ${sec.toFixed(1)} (${((sec / n) * 1000).toFixed(1)} ms each)`);
    return `CPU seconds: ${parts.join(', ')}`;
  };
}

/**
 * The memory settings of the runner Deployment (its NODE_OPTIONS: heap cap and young generation;
 * MALLOC_ARENA_MAX), so the bench runs the runner as deployed.
 */
function k8sMemoryEnv(): { NODE_OPTIONS: string; MALLOC_ARENA_MAX?: string } {
  const manifest = fs.readFileSync(path.join(__dirname, '../k8s/base/runner-notification.yaml'), 'utf8');
  const value = (name: string): string | undefined =>
    new RegExp(`- name: ${name}\\n\\s+value: "([^"]*)"`).exec(manifest)?.[1];
  const nodeOptions = value('NODE_OPTIONS');
  if (!nodeOptions?.includes('--max-old-space-size=')) {
    throw new Error('k8s/base/runner-notification.yaml sets no --max-old-space-size in NODE_OPTIONS');
  }
  const arenas = value('MALLOC_ARENA_MAX');
  return { NODE_OPTIONS: nodeOptions, ...(arenas !== undefined && { MALLOC_ARENA_MAX: arenas }) };
}

async function addAgents(w: World, prefix: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  for (const id of ids) writeAgentDefinition(w.defsDir, id);
  const hub = new HubClient({ baseUrl: w.hub.url });
  await hub.registerAgents(
    'bench',
    ids.map((id) => ({ name: id, display_name: id, description: 'bench', type: 'native', config_hash: id })),
  );
  // One thread per agent: every activation then reads and answers a thread of the same size (a
  // shared thread would grow with every reply and make later activations ever more expensive).
  for (const id of ids) {
    const post = await w.hub.admin.injectPost({
      id: `p-${id}`,
      author: { id: 'alice', name: 'Alice' },
      content: 'Benchmark thread.',
    });
    await w.hub.admin.injectNotification({
      agent_id: id,
      type: 'mention',
      post_id: post.id,
      content: 'bench?',
    });
  }
  return ids;
}

function activate(client: Client, agentId: string): Promise<ActivationResult> {
  const input: ActivationInput = { agentId, trigger: 'notification', requestedAt: new Date().toISOString() };
  return client.workflow
    .signalWithStart(ACTIVATION_WORKFLOW, {
      workflowId: activationWorkflowId(agentId),
      taskQueue: TaskQueue.high,
      args: [input],
      signal: 'inboxUpdated',
      signalArgs: [],
      // As the coordinator starts them.
      typedSearchAttributes: activationSearchAttributes(agentId, 'notification'),
    })
    .then((h) => h.result() as Promise<ActivationResult>);
}

/** BENCH_RUNNER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", for the runner and the baseline worker. */
function runnerNodeArgs(): string[] {
  return (process.env.BENCH_RUNNER_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

async function startRunner(
  w: World,
  extra: Record<string, string> = {},
): Promise<{ handle: ServiceHandle; port: number; startedAt: number }> {
  const port = await freePort();
  const startedAt = Date.now();
  const nodeArgs = runnerNodeArgs();
  const handle = startEntryProcess(
    'runner',
    w.runnerEntry,
    { ...w.env, BOTBURROW_METRICS_PORT: String(port), ...extra },
    { nodeArgs, ...(process.env.BENCH_RUNNER_LOG ? { logFile: process.env.BENCH_RUNNER_LOG } : {}) },
  );
  await waitForPort(port, 120_000);
  return { handle, port, startedAt };
}

async function main(): Promise<void> {
  const densityN = arg('density', 1000);
  const throughputN = arg('throughput', 200);
  const rounds = arg('rounds', 5);
  const k8sMemory = k8sMemoryEnv();
  const heapCapMiB = /--max-old-space-size=(\d+)/.exec(k8sMemory.NODE_OPTIONS)?.[1];
  const warmupN = arg('warmup', 50);
  const monitorAt = process.argv.indexOf('--monitor');
  const monitorFile = monitorAt >= 0 ? process.argv[monitorAt + 1] : undefined;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-bench-runner-'));
  const [temporal, valkey] = await Promise.all([startTemporal(), startValkey()]);
  const hub = await createHubSimulator({
    seed: { agents: [], posts: [] },
  });
  const model = await createModelServer({ script, instant: true });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const defsDir = path.join(tmp, 'defs');
  fs.mkdirSync(path.join(defsDir, 'agents'), { recursive: true });

  // 1. Bundle build time.
  const bundlePath = path.join(tmp, 'workflow-bundle.js');
  let t = Date.now();
  const bytes = await buildWorkflowBundle(bundlePath);
  console.log(`bundle: built in ${Date.now() - t} ms (${(bytes / 1024).toFixed(0)} KiB)`);
  // The runner runs compiled, as the image runs it (node dist/workers/runner.js, NODE_ENV=production);
  // --tsx runs the sources under tsx instead (no build, a larger heap).
  const tsx = process.argv.includes('--tsx');
  if (!tsx) {
    t = Date.now();
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: path.join(__dirname, '..'),
      stdio: 'inherit',
    });
    console.log(
      `compiled: tsc -p tsconfig.build.json in ${Date.now() - t} ms (the runner runs dist/workers/runner.js)`,
    );
  }

  const w: World = {
    hub,
    model,
    client,
    defsDir,
    runnerEntry: tsx ? 'workers/runner.ts' : 'dist/workers/runner.js',
    env: {
      ...(tsx ? {} : { NODE_ENV: 'production' }),
      PATH: process.env.PATH ?? '',
      HOME: os.tmpdir(),
      TEMPORAL_ADDRESS: temporal.address,
      BOTBURROW_REDIS_URL: valkey.url,
      BOTBURROW_HUB_URL: hub.url,
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: 'bench',
      BOTBURROW_AGENT_DEFINITIONS_PATH: defsDir,
      BOTBURROW_WORKFLOW_BUNDLE: bundlePath,
      BOTBURROW_LOG_LEVEL: 'warn',
      BOTBURROW_DAILY_TOKEN_LIMIT: '100000000',
      BOTBURROW_MONTHLY_COST_LIMIT: '100000',
      // Slots, sticky cache and workflow tasks: the runner's defaults (lib/config.ts), as deployed.
      BOTBURROW_RUNNER_MODE: process.env.BENCH_RUNNER_MODE ?? 'notification',
      // As in the k8s manifests: the heap cap keeps the garbage collector ahead of the memory budget.
      ...k8sMemory,
      ...(process.env.BENCH_NODE_OPTIONS !== undefined && { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS }),
      // A BOTBURROW_* or MALLOC_* variable of the bench's environment reaches the runner (to measure others).
      ...Object.fromEntries(
        Object.entries(process.env).filter(
          (e): e is [string, string] => /^(BOTBURROW_|MALLOC_)/.test(e[0]) && e[1] !== undefined,
        ),
      ),
    },
  };

  // 2. Startup: an activation is queued first, then the runner starts.
  const [first] = await addAgents(w, 'startup', 1);
  const firstResult = activate(client, first!);
  const runner = await startRunner(w);
  await firstResult;
  const history = await client.workflow.getHandle(activationWorkflowId(first!)).fetchHistory();
  const firstActivity = history.events?.find((e) => e.activityTaskStartedEventAttributes);
  const firstTaskAt =
    Number(firstActivity?.eventTime?.seconds ?? 0) * 1000 +
    Math.floor((firstActivity?.eventTime?.nanos ?? 0) / 1e6);
  console.log(
    `startup: first task ${firstTaskAt - runner.startedAt} ms after the runner process started (prebuilt bundle); ` +
      `peak RSS ${rssMiB(nodePidOf(runner.handle)).toFixed(0)} MiB after its first activation`,
  );

  // 3. Density: every first model call is held until all of them are inside the model at once
  // (this dev server starts activations far slower than a runner can take them), then each
  // answers after 2 s; count activations inside a model call at once.
  model.configure({
    instant: false,
    defaultDelayMs: Number(process.env.BENCH_MODEL_DELAY_MS ?? 2000),
    holdUntilInFlight: densityN,
    holdMaxMs: 300_000,
  });
  const densityAgents = await addAgents(w, 'dense', densityN);
  t = Date.now();
  const inFlightSamples: number[] = [];
  let open = 0;
  let peakOpen = 0;
  // The runner's RSS while every activation is inside its model call, apart from the peak of the
  // whole phase (which includes the burst of 1000 answers and replays afterwards).
  const runnerPid = nodePidOf(runner.handle);
  let rssAllInside = 0;
  const sampler = setInterval(() => {
    const inFlight = model.stats().inFlight;
    inFlightSamples.push(inFlight);
    if (inFlight >= densityN) rssAllInside = Math.max(rssAllInside, rssMiB(runnerPid, 'VmRSS'));
  }, 100);
  // The runner's main-isolate heap at its peak (its /metrics; the workflow thread's heap and native
  // memory are the rest of the RSS).
  let peakHeapMiB = 0;
  const heapSampler = setInterval(() => {
    fetch(`http://127.0.0.1:${runner.port}/metrics`)
      .then((r) => r.text())
      .then((text) => {
        const m = /^botburrow_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
        if (m) peakHeapMiB = Math.max(peakHeapMiB, Number(m[1]) / 1024 / 1024);
      })
      .catch(() => undefined);
  }, 250);
  const densityResults = await Promise.all(
    densityAgents.map(async (a) => {
      peakOpen = Math.max(peakOpen, ++open);
      try {
        return await activate(client, a);
      } finally {
        open--;
      }
    }),
  );
  clearInterval(sampler);
  clearInterval(heapSampler);
  model.configure({ holdUntilInFlight: 0 });
  const densityWall = Date.now() - t;
  const ok = densityResults.filter((r) => r.outcome === 'succeeded').length;
  const peakInFlight = Math.max(...inFlightSamples);
  const rss = rssMiB(nodePidOf(runner.handle));
  const densityMet = peakInFlight >= 1000 && rss <= 512;
  console.log(
    `density: ${densityN} activations (2 model calls of 2 s each), ${ok} succeeded in ${(densityWall / 1000).toFixed(1)} s; ` +
      `${peakOpen} activations open at once, peak ${peakInFlight} of them inside a model call; runner peak RSS ${rss.toFixed(0)} MiB ` +
      `(main heap peak ${peakHeapMiB.toFixed(0)} MiB; ${rssAllInside.toFixed(0)} MiB while all ${densityN} were inside) ` +
      `with NODE_OPTIONS "${w.env.NODE_OPTIONS}", MALLOC_ARENA_MAX ${w.env.MALLOC_ARENA_MAX ?? 'unset'}, ` +
      `cache ${w.env.BOTBURROW_MAX_CACHED_WORKFLOWS ?? 'default'} (k8s: heap cap ${heapCapMiB} MiB) (target ≥ 1000 inside a model call at once within 512 MiB: ${densityMet ? 'met' : 'NOT met'})`,
  );

  if (throughputN === 0) {
    await finish();
    return;
  }
  // 4. Throughput: instant model, three tool calls per activation, next to the baseline — a bare
  // workflow with the same number of no-op activities, on a worker process with the same settings,
  // on the same server. Both workers stay up and the two alternate for a few rounds, so a slower or
  // faster spell of the machine does not fall on one side only; the median ratio is the result.
  model.configure({ instant: true, defaultDelayMs: 0 });
  const temporalPid = descendantPid(temporal, (cmd) => /^\S*temporal\S* server start-dev/.test(cmd));
  const valkeyPid = descendantPid(valkey, (cmd) => /^\S*(valkey|redis)-server/.test(cmd));
  const baselinePort = await freePort();
  const baseline = startEntryProcess(
    'baseline',
    'bench/support/baseline-worker.ts',
    { ...w.env, BENCH_BASELINE_PORT: String(baselinePort) },
    { nodeArgs: runnerNodeArgs() },
  );
  await waitForPort(baselinePort, 120_000);
  const redis = new Redis(valkey.url);
  // Warm-up, not counted: both workers compile their hot paths before the measured rounds.
  if (warmupN > 0) {
    const warm = await addAgents(w, 'warm', warmupN);
    await Promise.all(warm.map((a) => activate(client, a)));
    await Promise.all(
      Array.from({ length: warmupN }, (_, i) =>
        client.workflow.execute('baselineWorkflow', {
          taskQueue: 'bench-baseline',
          workflowId: `baseline-warmup-${i}`,
          args: [5, 5],
        }),
      ),
    );
    console.log(`warm-up: ${warmupN} activations and ${warmupN} baseline workflows (not counted)`);
  }
  const ratios: { allRegular: number; sameMix: number }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const tpAgents = await addAgents(w, `tp${round}`, throughputN);
    const meter = cpuMeter({ runner: nodePidOf(runner.handle), temporal: temporalPid, valkey: valkeyPid });
    const callsBefore = await valkeyCalls(redis);
    // --monitor FILE: every Valkey command of the first round, one line each (where they go).
    const monitor = round === 1 && monitorFile ? await redis.monitor() : undefined;
    const monitored: string[] = [];
    monitor?.on('monitor', (_time: string, args: string[]) => monitored.push(args.join(' ').slice(0, 200)));
    t = Date.now();
    const tpResults = await Promise.all(tpAgents.map((a) => activate(client, a)));
    if (monitor) {
      monitor.disconnect();
      fs.writeFileSync(monitorFile!, monitored.join('\n') + '\n');
      console.log(`  Valkey commands of round 1 written to ${monitorFile} (${monitored.length} lines)`);
    }
    const tpWall = (Date.now() - t) / 1000;
    const tpOk = tpResults.filter((r) => r.outcome === 'succeeded').length;
    const tpHistory = await client.workflow.getHandle(activationWorkflowId(tpAgents[0]!)).fetchHistory();
    const { regular, local } = activityCounts(tpHistory);
    const rate = throughputN / tpWall;
    console.log(
      `throughput #${round}: ${throughputN} activations (${tpOk} succeeded, ${regular + local} activities each: ` +
        `${regular} regular, ${local} local) in ${tpWall.toFixed(1)} s = ${rate.toFixed(1)} activations/s`,
    );
    console.log(`  ${meter(throughputN)}`);
    const events = tpHistory.events?.length ?? 0;
    const bytes = proto.api.history.v1.History.encode(tpHistory).finish().length;
    if (process.env.BENCH_HISTORY_FILE)
      fs.writeFileSync(process.env.BENCH_HISTORY_FILE, JSON.stringify(tpHistory));
    const byType = new Map<string, number>();
    for (const e of tpHistory.events ?? []) {
      const name = (proto.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType))
        .replace(/^EVENT_TYPE_/, '')
        .toLowerCase();
      byType.set(name, (byType.get(name) ?? 0) + 1);
    }
    console.log(
      `  history per activation: ${events} events, ${(bytes / 1024).toFixed(1)} KiB ` +
        `(target ≤ ${HISTORY_EVENTS_BEFORE} events, no regression: ${events <= HISTORY_EVENTS_BEFORE ? 'met' : 'NOT met'}; ` +
        `${[...byType].map(([k, n]) => `${k} ${n}`).join(', ')})`,
    );
    console.log(
      `  Valkey commands per activation: ${perActivation(callsBefore, await valkeyCalls(redis), throughputN)}`,
    );
    const allRegular = await baselineRound(`all-regular-${round}`, regular + local, 0);
    const sameMix = await baselineRound(`same-mix-${round}`, regular, local);
    ratios.push({ allRegular: rate / allRegular, sameMix: rate / sameMix });
    console.log(
      `  ratio ${(rate / allRegular).toFixed(2)} to the baseline; ${(rate / sameMix).toFixed(2)} to the same mix`,
    );
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const headline = median(ratios.map((r) => r.sameMix));
  console.log(
    `throughput ratio to a bare workflow with the same regular/local mix: median ${headline.toFixed(2)} of ` +
      `${ratios.map((r) => r.sameMix.toFixed(2)).join(', ')} (target ≥ 0.9: ${headline >= 0.9 ? 'met' : 'NOT met'})`,
  );
  console.log(
    `throughput ratio to a bare workflow with as many regular activities: median ` +
      `${median(ratios.map((r) => r.allRegular)).toFixed(2)} of ${ratios.map((r) => r.allRegular.toFixed(2)).join(', ')}`,
  );

  /** Runs `throughputN` baseline workflows at once; resolves to workflows per second. */
  async function baselineRound(name: string, regular: number, local: number): Promise<number> {
    const meter = cpuMeter({
      'baseline worker': nodePidOf(baseline, 'baseline-worker.ts'),
      temporal: temporalPid,
      valkey: valkeyPid,
    });
    const started = Date.now();
    await Promise.all(
      Array.from({ length: throughputN }, (_, i) =>
        client.workflow.execute('baselineWorkflow', {
          taskQueue: 'bench-baseline',
          workflowId: `baseline-${name}-${i}`,
          args: [regular, local],
        }),
      ),
    );
    const wall = (Date.now() - started) / 1000;
    const baseRate = throughputN / wall;
    console.log(
      `  baseline (${regular} regular, ${local} local no-op activities): ${throughputN} workflows in ` +
        `${wall.toFixed(1)} s = ${baseRate.toFixed(1)} workflows/s`,
    );
    console.log(`    ${meter(throughputN)}`);
    return baseRate;
  }
  redis.disconnect();
  await baseline.stop();
  await finish();

  async function finish(): Promise<void> {
    await runner.handle.stop(30_000);
    await connection.close();
    await Promise.all([hub.close(), model.close()]);
    await Promise.all([temporal.stop(), valkey.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
