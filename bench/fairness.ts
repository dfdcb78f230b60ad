/**
 * Fairness benchmark on a real Temporal dev server (started here with the local run's dynamic
 * config): one busy agent floods a task queue whose worker has few activity slots, and a quiet
 * agent's activations are started one after another meanwhile. Each activation's start delay is
 * the moment its first activity starts minus the moment it was started (same host clock).
 *
 *   npx tsx bench/fairness.ts [--busy 600] [--quiet 20] [--slots 4] [--work-ms 50] [--partitions 1]
 *     [--settle-ms 500]   (how long the flood stands before the quiet runs start)
 *     [--eager N]          (maxEagerActivityReservationsPerWorkflowTask; default: the runner's)
 *     [--sticky-ratio R]   (nonStickyToStickyPollRatio; default: the runner's)
 *
 * Three rounds, each on its own task queue: the quiet agent alone (idle queue), then the flood
 * without fairness keys (what a plain FIFO queue does), then the flood with the priority and
 * fairness keys of lib/priority.ts. Target: with fairness keys, the quiet agent's p95 start delay
 * is at most 2× its p95 on the idle queue.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Priority } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { startTemporal } from '../dev/services';
import { activationPriority } from '../lib/priority';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const out = (s: string): boolean => process.stdout.write(`${s}\n`);

/** Where a run's start delay went: the first workflow task's wait and its activity's wait. */
async function phases(h: WorkflowHandle): Promise<string> {
  const events = (await h.fetchHistory()).events ?? [];
  const t = (i: number): number => {
    const ts = events[i]?.eventTime;
    return ts ? Number(ts.seconds) * 1000 + Math.round((ts.nanos ?? 0) / 1e6) : NaN;
  };
  const idx = (type: string): number =>
    events.findIndex(
      (e) => e.eventType === (temporal.api.enums.v1.EventType as unknown as Record<string, number>)[type],
    );
  const wft = t(idx('EVENT_TYPE_WORKFLOW_TASK_STARTED')) - t(0);
  const act = t(idx('EVENT_TYPE_ACTIVITY_TASK_STARTED')) - t(idx('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED'));
  return `(workflow task wait ${wft} ms, activity wait ${act} ms)`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Round {
  name: string;
  busy: number;
  priority: (agentId: string) => Priority | undefined;
}

async function main(): Promise<void> {
  const busy = arg('busy', 600);
  const quiet = arg('quiet', 20);
  const slots = arg('slots', 4);
  const workMs = arg('work-ms', 50);
  const quietGapMs = arg('quiet-gap-ms', 200);
  const settleMs = arg('settle-ms', 500);
  const eager = process.argv.includes('--eager') ? arg('eager', 3) : undefined;
  const stickyRatio = process.argv.includes('--sticky-ratio') ? arg('sticky-ratio', 0.2) : undefined;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-bench-fairness-'));
  // The local run's one partition per queue by default; --partitions 4 is Temporal's default.
  const partitions = arg('partitions', 1);
  const server = await startTemporal({
    logFile: path.join(dir, 'temporal.log'),
    dynamicConfig: {
      'matching.numTaskqueueReadPartitions': partitions,
      'matching.numTaskqueueWritePartitions': partitions,
    },
  });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: server.address });
  const rounds: Round[] = [
    { name: 'idle queue', busy: 0, priority: () => undefined },
    { name: 'flood, no fairness keys', busy, priority: () => undefined },
    {
      name: 'flood, fairness keys',
      busy,
      priority: (agentId) => activationPriority(agentId, 'notification'),
    },
  ];
  const results: { name: string; p50: number; p95: number; max: number; busyLeft: number }[] = [];
  try {
    for (const [n, round] of rounds.entries()) {
      const taskQueue = `bench-fairness-${n}`;
      const worker = await Worker.create({
        connection: native,
        taskQueue,
        workflowsPath: path.resolve(__dirname, '../test/support/workflows/queue-probe.ts'),
        activities: {
          work: async (): Promise<number> => {
            const at = Date.now();
            await sleep(workMs);
            return at;
          },
        },
        maxConcurrentActivityTaskExecutions: slots,
        ...(eager !== undefined && { maxEagerActivityReservationsPerWorkflowTask: eager }),
        ...(stickyRatio !== undefined && { nonStickyToStickyPollRatio: stickyRatio }),
      });
      await worker.runUntil(async () => {
        const start = (id: string, agentId: string) => {
          const priority = round.priority(agentId);
          return client.workflow.start('queueProbeWorkflow', {
            workflowId: id,
            taskQueue,
            ...(priority ? { priority } : {}),
          });
        };
        // The flood: every busy activation at once (ids differ; the agent, and so its key, is one).
        const busyHandles = await Promise.all(
          Array.from({ length: round.busy }, (_, i) => start(`busy-${n}-${i}`, 'busy-agent')),
        );
        // The worker is saturated and the backlog stands; the flood's own start burst has passed.
        if (round.busy > 0) await sleep(settleMs);
        // The quiet agent's activations arrive at a steady pace while the backlog stands.
        const quietRuns = [];
        for (let i = 0; i < quiet; i++) {
          const requested = Date.now();
          quietRuns.push(
            start(`quiet-${n}-${i}`, 'quiet-agent').then(async (h) => ({
              startedAt: (await h.result()) as number,
              requested,
              parts: await phases(h),
            })),
          );
          await sleep(quietGapMs);
        }
        const done = await Promise.all(quietRuns);
        const delays = done.map((d) => d.startedAt - d.requested);
        if (process.env.BENCH_VERBOSE)
          for (const d of done) out(`    ${round.name}: ${d.startedAt - d.requested} ms ${d.parts}`);
        // How much of the flood was still waiting when the quiet agent's last activation started.
        const quietLast = Math.max(...done.map((d) => d.startedAt));
        const busyStarts = (await Promise.all(busyHandles.map((h) => h.result()))) as number[];
        const busyLeft = busyStarts.filter((t) => t > quietLast).length;
        delays.sort((a, b) => a - b);
        results.push({
          name: round.name,
          p50: percentile(delays, 50),
          p95: percentile(delays, 95),
          max: delays[delays.length - 1]!,
          busyLeft,
        });
      });
    }
  } finally {
    await native.close();
    await connection.close();
    await server.stop();
  }
  out(`fairness: ${busy} busy-agent activations vs ${quiet} quiet-agent ones, ${slots} slots × ${workMs} ms`);
  for (const r of results) {
    out(
      `  ${r.name.padEnd(26)} quiet start delay p50 ${r.p50} ms, p95 ${r.p95} ms, max ${r.max} ms` +
        (r.busyLeft > 0 ? ` (busy still waiting after the last quiet start: ${r.busyLeft}/${busy})` : ''),
    );
  }
  const idle = results[0]!.p95;
  const fair = results[2]!.p95;
  const limit = Math.max(1, 2 * idle);
  out(
    `  target: quiet p95 with fairness keys ≤ 2 × idle p95 (${limit} ms): ${fair} ms — ${fair <= limit ? 'met' : 'not met'}`,
  );
  out(
    `  without fairness keys: ${results[1]!.p95} ms (${(results[1]!.p95 / Math.max(1, idle)).toFixed(1)} × idle)`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
