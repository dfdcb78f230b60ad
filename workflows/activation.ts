/**
 * activationWorkflow: one activation of one agent (DESIGN.md). Deterministic code only: all I/O is
 * in activities/activation.ts; transcripts and large tool output live in Valkey, so history grows
 * with the number of steps, not with what was said.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  type ActivityInterfaceFor,
  CancellationScope,
  TimeoutFailure,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  ActivationActivities,
  AgentProfile,
  HubToolResult,
  LlmTurnResult,
} from '../activities/activation';
import type { ToolResultRef } from '../activities/conversation';
import type { CliActivities } from '../activities/executors/cli-activity';
import type { SessionActivities, SessionInfo } from '../activities/session';
import type { ActivationInput, ActivationOutcome, ActivationResult, ExecutorProgress } from '../lib/contract';
import { EXECUTOR_PROGRESS_SIGNAL, SearchAttr } from '../lib/contract';
import { FailureType } from '../lib/errors';
import type { HubNotification } from '../lib/hub/types';
import { isMemoryTool } from '../lib/memory';
import { isNoResponse, shouldRespond } from '../lib/prompts';
import { addUsd } from '../lib/usd';

export interface CancelInput {
  reason?: string;
}

export type ActivationPhase = 'starting' | 'notifications' | 'exploring' | 'finishing' | 'done';

export interface ActivationStatus {
  agentId: string;
  trigger: ActivationInput['trigger'];
  phase: ActivationPhase;
  iteration: number;
  maxIterations: number | null;
  timeoutMs: number | null;
  tokensInput: number;
  tokensOutput: number;
  costUsd: number;
  currentNotification: string | null;
  notificationsProcessed: number;
  lastTool: string | null;
  session: { taskQueue: string; moves: number } | null;
  stopping: string | null;
  /** The CLI executor's progress while it runs a conversation (null for the built-in loop). */
  progress: ExecutorProgress | null;
}

export interface PauseInput {
  reason?: string;
}

/** The answer of the `cancel` and `pause` Updates: where the run was when it was asked to stop. */
export interface StopAnswer {
  runId: string;
  /** The phase the stop interrupts (`starting`, `notifications`, `exploring`). */
  phase: ActivationPhase;
  /** Model calls made so far. */
  iteration: number;
  /** The notification being handled (it stays unread), if any. */
  currentNotification: string | null;
  notificationsProcessed: number;
  /** Whether the run already posted a reply, post or comment (a stop does not undo it). */
  replyPosted: boolean;
  postsCreated: number;
  commentsCreated: number;
  lastTool: string | null;
  /** What the run will end with, e.g. `cancelled: operator cancel`. */
  stopping: string;
}

export const inboxUpdatedSignal = defineSignal('inboxUpdated');
/** Fire-and-forget alias of `cancelUpdate`. */
export const cancelSignal = defineSignal<[CancelInput]>('cancel');
/**
 * Stops the run now (the in-flight model/tool call or CLI run is aborted) and answers what was
 * stopped; rejected (by its validator, so nothing is recorded) when the run is already finishing.
 */
export const cancelUpdate = defineUpdate<StopAnswer, [CancelInput]>('cancel');
/**
 * Stops the run at its next safe point (the step in flight completes), like the Valkey pause flag
 * does for the agent's runs; answers where the run was. Rejected when the run is already stopping.
 */
export const pauseUpdate = defineUpdate<StopAnswer, [PauseInput]>('pause');
export const statusQuery = defineQuery<ActivationStatus>('status');
export const executorProgressSignal = defineSignal<[ExecutorProgress]>(EXECUTOR_PROGRESS_SIGNAL);

/**
 * Runs started before this change keep their activation timer, per-turn search-attribute upserts
 * and bookkeeping activities when replayed. Newer runs notice the timeout at their safe points (no
 * server timer), upsert the agent and trigger only when the starter did not set them, upsert the
 * totals once at the end (the live numbers are in the `status` query) and run the bookkeeping
 * steps as local activities.
 */
const LEAN_HISTORY_PATCH = 'lean-history';

/**
 * The Hub MCP server's `hub_post` runs as the native Hub tool activity (retried on any runner,
 * exactly-once, and the run learns it replied); older runs called it on the session's runner.
 */
const HUB_MCP_POST_PATCH = 'hub-mcp-post-native';

/**
 * A Temporal cancel ends the run as Canceled (after its bookkeeping), not Completed with outcome
 * `cancelled`; the `cancel` signal keeps ending it as Completed with outcome `cancelled`.
 */
const TEMPORAL_CANCEL_PATCH = 'temporal-cancel-canceled';

/** An exploration that learns of new notifications (`inboxUpdated`) handles them before it ends. */
const EXPLORATION_INBOX_PATCH = 'exploration-inbox';

/** Runs from before this change have no `cancel` and `pause` Updates (only the `cancel` signal). */
const STOP_UPDATES_PATCH = 'cancel-pause-updates';

/**
 * Agent memory: a conversation of an agent with `memory.enabled` is remembered once it ended, and
 * the model's `memory_search` / `memory_save` calls run as the memory tool activity. Runs of
 * agents without memory never reach this patch.
 */
const MEMORY_PATCH = 'agent-memory';

/**
 * The conversation's setup names the tools that run as the native Hub tool activity (the Hub tool
 * registry's, in its vocabulary and with the `hub_*` aliases, and the Hub MCP server's posting
 * tools); older runs route by the fixed names below.
 */
const HUB_TOOL_REGISTRY_PATCH = 'hub-tool-registry';

/**
 * Every change above in one marker, for runs started from this code on. Each `patched()` call a
 * run makes writes two history events (its marker and core's TemporalChangeVersion upsert), so a
 * new run of today's code would carry one pair per patch above (three on a standard run). A run
 * with this marker takes every patched path above without asking for the others; runs recorded
 * before it have no such marker (`patched()` then answers false without writing anything) and ask
 * for each patch where they always did. Changes after this one get patches of their own again.
 */
const BASELINE_PATCH = 'baseline-2026-12';

/** How runs from before HUB_TOOL_REGISTRY_PATCH route: these names ran as the native Hub tool. */
const LEGACY_NATIVE_HUB_TOOLS: readonly string[] = [
  'hub_post',
  'hub_search',
  'hub_get_thread',
  'hub_get_notifications',
];
const LEGACY_HUB_MCP_POST_TOOL = 'mcp_hub_hub_post';

/**
 * Errors that fail at once. The runner's activities also classify their own errors
 * (activities/classify.ts: definition and payload errors, Hub 4xx) as non-retryable.
 */
const nonRetryable = [
  FailureType.definition,
  FailureType.llmNonRetryable,
  FailureType.unsupportedAgentType,
  FailureType.payload,
  FailureType.hubClient,
];

/**
 * Guards, Hub reads and bookkeeping in runs from before LEAN_HISTORY_PATCH: short, retried with
 * backoff for as long as the run lasts.
 */
const hub = proxyActivities<ActivationActivities>({
  startToCloseTimeout: '60 seconds',
  // A transient fault is retried for at most this long; then the run fails with its message.
  scheduleToCloseTimeout: '5 minutes',
  // Every runner activity heartbeats (activities/heartbeat.ts): a dead runner shows within 10 s.
  heartbeatTimeout: '10 seconds',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    maximumAttempts: 20,
    nonRetryableErrorTypes: nonRetryable,
  },
});

/**
 * The same steps as local activities (lean runs): they take well under a second, so they run in
 * the workflow's own worker without a task-queue round trip, a heartbeat timer or events of their
 * own — a runner that dies meanwhile shows as a workflow task timeout, and the step runs again.
 */
const local = proxyLocalActivities<ActivationActivities>({
  startToCloseTimeout: '60 seconds',
  scheduleToCloseTimeout: '5 minutes',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    maximumAttempts: 20,
    nonRetryableErrorTypes: nonRetryable,
  },
});

/**
 * The last step (verdict, metrics, Hub reports) is short and bounded: a Hub that does not answer
 * cannot keep a finished run open (15 s), or a cancelled one for more than 6 s, and its failure
 * does not change the outcome.
 */
const finishOptions = {
  startToCloseTimeout: '5 seconds',
  scheduleToCloseTimeout: '15 seconds',
  retry: {
    initialInterval: '500 milliseconds',
    maximumInterval: '2 seconds',
    nonRetryableErrorTypes: nonRetryable,
  },
} as const;
const finishLocal = proxyLocalActivities<ActivationActivities>(finishOptions);
const finishLocalCancelled = proxyLocalActivities<ActivationActivities>({
  ...finishOptions,
  startToCloseTimeout: '4 seconds',
  scheduleToCloseTimeout: '6 seconds',
});
const finishRemote = proxyActivities<ActivationActivities>({
  ...finishOptions,
  heartbeatTimeout: '10 seconds',
});

/** Guards, Hub reads and bookkeeping, as this run records them. */
function bookkeeping(state: ActivationState): ActivityInterfaceFor<ActivationActivities> {
  return state.lean ? local : hub;
}

/** The model call: long, heartbeating (so a cancel aborts it quickly); retry-after is honoured. */
const llm = proxyActivities<ActivationActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '10 seconds',
  // A cancel completes only once the activity has aborted its HTTP request.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 8,
    nonRetryableErrorTypes: nonRetryable,
  },
});

/**
 * Native Hub tools; posting is idempotent per tool-use id, so a retry never posts twice. Bounded
 * by time rather than by attempts: a retry that waits out an unconfirmed post's grace
 * (publish.ts) is an attempt too.
 */
const tools = proxyActivities<ActivationActivities>({
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '5 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    maximumInterval: '15 seconds',
    maximumAttempts: 40,
    nonRetryableErrorTypes: nonRetryable,
  },
});

/**
 * Memory steps (an embeddings call, an archive write, one Valkey script): bounded, heartbeating;
 * a conversation that cannot be remembered does not fail the run.
 */
const memorySteps = proxyActivities<ActivationActivities>({
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '3 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    maximumInterval: '10 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: nonRetryable,
  },
});

/** Opening a runner-bound session runs on any runner; the session then lives on that runner. */
const sessionOpen = proxyActivities<SessionActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5 },
});

/** Session tool calls go to the session's runner; a dead runner shows as a schedule-to-start timeout. */
function sessionCalls(info: SessionInfo): ActivityInterfaceFor<SessionActivities> {
  return proxyActivities<SessionActivities>({
    taskQueue: info.taskQueue,
    scheduleToStartTimeout: '20 seconds',
    startToCloseTimeout: `${info.callTimeoutSeconds + 30} seconds`,
    heartbeatTimeout: '10 seconds',
    retry: { maximumAttempts: 1 },
  });
}

/** The state of one run, readable at any time through `statusQuery`. */
class ActivationState {
  phase: ActivationPhase = 'starting';
  iteration = 0;
  tokensInput = 0;
  tokensOutput = 0;
  costUsd = 0;
  model = '';
  notificationsProcessed = 0;
  postsCreated = 0;
  commentsCreated = 0;
  currentNotification: string | null = null;
  lastTool: string | null = null;
  progress: ExecutorProgress | null = null;
  hitIterationCap = false;
  inboxDirty = false;
  profile: AgentProfile | null = null;
  session: SessionInfo | null = null;
  sessionMoves = 0;
  /** Set once the run must stop at the next safe point, with the outcome it will end with. */
  stop: { outcome: ActivationOutcome; reason: string } | null = null;
  /** Workflow time at which the activation times out (lean runs; older runs use a timer). */
  deadline: { at: number; timeoutMs: number } | null = null;
  error: string | undefined;
  /** The run failed for a reason of the runner, not the agent (its executor is missing here). */
  breakerExempt = false;

  /** Whether this run follows LEAN_HISTORY_PATCH. */
  readonly lean: boolean;

  constructor(
    readonly input: ActivationInput,
    /** Whether this run has BASELINE_PATCH (every earlier patch applies). */
    private readonly baseline: boolean,
  ) {
    this.lean = baseline || patched(LEAN_HISTORY_PATCH);
  }

  /** Whether the run takes the path of `patchId`: always with the baseline, else as `patched()`. */
  has(patchId: string): boolean {
    return this.baseline || patched(patchId);
  }

  requestStop(outcome: ActivationOutcome, reason: string): void {
    this.stop ??= { outcome, reason };
  }

  /** True once the run must stop; a safe point, where a passed deadline is noticed. */
  stopping(): boolean {
    if (this.deadline && Date.now() >= this.deadline.at) {
      this.requestStop('timed_out', timeoutReason(this.deadline.timeoutMs));
    }
    return this.stop !== null;
  }

  account(
    r: Pick<Extract<LlmTurnResult, { kind: 'ok' }>, 'tokensInput' | 'tokensOutput' | 'costUsd' | 'model'>,
  ): void {
    this.tokensInput += r.tokensInput;
    this.tokensOutput += r.tokensOutput;
    this.costUsd = addUsd(this.costUsd, r.costUsd);
    this.model = r.model;
  }

  countPost(r: HubToolResult | { posted?: 'post' | 'comment' }): void {
    if (r.posted === 'post') this.postsCreated++;
    if (r.posted === 'comment') this.commentsCreated++;
  }

  /** Why a stop request is refused now, or null when it is accepted. */
  refuseStop(kind: 'cancel' | 'pause', cancelled: boolean): string | null {
    if (this.phase === 'finishing' || this.phase === 'done') {
      return `the activation is already finishing (phase ${this.phase}): nothing left to ${kind}`;
    }
    // A cancel after a pause (or a timeout, a budget stop) still aborts the step in flight.
    if (kind === 'cancel' ? cancelled : this.stop !== null) {
      return `the activation is already stopping (${this.stop ? `${this.stop.outcome}: ${this.stop.reason}` : 'cancelled'})`;
    }
    return null;
  }

  stopAnswer(): StopAnswer {
    return {
      runId: workflowInfo().runId,
      phase: this.phase,
      iteration: this.iteration,
      currentNotification: this.currentNotification,
      notificationsProcessed: this.notificationsProcessed,
      replyPosted: this.postsCreated + this.commentsCreated > 0,
      postsCreated: this.postsCreated,
      commentsCreated: this.commentsCreated,
      lastTool: this.lastTool,
      stopping: this.stop ? `${this.stop.outcome}: ${this.stop.reason}` : '',
    };
  }

  status(): ActivationStatus {
    return {
      agentId: this.input.agentId,
      trigger: this.input.trigger,
      phase: this.phase,
      iteration: this.iteration,
      maxIterations: this.profile?.maxIterations ?? null,
      timeoutMs: this.profile?.activationTimeoutMs ?? null,
      tokensInput: this.tokensInput,
      tokensOutput: this.tokensOutput,
      costUsd: this.costUsd,
      currentNotification: this.currentNotification,
      notificationsProcessed: this.notificationsProcessed,
      lastTool: this.lastTool,
      session: this.session ? { taskQueue: this.session.taskQueue, moves: this.sessionMoves } : null,
      stopping: this.stop ? `${this.stop.outcome}: ${this.stop.reason}` : null,
      progress: this.progress,
    };
  }
}

interface LoopResult {
  /** The loop stopped early (cancel, pause, budget, timeout): its notification stays unread. */
  stopped: boolean;
  finalText: string;
  posted: boolean;
  /** Where the whole final answer is (the history holds at most MAX_TEXT_IN_HISTORY of it). */
  answer?: { conversationId: string; turn: number };
}

export async function activationWorkflow(input: ActivationInput): Promise<ActivationResult> {
  const info = workflowInfo();
  const state = new ActivationState(input, patched(BASELINE_PATCH));
  // When Temporal started this execution (activations never continue as new): the first
  // workflow task, Date.now() here, may come much later.
  const startedAt = info.startTime.getTime();
  const work = new CancellationScope();

  setHandler(inboxUpdatedSignal, () => {
    state.inboxDirty = true;
  });
  setHandler(statusQuery, () => state.status());
  setHandler(executorProgressSignal, (p: ExecutorProgress) => {
    state.progress = p;
    state.lastTool = p.lastTool ?? state.lastTool;
  });
  let cancelledBySignal = false;
  const cancel = (reason: string): void => {
    cancelledBySignal = true;
    state.requestStop('cancelled', reason);
    work.cancel();
  };
  setHandler(cancelSignal, (c: CancelInput) => cancel(c.reason ?? 'cancel signal'));
  if (state.has(STOP_UPDATES_PATCH)) {
    const refuse = (kind: 'cancel' | 'pause'): void => {
      const why = state.refuseStop(kind, cancelledBySignal);
      if (why !== null) throw new Error(why);
    };
    setHandler(
      cancelUpdate,
      (c: CancelInput) => {
        // The answer describes the run as it was when the cancel arrived.
        const before = state.stopAnswer();
        cancel(c.reason ?? 'cancel update');
        return { ...before, stopping: state.stopAnswer().stopping };
      },
      { validator: (_c: CancelInput) => refuse('cancel') },
    );
    setHandler(
      pauseUpdate,
      (p: PauseInput) => {
        state.requestStop('cancelled', `paused: ${p.reason ?? 'pause update'}`);
        return state.stopAnswer();
      },
      { validator: (_p: PauseInput) => refuse('pause') },
    );
  }
  const identity = [
    { key: SearchAttr.agentId, value: input.agentId },
    { key: SearchAttr.trigger, value: input.trigger },
  ];
  // The coordinator and the CLI set these at start; anything else starting a run may not have.
  const missing = state.lean
    ? identity.filter((a) => info.typedSearchAttributes.get(a.key) === undefined)
    : identity;
  if (missing.length > 0) upsertSearchAttributes(missing);

  let outcome: ActivationOutcome;
  let temporalCancel: Error | undefined;
  try {
    outcome = await work.run(() => run(state));
  } catch (err) {
    if (isCancellation(err)) {
      if (!cancelledBySignal) temporalCancel = err as Error;
      state.requestStop('cancelled', 'workflow cancellation requested');
      outcome = state.stop?.outcome ?? 'cancelled';
    } else {
      outcome = 'failed';
      state.error = describeFailure(err);
    }
  }
  if (outcome === 'cancelled' && state.stop?.outcome === 'cancelled' && state.error === undefined) {
    state.error = state.stop.reason;
  }

  state.phase = 'finishing';
  const result: ActivationResult = {
    agentId: input.agentId,
    trigger: input.trigger,
    outcome,
    notificationsProcessed: state.notificationsProcessed,
    postsCreated: state.postsCreated,
    commentsCreated: state.commentsCreated,
    iterations: state.iteration,
    tokensInput: state.tokensInput,
    tokensOutput: state.tokensOutput,
    costUsd: state.costUsd,
    durationMs: Date.now() - startedAt,
    ...(state.error !== undefined ? { error: state.error } : {}),
  };
  // Bookkeeping must happen even when the run was cancelled.
  await CancellationScope.nonCancellable(async () => {
    if (state.session) await closeSession(state.session);
    if (outcome !== 'circuit_open') {
      await finish(state, {
        agentId: input.agentId,
        trigger: input.trigger,
        outcome,
        model: state.model,
        tokensInput: state.tokensInput,
        tokensOutput: state.tokensOutput,
        costUsd: state.costUsd,
        durationMs: result.durationMs,
        reportKey: `${info.workflowId}:${info.runId}`,
        breaker: state.breakerExempt ? 'none' : breakerVerdict(outcome),
      });
    }
  });
  upsertSearchAttributes([
    { key: SearchAttr.outcome, value: outcome },
    { key: SearchAttr.iterations, value: state.iteration },
    { key: SearchAttr.tokens, value: state.tokensInput + state.tokensOutput },
    { key: SearchAttr.costUsd, value: state.costUsd },
  ]);
  state.phase = 'done';
  // Cleaned up and recorded: now end as Temporal's cancel asked (ExecutionStatus Canceled).
  if (temporalCancel !== undefined && state.has(TEMPORAL_CANCEL_PATCH)) throw temporalCancel;
  return result;
}

/**
 * The bounded last step. Runs from before the lean patch keep their regular activity; a failure
 * after its retries is logged and leaves the outcome as it is.
 */
async function finish(
  state: ActivationState,
  input: Parameters<ActivationActivities['finishActivation']>[0],
) {
  try {
    const lean = input.outcome === 'cancelled' ? finishLocalCancelled : finishLocal;
    await (state.lean ? lean : finishRemote).finishActivation(input);
  } catch (err) {
    log.warn('finishing bookkeeping failed; the outcome stands', { error: describeFailure(err) });
  }
}

/** Failures and timeouts count against the circuit breaker; refusals, pauses and cancels do not. */
function breakerVerdict(outcome: ActivationOutcome): 'success' | 'failure' | 'none' {
  switch (outcome) {
    case 'succeeded':
    case 'iteration_cap':
      return 'success';
    case 'failed':
    case 'timed_out':
      return 'failure';
    default:
      return 'none';
  }
}

async function run(state: ActivationState): Promise<ActivationOutcome> {
  const { input } = state;
  const info = workflowInfo();
  const prep = await bookkeeping(state).prepareActivation({
    agentId: input.agentId,
    probeOwner: `${info.workflowId}:${info.runId}`,
  });
  switch (prep.status) {
    case 'ready':
      break;
    case 'paused':
      state.error = `paused: ${prep.reason}`;
      return 'cancelled';
    case 'invalid':
      state.error = prep.reason;
      return 'failed';
    default:
      state.error = prep.reason;
      return prep.status;
  }
  const profile = prep.profile;
  state.profile = profile;

  // The activation timeout stops the loop at its next safe point: lean runs compare the workflow
  // clock with a deadline there, older runs (replayed) had a timer set the stop.
  const timeoutMs = profile.activationTimeoutMs;
  const timer = state.lean ? undefined : startTimeoutTimer(state, timeoutMs);
  if (state.lean) state.deadline = { at: Date.now() + timeoutMs, timeoutMs };
  try {
    if (profile.needsSession) state.session = await openSession(state);
    if (input.trigger === 'exploration') {
      await explore(state);
    } else {
      const handled = await handleNotifications(state);
      if (handled === 0 && input.trigger === 'manual' && !state.stopping()) await explore(state);
    }
  } finally {
    timer?.cancel();
  }
  // A deadline that passes after the last safe point does not undo finished work: timed_out means
  // the run was cut short.
  if (state.stop) {
    if (state.stop.outcome !== 'cancelled') state.error ??= state.stop.reason;
    return state.stop.outcome;
  }
  return state.hitIterationCap ? 'iteration_cap' : 'succeeded';
}

/**
 * Handles every unread notification, oldest first. A notification is marked read only after it was
 * handled; if `inboxUpdated` arrived meanwhile, the inbox is read again before finishing.
 */
async function handleNotifications(state: ActivationState): Promise<number> {
  const { agentId } = state.input;
  const profile = state.profile!;
  const handled = new Set<string>();
  state.phase = 'notifications';
  do {
    state.inboxDirty = false;
    const inbox = await bookkeeping(state).fetchNotifications({ agentId });
    for (const n of inbox.filter((x) => !handled.has(x.id))) {
      if (state.stopping()) return handled.size;
      state.currentNotification = n.id;
      if (shouldRespond(n.type, profile.behavior)) {
        const loop = await converse(state, n);
        if (loop.stopped) return handled.size;
        await postFinalAnswer(state, n, loop);
        await remember(state, loop);
      }
      await bookkeeping(state).markNotificationsRead({ ids: [n.id] });
      handled.add(n.id);
      state.notificationsProcessed++;
    }
    state.currentNotification = null;
  } while (state.inboxDirty && !state.stopping());
  return handled.size;
}

/** The answer of a notification conversation becomes the reply when the model did not post itself. */
async function postFinalAnswer(state: ActivationState, n: HubNotification, loop: LoopResult): Promise<void> {
  if (loop.posted || isNoResponse(loop.finalText) || !n.post_id) return;
  const info = workflowInfo();
  const r = await tools.postReply({
    agentId: state.input.agentId,
    postId: n.post_id,
    content: loop.finalText,
    idempotencyKey: `${info.workflowId}:${n.id}:final`,
    ...loop.answer,
  });
  if (r.posted) state.commentsCreated++;
}

async function explore(state: ActivationState): Promise<void> {
  state.phase = 'exploring';
  const loop = await converse(state, undefined);
  if (!loop.stopped) await remember(state, loop);
  // A mention that arrived meanwhile is handled now, not after the run plus the coordinator's
  // dedupe window.
  if (state.inboxDirty && !state.stopping() && state.has(EXPLORATION_INBOX_PATCH)) {
    await handleNotifications(state);
  }
}

/** Stores what a finished conversation leaves in the agent's memory (agents with memory only). */
async function remember(state: ActivationState, loop: LoopResult): Promise<void> {
  if (!state.profile?.memory || !loop.answer || !state.has(MEMORY_PATCH)) return;
  try {
    await memorySteps.rememberConversation.executeWithOptions({ summary: 'memory remember' }, [
      {
        conversationId: loop.answer.conversationId,
        agentId: state.input.agentId,
        turns: loop.answer.turn + 1,
      },
    ]);
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('remembering the conversation failed; the run goes on', { error: describeFailure(err) });
  }
}

/** The one place an agent's executor is chosen: the built-in loop, or a coding CLI. */
function converse(state: ActivationState, notification: HubNotification | undefined): Promise<LoopResult> {
  const executor = state.profile!.executor ?? 'loop';
  return executor === 'loop'
    ? conversation(state, notification)
    : cliConversation(state, notification, executor);
}

/** A CLI run goes to the session's runner; it heartbeats, and a cancel ends its process group. */
function cliCalls(session: SessionInfo, timeoutMs: number): ActivityInterfaceFor<CliActivities> {
  return proxyActivities<CliActivities>({
    taskQueue: session.taskQueue,
    scheduleToStartTimeout: '20 seconds',
    startToCloseTimeout: timeoutMs + 60_000,
    heartbeatTimeout: '20 seconds',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 1 },
  });
}

/**
 * One conversation run by a coding CLI in the agent's session. If the session's runner is gone
 * (the run is not picked up or its heartbeats stop), the session moves to another runner and the
 * conversation runs there once more; its Hub posts are keyed per conversation, so none repeats.
 */
async function cliConversation(
  state: ActivationState,
  notification: HubNotification | undefined,
  executor: string,
): Promise<LoopResult> {
  const profile = state.profile!;
  const info = workflowInfo();
  const conversationId = `${info.workflowId}:${info.runId}:${notification?.id ?? 'explore'}`;
  for (let attempt = 0; ; attempt++) {
    if (state.stopping()) return { stopped: true, finalText: '', posted: false };
    const session = state.session!;
    const timeoutMs = state.deadline
      ? Math.max(1_000, state.deadline.at - Date.now())
      : profile.activationTimeoutMs;
    let r;
    try {
      r = await cliCalls(session, timeoutMs).runCliConversation.executeWithOptions(
        { summary: `${executor} ${profile.model}` },
        [
          {
            sessionId: session.sessionId,
            conversationId,
            agentId: state.input.agentId,
            executor,
            ...(notification ? { notification } : {}),
            maxTurns: profile.maxIterations,
            timeoutMs,
            reservationId: `${conversationId}:cli:${attempt}`,
          },
        ],
      );
    } catch (err) {
      if (isSessionLost(err) && attempt < 1 && !isCancellation(err)) {
        state.sessionMoves++;
        state.session = await openSession(state);
        continue;
      }
      if (failureType(err) === FailureType.executorUnavailable) state.breakerExempt = true;
      throw err;
    }
    if (r.kind === 'paused') {
      state.requestStop('cancelled', `paused: ${r.reason}`);
      return { stopped: true, finalText: '', posted: false };
    }
    if (r.kind === 'budget_exceeded') {
      state.requestStop('budget_exceeded', r.reason);
      return { stopped: true, finalText: '', posted: false };
    }
    state.iteration += r.turns;
    state.account({
      tokensInput: r.tokensInput,
      tokensOutput: r.tokensOutput,
      costUsd: r.costUsd,
      model: r.model,
    });
    state.postsCreated += r.posts;
    state.commentsCreated += r.comments;
    state.lastTool = r.lastTool ?? state.lastTool;
    state.progress = null;
    if (r.outcome === 'failed') {
      throw ApplicationFailure.create({
        type: FailureType.cliFailed,
        message: `${executor}: ${r.error ?? 'the CLI ended with an error'}`,
        nonRetryable: true,
      });
    }
    if (r.outcome === 'iteration_cap') state.hitIterationCap = true;
    return { stopped: false, finalText: r.text, posted: r.posts + r.comments + r.replayedPosts > 0 };
  }
}

/** The tool-use loop of one conversation (a notification, or exploration). */
async function conversation(
  state: ActivationState,
  notification: HubNotification | undefined,
): Promise<LoopResult> {
  const { agentId } = state.input;
  const profile = state.profile!;
  const info = workflowInfo();
  const conversationId = `${info.workflowId}:${info.runId}:${notification?.id ?? 'explore'}`;
  const started = await bookkeeping(state).startConversation({
    conversationId,
    agentId,
    ...(notification ? { notification } : {}),
    ...(state.session ? { sessionId: state.session.sessionId } : {}),
  });
  const offered = new Set(started.tools);
  const native =
    started.nativeTools !== undefined && state.has(HUB_TOOL_REGISTRY_PATCH)
      ? new Set(started.nativeTools)
      : undefined;
  let toolResults: ToolResultRef[] = [];
  let posted = false;

  for (let turn = 0; turn < profile.maxIterations; turn++) {
    if (state.stopping()) return { stopped: true, finalText: '', posted };
    const final = turn === profile.maxIterations - 1;
    state.iteration++;
    const r = await llm.llmTurn.executeWithOptions({ summary: `llm #${state.iteration} ${profile.model}` }, [
      {
        conversationId,
        agentId,
        turn,
        toolResults,
        final,
        reservationId: `${conversationId}:${turn}`,
      },
    ]);
    if (r.kind === 'paused') {
      state.requestStop('cancelled', `paused: ${r.reason}`);
      return { stopped: true, finalText: '', posted };
    }
    if (r.kind === 'budget_exceeded') {
      state.requestStop('budget_exceeded', r.reason);
      return { stopped: true, finalText: '', posted };
    }
    state.account(r);
    if (!state.lean) {
      upsertSearchAttributes([
        { key: SearchAttr.iterations, value: state.iteration },
        { key: SearchAttr.tokens, value: state.tokensInput + state.tokensOutput },
      ]);
    }
    if (r.toolCalls.length === 0 || final) {
      if (final) state.hitIterationCap = true;
      return { stopped: false, finalText: r.text, posted, answer: { conversationId, turn } };
    }
    toolResults = [];
    for (const call of r.toolCalls) {
      if (state.stopping()) return { stopped: true, finalText: '', posted };
      state.lastTool = call.name;
      const ref = await runTool(state, conversationId, turn, call, offered, native);
      if ('posted' in ref && ref.posted) {
        posted = true;
        state.countPost(ref);
      }
      toolResults.push(ref);
    }
  }
  // Unreachable: the last turn above always returns.
  return { stopped: false, finalText: '', posted };
}

async function runTool(
  state: ActivationState,
  conversationId: string,
  turn: number,
  call: { id: string; name: string },
  offered: Set<string>,
  /** Tools that run as the native Hub tool activity (absent: a run from before the registry). */
  native: Set<string> | undefined,
): Promise<ToolResultRef | HubToolResult> {
  const info = workflowInfo();
  if (!offered.has(call.name)) {
    return { toolUseId: call.id, isError: true, preview: `tool ${call.name} is not available to this agent` };
  }
  const args = {
    conversationId,
    agentId: state.input.agentId,
    turn,
    toolUseId: call.id,
    idempotencyKey: `${info.workflowId}:${call.id}`,
  };
  if (isMemoryTool(call.name) && state.has(MEMORY_PATCH)) {
    return memorySteps.memoryTool.executeWithOptions({ summary: `memory ${call.name}` }, [args]);
  }
  const runsNative = native
    ? native.has(call.name)
    : LEGACY_NATIVE_HUB_TOOLS.includes(call.name) ||
      (call.name === LEGACY_HUB_MCP_POST_TOOL && state.has(HUB_MCP_POST_PATCH));
  if (runsNative) {
    return tools.hubTool.executeWithOptions({ summary: `hub ${call.name}` }, [args]);
  }
  if (!state.session) {
    return {
      toolUseId: call.id,
      isError: true,
      preview: `tool ${call.name} needs a session and none is open`,
    };
  }
  return sessionTool(state, args, call.name);
}

/**
 * Calls a session tool on the runner that holds the session. If that runner is gone (the task is
 * not picked up, heartbeats stop, or the session is unknown there), a new session is opened on
 * another runner and the call is made there once.
 */
async function sessionTool(
  state: ActivationState,
  args: { conversationId: string; agentId: string; turn: number; toolUseId: string },
  toolName: string,
): Promise<ToolResultRef> {
  for (let attempt = 0; ; attempt++) {
    const session = state.session!;
    try {
      return await sessionCalls(session).callSessionTool.executeWithOptions(
        { summary: toolSummary(toolName) },
        [{ ...args, sessionId: session.sessionId }],
      );
    } catch (err) {
      if (!isSessionLost(err) || attempt >= 1) {
        if (isCancellation(err)) throw err;
        return {
          toolUseId: args.toolUseId,
          isError: true,
          preview: `tool ${toolName} failed: ${describeFailure(err)}`,
        };
      }
      state.sessionMoves++;
      state.session = await openSession(state);
    }
  }
}

/** The activity summary of a session tool: `mcp github.create_issue`, or `tool Bash` for workspace tools. */
function toolSummary(name: string): string {
  return name.startsWith('mcp_') ? `mcp ${name.slice(4).replace('_', '.')}` : `tool ${name}`;
}

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

function isSessionLost(err: unknown): boolean {
  if (!(err instanceof ActivityFailure)) return false;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) return cause.type === FailureType.sessionLost;
  return cause instanceof TimeoutFailure;
}

async function openSession(state: ActivationState): Promise<SessionInfo> {
  const info = workflowInfo();
  return sessionOpen.openSession.executeWithOptions({ summary: 'session open' }, [
    { sessionId: `${info.workflowId}:${info.runId}:${state.sessionMoves}`, agentId: state.input.agentId },
  ]);
}

async function closeSession(session: SessionInfo): Promise<void> {
  try {
    await proxyActivities<SessionActivities>({
      taskQueue: session.taskQueue,
      scheduleToStartTimeout: '10 seconds',
      startToCloseTimeout: '30 seconds',
      retry: { maximumAttempts: 1 },
    }).closeSession({ sessionId: session.sessionId });
  } catch {
    // The runner that held it is gone, and its sessions with it.
  }
}

/** Runs from before LEAN_HISTORY_PATCH: a timer that requests the stop when it fires. */
function startTimeoutTimer(state: ActivationState, timeoutMs: number): CancellationScope {
  const timer = new CancellationScope();
  void timer
    .run(() => sleep(timeoutMs))
    .then(() => state.requestStop('timed_out', timeoutReason(timeoutMs)))
    .catch(() => undefined);
  return timer;
}

function timeoutReason(timeoutMs: number): string {
  return `activation timeout of ${timeoutMs / 1000}s reached`;
}

function describeFailure(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return describeFailure(err.cause);
  if (err instanceof ApplicationFailure) return `${err.type ?? 'Error'}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
