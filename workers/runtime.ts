/**
 * The Temporal runtime of a process: SDK and core logs routed into pino, and the SDK's own worker
 * metrics exported by core on a loopback port, which the ops server appends to `/metrics`. Core's
 * report of a failed workflow task goes to the runner's watch (workers/workflow-task-watch.ts).
 */
import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/worker';
import { freePort } from '../lib/net';
import type { Logger } from '../lib/logger';
import { CORE_WORKFLOW_TASK_FAILED, coreFailureMessage, workflowTaskFailures } from './workflow-task-watch';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The logger for `bundleWorkflowCode`, whose default prints plain text to the console: its lines go
 * through pino like everything else. Webpack's multi-line build report is at debug (the bundler's
 * own one-line "Workflow bundle created" stays at info).
 */
export function bundlerLogger(logger: Logger): DefaultLogger {
  const log = logger.child({ component: 'bundler' });
  return new DefaultLogger('DEBUG', (entry) => {
    const level = entry.level === 'INFO' && entry.message.includes('\n') ? 'debug' : LEVELS[entry.level];
    log[level]({ ...entry.meta }, entry.message);
  });
}

/** Installs the runtime once per process; returns a reader of the SDK's Prometheus text. */
export async function installTemporalRuntime(logger: Logger): Promise<() => Promise<string>> {
  const port = await freePort();
  const sdkLogger = logger.child({ component: 'temporal' });
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry) => {
      // A failed workflow task goes to the runner's watch, which logs it with the workflow id.
      const runId: unknown = entry.meta?.runId;
      if (entry.message === CORE_WORKFLOW_TASK_FAILED && typeof runId === 'string') {
        if (
          workflowTaskFailures.emit('failure', { runId, message: coreFailureMessage(entry.meta?.failure) })
        ) {
          sdkLogger.debug({ ...entry.meta }, entry.message);
          return;
        }
      }
      sdkLogger[LEVELS[entry.level]]({ ...entry.meta }, entry.message);
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      // `_total` on counters and seconds for durations: the names `promtool check metrics` accepts.
      metrics: {
        prometheus: {
          bindAddress: `127.0.0.1:${port}`,
          countersTotalSuffix: true,
          useSecondsForDurations: true,
        },
      },
    },
  });
  return async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return res.text();
  };
}
