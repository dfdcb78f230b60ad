/**
 * The stuck-workflow-task watch (workers/workflow-task-watch.ts) against a fake workflow service:
 * reasons from core's failure text, the log line with the workflow id, the counter, and the gauge
 * following the server's answer (still failing, recovered, closed, gone).
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../lib/metrics';
import {
  WorkflowTaskWatch,
  coreFailureMessage,
  failureReason,
  workflowTaskFailures,
} from '../../workers/workflow-task-watch';
import type { WorkflowTaskWatchOptions } from '../../workers/workflow-task-watch';

type Service = WorkflowTaskWatchOptions['service'];

interface RunState {
  workflowId: string;
  type: string;
  status: number;
  attempt: number;
  visibleAfter?: number;
}

function fakeService(runs: Map<string, RunState>): { service: Service; lookups: number[] } {
  const lookups: number[] = [];
  const service = {
    listWorkflowExecutions: ({ query }: { query: string }) => {
      const runId = /RunId = '([^']+)'/.exec(query)?.[1] ?? '';
      const r = runs.get(runId);
      lookups.push(Date.now());
      if (!r || (r.visibleAfter ?? 0) > Date.now()) return Promise.resolve({ executions: [] });
      return Promise.resolve({
        executions: [{ execution: { workflowId: r.workflowId, runId }, type: { name: r.type } }],
      });
    },
    describeWorkflowExecution: ({ execution }: { execution: { runId: string } }) => {
      const r = runs.get(execution.runId);
      if (!r) return Promise.reject(Object.assign(new Error('not found'), { code: 5 }));
      return Promise.resolve({
        workflowExecutionInfo: { status: r.status },
        pendingWorkflowTask: r.attempt > 0 ? { attempt: r.attempt } : null,
      });
    },
  };
  return { service: service as unknown as Service, lookups };
}

function setup(runs: Map<string, RunState>, lookupTimeoutMs = 2000) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaults: false });
  const { service, lookups } = fakeService(runs);
  const watch = new WorkflowTaskWatch({
    service,
    namespace: 'ns',
    logger: pino({ level: 'debug' }, sink),
    metrics,
    recheckMs: 60_000,
    lookupTimeoutMs,
  });
  const value = async (name: string, labels: Record<string, string>): Promise<number | undefined> => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    return m?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
  };
  const stuck = (workflowType: string) =>
    value('botburrow_stuck_workflow_tasks', { workflow_type: workflowType });
  return { watch, lines, value, stuck, lookups };
}

const NDE =
  'Failure { failure: Some(Failure { message: "[TMPRL1100] Nondeterminism error: Activity type of scheduled event \'a\' does not match \\"b\\"", source: "" }) }';

describe('workflow task failure text', () => {
  it('takes the message out of core’s Debug rendering', () => {
    expect(coreFailureMessage(NDE)).toBe(
      '[TMPRL1100] Nondeterminism error: Activity type of scheduled event \'a\' does not match "b"',
    );
    expect(coreFailureMessage('plain text')).toBe('plain text');
  });

  it('maps it to a bounded reason', () => {
    expect(failureReason(coreFailureMessage(NDE))).toBe('nondeterminism');
    expect(failureReason('Workflow task completion payloads too large')).toBe('payload_too_large');
    expect(failureReason('TypeError: cannot read properties of undefined')).toBe('workflow_error');
  });
});

describe('WorkflowTaskWatch', () => {
  it('logs the workflow id, counts the failure and holds the run as stuck while it keeps failing', async () => {
    const runs = new Map([
      ['r1', { workflowId: 'activation-a1', type: 'activationWorkflow', status: 1, attempt: 2 }],
    ]);
    const { watch, lines, value, stuck } = setup(runs);
    await watch.failed({ runId: 'r1', message: coreFailureMessage(NDE) });

    const line = lines.find((l) => String(l.msg).startsWith('workflow task failing'));
    expect(line).toMatchObject({
      level: 50,
      workflowId: 'activation-a1',
      runId: 'r1',
      workflowType: 'activationWorkflow',
      reason: 'nondeterminism',
      namespace: 'ns',
    });
    expect(String(line?.hint)).toMatch(/patched\(\)/);
    const failures = { workflow_type: 'activationWorkflow', reason: 'nondeterminism' };
    expect(await value('botburrow_workflow_task_failures_total', failures)).toBe(1);
    expect(await stuck('activationWorkflow')).toBe(1);

    runs.get('r1')!.attempt = 5;
    await watch.recheck();
    expect(
      lines.find((l) => l.msg === 'workflow task still failing: activation-a1, attempt 5'),
    ).toBeDefined();
    expect(await stuck('activationWorkflow')).toBe(1);

    // The fix deployed: the next attempt succeeded and no task is pending.
    runs.get('r1')!.attempt = 0;
    await watch.recheck();
    expect(watch.size).toBe(0);
    expect(lines.find((l) => l.msg === 'workflow task no longer failing')).toBeDefined();
    expect(await stuck('activationWorkflow')).toBeUndefined();
    watch.close();
  });

  it('lets go of runs that closed or are gone, and keeps the others', async () => {
    const runs = new Map<string, RunState>([
      ['r1', { workflowId: 'w1', type: 'activationWorkflow', status: 1, attempt: 3 }],
      ['r2', { workflowId: 'w2', type: 'activationWorkflow', status: 1, attempt: 3 }],
      ['r3', { workflowId: 'w3', type: 'skillSyncWorkflow', status: 1, attempt: 3 }],
    ]);
    const { watch, stuck } = setup(runs);
    for (const runId of ['r1', 'r2', 'r3']) await watch.failed({ runId, message: 'TypeError: boom' });
    expect(await stuck('activationWorkflow')).toBe(2);

    runs.get('r1')!.status = 7; // terminated
    runs.delete('r3'); // retention over: NOT_FOUND
    await watch.recheck();
    expect(watch.size).toBe(1);
    expect(await stuck('activationWorkflow')).toBe(1);
    expect(await stuck('skillSyncWorkflow')).toBeUndefined();
    watch.close();
  });

  it('waits for visibility to catch up, and logs by run id when the run never shows', async () => {
    const runs = new Map<string, RunState>([
      [
        'late',
        {
          workflowId: 'w-late',
          type: 'activationWorkflow',
          status: 1,
          attempt: 2,
          visibleAfter: Date.now() + 700,
        },
      ],
    ]);
    const { watch, lines, lookups } = setup(runs, 3000);
    await watch.failed({ runId: 'late', message: 'TypeError: boom' });
    expect(lookups.length).toBeGreaterThan(1);
    expect(lines.find((l) => l.workflowId === 'w-late')).toBeDefined();

    const quick = setup(new Map(), 600);
    await quick.watch.failed({ runId: 'ghost', message: 'TypeError: boom' });
    expect(
      quick.lines.find(
        (l) =>
          l.msg ===
          'workflow task failing: run ghost (workflow_error); Temporal retries it until it succeeds',
      ),
    ).toMatchObject({ runId: 'ghost', workflowType: 'unknown' });
    expect(await quick.value('botburrow_workflow_task_failures_total', { workflow_type: 'unknown' })).toBe(1);
    expect(quick.watch.size).toBe(0);
    watch.close();
    quick.watch.close();
  });

  it('follows the process-wide channel the runtime feeds, until closed', async () => {
    const runs = new Map([['r9', { workflowId: 'w9', type: 'activationWorkflow', status: 1, attempt: 2 }]]);
    const { watch, lines } = setup(runs);
    watch.listen();
    expect(workflowTaskFailures.emit('failure', { runId: 'r9', message: 'TypeError: boom' })).toBe(true);
    await expect.poll(() => lines.some((l) => l.workflowId === 'w9')).toBe(true);
    watch.close();
    expect(workflowTaskFailures.listenerCount('failure')).toBe(0);
  });
});
