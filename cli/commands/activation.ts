/**
 * `botburrow activation run|list|status|cancel`: activations on Temporal.
 */
import { ACTIVATION_OUTCOMES, TaskQueue, activationWorkflowId } from '../../lib/contract';
import type {
  ActivationInput,
  ActivationOutcome,
  ActivationResult,
  ActivationTrigger,
} from '../../lib/contract';
import type { ActivationStatus, StopAnswer } from '../../workflows/activation';
import { agentArg, agentExists, intOption, noSuchAgent, requireAgent, stringOption } from '../command';
import type { CommandSpec, Parsed } from '../command';
import type { ActivationRef, ActivationSummary, CommandDeps } from '../context';
import { CliError, ExitCode, OUTCOME_EXIT_CODES, usageError } from '../errors';
import {
  formatDuration,
  formatTime,
  formatUsd,
  keyValues,
  parseSince,
  shortId,
  table,
  toJson,
} from '../format';

const TRIGGERS: readonly ActivationTrigger[] = ['manual', 'notification', 'exploration'];

/** Task queue of a trigger, as the coordinator chooses it (DESIGN.md). */
export function queueFor(trigger: ActivationTrigger): string {
  return trigger === 'exploration' ? TaskQueue.normal : TaskQueue.high;
}

/** The exit code of a finished `activation run`. */
export function outcomeExitCode(outcome: string): number {
  return (OUTCOME_EXIT_CODES as Record<string, number | undefined>)[outcome] ?? ExitCode.failed;
}

/** What an operator can do about an outcome that did not do the work (stderr), if anything. */
export function outcomeHint(r: ActivationResult): string | undefined {
  switch (r.outcome) {
    case 'cancelled':
      return r.error?.startsWith('paused')
        ? `${r.agentId} is paused; lift it with: botburrow agent resume ${r.agentId}`
        : undefined;
    case 'circuit_open':
      return `the circuit breaker of ${r.agentId} is open; see botburrow breaker show ${r.agentId} (reset with breaker reset)`;
    case 'budget_exceeded':
      return `${r.agentId} is over budget; see botburrow budget show ${r.agentId}`;
    case 'timed_out':
      return 'the activation hit BOTBURROW_ACTIVATION_TIMEOUT';
    default:
      return undefined;
  }
}

/** Human lines for an ActivationResult. */
export function formatResult(ref: ActivationRef, r: ActivationResult): string {
  return keyValues([
    ['workflow', `${ref.workflowId} (run ${ref.runId})`],
    ['trigger', r.trigger],
    ['outcome', r.outcome],
    ['error', r.error],
    ['notifications', String(r.notificationsProcessed)],
    ['posts', String(r.postsCreated)],
    ['comments', String(r.commentsCreated)],
    ['iterations', String(r.iterations)],
    ['tokens', `${r.tokensInput + r.tokensOutput} (${r.tokensInput} in, ${r.tokensOutput} out)`],
    ['cost', formatUsd(r.costUsd)],
    ['duration', formatDuration(r.durationMs)],
  ]);
}

const run: CommandSpec = {
  words: ['activation', 'run'],
  summary: 'start an activation now (or join the running one) and wait for its result',
  positionals: [{ name: 'agent', required: true }],
  options: {
    trigger: {
      type: 'string',
      value: 'manual|notification|exploration',
      description: 'default manual (notifications, else exploration)',
    },
    wait: { type: 'boolean', description: 'wait for the result (default)' },
    'no-wait': { type: 'boolean', description: 'print the workflow and run id and return at once' },
    timeout: {
      type: 'string',
      value: 's',
      description: 'stop waiting after s seconds (exit 6; the activation goes on)',
      shownDefault: (s) => `${s.activationTimeout + 300} s: BOTBURROW_ACTIVATION_TIMEOUT + 300`,
    },
  },
  details: [
    'Exit code: 0 succeeded or iteration_cap, 10 failed, 11 cancelled, 12 budget_exceeded,',
    '13 circuit_open, 14 timed_out, 6 still running at --timeout.',
  ],
  async run(p, d) {
    const agentId = agentArg(p);
    const trigger = (stringOption(p, 'trigger') ?? 'manual') as ActivationTrigger;
    if (!TRIGGERS.includes(trigger))
      throw usageError(`--trigger must be one of ${TRIGGERS.join(', ')}, got '${trigger}'`);
    if (p.options.wait === true && p.options['no-wait'] === true)
      throw usageError('--wait and --no-wait contradict each other');
    const timeoutS = intOption(p, 'timeout', d.settings.activationTimeout + 300, 7 * 86400);
    await requireAgent(d, agentId);

    const temporal = await d.temporal();
    const workflowId = activationWorkflowId(agentId);
    const before = await temporal.describe(workflowId);
    const input: ActivationInput = { agentId, trigger, requestedAt: new Date(d.now()).toISOString() };
    const taskQueue = queueFor(trigger);
    const ref = await temporal.signalWithStart(input, taskQueue);
    const joined = before?.status === 'RUNNING' && before.runId === ref.runId;
    d.output.err(
      joined
        ? `${workflowId} was already running (run ${shortId(ref.runId)}, trigger ${before.trigger ?? '?'}): signalled it`
        : `started ${workflowId} (run ${shortId(ref.runId)}) on ${taskQueue}`,
    );
    if (p.options['no-wait'] === true) {
      d.output.out(
        d.json ? JSON.stringify({ ...ref, taskQueue, joined }, null, 2) : `${ref.workflowId} ${ref.runId}`,
      );
      return ExitCode.ok;
    }
    d.output.err(`waiting up to ${timeoutS}s for the result (Ctrl-C stops waiting, not the activation)`);
    const result = await temporal.result(ref, timeoutS * 1000);
    d.output.out(d.json ? toJson({ ...ref, joined, ...result }) : formatResult(ref, result));
    const hint = outcomeHint(result);
    if (hint) d.output.err(hint);
    return outcomeExitCode(result.outcome);
  },
};

/** The visibility query of `activation list` (values are validated before, so no quoting issues). */
export function listQuery(f: { agent?: string; outcome?: string; trigger?: string; since?: Date }): string {
  const parts = ["WorkflowType = 'activationWorkflow'"];
  if (f.agent !== undefined) parts.push(`BotburrowAgentId = '${f.agent}'`);
  if (f.outcome !== undefined) parts.push(`BotburrowOutcome = '${f.outcome}'`);
  if (f.trigger !== undefined) parts.push(`BotburrowTrigger = '${f.trigger}'`);
  if (f.since !== undefined) parts.push(`StartTime > '${f.since.toISOString()}'`);
  return parts.join(' AND ');
}

/** Duration of a run: until it closed, or until `now` while it runs. */
function runDuration(a: ActivationSummary, now: number): number {
  return (a.closeTime?.getTime() ?? now) - a.startTime.getTime();
}

/** The `activation list` table. */
export function formatList(rows: readonly ActivationSummary[], now: number): string {
  if (rows.length === 0) return 'no activations match';
  return table(
    ['WORKFLOW ID', 'RUN', 'TRIGGER', 'STATUS', 'OUTCOME', 'ITER', 'TOKENS', 'COST', 'STARTED', 'DURATION'],
    rows.map((a) => [
      a.workflowId,
      shortId(a.runId),
      a.trigger ?? '-',
      a.status,
      a.outcome ?? '-',
      a.iterations === undefined ? '-' : String(a.iterations),
      a.tokens === undefined ? '-' : String(a.tokens),
      formatUsd(a.costUsd),
      formatTime(a.startTime),
      formatDuration(runDuration(a, now)),
    ]),
    [5, 6, 7, 9],
  );
}

function summaryJson(a: ActivationSummary, now: number): Record<string, unknown> {
  return {
    ...a,
    startTime: a.startTime.toISOString(),
    closeTime: a.closeTime?.toISOString(),
    durationMs: runDuration(a, now),
  };
}

const list: CommandSpec = {
  words: ['activation', 'list'],
  summary: 'recent activations from Temporal visibility, newest first',
  positionals: [],
  options: {
    agent: { type: 'string', value: 'id', description: 'only this agent' },
    outcome: { type: 'string', value: 'outcome', description: ACTIVATION_OUTCOMES.join('|') },
    trigger: { type: 'string', value: 'trigger', description: TRIGGERS.join('|') },
    since: {
      type: 'string',
      value: '1h|ISO',
      description: 'started after: an age (30m, 1h, 2d) or an ISO time',
    },
    limit: { type: 'string', value: 'n', description: 'at most n rows (default 20)' },
  },
  async run(p, d) {
    const filter = parseListFilter(p, d.now());
    const limit = intOption(p, 'limit', 20, 10_000);
    const temporal = await d.temporal();
    const rows = await temporal.list(listQuery(filter), limit);
    if (rows.length === 0 && filter.agent !== undefined && !(await agentExists(d, filter.agent))) {
      throw await noSuchAgent(d, filter.agent);
    }
    const now = d.now();
    d.output.out(d.json ? toJson(rows.map((r) => summaryJson(r, now))) : formatList(rows, now));
    return ExitCode.ok;
  },
};

/** The filters of `activation list`, validated (exit 2 on a bad value). */
export function parseListFilter(
  p: Parsed,
  now: number,
): { agent?: string; outcome?: ActivationOutcome; trigger?: ActivationTrigger; since?: Date } {
  const out: { agent?: string; outcome?: ActivationOutcome; trigger?: ActivationTrigger; since?: Date } = {};
  const agent = stringOption(p, 'agent');
  if (agent !== undefined) out.agent = agentArg({ args: { agent }, options: {} });
  const outcome = stringOption(p, 'outcome');
  if (outcome !== undefined) {
    if (!(ACTIVATION_OUTCOMES as readonly string[]).includes(outcome)) {
      throw usageError(`--outcome must be one of ${ACTIVATION_OUTCOMES.join(', ')}, got '${outcome}'`);
    }
    out.outcome = outcome as ActivationOutcome;
  }
  const trigger = stringOption(p, 'trigger');
  if (trigger !== undefined) {
    if (!(TRIGGERS as readonly string[]).includes(trigger)) {
      throw usageError(`--trigger must be one of ${TRIGGERS.join(', ')}, got '${trigger}'`);
    }
    out.trigger = trigger as ActivationTrigger;
  }
  const since = stringOption(p, 'since');
  if (since !== undefined) {
    const at = parseSince(since, now);
    if (!at) throw usageError(`--since must be an age like 30m, 1h, 2d or an ISO time, got '${since}'`);
    out.since = at;
  }
  return out;
}

/** Human lines for `activation status`. */
export function formatStatus(
  a: ActivationSummary,
  now: number,
  live: ActivationStatus | undefined,
  liveError: string | undefined,
  result: ActivationResult | undefined,
): string {
  const lines: [string, string | undefined][] = [
    ['workflow', `${a.workflowId} (run ${a.runId})`],
    ['status', a.status],
    ['trigger', a.trigger],
    ['task queue', a.taskQueue],
    ['started', formatTime(a.startTime)],
    [
      a.closeTime ? 'closed' : 'running for',
      a.closeTime ? formatTime(a.closeTime) : formatDuration(runDuration(a, now)),
    ],
  ];
  if (live) {
    lines.push(
      ['phase', live.phase],
      ['iteration', `${live.iteration}${live.maxIterations === null ? '' : ` of ${live.maxIterations}`}`],
      ['notifications', String(live.notificationsProcessed)],
      ['current', live.currentNotification ?? undefined],
      ['last tool', live.lastTool ?? undefined],
      ['executor', live.progress ? `${live.progress.executor}, turn ${live.progress.turn}` : undefined],
      [
        'tokens',
        `${live.tokensInput + live.tokensOutput} (${live.tokensInput} in, ${live.tokensOutput} out)`,
      ],
      ['cost', formatUsd(live.costUsd)],
      ['session', live.session ? `${live.session.taskQueue} (moves ${live.session.moves})` : undefined],
      ['stopping', live.stopping ?? undefined],
    );
  }
  if (liveError) lines.push(['live status', `unavailable: ${liveError}`]);
  if (result) {
    lines.push(
      ['outcome', result.outcome],
      ['error', result.error],
      ['notifications', String(result.notificationsProcessed)],
      ['posts', String(result.postsCreated)],
      ['comments', String(result.commentsCreated)],
      ['iterations', String(result.iterations)],
      [
        'tokens',
        `${result.tokensInput + result.tokensOutput} (${result.tokensInput} in, ${result.tokensOutput} out)`,
      ],
      ['cost', formatUsd(result.costUsd)],
    );
  } else if (!live && a.outcome !== undefined) {
    lines.push(['outcome', a.outcome]);
  }
  return keyValues(lines);
}

/** No workflow of `agentId`: a missing definition says so, else how to start one. */
async function notFound(d: CommandDeps, agentId: string): Promise<CliError> {
  // A run of an agent whose definition was since removed is still shown: only now ask the store.
  if (!(await agentExists(d, agentId))) return noSuchAgent(d, agentId);
  return new CliError(
    ExitCode.notFound,
    `no activation of '${agentId}' (workflow ${activationWorkflowId(agentId)}) in this namespace; ` +
      `start one with: botburrow activation run ${agentId}`,
  );
}

const status: CommandSpec = {
  words: ['activation', 'status'],
  summary: "the running (or latest) activation of an agent, with the workflow's live status",
  positionals: [{ name: 'agent', required: true }],
  options: {},
  async run(p, d) {
    const agentId = agentArg(p);
    const temporal = await d.temporal();
    const a = await temporal.describe(activationWorkflowId(agentId));
    if (!a) throw await notFound(d, agentId);
    let live: ActivationStatus | undefined;
    let liveError: string | undefined;
    let result: ActivationResult | undefined;
    if (a.status === 'RUNNING') {
      try {
        live = await temporal.liveStatus(a);
      } catch (err) {
        // The describe data is still worth showing when no runner answers the query.
        if (!(err instanceof CliError) || err.exitCode === ExitCode.temporalUnreachable) throw err;
        liveError = `${err.message} (is a runner serving ${a.taskQueue ?? 'its task queue'}?)`;
      }
    } else if (a.status === 'COMPLETED') {
      result = await temporal.result(a, 10_000);
    }
    const now = d.now();
    d.output.out(
      d.json
        ? toJson({ ...summaryJson(a, now), live, liveError, result })
        : formatStatus(a, now, live, liveError, result),
    );
    return ExitCode.ok;
  },
};

const cancel: CommandSpec = {
  words: ['activation', 'cancel'],
  summary:
    'stop the running activation now (the cancel Update: the call in flight is aborted) and print what was stopped',
  positionals: [{ name: 'agent', required: true }],
  options: {
    reason: { type: 'string', value: 'text', description: 'recorded as the error of the cancelled result' },
    wait: { type: 'boolean', description: 'wait for the activation to end and print its result' },
    timeout: {
      type: 'string',
      value: 's',
      description: 'with --wait: stop waiting after s seconds (default 60)',
    },
  },
  details: [
    'Exit code 0 also when nothing was running (the output says so); 3 when the agent never ran;',
    '1 when the activation refused the cancel because it is already finishing.',
  ],
  async run(p, d) {
    const agentId = agentArg(p);
    const reason = stringOption(p, 'reason');
    const timeoutS = intOption(p, 'timeout', 60, 86400);
    const temporal = await d.temporal();
    const a = await temporal.describe(activationWorkflowId(agentId));
    if (!a) throw await notFound(d, agentId);
    if (a.status !== 'RUNNING') {
      d.output.out(
        d.json
          ? JSON.stringify(
              { workflowId: a.workflowId, runId: a.runId, wasRunning: false, status: a.status },
              null,
              2,
            )
          : `${a.workflowId} was not running (latest run ${shortId(a.runId)} is ${a.status}): nothing to cancel`,
      );
      return ExitCode.ok;
    }
    const reply = await temporal.cancel(a, reason);
    if (reply.kind === 'refused') {
      throw new CliError(
        ExitCode.failed,
        `${a.workflowId} (run ${shortId(a.runId)}) refused the cancel: ${reply.reason}`,
      );
    }
    const base = { workflowId: a.workflowId, runId: a.runId, wasRunning: true };
    const stopped = reply.kind === 'stopped' ? { stopped: reply.answer } : { signalled: true };
    const said =
      reply.kind === 'stopped'
        ? `${a.workflowId} (run ${shortId(a.runId)}) was running: cancelled\n${formatStopAnswer(reply.answer)}`
        : `${a.workflowId} (run ${shortId(a.runId)}) was running: cancel signal sent (the run predates the cancel Update); it stops at its next safe point`;
    if (p.options.wait !== true) {
      d.output.out(d.json ? JSON.stringify({ ...base, ...stopped }, null, 2) : said);
      return ExitCode.ok;
    }
    const result = await temporal.result(a, timeoutS * 1000);
    d.output.out(
      d.json ? toJson({ ...base, ...stopped, result }) : `${said}\n\nresult:\n${formatResult(a, result)}`,
    );
    return ExitCode.ok;
  },
};

/** Human lines for the answer of a `cancel` or `pause` Update. */
export function formatStopAnswer(s: StopAnswer): string {
  return keyValues([
    ['stopped in', `${s.phase}, iteration ${s.iteration}`],
    ['notification', s.currentNotification ? `${s.currentNotification} (stays unread)` : '-'],
    ['handled', String(s.notificationsProcessed)],
    [
      'reply posted',
      s.replyPosted
        ? `yes (${s.postsCreated} post(s), ${s.commentsCreated} comment(s); a stop does not undo them)`
        : 'no',
    ],
    ['last tool', s.lastTool ?? '-'],
    ['ends as', s.stopping || '-'],
  ]);
}

export const activationCommands: readonly CommandSpec[] = [run, list, status, cancel];
