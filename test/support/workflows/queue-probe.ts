/**
 * A stand-in for an activation that only occupies the queue: one activity, which inherits the
 * run's priority and fairness key. Used by the fairness test and bench/fairness.ts to see in which
 * order a backlogged queue dispatches work. Its arguments (an `ActivationInput` when the
 * coordinator's starter starts it) are ignored.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface QueueProbeActivities {
  /** Holds an activity slot for a while; returns the epoch ms at which it started. */
  work(): Promise<number>;
}

const { work } = proxyActivities<QueueProbeActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
});

export async function queueProbeWorkflow(): Promise<number> {
  return work();
}

/** Registered under the activation's name too, so the coordinator's real starter can start it. */
export { queueProbeWorkflow as activationWorkflow };
