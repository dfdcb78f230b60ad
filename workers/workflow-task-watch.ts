/**
 * Stuck workflow tasks made visible. A workflow task that fails — a non-deterministic change to the
 * workflow code, a completion too large for the server, workflow code that throws — is retried by
 * Temporal for as long as the run lives, and the SDK says so once: core logs "Failing workflow
 * task" with the run id only, on the task's first failed attempt (sdk-core, worker/workflow), and
 * lets later attempts time out silently. The run makes no progress and nothing else tells.
 *
 * The runtime's log forwarding (workers/runtime.ts) hands that line to `workflowTaskFailures`;
 * the watch of the runner that ran the task then
 * - finds the run's workflow id and type (visibility, by RunId) and logs them at error level with
 *   the failure and what to do,
 * - counts it in `botburrow_workflow_task_failures_total{workflow_type,reason}`,
 * - keeps asking the server about the run (DescribeWorkflowExecution) and holds
 *   `botburrow_stuck_workflow_tasks{workflow_type}` at the number of its runs whose workflow task
 *   keeps failing (from the failure on; each recheck logs the attempt at warn), until a task of the
 *   run succeeds or the run is closed (reset, terminated, timed out).
 * Only the first attempt is reported by core, and it runs on one runner, so each stuck run is held
 * by exactly one runner's gauge: `sum()` over runners counts stuck runs.
 */
import { EventEmitter } from 'node:events';
import { temporal } from '@temporalio/proto';
import type { NativeConnection } from '@temporalio/worker';
import type { Logger } from '../lib/logger';
import type { Metrics } from '../lib/metrics';

/** Core's message when it fails a workflow task (its fields: `runId`, `failure`). */
export const CORE_WORKFLOW_TASK_FAILED = 'Failing workflow task';

export interface WorkflowTaskFailure {
  runId: string;
  /** The failure's message, as far as core's log carries it. */
  message: string;
}

/**
 * Process-wide: the runtime's log forwarding emits `failure` here (the runtime is one per process,
 * the watch one per runner).
 */
export const workflowTaskFailures = new EventEmitter<{ failure: [WorkflowTaskFailure] }>();

export type WorkflowTaskFailureReason = 'nondeterminism' | 'payload_too_large' | 'workflow_error';

/** A bounded label from the failure text (core's TMPRL1100 code, the size causes). */
export function failureReason(message: string): WorkflowTaskFailureReason {
  if (/TMPRL1100|nondetermini/i.test(message)) return 'nondeterminism';
  if (/too large|exceeds? .*limit|PayloadsTooLarge|RequestTooLarge/i.test(message))
    return 'payload_too_large';
  return 'workflow_error';
}

/** The failure's message out of core's Debug rendering (`Failure { failure: Some(Failure { message: "…"`). */
export function coreFailureMessage(failure: unknown): string {
  const text = typeof failure === 'string' ? failure : JSON.stringify(failure ?? '');
  const m = /message: "((?:[^"\\]|\\.)*)"/.exec(text);
  return (m ? m[1]!.replace(/\\(.)/g, '$1') : text).slice(0, 2000);
}

const HINTS: Record<WorkflowTaskFailureReason, string> = {
  nondeterminism:
    'the workflow code no longer replays this run: roll the change back, or guard it with patched() ' +
    '(docs/deployment.md, Versioned deploys), or reset the run (temporal workflow reset)',
  payload_too_large:
    'a workflow task completion is over the server limit: find what the workflow puts in history ' +
    '(temporal workflow show) and keep it in Valkey instead',
  workflow_error:
    'the workflow code throws on this run: fix the code and deploy; the run resumes on the next attempt',
};

type WorkflowService = NativeConnection['workflowService'];

interface Watched {
  runId: string;
  workflowId: string;
  workflowType: string;
  reason: WorkflowTaskFailureReason;
}

export interface WorkflowTaskWatchOptions {
  service: WorkflowService;
  namespace: string;
  logger: Logger;
  metrics: Pick<Metrics, 'workflowTaskFailures' | 'stuckWorkflowTasks'>;
  /** How often watched runs are asked about; default 30 s. */
  recheckMs?: number;
  /** How long to look for a run in visibility before logging it by run id only; default 10 s. */
  lookupTimeoutMs?: number;
}

export class WorkflowTaskWatch {
  private readonly watched = new Map<string, Watched>();
  private readonly log: Logger;
  private readonly timer: NodeJS.Timeout;
  private readonly onFailure = (f: WorkflowTaskFailure): void => {
    this.failed(f).catch((err: unknown) =>
      this.log.error({ err, runId: f.runId }, 'workflow task failure not followed up'),
    );
  };

  constructor(private readonly o: WorkflowTaskWatchOptions) {
    this.log = o.logger.child({ component: 'workflow-task-watch' });
    this.timer = setInterval(() => void this.recheck(), o.recheckMs ?? 30_000);
    this.timer.unref();
  }

  /** Follows the process's core log of failed workflow tasks until `close()`. */
  listen(): this {
    workflowTaskFailures.on('failure', this.onFailure);
    return this;
  }

  close(): void {
    workflowTaskFailures.off('failure', this.onFailure);
    clearInterval(this.timer);
  }

  /** A workflow task of `runId` failed on this runner: log it by workflow id, count it, watch it. */
  async failed(f: WorkflowTaskFailure): Promise<void> {
    const reason = failureReason(f.message);
    const run = await this.findRun(f.runId);
    const workflowType = run?.workflowType ?? 'unknown';
    this.o.metrics.workflowTaskFailures.inc({ workflow_type: workflowType, reason });
    this.log.error(
      {
        workflowId: run?.workflowId,
        runId: f.runId,
        workflowType,
        namespace: this.o.namespace,
        reason,
        failure: f.message,
        hint: HINTS[reason],
      },
      `workflow task failing: ${run?.workflowId ?? `run ${f.runId}`} (${reason}); Temporal retries it until it succeeds`,
    );
    if (!run) return;
    this.watched.set(f.runId, { ...run, runId: f.runId, reason });
    this.updateGauge();
  }

  /** Asks the server about every watched run; the gauge follows. */
  async recheck(): Promise<void> {
    await Promise.all(
      [...this.watched.values()].map(async (w) => {
        try {
          const d = await this.o.service.describeWorkflowExecution({
            namespace: this.o.namespace,
            execution: { workflowId: w.workflowId, runId: w.runId },
          });
          const open =
            d.workflowExecutionInfo?.status ===
            temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
          const attempt = d.pendingWorkflowTask?.attempt ?? 0;
          if (!open || attempt <= 1) {
            this.watched.delete(w.runId);
            this.log.info(
              { workflowId: w.workflowId, runId: w.runId, workflowType: w.workflowType, open },
              open ? 'workflow task no longer failing' : 'run with a failing workflow task closed',
            );
          } else {
            this.log.warn(
              {
                workflowId: w.workflowId,
                runId: w.runId,
                workflowType: w.workflowType,
                reason: w.reason,
                attempt,
              },
              `workflow task still failing: ${w.workflowId}, attempt ${attempt}`,
            );
          }
        } catch (err) {
          if ((err as { code?: number }).code === 5 /* NOT_FOUND: retention ended */)
            this.watched.delete(w.runId);
          else
            this.log.warn({ err, workflowId: w.workflowId, runId: w.runId }, 'workflow task recheck failed');
        }
      }),
    );
    this.updateGauge();
  }

  private updateGauge(): void {
    this.o.metrics.stuckWorkflowTasks.reset();
    for (const w of this.watched.values())
      this.o.metrics.stuckWorkflowTasks.inc({ workflow_type: w.workflowType });
  }

  /** Runs this watch holds (tests, the ops view). */
  get size(): number {
    return this.watched.size;
  }

  private async findRun(runId: string): Promise<{ workflowId: string; workflowType: string } | undefined> {
    const deadline = Date.now() + (this.o.lookupTimeoutMs ?? 10_000);
    for (;;) {
      try {
        const res = await this.o.service.listWorkflowExecutions({
          namespace: this.o.namespace,
          query: `RunId = '${runId.replace(/[^\w-]/g, '')}'`,
          pageSize: 1,
        });
        const e = res.executions?.[0];
        if (e?.execution?.workflowId)
          return { workflowId: e.execution.workflowId, workflowType: e.type?.name ?? 'unknown' };
      } catch (err) {
        this.log.debug({ err, runId }, 'run lookup failed');
      }
      // Visibility trails the run's start by a moment.
      if (Date.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
