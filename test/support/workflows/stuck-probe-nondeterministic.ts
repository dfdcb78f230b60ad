/**
 * stuckProbeWorkflow with a deliberately non-deterministic change: an activity before the wait,
 * where the histories of runs started on the first version have the wait's timer. Every workflow
 * task of such a run fails on replay.
 */
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';

export const poke = defineSignal('poke');

const { stuckProbeStep } = proxyActivities<{ stuckProbeStep(): Promise<void> }>({
  startToCloseTimeout: '1 minute',
});

export async function stuckProbeWorkflow(): Promise<string> {
  let poked = false;
  setHandler(poke, () => {
    poked = true;
  });
  await stuckProbeStep();
  return (await condition(() => poked, '1 hour')) ? 'poked' : 'timed out';
}
