/**
 * `botburrow_work_queue_depth{queue}` from Temporal's task-queue backlog.
 *
 * Server 1.32 with SDK 1.24: `DescribeTaskQueue` in the default API mode with `reportStats: true`
 * answers `stats.approximateBacklogCount` for one task-queue type per call (the ENHANCED mode is
 * deprecated). The depth of a queue is its workflow-task backlog (activations not yet picked up
 * by a runner) plus its activity-task backlog (steps of running activations waiting for a slot).
 */
import type { Client } from '@temporalio/client';
import { TaskQueue } from '../contract';
import type { TaskQueueName } from '../contract';

export const DEPTH_QUEUES = [TaskQueue.high, TaskQueue.normal, TaskQueue.low] as const;

// temporal.api.enums.v1 values (the proto package is not a direct dependency).
const TASK_QUEUE_TYPE_WORKFLOW = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;
const TASK_QUEUE_KIND_NORMAL = 1;
const TYPES = [TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY];

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof (v as { toNumber?: unknown }).toNumber === 'function') {
    return (v as { toNumber(): number }).toNumber();
  }
  return Number(v ?? 0) || 0;
}

/** Approximate backlog (workflow + activity tasks) of one task queue. */
export async function readQueueDepth(client: Client, queue: string): Promise<number> {
  let total = 0;
  for (const taskQueueType of TYPES) {
    const res = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: queue, kind: TASK_QUEUE_KIND_NORMAL },
      taskQueueType,
      reportStats: true,
    });
    total += toNumber(res.stats?.approximateBacklogCount);
  }
  return total;
}

/** The metric label of a queue, as DESIGN.md names it: `botburrow-high` → `high`. */
export function queueLabel(queue: string): string {
  return queue.replace(/^botburrow-/, '');
}

/** Backlog of the high, normal and low queues, keyed by their metric label (`high`, `normal`, `low`). */
export async function readQueueDepths(
  client: Client,
  queues: readonly TaskQueueName[] = DEPTH_QUEUES,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await Promise.all(
    queues.map(async (q) => {
      out[queueLabel(q)] = await readQueueDepth(client, q);
    }),
  );
  return out;
}
