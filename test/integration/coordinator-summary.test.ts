/**
 * The activations the coordinator starts read well in the stock Temporal UI: each carries a static
 * summary (agent, trigger, notification count) and static details, as Temporal's describe returns
 * them from the real server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';
import type { CoordinatorProcess } from './coordinator-support';
import { activationRuns, coordinatorEnv, spawnCoordinator, waitUntil } from './coordinator-support';

const script: Scenario = { name: 'coordinator-summary', rules: [], fallback: { text: 'NO_RESPONSE_NEEDED' } };

describe('coordinator: what the Temporal UI shows of an activation', () => {
  let stack: ActivationStack;
  let coordinator: CoordinatorProcess | undefined;

  beforeAll(async () => {
    stack = await startStack({ script });
  });
  afterAll(async () => {
    if (coordinator && coordinator.proc.exitCode === null) coordinator.proc.kill('SIGKILL');
    await coordinator?.exited;
    await stack?.stop();
  });

  it('starts each activation with a static summary and details', async () => {
    const agent = await stack.addAgent('summary');
    for (const content of ['first?', 'second?', 'third?']) {
      await stack.hub.admin.injectNotification({ agent_id: agent, content });
    }
    coordinator = spawnCoordinator('S', coordinatorEnv(stack.env));
    await waitUntil(
      'the agent started',
      async () => ((await activationRuns(stack.client, agent)).length > 0 ? true : undefined),
      30_000,
      100,
    );
    const desc = await stack.client.workflow.getHandle(activationWorkflowId(agent)).describe();
    expect(await desc.staticSummary()).toBe(`${agent} · notification · 3 notifications`);
    const details = await desc.staticDetails();
    expect(details).toContain(`**Agent** ${agent}`);
    expect(details).toContain('**Trigger** notification, 3 unread notifications');
    expect(details).toContain('**Started by** coordinator');
    expect(details).toContain('**Task queue** botburrow-high');
    expect(details).toContain(`BotburrowAgentId = "${agent}"`);
  });
});
