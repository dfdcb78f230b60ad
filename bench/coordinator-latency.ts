/**
 * Coordinator latency benchmark on real components: its own Temporal dev server and Valkey, the Hub
 * simulator, the scripted model server, and a runner (workers/runner.ts, prebuilt bundle) and the
 * coordinator (workers/coordinator.ts) as separate processes, exactly as deployed.
 *
 *   npx tsx bench/coordinator-latency.ts [--notifications 500] [--gap-ms 20] [--replies 200]
 *     [--reply-gap-ms 100] [--agents 1000] [--runner-during-starts 0|1]
 *
 * 1. Notification → activation start: notifications are injected one by one (`--gap-ms` apart;
 *    20 ms = 50 notifications/s), each for an agent without a running activation; the latency of
 *    each is the Temporal start time of the activation it caused minus the moment it was injected
 *    (same host clock). Prints p50, p90, p99 and max (targets: p50 < 30 ms, p99 < 100 ms). With
 *    `--runner-during-starts 0` the runner starts only after this part, so the machine's cores are
 *    not also running the activations (on 2 cores, 50 activations/s end to end saturate the
 *    Temporal dev server by themselves: about 46 ms of its CPU each, bench/runner.ts).
 *    The injection rate must stay below what this Temporal can start (printed first as "ceiling",
 *    measured by calling signal-with-start directly): above it, starts queue up in Temporal itself.
 * 1b. Notification → reply visible on the Hub: notifications on a post each (`--reply-gap-ms`
 *    apart), an instant model that answers with text and no tools; the latency of each is the
 *    reply comment's creation time at the Hub minus the injection (targets: p50 < 300 ms,
 *    p99 < 1 s).
 * 2. Scheduling 1000 agents: with the coordinator stopped and the runner gone (so only scheduling is
 *    measured), 1000 agents get a notification each; a coordinator is started and the time from its
 *    'leadership acquired' log line to the last of the 1000 activations starting is printed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { writeAgentDefinition } from '../dev/agent-files';
import { createHubSimulator } from '../dev/hub-sim/server';
import { createModelServer } from '../dev/model-server/server';
import { freePort, startEntryProcess, startTemporal, startValkey, waitForPort } from '../dev/services';
import type { ServiceHandle } from '../dev/services';
import { activationWorkflowId } from '../lib/contract';
import { forEachLimit } from '../lib/coordinator/scheduler';
import { createTemporalStarter } from '../lib/coordinator/temporal-starter';
import { buildWorkflowBundle } from '../scripts/build-bundle';

const ROOT = path.resolve(__dirname, '..');

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Proc {
  stop(): Promise<void>;
  acquiredAt(): Promise<number>;
}

function startCoordinator(env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/coordinator.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logFile = process.env.BENCH_COORDINATOR_LOG;
  if (logFile) child.stdout.pipe(fs.createWriteStream(logFile, { flags: 'a' }));
  let acquired: number | undefined;
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    buf += c;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const l = JSON.parse(line) as { msg: string; time: string };
        if (l.msg === 'leadership acquired') acquired = Date.parse(l.time);
      } catch {
        /* not JSON */
      }
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
    async acquiredAt() {
      while (acquired === undefined) await sleep(10);
      return acquired;
    },
  };
}

async function main(): Promise<void> {
  const notifications = arg('notifications', 500);
  const gapMs = arg('gap-ms', 20);
  const replies = arg('replies', 200);
  const replyGapMs = arg('reply-gap-ms', 100);
  const bulk = arg('agents', 1000);
  const runnerDuringStarts = arg('runner-during-starts', 1) !== 0;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    // Restarting Temporal on purpose: the core's retry warnings are expected noise here.
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-bench-coord-'));
  const [temporal, valkey, model] = await Promise.all([
    startTemporal({ logFile: path.join(dir, 'temporal.log') }),
    startValkey({ logFile: path.join(dir, 'valkey.log') }),
    createModelServer({
      script: {
        name: 'bench',
        rules: [{ name: 'reply', when: { system: 'replier' }, reply: { text: 'bench reply' } }],
        fallback: { text: 'NO_RESPONSE_NEEDED' },
      },
      instant: true,
    }),
  ]);
  const latencyAgents = Array.from({ length: notifications }, (_, i) => `lat-${i}`);
  const bulkAgents = Array.from({ length: bulk }, (_, i) => `bulk-${i}`);
  const replyAgents = Array.from({ length: replies }, (_, i) => `reply-${i}`);
  const hub = await createHubSimulator({
    seed: {
      agents: [...latencyAgents, ...bulkAgents, ...replyAgents].map((id) => ({ id })),
      posts: replyAgents.map((id) => ({
        id: `p-${id}`,
        author: { id: 'alice', name: 'Alice' },
        content: 'Reply bench thread.',
      })),
    },
  });
  for (const id of [...latencyAgents, ...bulkAgents]) {
    writeAgentDefinition(path.join(dir, 'defs'), id, {
      config: { brain: { max_tokens: 300 }, behavior: { max_iterations: 2 } },
    });
  }
  for (const id of replyAgents) {
    writeAgentDefinition(path.join(dir, 'defs'), id, {
      config: { brain: { max_tokens: 300 }, behavior: { max_iterations: 2 } },
      systemPrompt: 'You are a replier: you answer every mention.',
    });
  }
  const env: Record<string, string> = {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: 'default',
    BOTBURROW_REDIS_URL: valkey.url,
    BOTBURROW_HUB_URL: hub.url,
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'bench',
    BOTBURROW_AGENT_DEFINITIONS_PATH: path.join(dir, 'defs'),
    BOTBURROW_SHUTDOWN_GRACE: '2',
    BOTBURROW_LOG_LEVEL: process.env.BENCH_COORDINATOR_LOG ? 'debug' : 'info',
    BOTBURROW_METRICS_PORT: '0',
    // Exploration is not measured here: keep every agent fresh enough not to be explored.
    BOTBURROW_MIN_ACTIVATION_INTERVAL: '86400',
  };
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  // The runner in a process of its own (prebuilt bundle), as deployed: in this process its work
  // would delay the Hub simulator's answers and the injection clock.
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  await buildWorkflowBundle(bundlePath);
  const startRunner = async (): Promise<ServiceHandle> => {
    const port = await freePort();
    const handle = startEntryProcess('runner', 'workers/runner.ts', {
      ...env,
      BOTBURROW_WORKFLOW_BUNDLE: bundlePath,
      BOTBURROW_METRICS_PORT: String(port),
      BOTBURROW_LOG_LEVEL: 'warn',
    });
    await waitForPort(port, 120_000);
    return handle;
  };
  // --runner-during-starts 0: the activations of part 1 wait for a runner started after it, so
  // only the path notification → start shares the machine (runners run elsewhere when deployed).
  let runner = runnerDuringStarts ? await startRunner() : undefined;

  try {
    // 0. What this Temporal dev server can do at all: direct signal-with-start, 32 in flight.
    const starter = createTemporalStarter(client);
    const probeIds = Array.from({ length: 200 }, (_, i) => `ceiling-${i}`);
    const probeStart = Date.now();
    await forEachLimit(probeIds, 32, (id) => starter.signalNotification(id, new Date().toISOString()));
    const ceiling = (probeIds.length / (Date.now() - probeStart)) * 1000;
    console.log(
      `ceiling: this Temporal dev server takes ${ceiling.toFixed(0)} signal-with-starts/s (direct, 32 in flight)`,
    );
    await forEachLimit(probeIds, 32, async (id) => {
      // The runner may have finished it already.
      await client.workflow
        .getHandle(activationWorkflowId(id))
        .terminate('bench probe')
        .catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        });
    });

    // 1. Latency.
    let coordinator = startCoordinator(env);
    await coordinator.acquiredAt();
    await sleep(500);
    const injectedAt = new Map<string, number>();
    for (const id of latencyAgents) {
      injectedAt.set(id, Date.now());
      await hub.admin.injectNotification({ agent_id: id, content: 'bench' });
      await sleep(gapMs);
    }
    // The first run of each agent is the one its notification started (a later run can follow
    // when a poll answer raced with the end of the first one).
    const latencies: number[] = [];
    let runs = 0;
    await forEachLimit(latencyAgents, 16, async (id) => {
      for (let attempt = 0; ; attempt++) {
        const starts: number[] = [];
        for await (const w of client.workflow.list({ query: `WorkflowId = "${activationWorkflowId(id)}"` })) {
          starts.push(w.startTime.getTime());
        }
        if (starts.length > 0) {
          latencies.push(Math.min(...starts) - injectedAt.get(id)!);
          runs += starts.length;
          return;
        }
        if (attempt > 100) throw new Error(`no activation of ${id}`);
        await sleep(100);
      }
    });
    latencies.sort((a, b) => a - b);
    const p = (q: number): string => `${percentile(latencies, q).toFixed(0)} ms`;
    const startMet = percentile(latencies, 50) < 30 && percentile(latencies, 99) < 100;
    console.log(
      `notification → activation start over ${latencies.length} notifications (${gapMs} ms apart, ` +
        `${(1000 / gapMs).toFixed(0)}/s): p50 ${p(50)}, p90 ${p(90)}, p99 ${p(99)}, max ${p(100)} ` +
        `(targets: p50 < 30 ms, p99 < 100 ms: ${startMet ? 'met' : 'NOT met'}); ` +
        `${runs} activation runs for ${latencyAgents.length} agents`,
    );
    runner ??= await startRunner();
    const handledBy = Date.now() + 120_000;
    let unread = -1;
    while (unread !== 0 && Date.now() < handledBy) {
      unread = (await hub.admin.notifications()).filter((n) => !n.read).length;
      if (unread > 0) await sleep(250);
    }
    console.log(`notifications still unread after the activations ran: ${unread}`);

    // 1b. Notification → reply visible on the Hub (instant model, text answer, no tools).
    if (replies > 0) {
      const replyInjectedAt = new Map<string, number>();
      for (const id of replyAgents) {
        replyInjectedAt.set(id, Date.now());
        await hub.admin.injectNotification({
          agent_id: id,
          type: 'mention',
          post_id: `p-${id}`,
          content: 'bench?',
        });
        await sleep(replyGapMs);
      }
      const replyLatencies: number[] = [];
      await forEachLimit(replyAgents, 8, async (id) => {
        for (let attempt = 0; ; attempt++) {
          const reply = (await hub.admin.activity(id)).comments[0];
          if (reply) {
            replyLatencies.push(Date.parse(reply.created_at) - replyInjectedAt.get(id)!);
            return;
          }
          if (attempt > 300) throw new Error(`no reply by ${id}`);
          await sleep(100);
        }
      });
      replyLatencies.sort((a, b) => a - b);
      const r = (q: number): string => `${percentile(replyLatencies, q).toFixed(0)} ms`;
      const replyMet = percentile(replyLatencies, 50) < 300 && percentile(replyLatencies, 99) < 1000;
      console.log(
        `notification → reply visible on the Hub over ${replyLatencies.length} notifications (${replyGapMs} ms ` +
          `apart, instant model, no tools): p50 ${r(50)}, p90 ${r(90)}, p99 ${r(99)}, max ${r(100)} ` +
          `(targets: p50 < 300 ms, p99 < 1000 ms: ${replyMet ? 'met' : 'NOT met'})`,
      );
    }
    await coordinator.stop();

    // 2. Scheduling 1000 agents at once (runner gone: only scheduling is measured).
    await runner.stop();
    runner = undefined;
    await forEachLimit(bulkAgents, 50, async (id) => {
      await hub.admin.injectNotification({ agent_id: id, content: 'bulk' });
    });
    coordinator = startCoordinator(env);
    const leadAt = await coordinator.acquiredAt();
    const starts: number[] = [];
    await forEachLimit(bulkAgents, 50, async (id) => {
      for (let attempt = 0; ; attempt++) {
        try {
          const d = await client.workflow.getHandle(activationWorkflowId(id)).describe();
          starts.push(d.startTime.getTime());
          return;
        } catch (err) {
          if (attempt > 600) throw err;
          await sleep(100);
        }
      }
    });
    const last = Math.max(...starts);
    console.log(
      `scheduling ${starts.length} agents with notifications: last activation started ${last - leadAt} ms after ` +
        `the coordinator became leader (${((starts.length / (last - leadAt)) * 1000).toFixed(0)} agents/s)`,
    );
    await coordinator.stop();
  } finally {
    if (runner) await Promise.race([runner.stop(), sleep(5000)]);
    await connection.close();
    await Promise.allSettled([hub.close(), model.close(), temporal.stop(), valkey.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
