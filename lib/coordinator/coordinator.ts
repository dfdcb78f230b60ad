/**
 * The coordinator's control loop: wait for leadership, then — for exactly as long as the term
 * lasts — poll the Hub and schedule notification activations, run exploration rounds, and export
 * the task-queue depths. Every loop stops when the term's signal aborts (lease lost or shutdown),
 * which also aborts an in-flight long poll.
 */
import { setMaxListeners } from 'node:events';
import { LongPollUnsupportedError } from '../errors';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { AgentWithNotifications } from '../hub/types';
import { DependencyHealth, describeError, jittered, sleep } from './backoff';
import type { BackoffOptions, Random } from './backoff';
import type { ExplorationPlanner } from './exploration';
import type { LeaderLease, LeaderTerm } from './lease';
import type { NotificationScheduler, ScheduleOutcome } from './scheduler';
import type { CoordinatorHub } from './types';

export interface CoordinatorOptions {
  lease: LeaderLease;
  hub: CoordinatorHub;
  scheduler: NotificationScheduler;
  exploration: ExplorationPlanner;
  /** Backlog per task queue; omitted → no queue-depth metric. */
  queueDepths?: () => Promise<Record<string, number>>;
  metrics: Pick<Metrics, 'pollDuration' | 'queueDepth'>;
  logger: Logger;
  /** `BOTBURROW_POLL_INTERVAL` in ms: list-poll period (no long poll) and exploration period. */
  pollIntervalMs: number;
  /** `BOTBURROW_POLL_BATCH_SIZE`. */
  pollBatchSize: number;
  /** The long poll's `timeout` parameter (s). */
  longPollTimeoutSeconds?: number;
  /** After a 404, how long to list before asking for the long poll again (a Hub upgrade). Default 10 min. */
  longPollRecheckMs?: number;
  /** Pause after an answer in which every agent was held off by the dedupe window (default 20 ms). */
  idlePauseMs?: number;
  queueDepthIntervalMs?: number;
  hubBackoff?: BackoffOptions;
  temporalBackoff?: BackoffOptions;
  random?: Random;
}

/**
 * The most agents one long poll asks for. The answer grows by the agents that are already handled
 * (see pollLoop); the Hub simulator accepts up to 1000, as a Hub may cap it lower.
 */
const MAX_POLL_BATCH = 1000;

/** Shortest time between two complete listings after batch-truncated long-poll answers. */
const FULL_LIST_MIN_INTERVAL_MS = 250;

/**
 * While activations run, their agents keep unread notifications, so the long poll answers at once
 * with agents that are already being handled; a notification for another agent then waits out
 * this pause before the next poll sees it. 20 ms keeps that wait short (bench/coordinator-latency.ts:
 * 100 ms here gave a p50 of 68 ms and a p99 of 214 ms at 50 notifications/s) and bounds such polls to
 * 50 a second, each about a millisecond of work for the Hub.
 */
const IDLE_PAUSE_MS = 20;

/** Runs the leader's loops; see the module comment. */
export class Coordinator {
  private readonly stopController = new AbortController();
  private running: Promise<void> | undefined;
  /** Cleared when the Hub answers 404 to the long poll; kept across terms. */
  private longPoll = true;
  /** While listing: when to try the long poll again (performance.now() time). */
  private longPollRecheckAt = Number.POSITIVE_INFINITY;
  private readonly hubHealth: DependencyHealth;
  private readonly staleHealth: DependencyHealth;
  private readonly temporalHealth: DependencyHealth;
  private readonly random: Random;

  constructor(private readonly o: CoordinatorOptions) {
    this.random = o.random ?? Math.random;
    const hubBackoff = o.hubBackoff ?? { baseMs: 500, maxMs: 5000 };
    const temporalBackoff = o.temporalBackoff ?? { baseMs: 500, maxMs: 10_000 };
    this.hubHealth = new DependencyHealth('hub', o.logger, hubBackoff, this.random);
    this.staleHealth = new DependencyHealth('hub stale-agents', o.logger, hubBackoff, this.random);
    this.temporalHealth = new DependencyHealth('temporal', o.logger, temporalBackoff, this.random);
  }

  /** Starts the lease and the loops in the background. */
  start(): void {
    if (this.running) return;
    this.o.lease.start();
    this.running = this.run();
  }

  /**
   * Stops the loops (aborting the long poll and any start/signal call in flight), waits for them to
   * finish, and only then releases the lease: nothing this replica sent can land after the next
   * leader took over.
   */
  async stop(): Promise<void> {
    this.stopController.abort(new Error('coordinator stopping'));
    await this.running;
    await this.o.lease.stop();
  }

  private async run(): Promise<void> {
    const stopping = this.stopController.signal;
    for (;;) {
      const term = await this.o.lease.nextTerm(stopping);
      if (!term || stopping.aborted) return;
      await this.lead(term);
    }
  }

  private async lead(term: LeaderTerm): Promise<void> {
    const signal = AbortSignal.any([term.signal, this.stopController.signal]);
    // Every scheduling call of the term listens on this signal (up to 32 in flight, plus the loops).
    setMaxListeners(256, signal);
    // Checked right before every scheduling call, not just at the top of a loop.
    const stillLeader = (): boolean =>
      !signal.aborted && this.o.lease.isLeader() && this.o.lease.currentTerm()?.id === term.id;
    const loops = [this.pollLoop(signal, stillLeader), this.explorationLoop(signal, stillLeader)];
    if (this.o.queueDepths) loops.push(this.queueDepthLoop(signal));
    await Promise.all(loops);
  }

  private async pollLoop(signal: AbortSignal, stillLeader: () => boolean): Promise<void> {
    const { hub, scheduler, logger } = this.o;
    const batchSize = this.o.pollBatchSize;
    let lastFullList = Number.NEGATIVE_INFINITY;
    // Agents of the last answer that were already being handled (or held off by a guard): they
    // stay unread at the Hub meanwhile, so the next poll asks for that many more, and an agent with
    // a new notification is in the answer instead of behind them (which left it to the complete
    // listing, up to FULL_LIST_MIN_INTERVAL_MS later).
    let held = 0;
    while (!signal.aborted) {
      let agents: AgentWithNotifications[];
      let complete: boolean;
      // A Hub that had no long poll is asked again now and then, so an upgrade needs no restart.
      const probing = !this.longPoll && performance.now() >= this.longPollRecheckAt;
      if (probing) this.longPoll = true;
      const kind = this.longPoll ? 'long_poll' : 'list';
      const endTimer = this.o.metrics.pollDuration.startTimer({ kind });
      try {
        if (this.longPoll) {
          const timeoutSeconds = this.o.longPollTimeoutSeconds ?? 30;
          const batch = Math.max(batchSize, Math.min(MAX_POLL_BATCH, batchSize + held));
          agents = await hub.pollNotifications({ timeoutSeconds, batchSize: batch }, { signal });
          complete = agents.length < batch;
        } else {
          agents = await hub.listAgentsWithNotifications({ signal });
          complete = true;
        }
        endTimer();
        this.hubHealth.ok();
        if (probing) logger.info('the Hub answers the long poll again: polling with it');
      } catch (err) {
        endTimer();
        if (signal.aborted) break;
        if (err instanceof LongPollUnsupportedError) {
          this.longPoll = false;
          const recheckMs = this.o.longPollRecheckMs ?? 10 * 60_000;
          this.longPollRecheckAt = performance.now() + recheckMs;
          if (!probing) {
            logger.info(
              { pollIntervalMs: this.o.pollIntervalMs, recheckMs },
              'the Hub has no long poll: listing agents with notifications every poll interval instead',
            );
          }
          continue;
        }
        await sleep(this.hubHealth.failed(err), signal);
        continue;
      }

      let outcome = await scheduler.schedule(agents, stillLeader, complete, signal);
      if (
        !complete &&
        outcome.deduped.length > 0 &&
        outcome.failed.length === 0 &&
        !outcome.interrupted &&
        performance.now() - lastFullList >= FULL_LIST_MIN_INTERVAL_MS
      ) {
        // A full batch holding agents that are already being handled can hide agents beyond the
        // batch (the Hub decides the order) for as long as those activations run: look at the
        // complete list too, at most a few times a second.
        lastFullList = performance.now();
        try {
          const all = await hub.listAgentsWithNotifications({ signal });
          outcome = merge(outcome, await scheduler.schedule(all, stillLeader, true, signal));
        } catch (err) {
          if (signal.aborted) break;
          await sleep(this.hubHealth.failed(err), signal);
          continue;
        }
      }
      if (signal.aborted) break;
      held = outcome.deduped.length + outcome.skipped.length;
      logger.debug(
        {
          kind,
          agents: agents.length,
          scheduled: outcome.scheduled.length,
          deduped: outcome.deduped.length,
          skipped: outcome.skipped.length,
          failed: outcome.failed.length,
        },
        'poll handled',
      );
      if (outcome.scheduled.length > 0) this.temporalHealth.ok();
      if (outcome.failed.length > 0 && outcome.scheduled.length === 0) {
        // Nothing got through: Temporal is likely away. The notifications stay unread at the Hub,
        // so the next poll after the backoff reports them again; nothing is lost.
        await sleep(this.temporalHealth.failed(outcome.lastError), signal);
        continue;
      }
      if (!this.longPoll) await sleep(jittered(this.o.pollIntervalMs, 0.1, this.random), signal);
      else if (agents.length > 0 && outcome.scheduled.length === 0) {
        // Every agent in the answer is already being handled, and the long poll would answer again
        // at once: pause briefly so the leader does not spin (see RecentlyScheduled).
        await sleep(this.o.idlePauseMs ?? IDLE_PAUSE_MS, signal);
      }
    }
  }

  private async explorationLoop(signal: AbortSignal, stillLeader: () => boolean): Promise<void> {
    const { exploration, logger } = this.o;
    // The first round waits one interval: a new leader first catches up on notifications, which
    // are latency-sensitive, while exploration is not.
    await sleep(jittered(this.o.pollIntervalMs, 0.1, this.random), signal);
    while (!signal.aborted) {
      let delay = jittered(this.o.pollIntervalMs, 0.1, this.random);
      try {
        const out = await exploration.run(stillLeader, signal);
        if (signal.aborted) break;
        this.staleHealth.ok();
        if (out.started.length > 0) this.temporalHealth.ok();
        if (out.failed.length > 0 && out.started.length === 0) {
          logger.debug(
            { failed: out.failed.length, err: describeError(out.lastError) },
            'exploration failed',
          );
          delay = Math.min(delay, this.temporalHealth.failed(out.lastError));
        }
        if (out.started.length + out.skipped.length > 0) {
          logger[out.started.length > 0 ? 'info' : 'debug'](
            { started: out.started, skipped: out.skipped.length, notEnabled: out.notEnabled.length },
            'exploration round',
          );
        }
      } catch (err) {
        if (signal.aborted) break;
        delay = Math.min(delay, this.staleHealth.failed(err));
      }
      await sleep(delay, signal);
    }
  }

  private async queueDepthLoop(signal: AbortSignal): Promise<void> {
    const read = this.o.queueDepths!;
    while (!signal.aborted) {
      try {
        for (const [queue, depth] of Object.entries(await read())) {
          this.o.metrics.queueDepth.set({ queue }, depth);
        }
      } catch (err) {
        // Temporal outages are logged by the scheduling loops; this only leaves the gauge stale.
        this.o.logger.debug({ err: describeError(err) }, 'queue depth unavailable');
      }
      await sleep(this.o.queueDepthIntervalMs ?? 15_000, signal);
    }
  }
}

function merge(a: ScheduleOutcome, b: ScheduleOutcome): ScheduleOutcome {
  return {
    scheduled: [...a.scheduled, ...b.scheduled],
    deduped: b.deduped,
    skipped: [...a.skipped, ...b.skipped],
    failed: [...a.failed, ...b.failed],
    lastError: b.lastError ?? a.lastError,
    interrupted: a.interrupted || b.interrupted,
  };
}
