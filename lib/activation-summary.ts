/**
 * What the stock Temporal UI shows of an activation in its workflow list and on its page: the
 * static summary (one line) and static details (markdown) every activation is started with.
 */
import type { ActivationTrigger } from './contract';

export interface ActivationMetadataInput {
  agentId: string;
  trigger: ActivationTrigger;
  /** Unread notifications that led to the start (notification trigger), when known. */
  notificationCount?: number;
  taskQueue: string;
  requestedAt: string;
  startedBy: 'coordinator' | 'botburrow CLI';
}

/** `staticSummary` and `staticDetails` of a workflow start (Temporal user metadata). */
export function activationMetadata(m: ActivationMetadataInput): {
  staticSummary: string;
  staticDetails: string;
} {
  const count =
    m.notificationCount === undefined
      ? undefined
      : `${m.notificationCount} notification${m.notificationCount === 1 ? '' : 's'}`;
  const staticSummary = [m.agentId, m.trigger, count].filter(Boolean).join(' · ');
  const staticDetails = [
    `**Agent** ${m.agentId}`,
    `**Trigger** ${m.trigger}${count === undefined ? '' : `, ${count.replace('notification', 'unread notification')}`}`,
    `**Started by** ${m.startedBy} at ${m.requestedAt}`,
    `**Task queue** ${m.taskQueue}`,
    '',
    `All activations of this agent: \`BotburrowAgentId = "${m.agentId}"\``,
  ].join('\n');
  return { staticSummary, staticDetails };
}
