/**
 * Activities of `activationWorkflow`: everything an activation does that touches the outside world
 * (Hub, Valkey guards, agent definitions, the model). One file per step, each with the narrow part
 * of `ActivationDeps` it needs; plain JSON in and out; large data stays in Valkey (see
 * `ConversationStore`). The CLI executors' activities live in activities/executors/.
 */
import { createDiscoveryGate } from './discovery';
import { createFinishActivities } from './finish';
import { createHubToolActivities } from './hub-tools';
import { createInboxActivities } from './inbox';
import { createLlmTurnActivities } from './llm-turn';
import { createMemoryActivities } from './memory';
import { createPrepareActivities } from './prepare';
import { createPublisher } from './publish';
import { createStartConversationActivities } from './start-conversation';
import type { ActivationDeps } from './types';

export type * from './types';
export { createPublisher } from './publish';
export type { Publish, PublishInput, PublishResult } from './publish';
export { loadDefinition, profileOf, withCancellation } from './definition';
export { RunDefinitions } from './run-definitions';
export type { RunDefinitionSource } from './run-definitions';
export { openingFor, systemPromptFor } from './start-conversation';

export function createActivationActivities(deps: ActivationDeps) {
  const publish = createPublisher(deps);
  const discovery = createDiscoveryGate(deps);
  return {
    ...createPrepareActivities(deps),
    ...createInboxActivities(deps),
    ...createStartConversationActivities({ ...deps, discovery }),
    ...createLlmTurnActivities(deps),
    ...createHubToolActivities({ ...deps, publish, discovery }),
    ...createFinishActivities(deps),
    ...createMemoryActivities(deps),
  };
}

export type ActivationActivities = ReturnType<typeof createActivationActivities>;
