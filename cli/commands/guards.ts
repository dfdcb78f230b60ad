/**
 * `botburrow agent pause|resume`, `breaker show|reset`, `budget show`, `cache invalidate`: the
 * Valkey state the runners consult, read and changed through the same guard classes they use.
 */
import type { BreakerStatus, BudgetAmount, BudgetStatus } from '../../lib/guards';
import { agentArg, requireAgent, stringOption } from '../command';
import type { CommandSpec } from '../command';
import { activationWorkflowId } from '../../lib/contract';
import type { ActivationRef, CommandDeps, StopReply } from '../context';
import { CliError, ExitCode } from '../errors';
import { formatDuration, formatTime, formatUsd, keyValues, shortId, table } from '../format';
import { formatStopAnswer } from './activation';

/** The agent's running activation, if any. */
async function runningActivation(d: CommandDeps, agentId: string): Promise<ActivationRef | undefined> {
  const a = await (await d.temporal()).describe(activationWorkflowId(agentId));
  return a?.status === 'RUNNING' ? { workflowId: a.workflowId, runId: a.runId } : undefined;
}

const pause: CommandSpec = {
  words: ['agent', 'pause'],
  summary:
    'pause an agent: no new activations; a running one stops at its next safe point (the pause Update answers where)',
  positionals: [{ name: 'agent', required: true }],
  options: {
    reason: {
      type: 'string',
      value: 'text',
      description: 'shown in the cancelled result (default: paused by operator)',
    },
  },
  async run(p, d) {
    const agentId = agentArg(p);
    await requireAgent(d, agentId);
    const valkey = await d.valkey();
    const before = await valkey.isPaused(agentId);
    const reason = stringOption(p, 'reason');
    await valkey.pause(agentId, reason);
    const now = await valkey.isPaused(agentId);
    // The flag stops a running activation at its next model call too; the Update makes it stop at
    // the next safe point of any kind, and says where that run was.
    let running: ActivationRef | undefined;
    let reply: StopReply | undefined;
    let unreachable: string | undefined;
    try {
      running = await runningActivation(d, agentId);
      if (running) reply = await (await d.temporal()).pause(running, now.reason ?? reason);
    } catch (err) {
      // The flag is set: it alone stops a running activation at its next model call.
      if (!(err instanceof CliError)) throw err;
      unreachable = err.message;
    }
    const activation = unreachable
      ? { unknown: unreachable }
      : !running
        ? { running: false }
        : reply?.kind === 'stopped'
          ? { running: true, stopped: reply.answer }
          : reply?.kind === 'refused'
            ? { running: true, refused: reply.reason }
            : { running: true };
    const lines = [`${agentId} paused${before.paused ? ' (was already paused)' : ''}: ${now.reason ?? ''}`];
    if (running && reply?.kind === 'stopped') {
      lines.push(`${running.workflowId} (run ${shortId(running.runId)}) stops at its next safe point`);
      lines.push(formatStopAnswer(reply.answer));
    } else if (running && reply?.kind === 'refused') {
      lines.push(`${running.workflowId} (run ${shortId(running.runId)}): ${reply.reason}`);
    } else if (running) {
      lines.push(`${running.workflowId} (run ${shortId(running.runId)}) stops at its next model call`);
    } else if (unreachable) {
      lines.push(`a running activation stops at its next model call (not asked directly: ${unreachable})`);
    }
    d.output.out(
      d.json
        ? JSON.stringify({ agentId, wasPaused: before.paused, ...now, activation }, null, 2)
        : lines.join('\n'),
    );
    return ExitCode.ok;
  },
};

const resume: CommandSpec = {
  words: ['agent', 'resume'],
  summary: 'lift the pause of an agent',
  positionals: [{ name: 'agent', required: true }],
  options: {},
  async run(p, d) {
    const agentId = agentArg(p);
    await requireAgent(d, agentId);
    const valkey = await d.valkey();
    const before = await valkey.isPaused(agentId);
    await valkey.resume(agentId);
    d.output.out(
      d.json
        ? JSON.stringify({ agentId, wasPaused: before.paused, paused: false }, null, 2)
        : before.paused
          ? `${agentId} resumed (was paused: ${before.reason ?? 'no reason'})`
          : `${agentId} was not paused: nothing to do`,
    );
    return ExitCode.ok;
  },
};

/** Human lines for a breaker status. */
export function formatBreaker(agentId: string, b: BreakerStatus, now: number): string {
  const until =
    b.openUntil === undefined
      ? undefined
      : b.openUntil > now
        ? `${formatTime(b.openUntil)} (in ${formatDuration(b.openUntil - now)})`
        : `${formatTime(b.openUntil)} (passed: the next activation is the probe)`;
  return keyValues([
    ['agent', agentId],
    ['state', b.state],
    ['failures', String(b.failures)],
    ['open until', until],
  ]);
}

function breakerJson(agentId: string, b: BreakerStatus): Record<string, unknown> {
  return {
    agentId,
    ...b,
    openUntilIso: b.openUntil === undefined ? undefined : new Date(b.openUntil).toISOString(),
  };
}

const breakerShow: CommandSpec = {
  words: ['breaker', 'show'],
  summary: "an agent's circuit breaker: state, consecutive failures, open until",
  positionals: [{ name: 'agent', required: true }],
  options: {},
  async run(p, d) {
    const agentId = agentArg(p);
    await requireAgent(d, agentId);
    const b = await (await d.valkey()).breakerStatus(agentId);
    d.output.out(
      d.json ? JSON.stringify(breakerJson(agentId, b), null, 2) : formatBreaker(agentId, b, d.now()),
    );
    return ExitCode.ok;
  },
};

const breakerReset: CommandSpec = {
  words: ['breaker', 'reset'],
  summary: "close an agent's circuit breaker and clear its failure count",
  positionals: [{ name: 'agent', required: true }],
  options: {},
  async run(p, d) {
    const agentId = agentArg(p);
    await requireAgent(d, agentId);
    const valkey = await d.valkey();
    const before = await valkey.breakerStatus(agentId);
    await valkey.breakerReset(agentId);
    const after = await valkey.breakerStatus(agentId);
    d.output.out(
      d.json
        ? JSON.stringify(
            { agentId, before: breakerJson(agentId, before), after: breakerJson(agentId, after) },
            null,
            2,
          )
        : `${agentId}: breaker reset (was ${before.state} with ${before.failures} failures, now ${after.state})`,
    );
    return ExitCode.ok;
  },
};

/** The `budget show` table: used, reserved (open reservations), limit, share used. */
export function formatBudget(s: BudgetStatus): string {
  const row = (name: string, a: BudgetAmount, fmt: (n: number) => string): string[] => [
    name,
    fmt(a.used),
    fmt(a.reserved),
    fmt(a.limit),
    // Reservations count: they are what the next reserve is checked against.
    a.limit > 0 ? `${Math.round(((a.used + a.reserved) / a.limit) * 100)}%` : '-',
  ];
  const rows = [
    row(`tokens ${s.day}`, s.dailyTokens, String),
    row(`cost ${s.month}`, s.monthlyCostUsd, formatUsd),
  ];
  if (s.fleetMonthlyCostUsd) rows.push(row(`fleet cost ${s.month}`, s.fleetMonthlyCostUsd, formatUsd));
  return `${s.agentId}\n${table(['BUDGET', 'USED', 'RESERVED', 'LIMIT', 'OF LIMIT'], rows, [1, 2, 3])}`;
}

const budgetShow: CommandSpec = {
  words: ['budget', 'show'],
  summary: "an agent's tokens today and cost this month against its limits (and the fleet's)",
  positionals: [{ name: 'agent', required: true }],
  options: {},
  details: ['RESERVED is held by open reservations of activations in flight (they expire if never settled).'],
  async run(p, d) {
    const agentId = agentArg(p);
    await requireAgent(d, agentId);
    const s = await (await d.valkey()).budgetStatus(agentId);
    d.output.out(d.json ? JSON.stringify(s, null, 2) : formatBudget(s));
    return ExitCode.ok;
  },
};

const cacheInvalidate: CommandSpec = {
  words: ['cache', 'invalidate'],
  summary:
    'drop cached agent definitions (one agent, or all of them and the skill library) so runners reload them from the store',
  positionals: [{ name: 'agent', required: false }],
  options: {},
  async run(p, d) {
    const agentId = p.args.agent === undefined ? undefined : agentArg(p);
    if (agentId !== undefined) await requireAgent(d, agentId);
    const valkey = await d.valkey();
    const dropped = await valkey.invalidateCache(agentId);
    const what = agentId === undefined ? 'all agents and the skill library' : agentId;
    d.output.out(
      d.json
        ? JSON.stringify({ agentId: agentId ?? null, dropped }, null, 2)
        : `dropped ${dropped} cached entr${dropped === 1 ? 'y' : 'ies'} (${what}) in ${valkey.where}`,
    );
    return ExitCode.ok;
  },
};

export const guardCommands: readonly CommandSpec[] = [
  pause,
  resume,
  breakerShow,
  breakerReset,
  budgetShow,
  cacheInvalidate,
];
