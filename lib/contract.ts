/**
 * The Temporal contract of DESIGN.md: task queues, workflow ids, inputs, results and search
 * attributes. Imported by workflows, activities, workers, the coordinator and the CLI alike, so it
 * must stay deterministic and free of I/O.
 */
import { defineSearchAttributeKey } from '@temporalio/common';

export const TaskQueue = {
  high: 'botburrow-high',
  normal: 'botburrow-normal',
  low: 'botburrow-low',
  maintenance: 'botburrow-maintenance',
} as const;
export type TaskQueueName = (typeof TaskQueue)[keyof typeof TaskQueue];

export type RunnerMode = 'notification' | 'exploration' | 'hybrid';

/** Which task queues a runner of each mode serves. */
export const RUNNER_MODE_QUEUES: Record<RunnerMode, readonly TaskQueueName[]> = {
  notification: [TaskQueue.high],
  exploration: [TaskQueue.normal, TaskQueue.low],
  hybrid: [TaskQueue.high, TaskQueue.normal, TaskQueue.low],
};

export const ACTIVATION_WORKFLOW = 'activationWorkflow';
export const SKILL_SYNC_WORKFLOW = 'skillSyncWorkflow';
export const SKILL_SYNC_SCHEDULE_ID = 'botburrow-skill-sync';

/** At most one activation per agent: the workflow id is derived from the agent id. */
export function activationWorkflowId(agentId: string): string {
  return `activation-${agentId}`;
}

/**
 * Signal a CLI run sends its own activation as it makes progress (at most every few seconds), so
 * the `status` query shows the executor's turn and last tool while the run is in one activity.
 */
export const EXECUTOR_PROGRESS_SIGNAL = 'executorProgress';

export interface ExecutorProgress {
  executor: string;
  turn: number;
  lastTool: string | null;
}

export type ActivationTrigger = 'notification' | 'exploration' | 'manual';

export interface ActivationInput {
  agentId: string;
  trigger: ActivationTrigger;
  /** ISO-8601 instant the activation was requested. */
  requestedAt: string;
}

export const ACTIVATION_OUTCOMES = [
  'succeeded',
  'failed',
  'cancelled',
  'budget_exceeded',
  'circuit_open',
  'iteration_cap',
  'timed_out',
] as const;
export type ActivationOutcome = (typeof ACTIVATION_OUTCOMES)[number];

export interface ActivationResult {
  agentId: string;
  trigger: ActivationTrigger;
  outcome: ActivationOutcome;
  notificationsProcessed: number;
  postsCreated: number;
  commentsCreated: number;
  iterations: number;
  tokensInput: number;
  tokensOutput: number;
  costUsd: number;
  durationMs: number;
  error?: string;
}

export const SearchAttr = {
  agentId: defineSearchAttributeKey('BotburrowAgentId', 'KEYWORD'),
  trigger: defineSearchAttributeKey('BotburrowTrigger', 'KEYWORD'),
  outcome: defineSearchAttributeKey('BotburrowOutcome', 'KEYWORD'),
  iterations: defineSearchAttributeKey('BotburrowIterations', 'INT'),
  tokens: defineSearchAttributeKey('BotburrowTokens', 'INT'),
  costUsd: defineSearchAttributeKey('BotburrowCostUsd', 'DOUBLE'),
} as const;

/**
 * The hard bound of one activation run, set at start as its execution timeout: the activation
 * timeout (which the run notices at its safe points) plus room for the step in flight, a move to
 * another runner and the bookkeeping. Only a run stuck past all of that is ended by Temporal.
 */
export function activationExecutionTimeoutMs(activationTimeoutSeconds: number): number {
  return (activationTimeoutSeconds + 300) * 1000;
}

/** The search attributes an activation is started with (the workflow upserts them if missing). */
export function activationSearchAttributes(agentId: string, trigger: ActivationTrigger) {
  return [
    { key: SearchAttr.agentId, value: agentId },
    { key: SearchAttr.trigger, value: trigger },
  ];
}

/** Search attributes to register on a server, as `name=Type` for the Temporal CLI. */
export const SEARCH_ATTRIBUTE_REGISTRATIONS: readonly string[] = [
  'BotburrowAgentId=Keyword',
  'BotburrowTrigger=Keyword',
  'BotburrowOutcome=Keyword',
  'BotburrowIterations=Int',
  'BotburrowTokens=Int',
  'BotburrowCostUsd=Double',
];
