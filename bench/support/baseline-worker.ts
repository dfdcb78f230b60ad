/**
 * The baseline worker process of bench/runner.ts: one worker with the runner's concurrency settings,
 * serving `baselineWorkflow` on `bench-baseline`. Listens on BENCH_BASELINE_PORT once it runs.
 */
import http from 'node:http';
import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadSettings } from '../../lib/config';

async function main(): Promise<void> {
  const settings = loadSettings();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: settings.temporalAddress });
  const worker = await Worker.create({
    connection,
    taskQueue: 'bench-baseline',
    workflowsPath: path.resolve(__dirname, 'baseline-workflow.ts'),
    activities: { noop: (i: number): Promise<number> => Promise.resolve(i) },
    maxConcurrentActivityTaskExecutions: settings.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: settings.maxConcurrentWorkflowTasks,
    maxCachedWorkflows: settings.maxCachedWorkflows,
  });
  const server = http
    .createServer((_req, res) => res.end('ok'))
    .listen(Number(process.env.BENCH_BASELINE_PORT));
  try {
    await worker.run();
  } finally {
    server.close();
    await connection.close();
  }
}

void main();
