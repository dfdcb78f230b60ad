/**
 * A workflow that waits (up to an hour) for a `poke` signal: the first version of the pair the
 * stuck-workflow-task test deploys (its twin, stuck-probe-nondeterministic.ts, is the deliberately
 * broken change). Its first workflow task leaves a TimerStarted event in history.
 */
import { condition, defineSignal, setHandler } from '@temporalio/workflow';

export const poke = defineSignal('poke');

export async function stuckProbeWorkflow(): Promise<string> {
  let poked = false;
  setHandler(poke, () => {
    poked = true;
  });
  return (await condition(() => poked, '1 hour')) ? 'poked' : 'timed out';
}
