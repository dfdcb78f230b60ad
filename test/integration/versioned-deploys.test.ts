/**
 * Versioned deploys on the real dev server: two runners with different BOTBURROW_BUILD_IDs register
 * worker deployment versions of one deployment. A run started while v1 is current stays pinned to
 * v1 and finishes there after v2 becomes current; new runs go to v2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import { eventually } from '../support/env';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const POST_ID = 'p-topic';
const DEPLOYMENT = 'botburrow-runner-test';

const script: Scenario = {
  name: 'versioned-deploys',
  rules: [
    { name: 'slow', when: { system: 'slow' }, reply: { text: 'NO_RESPONSE_NEEDED', delayMs: 6_000 } },
    { name: 'default', when: {}, reply: { text: 'NO_RESPONSE_NEEDED' } },
  ],
};

describe('versioned deploys', () => {
  let stack: ActivationStack;

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'Topic.' }],
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function notify(agentId: string): Promise<void> {
    await stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: POST_ID,
      from_agent: { id: 'alice', name: 'Alice' },
      content: 'Ping.',
    });
  }

  /** `temporal worker deployment set-current-version`, once the version's pollers are known. */
  async function setCurrent(buildId: string): Promise<void> {
    await eventually(async () => {
      try {
        await stack.client.connection.workflowService.setWorkerDeploymentCurrentVersion({
          namespace: stack.namespace,
          deploymentName: DEPLOYMENT,
          buildId,
          // Each runner's own session queue belongs to its version alone.
          ignoreMissingTaskQueues: true,
          identity: 'versioned-deploys test',
        });
        return true;
      } catch {
        return false;
      }
    }, 30_000);
  }

  /** The identities of the workers that completed the run's workflow tasks, and its pinned build id. */
  async function ranOn(agentId: string): Promise<{ identities: string[]; pinned: string | undefined }> {
    const handle = stack.client.workflow.getHandle(activationWorkflowId(agentId));
    const events = (await handle.fetchHistory()).events ?? [];
    const identities = [
      ...new Set(
        events.map((e) => e.workflowTaskCompletedEventAttributes?.identity).filter((i): i is string => !!i),
      ),
    ];
    const info = (await handle.describe()).raw.workflowExecutionInfo;
    return { identities, pinned: info?.versioningInfo?.deploymentVersion?.buildId ?? undefined };
  }

  it('finishes a run on the version it started on and sends new runs to the new current version', async () => {
    const v1 = await stack.startRunner({ buildId: 'v1', deploymentName: DEPLOYMENT });
    await setCurrent('v1');
    const old = await stack.addAgent('old', { systemPrompt: 'You are slow.' });
    await notify(old);
    const oldRun = await stack.activate(old);
    // The run is under way on v1 (its model call is out) when v2 is rolled out and made current.
    await eventually(() => stack.model.requests().some((r) => JSON.stringify(r.body).includes(old)), 20_000);
    const v2 = await stack.startRunner({ buildId: 'v2', deploymentName: DEPLOYMENT });
    await setCurrent('v2');
    const fresh = await stack.addAgent('fresh');
    await notify(fresh);
    expect(await stack.run(fresh)).toMatchObject({ outcome: 'succeeded' });
    expect(await oldRun.result()).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1 });

    expect(await ranOn(old)).toEqual({ identities: [`runner@${v1.runnerId}`], pinned: 'v1' });
    expect(await ranOn(fresh)).toEqual({ identities: [`runner@${v2.runnerId}`], pinned: 'v2' });
  });
});
