/**
 * What an activation reports about itself matches what Temporal saw: `durationMs` counts from the
 * run's start (not from when a runner first picked it up), and `costUsd` carries no float noise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { SearchAttr } from '../../lib/contract';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const script: Scenario = {
  name: 'activation-accounting',
  rules: [{ name: 'reply', when: {}, reply: { text: 'Noted.' } }],
};

describe('activation accounting', () => {
  let stack: ActivationStack;

  beforeAll(async () => {
    stack = await startStack({ script });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('measures durationMs from the start of the run, and rounds costUsd to 6 decimals', async () => {
    const agentId = await stack.addAgent('accounting');
    for (const content of ['one?', 'two?', 'three?']) {
      await stack.hub.admin.injectNotification({ agent_id: agentId, content });
    }
    // Started while no runner serves the queue: the first workflow task waits 2 s.
    const handle = await stack.activate(agentId, 'notification');
    await new Promise((r) => setTimeout(r, 2_000));
    await stack.startRunner();
    const result = await handle.result();
    const desc = await handle.describe();
    const temporalMs = desc.closeTime!.getTime() - desc.startTime.getTime();
    expect(result.outcome).toBe('succeeded');
    expect(result.durationMs).toBeGreaterThanOrEqual(2_000);
    // Within the time between the last workflow task and the close event.
    expect(Math.abs(temporalMs - result.durationMs)).toBeLessThan(1_000);
    expect(result.costUsd).toBeGreaterThan(0);
    expect(result.costUsd).toBe(Number(result.costUsd.toFixed(6)));
    expect(desc.typedSearchAttributes.get(SearchAttr.costUsd)).toBe(result.costUsd);
  });
});
