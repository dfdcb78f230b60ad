/**
 * Turns "these agents have unread notifications" into activations: guard checks, signal-with-start
 * on `botburrow-high`, bounded concurrency, and the dedupe window that keeps the long poll from
 * becoming a hot loop.
 */
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { AgentWithNotifications } from '../hub/types';
import { TaskQueue } from '../contract';
import { describeError } from './backoff';
import type { ActivationStarter, AgentGate, SkipReason } from './types';

/**
 * Why the coordinator remembers what it recently scheduled.
 *
 * The Hub's long poll answers as soon as *any* agent has unread notifications, and an agent keeps
 * them unread until its activation has read them, which takes seconds (an LLM turn). Without
 * memory, the leader would re-signal the same agents in a tight loop for the whole activation. So
 * after signalling an agent, it holds off re-signalling it while all of these hold:
 *
 * - less than the agent's window has passed (starts at `baseMs`; doubles each time the safety net
 *   below fires without new notifications, up to `maxMs`), and
 * - its unread count is not higher than the lowest count seen since (a higher count means a new
 *   notification arrived, which is signalled at once: a running activation picks it up through
 *   `inboxUpdated`, a finished one is started again).
 *
 * When the window passes and the agent still has unread notifications, it is signalled again. That
 * is the safety net for an activation that ended without reading everything (a notification that
 * arrived while it was completing, a failure, a budget stop); the growing window keeps that from
 * churning. When an answer that was not truncated by the batch size does not list an agent, its
 * count is known to be 0, so its next notification counts as new. The poll loop adds the second
 * half of the design: an answer in which every agent was held off is followed by a short pause
 * before the next poll (see `Coordinator`).
 */
export class RecentlyScheduled {
  private readonly entries = new Map<string, { at: number; count: number; windowMs: number }>();

  constructor(private readonly o: { baseMs: number; maxMs: number; now: () => number }) {}

  /** Whether to act on `agentId` now, given its current unread `count`. Updates the memory. */
  due(agentId: string, count: number): { due: boolean; renewed: boolean } {
    const e = this.entries.get(agentId);
    if (!e) return { due: true, renewed: false };
    if (count > e.count) return { due: true, renewed: false };
    if (this.o.now() - e.at >= e.windowMs) return { due: true, renewed: true };
    e.count = count;
    return { due: false, renewed: false };
  }

  /**
   * Remembers that `agentId` was acted on (scheduled or skipped) with `count` unread. `renewed`
   * (the window had passed without new notifications) doubles the window; otherwise it restarts.
   */
  record(agentId: string, count: number, renewed: boolean): void {
    const prev = this.entries.get(agentId);
    const windowMs = renewed && prev ? Math.min(this.o.maxMs, prev.windowMs * 2) : this.o.baseMs;
    this.entries.set(agentId, { at: this.o.now(), count, windowMs });
  }

  /** Forgets an agent (its scheduling failed, so the next answer must retry it). */
  forget(agentId: string): void {
    this.entries.delete(agentId);
  }

  /**
   * After a complete (not batch-truncated) answer: agents not in it have no unread notifications.
   * Entries idle for longer than `maxMs` are dropped.
   */
  observeComplete(present: ReadonlySet<string>): void {
    const now = this.o.now();
    for (const [id, e] of this.entries) {
      if (present.has(id)) continue;
      e.count = 0;
      if (now - e.at > this.o.maxMs) this.entries.delete(id);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; resolves when all have settled. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export interface ScheduleOutcome {
  /** Agents signalled (with start) in this round. */
  scheduled: string[];
  /** Agents held off by the dedupe window. */
  deduped: string[];
  skipped: { agentId: string; reason: SkipReason }[];
  /** Agents whose signal-with-start failed; the last error is kept for the caller's backoff. */
  failed: string[];
  lastError?: unknown;
  /** True when scheduling stopped early because leadership ended. */
  interrupted: boolean;
}

export interface NotificationSchedulerOptions {
  starter: ActivationStarter;
  gate: AgentGate;
  metrics: Pick<Metrics, 'scheduled' | 'skipped'>;
  logger: Logger;
  /** Signal-with-start calls in flight at once. */
  concurrency?: number;
  dedupe?: { baseMs: number; maxMs: number };
  now?: () => number;
  wallNow?: () => number;
}

/** Schedules notification activations for the agents a poll reported. */
export class NotificationScheduler {
  readonly recent: RecentlyScheduled;
  private readonly concurrency: number;
  private readonly wallNow: () => number;

  constructor(private readonly o: NotificationSchedulerOptions) {
    this.concurrency = o.concurrency ?? 32;
    this.wallNow = o.wallNow ?? Date.now;
    this.recent = new RecentlyScheduled({
      baseMs: o.dedupe?.baseMs ?? 5000,
      maxMs: o.dedupe?.maxMs ?? 30_000,
      now: o.now ?? (() => performance.now()),
    });
  }

  /**
   * Signals-with-start every due agent of `agents`. `stillLeader` is checked right before each call,
   * so nothing is scheduled after the lease could have passed to another replica.
   * `complete` says the answer was not truncated by a batch size; `signal` cancels calls in flight.
   */
  async schedule(
    agents: readonly AgentWithNotifications[],
    stillLeader: () => boolean,
    complete: boolean,
    signal?: AbortSignal,
  ): Promise<ScheduleOutcome> {
    const out: ScheduleOutcome = { scheduled: [], deduped: [], skipped: [], failed: [], interrupted: false };
    if (complete) this.recent.observeComplete(new Set(agents.map((a) => a.id)));
    const due: { agent: AgentWithNotifications; renewed: boolean }[] = [];
    for (const agent of agents) {
      const d = this.recent.due(agent.id, agent.notification_count);
      if (d.due) due.push({ agent, renewed: d.renewed });
      else out.deduped.push(agent.id);
    }
    // New notifications first; safety-net re-signals of agents already signalled go last, so a
    // backlog of re-signals never delays an agent that has not been signalled yet.
    due.sort((a, b) => Number(a.renewed) - Number(b.renewed));
    await forEachLimit(due, this.concurrency, async ({ agent, renewed }) => {
      if (!stillLeader()) {
        out.interrupted = true;
        return;
      }
      const count = agent.notification_count;
      const skip = await this.o.gate.check(agent.id);
      if (skip) {
        out.skipped.push({ agentId: agent.id, reason: skip });
        this.o.metrics.skipped.inc({ reason: skip });
        // A paused or circuit-open agent is looked at again after its window, not on every poll.
        this.recent.record(agent.id, count, renewed);
        return;
      }
      if (!stillLeader()) {
        out.interrupted = true;
        return;
      }
      try {
        await this.o.starter.signalNotification(
          agent.id,
          new Date(this.wallNow()).toISOString(),
          signal,
          count,
        );
        this.recent.record(agent.id, count, renewed);
        this.o.metrics.scheduled.inc({ trigger: 'notification', queue: TaskQueue.high });
        out.scheduled.push(agent.id);
      } catch (err) {
        this.recent.forget(agent.id);
        if (signal?.aborted) {
          // Cancelled because the term ended: not a Temporal failure.
          out.interrupted = true;
          return;
        }
        out.failed.push(agent.id);
        out.lastError = err;
        this.o.logger.debug({ agentId: agent.id, err: describeError(err) }, 'signal-with-start failed');
      }
    });
    return out;
  }
}
