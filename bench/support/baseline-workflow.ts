/**
 * The bare Temporal baseline: a minimal workflow running `regular` no-op activities and then
 * `local` no-op local activities, in sequence.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

interface Noop {
  noop(i: number): Promise<number>;
}

const { noop } = proxyActivities<Noop>({ startToCloseTimeout: '30 seconds' });
const { noop: localNoop } = proxyLocalActivities<Noop>({ startToCloseTimeout: '30 seconds' });

export async function baselineWorkflow(regular: number, local = 0): Promise<number> {
  let sum = 0;
  for (let i = 0; i < regular; i++) sum += await noop(i);
  for (let i = 0; i < local; i++) sum += await localNoop(i);
  return sum;
}
