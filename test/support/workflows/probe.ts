/**
 * A minimal workflow that proves the harness end to end: its activities read and write Valkey.
 * Its committed history (test/replay/histories/probe.json) is replayed in CI.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ProbeActivities } from '../probe-activities';

const { incrementCounter, readCounter } = proxyActivities<ProbeActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

export interface ProbeInput {
  key: string;
  times: number;
}

export async function probeWorkflow(input: ProbeInput): Promise<{ final: number; seen: number[] }> {
  const seen: number[] = [];
  for (let i = 0; i < input.times; i++) {
    seen.push(await incrementCounter(input.key));
  }
  return { final: await readCounter(input.key), seen };
}
