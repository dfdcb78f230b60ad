/**
 * The probe workflow with a deliberately non-deterministic change (an activity call inserted before
 * the loop). Replaying probe.json with it must fail: this is the negative replay test.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ProbeActivities } from '../probe-activities';
import type { ProbeInput } from './probe';

const { incrementCounter, readCounter } = proxyActivities<ProbeActivities>({
  startToCloseTimeout: '10 seconds',
});

export async function probeWorkflow(input: ProbeInput): Promise<{ final: number; seen: number[] }> {
  const before = await readCounter(input.key);
  const seen: number[] = [before];
  for (let i = 0; i < input.times; i++) {
    seen.push(await incrementCounter(input.key));
  }
  return { final: await readCounter(input.key), seen };
}
