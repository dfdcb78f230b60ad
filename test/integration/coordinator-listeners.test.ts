/**
 * A long-running leader keeps a flat number of abort listeners on its term's signal: every
 * signal-with-start of the term is cancelled through that signal, and a listener left behind by each
 * call (the SDK's `withAbortSignal` never removes its own) grows without bound, with Node's
 * `MaxListenersExceededWarning` after the 256th. Real coordinator parts (buildCoordinator), real
 * Temporal (fresh namespace, no runner: the activations just wait), Valkey and the Hub simulator.
 */
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCoordinator, newOwnerId } from '../../lib/coordinator';
import type { Coordinator, CoordinatorHub } from '../../lib/coordinator';
import { AgentRegistry, createDefinitionStore } from '../../lib/definitions';
import { HubClient } from '../../lib/hub/client';
import { createLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { startStack } from '../support/stack';
import type { ActivationStack } from '../support/stack';
import { waitUntil } from './coordinator-support';
import { activationWorkflowId } from '../../lib/contract';

describe('coordinator abort listeners', () => {
  let stack: ActivationStack;
  let coordinator: Coordinator | undefined;

  beforeAll(async () => {
    stack = await startStack({ script: { name: 'listeners', rules: [], fallback: { text: 'NO' } } });
  });
  afterAll(async () => {
    await coordinator?.stop();
    await stack.stop();
  });

  it('stays flat over hundreds of scheduled activations in one term', async () => {
    const agents: string[] = [];
    for (let i = 0; i < 300; i++) agents.push(await stack.addAgent(`lst${i}`, { id: `lst-${i}` }));
    const real = new HubClient({ baseUrl: stack.hub.url, maxRetries: 1 });
    // The term's signal, as the coordinator hands it to the long poll.
    let termSignal: AbortSignal | undefined;
    const hub: CoordinatorHub = {
      pollNotifications: (q, o) => {
        termSignal = o?.signal;
        return real.pollNotifications(q, o);
      },
      listAgentsWithNotifications: (o) => real.listAgentsWithNotifications(o),
      listStaleAgents: (s, o) => real.listStaleAgents(s, o),
    };
    const logger = createLogger('listeners-test', 'silent');
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === 'MaxListenersExceededWarning') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    coordinator = buildCoordinator({
      ownerId: newOwnerId(),
      redis: stack.redis,
      keys: stack.keys,
      hub,
      temporal: stack.client,
      guards: { pauseFlags: stack.guards.pause, breaker: stack.guards.breaker },
      registry: new AgentRegistry({
        store: createDefinitionStore(stack.settings),
        redis: stack.redis,
        keys: stack.keys,
        logger,
      }),
      metrics: createMetrics(undefined, { defaults: false }),
      logger,
      settings: { ...stack.settings, minActivationInterval: 86_400 },
    });
    coordinator.start();
    const started = async (ids: string[]): Promise<boolean> => {
      for (const id of ids) {
        try {
          await stack.client.workflow.getHandle(activationWorkflowId(id)).describe();
        } catch {
          return false;
        }
      }
      return true;
    };
    const notify = async (ids: string[]): Promise<void> => {
      for (const id of ids) await stack.hub.admin.injectNotification({ agent_id: id, content: 'hi' });
      await waitUntil(`activations of ${ids.length} agents`, () => started(ids), 60_000, 200);
    };
    const listeners = (): number => getEventListeners(termSignal!, 'abort').length;

    // A first batch settles whatever a term holds for good (loops, the long poll in flight).
    await notify(agents.slice(0, 20));
    const before = listeners();
    await notify(agents.slice(20));
    const after = listeners();
    process.off('warning', onWarning);
    expect(termSignal).toBeDefined();
    expect(
      after - before,
      `listeners: ${before} after 20 activations, ${after} after 300`,
    ).toBeLessThanOrEqual(2);
    expect(warnings).toEqual([]);
  }, 120_000);
});
