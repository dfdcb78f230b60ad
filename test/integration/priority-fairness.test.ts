/**
 * Priority and fairness on the real dev server (started with the local run's dynamic config): the
 * coordinator's real starter starts activations with the priority of their trigger and the fairness
 * key of their agent. While a busy team of agents (one fairness key, BOTBURROW_AGENT_PRIORITY)
 * floods `botburrow-high` behind a worker with one activity slot, a quiet agent's activation still
 * starts within a bounded wait instead of behind the whole backlog. The stand-in workflow
 * (test/support/workflows/queue-probe.ts) only occupies the queue; its activity inherits the run's
 * priority.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { TaskQueue, activationWorkflowId } from '../../lib/contract';
import { createTemporalStarter } from '../../lib/coordinator/temporal-starter';
import { TRIGGER_PRIORITY } from '../../lib/priority';
import type { AgentPriorityOverrides } from '../../lib/priority';
import { services, unique } from '../support/env';
import { createTestNamespace } from '../support/temporal';

const WORK_MS = 100;
const BUSY = 30;

describe('priority and fairness of activations', () => {
  let connection: Connection;
  let native: NativeConnection;
  let namespace: string;

  beforeAll(async () => {
    namespace = await createTestNamespace(services().temporalAddress, 'fair');
    connection = await Connection.connect({ address: services().temporalAddress });
    native = await NativeConnection.connect({ address: services().temporalAddress });
  });
  afterAll(async () => {
    await connection.close();
    await native.close();
  });

  it("starts a quiet agent's activation within a bounded wait while a busy team floods the queue", async () => {
    const client = new Client({ connection, namespace });
    const run = unique('r');
    const busyAgents = Array.from({ length: BUSY }, (_, i) => `busy-${run}-${i}`);
    const quietAgent = `quiet-${run}`;
    // The busy agents share one fairness bucket, as one owner's agents would.
    const agentPriority: AgentPriorityOverrides = Object.fromEntries(
      busyAgents.map((a) => [a, { fairness_key: `team-${run}` }]),
    );
    const starter = createTemporalStarter(client, { agentPriority });
    const worker = await Worker.create({
      connection: native,
      namespace,
      taskQueue: TaskQueue.high,
      workflowsPath: path.resolve(__dirname, '../support/workflows/queue-probe.ts'),
      activities: {
        work: async (): Promise<number> => {
          const at = Date.now();
          await new Promise((r) => setTimeout(r, WORK_MS));
          return at;
        },
      },
      maxConcurrentActivityTaskExecutions: 1,
    });
    await worker.runUntil(async () => {
      const requestedAt = new Date().toISOString();
      await Promise.all(busyAgents.map((a) => starter.signalNotification(a, requestedAt)));
      // The worker is saturated: the rest of the flood waits in the queue's backlog.
      await new Promise((r) => setTimeout(r, 500));
      const quietRequested = Date.now();
      await starter.signalNotification(quietAgent, new Date().toISOString());
      const quietHandle = client.workflow.getHandle(activationWorkflowId(quietAgent));
      const quietStarted = (await quietHandle.result()) as number;
      const busyStarted = (await Promise.all(
        busyAgents.map((a) => client.workflow.getHandle(activationWorkflowId(a)).result()),
      )) as number[];

      const wait = quietStarted - quietRequested;
      const busyPending = busyStarted.filter((t) => t > quietRequested).length;
      const busyAfter = busyStarted.filter((t) => t > quietStarted).length;
      // FIFO would start it behind the waiting flood; fairness alternates between the two buckets
      // (the test server runs one partition per queue, where fairness is exact: dev/services.ts).
      expect(busyAfter, `busy started after the quiet one, of ${busyPending} waiting`).toBeGreaterThanOrEqual(
        0.75 * busyPending,
      );
      // A bounded wait, measured against this machine's pace: well under the time the flood still
      // needed after the quiet agent asked (which is what a FIFO queue would make it wait).
      const floodLeft = Math.max(...busyStarted) - quietRequested;
      expect(wait, `quiet wait vs ${floodLeft} ms of flood left`).toBeLessThan(floodLeft / 2);

      const d = await quietHandle.describe();
      expect(d.priority).toMatchObject({
        priorityKey: TRIGGER_PRIORITY.notification,
        fairnessKey: quietAgent,
      });
      const busy = await client.workflow.getHandle(activationWorkflowId(busyAgents[0]!)).describe();
      expect(busy.priority).toMatchObject({ fairnessKey: `team-${run}` });
    });
  });
});
