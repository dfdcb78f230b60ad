/**
 * An agent whose type no runner executes (goose: no CLI distribution is obtainable) is never started
 * by the coordinator, while a runnable agent with the same unread notifications is: asserted on the
 * real Temporal server, and on the coordinator's skip metric.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';
import type { CoordinatorProcess } from './coordinator-support';
import {
  activationRuns,
  coordinatorEnv,
  ops,
  sleep,
  spawnCoordinator,
  waitUntil,
} from './coordinator-support';

const script: Scenario = {
  name: 'coordinator-unrunnable',
  rules: [],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

describe('coordinator: unrunnable agent types', () => {
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

  it('never starts a goose agent, skips it with a reason and a metric, and starts the native one', async () => {
    const goose = await stack.addAgent('goose', { extra: { type: 'goose' } });
    const native = await stack.addAgent('native');
    for (const agent_id of [goose, native]) {
      await stack.hub.admin.injectNotification({ agent_id, content: 'are you there?' });
    }
    coordinator = spawnCoordinator('U', coordinatorEnv(stack.env));
    await waitUntil(
      'the native agent started',
      async () => ((await activationRuns(stack.client, native)).length > 0 ? true : undefined),
      30_000,
      100,
    );
    // Several more polls: the goose agent's notification is still unread, and still never started.
    await sleep(5_000);
    await expect(stack.client.workflow.getHandle(activationWorkflowId(goose)).describe()).rejects.toThrow(
      /not found/i,
    );
    expect(await activationRuns(stack.client, goose)).toEqual([]);
    const unread = (await stack.hub.admin.notifications(goose)).filter((n) => !n.read);
    expect(unread).toHaveLength(1);
    const metrics = (await ops(coordinator, '/metrics')).body;
    expect(metrics).toMatch(
      /botburrow_activations_skipped_total\{[^}]*reason="unrunnable_type"[^}]*\} [1-9]/,
    );
    expect((await stack.guards.breaker.status(goose)).failures).toBe(0);
    // Reported once at start, as `botburrow agents validate` words it.
    const report = await coordinator.waitFor((l) => l.msg === 'definitions checked', 5_000);
    expect(report).toMatchObject({ agents: 2, errors: 1 });
    const problem = coordinator.lines.find((l) => String(l.msg).startsWith('definition problem:'));
    expect(String(problem?.msg)).toMatch(
      new RegExp(
        `^definition problem: agents/${goose}/config\\.yaml: type: 'goose' is executed by no runner`,
      ),
    );
  });
});
