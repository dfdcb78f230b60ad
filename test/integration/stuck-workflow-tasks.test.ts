/**
 * A deliberately non-deterministic workflow change, deployed to a real runner process: a run
 * started on the first version (stuck-probe.ts, on an in-test worker) is picked up after a signal by
 * a runner whose bundle has the broken twin (stuck-probe-nondeterministic.ts). Every workflow task of
 * the run fails; within a minute the runner's log names the workflow id and reason, and its
 * `/metrics` count the failure and show the run as stuck (workers/workflow-task-watch.ts).
 */
import os from 'node:os';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskQueue } from '../../lib/contract';
import { buildWorkflowBundle } from '../../scripts/build-bundle';
import { services, unique } from '../support/env';
import type { TestProcess } from '../support/processes';
import { startRunnerProcess } from '../support/processes';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const WORKFLOWS = path.resolve(__dirname, '../support/workflows');

interface LogLine {
  msg?: string;
  level?: string;
  workflowId?: string;
  runId?: string;
  workflowType?: string;
  reason?: string;
  failure?: string;
  port?: number;
}

function logLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return {};
      }
    });
}

describe('stuck workflow tasks', () => {
  let stack: ActivationStack;
  let runner: TestProcess | undefined;
  const bundlePath = path.join(os.tmpdir(), `bb-bundle-stuck-${process.pid}.js`);

  beforeAll(async () => {
    await buildWorkflowBundle(bundlePath, path.join(WORKFLOWS, 'stuck-probe-nondeterministic.ts'));
    stack = await startStack({
      script: { name: 'stuck', rules: [], fallback: { text: 'NO_RESPONSE_NEEDED' } },
      env: { BOTBURROW_WORKFLOW_BUNDLE: bundlePath },
    });
  });
  afterAll(async () => {
    runner?.signal('SIGKILL');
    await runner?.exited;
    await stack?.stop();
    await rm(bundlePath, { force: true });
  });

  it('names the workflow in the log and counts it in the metrics within a minute', async () => {
    const workflowId = unique('stuck');
    // Version 1 starts the run and leaves it waiting for the signal.
    const native = await NativeConnection.connect({ address: services().temporalAddress });
    const v1 = await Worker.create({
      connection: native,
      namespace: stack.namespace,
      taskQueue: TaskQueue.high,
      workflowsPath: path.join(WORKFLOWS, 'stuck-probe.ts'),
    });
    const handle = await v1.runUntil(async () => {
      const h = await stack.client.workflow.start('stuckProbeWorkflow', {
        taskQueue: TaskQueue.high,
        workflowId,
      });
      // The first workflow task completed (its timer started): the run waits for `poke`.
      for (;;) {
        const d = await h.describe();
        if (d.historyLength >= 5) return h;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    await native.close();

    // Version 2 — the broken change — is what the runner now runs.
    runner = await startRunnerProcess(stack.env);
    const opsPort = (await waitForLine(runner, (l) => l.msg === 'ops server listening')).port;
    const signalled = Date.now();
    await handle.signal('poke');

    const failing = await waitForLine(
      runner,
      (l) => l.msg?.startsWith('workflow task failing') === true,
      60_000,
    );
    const elapsed = Date.now() - signalled;
    expect(elapsed).toBeLessThan(60_000);
    expect(failing).toMatchObject({
      level: 'error',
      workflowId,
      runId: handle.firstExecutionRunId,
      workflowType: 'stuckProbeWorkflow',
      reason: 'nondeterminism',
    });
    expect(failing.failure).toMatch(/Nondeterminism/i);

    const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    expect(metrics).toMatch(
      /^botburrow_workflow_task_failures_total\{workflow_type="stuckProbeWorkflow",reason="nondeterminism"\} 1$/m,
    );
    expect(metrics).toMatch(/^botburrow_stuck_workflow_tasks\{workflow_type="stuckProbeWorkflow"\} 1$/m);
    // The SDK's own count of failed attempts is on the same endpoint.
    expect(metrics).toMatch(
      /^temporal_workflow_task_execution_failed_total\{[^}]*workflow_type="stuckProbeWorkflow"/m,
    );
    // The run really is stuck: the task is retried, not completed.
    const d = await handle.describe();
    expect(d.status.name).toBe('RUNNING');
    expect(d.raw.pendingWorkflowTask?.attempt ?? 0).toBeGreaterThanOrEqual(2);
    await handle.terminate('test over');
  });
});

async function waitForLine(
  p: TestProcess,
  match: (l: LogLine) => boolean,
  timeoutMs = 20_000,
): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = logLines(p.output()).find(match);
    if (line) return line;
    if (Date.now() > deadline)
      throw new Error(`no such log line within ${timeoutMs} ms; output:\n${p.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
