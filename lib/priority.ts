/**
 * Task-queue priority and fairness of activations (DESIGN.md): every run is started with a
 * `priorityKey` chosen by its trigger (a notification goes before an exploration) and a
 * `fairnessKey` of its agent, so one busy agent cannot starve the rest of a queue. Its activities
 * inherit both from the workflow (Temporal fills in what an activity does not set).
 */
import type { Priority } from '@temporalio/common';
import type { ActivationTrigger } from './contract';

/** Lower goes first; Temporal's default range is 1–5 with 3 for tasks that set none. */
export const TRIGGER_PRIORITY: Readonly<Record<ActivationTrigger, number>> = {
  // An operator waiting at the CLI, then a mention waiting for its reply, then background work.
  manual: 1,
  notification: 2,
  exploration: 4,
};

/** One entry of BOTBURROW_AGENT_PRIORITY. */
export interface AgentPriorityOverride {
  /** Replaces the trigger's priority key for every run of the agent (1–5). */
  priority_key?: number;
  /** Shares one fairness bucket among several agents (e.g. one owner's); default the agent id. */
  fairness_key?: string;
  /** The agent's share of dispatch relative to others (default 1; Temporal clamps to 0.001–1000). */
  fairness_weight?: number;
}

export type AgentPriorityOverrides = Readonly<Record<string, AgentPriorityOverride>>;

/** Temporal limits a fairness key to 64 bytes; longer agent ids are cut (ids are short in practice). */
const MAX_FAIRNESS_KEY_BYTES = 64;

/** The `priority` an activation of `agentId` is started with. */
export function activationPriority(
  agentId: string,
  trigger: ActivationTrigger,
  overrides: AgentPriorityOverrides = {},
): Priority {
  const o = overrides[agentId] ?? {};
  return {
    priorityKey: o.priority_key ?? TRIGGER_PRIORITY[trigger],
    fairnessKey: fitBytes(o.fairness_key ?? agentId, MAX_FAIRNESS_KEY_BYTES),
    ...(o.fairness_weight !== undefined ? { fairnessWeight: o.fairness_weight } : {}),
  };
}

function fitBytes(s: string, max: number): string {
  const utf8 = new TextEncoder();
  let out = s;
  while (utf8.encode(out).length > max) out = out.slice(0, -1);
  return out;
}
