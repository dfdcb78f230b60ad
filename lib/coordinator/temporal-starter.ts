/**
 * `ActivationStarter` on a Temporal client: the only place the coordinator talks to Temporal about
 * activations. The workflow is referenced by name, so the coordinator never loads workflow code.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import {
  ACTIVATION_WORKFLOW,
  TaskQueue,
  activationSearchAttributes,
  activationWorkflowId,
} from '../contract';
import type { ActivationInput } from '../contract';
import { activationMetadata } from '../activation-summary';
import { activationPriority } from '../priority';
import type { AgentPriorityOverrides } from '../priority';
import type { ActivationStarter } from './types';

/** Signal name of `activationWorkflow` (workflows/activation.ts) for "new notifications arrived". */
export const INBOX_UPDATED_SIGNAL = 'inboxUpdated';

export interface TemporalStarterOptions {
  /** Upper bound of one start/signal call, including the SDK's own gRPC retries. */
  callTimeoutMs?: number;
  /** The runs' execution timeout (`activationExecutionTimeoutMs`); none when absent. */
  executionTimeoutMs?: number;
  /** Per-agent priority and fairness (BOTBURROW_AGENT_PRIORITY). */
  agentPriority?: AgentPriorityOverrides;
}

/** Builds the starter; calls fail after `callTimeoutMs` rather than wait out a Temporal outage. */
export function createTemporalStarter(client: Client, o: TemporalStarterOptions = {}): ActivationStarter {
  const callTimeoutMs = o.callTimeoutMs ?? 5000;
  const bound = o.executionTimeoutMs !== undefined ? { workflowExecutionTimeout: o.executionTimeoutMs } : {};
  // A deadline bounds the SDK's own retries; the abort signal cancels the call when the term ends.
  const bounded = async <T>(fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> => {
    const withDeadline = (): Promise<T> => client.connection.withDeadline(Date.now() + callTimeoutMs, fn);
    if (!signal) return withDeadline();
    signal.throwIfAborted();
    // The SDK adds an abort listener per gRPC call and never removes it: on the term's long-lived
    // signal that is one leaked listener per start. It gets a signal of its own for this one call,
    // linked to the caller's by a listener that is removed when the call ends.
    const call = new AbortController();
    const forward = (): void => call.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    try {
      return await client.connection.withAbortSignal(call.signal, withDeadline);
    } finally {
      signal.removeEventListener('abort', forward);
    }
  };

  return {
    async signalNotification(agentId, requestedAt, signal, notificationCount) {
      const input: ActivationInput = { agentId, trigger: 'notification', requestedAt };
      await bounded(
        () =>
          client.workflow.signalWithStart(ACTIVATION_WORKFLOW, {
            workflowId: activationWorkflowId(agentId),
            taskQueue: TaskQueue.high,
            args: [input],
            signal: INBOX_UPDATED_SIGNAL,
            signalArgs: [],
            // A running activation (of any trigger) takes the signal; only a closed one is restarted.
            workflowIdConflictPolicy: 'USE_EXISTING',
            typedSearchAttributes: activationSearchAttributes(agentId, 'notification'),
            priority: activationPriority(agentId, 'notification', o.agentPriority),
            // What the Temporal UI lists; only a start sets it (a signalled run keeps its own).
            ...activationMetadata({
              agentId,
              trigger: 'notification',
              ...(notificationCount !== undefined ? { notificationCount } : {}),
              taskQueue: TaskQueue.high,
              requestedAt,
              startedBy: 'coordinator',
            }),
            ...bound,
          }),
        signal,
      );
    },

    async startExploration(agentId, requestedAt, signal) {
      const input: ActivationInput = { agentId, trigger: 'exploration', requestedAt };
      try {
        await bounded(
          () =>
            client.workflow.start(ACTIVATION_WORKFLOW, {
              workflowId: activationWorkflowId(agentId),
              taskQueue: TaskQueue.normal,
              args: [input],
              workflowIdConflictPolicy: 'FAIL',
              typedSearchAttributes: activationSearchAttributes(agentId, 'exploration'),
              priority: activationPriority(agentId, 'exploration', o.agentPriority),
              ...activationMetadata({
                agentId,
                trigger: 'exploration',
                taskQueue: TaskQueue.normal,
                requestedAt,
                startedBy: 'coordinator',
              }),
              ...bound,
            }),
          signal,
        );
        return 'started';
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return 'running';
        throw err;
      }
    },
  };
}
