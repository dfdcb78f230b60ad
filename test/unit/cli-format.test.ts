import { describe, expect, it } from 'vitest';
import { formatList, listQuery, outcomeExitCode, queueFor } from '../../cli/commands/activation';
import { formatBreaker, formatBudget } from '../../cli/commands/guards';
import {
  formatDuration,
  formatTime,
  formatUsd,
  keyValues,
  parseSince,
  shortId,
  table,
} from '../../cli/format';

describe('cli text formatting', () => {
  it('aligns table columns, right-aligning the numeric ones', () => {
    const text = table(
      ['NAME', 'N', 'NOTE'],
      [
        ['a', '5', 'x'],
        ['longer', '120', ''],
      ],
      [1],
    );
    expect(text.split('\n')).toEqual(['NAME      N  NOTE', 'a         5  x', 'longer  120']);
  });

  it('key/value blocks pad keys and leave out undefined values', () => {
    expect(
      keyValues([
        ['a', '1'],
        ['missing', undefined],
        ['long key', 'v'],
      ]),
    ).toBe('a         1\nlong key  v');
  });

  it('formats durations at every scale', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(4200)).toBe('4.2s');
    expect(formatDuration(125_000)).toBe('2m05s');
    expect(formatDuration(7_500_000)).toBe('2h05m');
    expect(formatDuration(3 * 86_400_000 + 3_600_000)).toBe('3d01h');
    expect(formatDuration(-1)).toBe('-');
  });

  it('formats times in UTC without milliseconds, and money by size', () => {
    expect(formatTime(Date.UTC(2026, 10, 27, 18, 9, 34, 567))).toBe('2026-11-27 18:09:34Z');
    expect(formatTime(undefined)).toBe('-');
    expect(formatUsd(0.012345)).toBe('$0.0123');
    expect(formatUsd(12.5)).toBe('$12.50');
    expect(formatUsd(undefined)).toBe('-');
    expect(shortId('0123456789abcdef')).toBe('01234567');
  });

  it('parses --since as an age or an ISO time and refuses anything else', () => {
    const now = Date.UTC(2026, 10, 27, 12, 0, 0);
    expect(parseSince('1h', now)?.toISOString()).toBe('2026-11-27T11:00:00.000Z');
    expect(parseSince('30m', now)?.toISOString()).toBe('2026-11-27T11:30:00.000Z');
    expect(parseSince('2d', now)?.toISOString()).toBe('2026-11-25T12:00:00.000Z');
    expect(parseSince('90s', now)?.toISOString()).toBe('2026-11-27T11:58:30.000Z');
    expect(parseSince('2026-11-01T08:00:00Z', now)?.toISOString()).toBe('2026-11-01T08:00:00.000Z');
    expect(parseSince('2026-11-01', now)?.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    for (const bad of ['1', 'yesterday', '5x', '1 h', '2026-13-45', ''])
      expect(parseSince(bad, now)).toBeUndefined();
  });
});

describe('cli activation helpers', () => {
  it('builds the visibility query from the filters', () => {
    expect(listQuery({})).toBe("WorkflowType = 'activationWorkflow'");
    expect(
      listQuery({
        agent: 'ann-1',
        outcome: 'cancelled',
        trigger: 'exploration',
        since: new Date(Date.UTC(2026, 0, 2)),
      }),
    ).toBe(
      "WorkflowType = 'activationWorkflow' AND BotburrowAgentId = 'ann-1' AND BotburrowOutcome = 'cancelled'" +
        " AND BotburrowTrigger = 'exploration' AND StartTime > '2026-01-02T00:00:00.000Z'",
    );
  });

  it('maps triggers to the coordinator queues and outcomes to exit codes', () => {
    expect(queueFor('notification')).toBe('botburrow-high');
    expect(queueFor('manual')).toBe('botburrow-high');
    expect(queueFor('exploration')).toBe('botburrow-normal');
    expect(
      [
        'succeeded',
        'iteration_cap',
        'failed',
        'cancelled',
        'budget_exceeded',
        'circuit_open',
        'timed_out',
        'odd',
      ].map(outcomeExitCode),
    ).toEqual([0, 0, 10, 11, 12, 13, 14, 1]);
  });

  it('lists runs with running durations up to now and dashes for unknown figures', () => {
    const now = Date.UTC(2026, 10, 27, 12, 0, 10);
    const text = formatList(
      [
        {
          workflowId: 'activation-ann',
          runId: 'aaaaaaaa-1111',
          status: 'COMPLETED',
          trigger: 'notification',
          outcome: 'succeeded',
          iterations: 3,
          tokens: 1234,
          costUsd: 0.0042,
          startTime: new Date(Date.UTC(2026, 10, 27, 11, 0, 0)),
          closeTime: new Date(Date.UTC(2026, 10, 27, 11, 0, 4, 500)),
        },
        {
          workflowId: 'activation-bob',
          runId: 'bbbbbbbb-2222',
          status: 'RUNNING',
          startTime: new Date(Date.UTC(2026, 10, 27, 12, 0, 0)),
        },
      ],
      now,
    );
    const lines = text.split('\n');
    expect(lines[0]).toMatch(
      /^WORKFLOW ID\s+RUN\s+TRIGGER\s+STATUS\s+OUTCOME\s+ITER\s+TOKENS\s+COST\s+STARTED\s+DURATION$/,
    );
    expect(lines[1]).toMatch(
      /^activation-ann\s+aaaaaaaa\s+notification\s+COMPLETED\s+succeeded\s+3\s+1234\s+\$0\.0042\s+2026-11-27 11:00:00Z\s+4\.5s$/,
    );
    expect(lines[2]).toMatch(
      /^activation-bob\s+bbbbbbbb\s+-\s+RUNNING\s+-\s+-\s+-\s+-\s+2026-11-27 12:00:00Z\s+10\.0s$/,
    );
    expect(formatList([], now)).toBe('no activations match');
  });
});

describe('cli guard formatting', () => {
  it('shows an open breaker with the time left, and a passed backoff as the probe', () => {
    const now = Date.UTC(2026, 10, 27, 12, 0, 0);
    const open = formatBreaker('ann', { state: 'open', failures: 5, openUntil: now + 60_000 }, now);
    expect(open).toMatch(/state\s+open/);
    expect(open).toMatch(/failures\s+5/);
    expect(open).toMatch(/open until\s+2026-11-27 12:01:00Z \(in 1m00s\)/);
    expect(formatBreaker('ann', { state: 'half_open', failures: 5, openUntil: now - 1 }, now)).toMatch(
      /passed/,
    );
    expect(formatBreaker('ann', { state: 'closed', failures: 0 }, now)).not.toMatch(/open until/);
  });

  it('shows budgets with reservations counted in the share of the limit', () => {
    const text = formatBudget({
      agentId: 'ann',
      day: '2026-11-27',
      month: '2026-11',
      dailyTokens: { used: 40_000, reserved: 10_000, limit: 100_000 },
      monthlyCostUsd: { used: 2.5, reserved: 0, limit: 100 },
      fleetMonthlyCostUsd: { used: 30, reserved: 0, limit: 0 },
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe('ann');
    expect(lines[1]).toMatch(/^BUDGET\s+USED\s+RESERVED\s+LIMIT\s+OF LIMIT$/);
    expect(lines[2]).toMatch(/^tokens 2026-11-27\s+40000\s+10000\s+100000\s+50%$/);
    expect(lines[3]).toMatch(/^cost 2026-11\s+\$2\.50\s+\$0\.0000\s+\$100\.00\s+3%$/);
    expect(lines[4]).toMatch(/^fleet cost 2026-11\s+\$30\.00\s+\$0\.0000\s+\$0\.0000\s+-$/);
  });
});
