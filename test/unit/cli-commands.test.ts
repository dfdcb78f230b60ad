/* eslint-disable @typescript-eslint/require-await -- the fakes implement async interfaces without awaiting */
/**
 * The CLI dispatcher and commands with fake Temporal/Valkey/definitions: parsing, usage errors,
 * exit codes, what each command asks of its dependencies and what it prints.
 */
import { describe, expect, it, vi } from 'vitest';
import type { ActivationsApi, ActivationSummary, CliContext, StopReply, ValkeyApi } from '../../cli/context';
import { CliError, ExitCode } from '../../cli/errors';
import { runCli } from '../../cli/main';
import type { ActivationInput, ActivationResult } from '../../lib/contract';
import type { ValidationReport } from '../../lib/definitions/validate';
import type { ActivationStatus, StopAnswer } from '../../workflows/activation';

const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);

function result(over: Partial<ActivationResult> = {}): ActivationResult {
  return {
    agentId: 'ann',
    trigger: 'manual',
    outcome: 'succeeded',
    notificationsProcessed: 1,
    postsCreated: 0,
    commentsCreated: 1,
    iterations: 3,
    tokensInput: 900,
    tokensOutput: 100,
    costUsd: 0.0042,
    durationMs: 4200,
    ...over,
  };
}

const running: ActivationSummary = {
  workflowId: 'activation-ann',
  runId: 'run-1-abcdef',
  status: 'RUNNING',
  trigger: 'notification',
  taskQueue: 'botburrow-high',
  startTime: new Date(NOW - 5000),
};

const liveStatus: ActivationStatus = {
  agentId: 'ann',
  trigger: 'notification',
  phase: 'notifications',
  iteration: 2,
  maxIterations: 5,
  timeoutMs: 600_000,
  tokensInput: 500,
  tokensOutput: 20,
  costUsd: 0.002,
  currentNotification: 'n-1',
  notificationsProcessed: 0,
  lastTool: 'hub_search',
  session: null,
  stopping: null,
  progress: null,
};

const stopAnswer: StopAnswer = {
  runId: 'run-1-abcdef',
  phase: 'notifications',
  iteration: 2,
  currentNotification: 'n-1',
  notificationsProcessed: 1,
  replyPosted: true,
  postsCreated: 0,
  commentsCreated: 1,
  lastTool: 'hub_search',
  stopping: 'cancelled: too chatty',
};

function fakeTemporal(over: Partial<ActivationsApi> = {}): ActivationsApi {
  return {
    where: 'fake:7233 namespace default',
    signalWithStart: vi.fn(async (input: ActivationInput) => ({
      workflowId: `activation-${input.agentId}`,
      runId: 'run-1-abcdef',
    })),
    result: vi.fn(async () => result()),
    describe: vi.fn(async () => null),
    liveStatus: vi.fn(async () => liveStatus),
    cancel: vi.fn(async (): Promise<StopReply> => ({ kind: 'stopped', answer: stopAnswer })),
    pause: vi.fn(async (): Promise<StopReply> => ({ kind: 'stopped', answer: stopAnswer })),
    list: vi.fn(async () => []),
    skillSync: vi.fn(async (sources?: string[]) => ({
      sources: sources ?? ['./skills-src'],
      copied: 2,
      unchanged: 1,
      rejected: [{ source: './skills-src/bad/SKILL.md', reason: 'blocked pattern: curl … | sh' }],
      skills: ['a', 'b', 'c'],
    })),
    close: vi.fn(async () => undefined),
    ...over,
  };
}

function fakeValkey(over: Partial<ValkeyApi> = {}): ValkeyApi {
  const paused = new Map<string, string>();
  return {
    where: 'redis://fake:6379',
    pause: vi.fn(async (id: string, reason?: string) => void paused.set(id, reason ?? 'paused by operator')),
    resume: vi.fn(async (id: string) => void paused.delete(id)),
    isPaused: vi.fn(async (id: string) =>
      paused.has(id) ? { paused: true, reason: paused.get(id) } : { paused: false },
    ),
    breakerStatus: vi.fn(async () => ({ state: 'open' as const, failures: 5, openUntil: NOW + 120_000 })),
    breakerReset: vi.fn(async () => undefined),
    budgetStatus: vi.fn(async (agentId: string) => ({
      agentId,
      day: '2026-11-27',
      month: '2026-11',
      dailyTokens: { used: 1000, reserved: 0, limit: 100_000 },
      monthlyCostUsd: { used: 0.5, reserved: 0.1, limit: 100 },
    })),
    invalidateCache: vi.fn(async (id?: string) => (id === undefined ? 4 : 1)),
    close: vi.fn(async () => undefined),
    ...over,
  };
}

interface Harness {
  ctx: CliContext;
  stdout: string[];
  stderr: string[];
  temporal: ActivationsApi;
  valkey: ValkeyApi;
  connects: { temporal: number; valkey: number };
}

function harness(
  o: {
    temporal?: ActivationsApi;
    valkey?: ValkeyApi;
    exists?: boolean;
    env?: Record<string, string>;
    report?: ValidationReport;
  } = {},
): Harness {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const temporal = o.temporal ?? fakeTemporal();
  const valkey = o.valkey ?? fakeValkey();
  const connects = { temporal: 0, valkey: 0 };
  const ctx: CliContext = {
    env: o.env ?? {},
    output: { out: (t) => stdout.push(t), err: (t) => stderr.push(t) },
    now: () => NOW,
    connectTemporal: async () => {
      connects.temporal++;
      return temporal;
    },
    connectValkey: async () => {
      connects.valkey++;
      return valkey;
    },
    definitions: async () => ({
      where: 'folder ./defs',
      exists: async () => o.exists ?? true,
      validate: async () => o.report ?? { where: 'folder ./defs', agents: 0, skills: 0, problems: [] },
    }),
  };
  return { ctx, stdout, stderr, temporal, valkey, connects };
}

const cli = async (h: Harness, ...argv: string[]): Promise<number> => runCli(argv, h.ctx);

describe('cli usage', () => {
  it('prints the help with every command and the exit codes', async () => {
    const h = harness();
    expect(await cli(h, '--help')).toBe(0);
    const help = h.stdout.join('\n');
    for (const c of [
      'activation run',
      'activation list',
      'activation status',
      'activation cancel',
      'agent pause',
    ]) {
      expect(help).toContain(c);
    }
    for (const c of ['agent resume', 'breaker show', 'breaker reset', 'budget show', 'cache invalidate']) {
      expect(help).toContain(c);
    }
    expect(help).toMatch(/^ {2}4 {3}Temporal unreachable$/m);
    expect(help).toMatch(/^ {2}11 {2}activation run: outcome cancelled/m);
  });

  it('without arguments prints the help on stderr and exits 2', async () => {
    const h = harness();
    expect(await cli(h)).toBe(ExitCode.usage);
    expect(h.stderr.join('\n')).toContain('Usage: botburrow <command>');
  });

  it.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['activation'], /'activation' needs a subcommand/],
    [['activation', 'frob'], /unknown command 'activation frob'/],
    [['activation', 'run'], /missing <agent>/],
    [['activation', 'run', 'Bad_Agent'], /'Bad_Agent' is not an agent id/],
    [['activation', 'run', 'ann', '--frob'], /Unknown option '--frob'/],
    [['activation', 'run', 'ann', 'extra'], /unexpected argument 'extra'/],
    [['activation', 'run', 'ann', '--trigger', 'sometimes'], /--trigger must be one of manual, notification/],
    [['activation', 'run', 'ann', '--timeout', '0'], /--timeout must be a whole number/],
    [['activation', 'run', 'ann', '--wait', '--no-wait'], /contradict/],
    [['activation', 'list', '--outcome', 'great'], /--outcome must be one of succeeded/],
    [['activation', 'list', '--since', 'yesterday'], /--since must be an age/],
    [['activation', 'list', '--limit', 'many'], /--limit must be a whole number/],
    [
      ['activation', 'list', '--limit', '-3'],
      /^botburrow activation list: --limit must be a whole number between 1 and 10000, got '-3'$/m,
    ],
    [['activation', 'list', '--limit'], /^botburrow activation list: --limit needs a value \(n\)$/m],
    [
      ['agent', 'pause', 'ann', '--reason', '-x'],
      /--reason needs a value; one starting with '-' is written --reason=-x/,
    ],
    [['budget', 'show'], /missing <agent>/],
  ])('%j is a usage error (exit 2) that says why', async (argv, message) => {
    const h = harness();
    expect(await cli(h, ...argv)).toBe(ExitCode.usage);
    expect(h.stderr.join('\n')).toMatch(message);
    expect(h.connects).toEqual({ temporal: 0, valkey: 0 });
  });

  it('shows the usage line after a usage error of a known command', async () => {
    const h = harness();
    await cli(h, 'activation', 'list', '--outcome', 'great');
    expect(h.stderr.at(-1)).toMatch(/^usage: botburrow activation list \[--agent id\]/);
  });

  it('takes --json before the command too', async () => {
    const h = harness();
    expect(await cli(h, '--json', 'cache', 'invalidate', 'ann')).toBe(0);
    expect(JSON.parse(h.stdout[0]!)).toEqual({ agentId: 'ann', dropped: 1 });
    expect(await cli(harness(), '--json')).toBe(ExitCode.usage);
  });

  it('group help lists the commands of the group on stdout', async () => {
    const h = harness();
    expect(await cli(h, 'breaker', '--help')).toBe(0);
    expect(h.stdout[0]).toBe(
      'Usage:\n  botburrow breaker show <agent> [--json]\n  botburrow breaker reset <agent> [--json]',
    );
  });

  it.each([
    [{}, 'default 900'],
    [{ BOTBURROW_ACTIVATION_TIMEOUT: '100' }, 'default 400'],
  ])('activation run --help shows the default wait (%j)', async (env, shown) => {
    const h = harness({ env });
    expect(await cli(h, 'activation', 'run', '--help')).toBe(0);
    expect(h.stdout.join('\n')).toMatch(
      new RegExp(
        `^ +--timeout s +stop waiting after s seconds .*\\(${shown} s: BOTBURROW_ACTIVATION_TIMEOUT \\+ 300\\)$`,
        'm',
      ),
    );
  });

  it('command help exits 0 without connecting to anything', async () => {
    const h = harness();
    expect(await cli(h, 'activation', 'run', '--help')).toBe(0);
    expect(h.stdout.join('\n')).toMatch(/^Usage: botburrow activation run <agent> \[--trigger/);
    expect(h.stdout.join('\n')).toContain('14 timed_out');
    expect(h.connects).toEqual({ temporal: 0, valkey: 0 });
  });

  it('a malformed setting is a configuration error (exit 78) naming the variable', async () => {
    const h = harness({ env: { TEMPORAL_ADDRESS: 'not an address' } });
    expect(await cli(h, 'activation', 'list')).toBe(ExitCode.config);
    expect(h.stderr.join('\n')).toMatch(/configuration error: TEMPORAL_ADDRESS: expected host:port/);
  });

  it('reports an unreachable Temporal with exit 4 and its message', async () => {
    const h = harness();
    h.ctx.connectTemporal = async () => {
      throw new CliError(ExitCode.temporalUnreachable, 'Temporal not reachable at x:1 (TEMPORAL_ADDRESS): …');
    };
    expect(await cli(h, 'activation', 'status', 'ann')).toBe(4);
    expect(h.stderr.join('\n')).toBe(
      'botburrow activation status: Temporal not reachable at x:1 (TEMPORAL_ADDRESS): …',
    );
  });

  it('an unexpected error exits 1 with its stack', async () => {
    const h = harness({
      valkey: fakeValkey({ budgetStatus: async () => Promise.reject(new TypeError('boom')) }),
    });
    expect(await cli(h, 'budget', 'show', 'ann')).toBe(1);
    expect(h.stderr.join('\n')).toMatch(/unexpected error: TypeError: boom/);
    expect(h.valkey.close).toHaveBeenCalled();
  });
});

describe('activation run', () => {
  it('signal-with-starts on the queue of its trigger and prints the result', async () => {
    const h = harness();
    expect(await cli(h, 'activation', 'run', 'ann', '--trigger', 'exploration')).toBe(0);
    const [input, queue] = vi.mocked(h.temporal.signalWithStart).mock.calls[0]!;
    expect(input).toEqual({
      agentId: 'ann',
      trigger: 'exploration',
      requestedAt: new Date(NOW).toISOString(),
    });
    expect(queue).toBe('botburrow-normal');
    expect(h.stderr).toEqual([
      'started activation-ann (run run-1-ab) on botburrow-normal',
      'waiting up to 900s for the result (Ctrl-C stops waiting, not the activation)',
    ]);
    const out = h.stdout.join('\n');
    expect(out).toMatch(/^outcome\s+succeeded$/m);
    expect(out).toMatch(/^tokens\s+1000 \(900 in, 100 out\)$/m);
    expect(out).toMatch(/^duration\s+4\.2s$/m);
    expect(h.temporal.close).toHaveBeenCalled();
  });

  it('defaults to the manual trigger on the high queue and waits with the activation timeout + 300 s', async () => {
    const h = harness();
    await cli(h, 'activation', 'run', 'ann');
    expect(vi.mocked(h.temporal.signalWithStart).mock.calls[0]![1]).toBe('botburrow-high');
    expect(vi.mocked(h.temporal.signalWithStart).mock.calls[0]![0].trigger).toBe('manual');
    expect(vi.mocked(h.temporal.result).mock.calls[0]![1]).toBe(900_000);
  });

  it.each([
    ['succeeded', 0],
    ['iteration_cap', 0],
    ['failed', 10],
    ['cancelled', 11],
    ['budget_exceeded', 12],
    ['circuit_open', 13],
    ['timed_out', 14],
  ] as const)('exits with the code of outcome %s (%d), also in --json', async (outcome, code) => {
    const h = harness({
      temporal: fakeTemporal({ result: vi.fn(async () => result({ outcome, error: 'why' })) }),
    });
    expect(await cli(h, 'activation', 'run', 'ann', '--json', '--timeout', '5')).toBe(code);
    const json = JSON.parse(h.stdout.join('\n'));
    expect(json).toMatchObject({
      workflowId: 'activation-ann',
      runId: 'run-1-abcdef',
      outcome,
      error: 'why',
    });
    expect(vi.mocked(h.temporal.result).mock.calls[0]![1]).toBe(5000);
  });

  it.each([
    [
      { outcome: 'cancelled', error: 'paused: maintenance' },
      'ann is paused; lift it with: botburrow agent resume ann',
    ],
    [{ outcome: 'circuit_open' }, /breaker show ann/],
    [{ outcome: 'budget_exceeded' }, /botburrow budget show ann/],
  ] as const)('tells what to do after %j', async (over, hint) => {
    const h = harness({ temporal: fakeTemporal({ result: async () => result(over) }) });
    await cli(h, 'activation', 'run', 'ann');
    expect(h.stderr.at(-1)).toMatch(hint);
  });

  it('gives no hint for a cancel by an operator', async () => {
    const h = harness({
      temporal: fakeTemporal({ result: async () => result({ outcome: 'cancelled', error: 'cli test' }) }),
    });
    expect(await cli(h, 'activation', 'run', 'ann')).toBe(11);
    expect(h.stderr.at(-1)).toMatch(/^waiting up to/);
  });

  it('refuses an agent without a definition (exit 3) before touching Temporal', async () => {
    const h = harness({ exists: false });
    expect(await cli(h, 'activation', 'run', 'ghost')).toBe(ExitCode.notFound);
    expect(h.stderr.join('\n')).toMatch(
      /no agent 'ghost': agents\/ghost\/config\.yaml is not in folder \.\/defs/,
    );
    expect(h.connects.temporal).toBe(0);
  });

  it('--no-wait prints the ids and does not wait', async () => {
    const h = harness();
    expect(await cli(h, 'activation', 'run', 'ann', '--no-wait')).toBe(0);
    expect(h.stdout).toEqual(['activation-ann run-1-abcdef']);
    expect(h.temporal.result).not.toHaveBeenCalled();
  });

  it('says so when it joined an activation that was already running', async () => {
    const h = harness({ temporal: fakeTemporal({ describe: async () => running }) });
    await cli(h, 'activation', 'run', 'ann', '--no-wait', '--json');
    expect(h.stderr[0]).toMatch(/activation-ann was already running \(run run-1-ab, trigger notification\)/);
    expect(JSON.parse(h.stdout[0]!)).toMatchObject({ joined: true, taskQueue: 'botburrow-high' });
  });

  it('passes on the still-running exit code of a --timeout', async () => {
    const h = harness({
      temporal: fakeTemporal({
        result: async () =>
          Promise.reject(new CliError(ExitCode.stillRunning, 'activation-ann is still running')),
      }),
    });
    expect(await cli(h, 'activation', 'run', 'ann', '--timeout', '1')).toBe(6);
    expect(h.stderr.at(-1)).toMatch(/still running/);
  });
});

describe('activation list, status, cancel', () => {
  it('list queries visibility with the filters and the limit', async () => {
    const rows: ActivationSummary[] = [
      { ...running, status: 'COMPLETED', outcome: 'succeeded', closeTime: new Date(NOW - 1000), tokens: 10 },
    ];
    const h = harness({ temporal: fakeTemporal({ list: vi.fn(async () => rows) }) });
    expect(
      await cli(
        h,
        'activation',
        'list',
        '--agent',
        'ann',
        '--outcome',
        'succeeded',
        '--since',
        '1h',
        '--limit',
        '5',
      ),
    ).toBe(0);
    expect(vi.mocked(h.temporal.list).mock.calls[0]).toEqual([
      "WorkflowType = 'activationWorkflow' AND BotburrowAgentId = 'ann' AND BotburrowOutcome = 'succeeded'" +
        " AND StartTime > '2026-11-27T11:00:00.000Z'",
      5,
    ]);
    expect(h.stdout[0]).toMatch(/^WORKFLOW ID/);
    expect(h.stdout[0]).toMatch(/activation-ann\s+run-1-ab\s+notification\s+COMPLETED\s+succeeded/);

    const j = harness({ temporal: fakeTemporal({ list: async () => rows }) });
    await cli(j, 'activation', 'list', '--json');
    expect(JSON.parse(j.stdout[0]!)).toEqual([
      expect.objectContaining({
        workflowId: 'activation-ann',
        outcome: 'succeeded',
        durationMs: 4000,
        tokens: 10,
      }),
    ]);
  });

  it('status of an agent that never ran is not found (exit 3)', async () => {
    const h = harness();
    expect(await cli(h, 'activation', 'status', 'ann')).toBe(ExitCode.notFound);
    expect(h.stderr.join('\n')).toMatch(/no activation of 'ann'.*botburrow activation run ann/);
  });

  it('status of a running activation shows the live status query', async () => {
    const h = harness({ temporal: fakeTemporal({ describe: async () => running }) });
    expect(await cli(h, 'activation', 'status', 'ann')).toBe(0);
    const out = h.stdout.join('\n');
    expect(out).toMatch(/^status\s+RUNNING$/m);
    expect(out).toMatch(/^running for\s+5\.0s$/m);
    expect(out).toMatch(/^phase\s+notifications$/m);
    expect(out).toMatch(/^iteration\s+2 of 5$/m);
    expect(out).toMatch(/^last tool\s+hub_search$/m);
  });

  it('status still shows the run when no runner answers the query', async () => {
    const h = harness({
      temporal: fakeTemporal({
        describe: async () => running,
        liveStatus: async () =>
          Promise.reject(new CliError(ExitCode.failed, 'status query: no answer within 10s')),
      }),
    });
    expect(await cli(h, 'activation', 'status', 'ann', '--json')).toBe(0);
    const json = JSON.parse(h.stdout[0]!);
    expect(json.status).toBe('RUNNING');
    expect(json.liveError).toMatch(/no answer within 10s \(is a runner serving botburrow-high\?\)/);
  });

  it('status of a completed activation shows its result', async () => {
    const done = { ...running, status: 'COMPLETED', closeTime: new Date(NOW - 1000), outcome: 'cancelled' };
    const h = harness({
      temporal: fakeTemporal({
        describe: async () => done,
        result: async () => result({ outcome: 'cancelled' }),
      }),
    });
    await cli(h, 'activation', 'status', 'ann');
    expect(h.temporal.liveStatus).not.toHaveBeenCalled();
    expect(h.stdout.join('\n')).toMatch(/^outcome\s+cancelled$/m);
  });

  it('cancel sends the Update with the reason and prints what was stopped', async () => {
    const h = harness({ temporal: fakeTemporal({ describe: async () => running }) });
    expect(await cli(h, 'activation', 'cancel', 'ann', '--reason', 'too chatty')).toBe(0);
    expect(h.temporal.cancel).toHaveBeenCalledWith(running, 'too chatty');
    const out = h.stdout[0]!;
    expect(out).toMatch(/was running: cancelled/);
    expect(out).toMatch(/^stopped in\s+notifications, iteration 2$/m);
    expect(out).toMatch(/^notification\s+n-1 \(stays unread\)$/m);
    expect(out).toMatch(/^reply posted\s+yes \(0 post\(s\), 1 comment\(s\)/m);
    await cli(h, 'activation', 'cancel', 'ann', '--json');
    expect(JSON.parse(h.stdout.at(-1)!)).toMatchObject({ wasRunning: true, stopped: stopAnswer });
  });

  it('cancel of a run that refuses (already finishing) is exit 1 with its reason', async () => {
    const h = harness({
      temporal: fakeTemporal({
        describe: async () => running,
        cancel: vi.fn(async (): Promise<StopReply> => ({
          kind: 'refused',
          reason: 'the activation is already finishing',
        })),
      }),
    });
    expect(await cli(h, 'activation', 'cancel', 'ann')).toBe(ExitCode.failed);
    expect(h.stderr.join('\n')).toMatch(/refused the cancel: the activation is already finishing/);
  });

  it('cancel of a run from before the Update says the signal was sent', async () => {
    const h = harness({
      temporal: fakeTemporal({
        describe: async () => running,
        cancel: vi.fn(async (): Promise<StopReply> => ({ kind: 'signalled' })),
      }),
    });
    expect(await cli(h, 'activation', 'cancel', 'ann')).toBe(0);
    expect(h.stdout[0]).toMatch(/was running: cancel signal sent/);
  });

  it('cancel --wait prints the cancelled result', async () => {
    const h = harness({
      temporal: fakeTemporal({
        describe: async () => running,
        result: async () => result({ outcome: 'cancelled' }),
      }),
    });
    expect(await cli(h, 'activation', 'cancel', 'ann', '--wait', '--json')).toBe(0);
    expect(JSON.parse(h.stdout[0]!)).toMatchObject({ wasRunning: true, result: { outcome: 'cancelled' } });
  });

  it('cancel reports when nothing was running and does not signal', async () => {
    const h = harness({
      temporal: fakeTemporal({ describe: async () => ({ ...running, status: 'COMPLETED' }) }),
    });
    expect(await cli(h, 'activation', 'cancel', 'ann')).toBe(0);
    expect(h.temporal.cancel).not.toHaveBeenCalled();
    expect(h.stdout[0]).toMatch(/was not running \(latest run run-1-ab is COMPLETED\): nothing to cancel/);
    expect(await cli(harness(), 'activation', 'cancel', 'ann')).toBe(ExitCode.notFound);
  });
});

describe('costs in --json output', () => {
  it('are rounded to micro-dollars (no float noise), for results and visibility rows', async () => {
    const noisy = 0.011685000000000001;
    const h = harness({
      temporal: fakeTemporal({
        result: async () => result({ costUsd: noisy }),
        list: async () => [{ ...running, status: 'COMPLETED', costUsd: noisy, closeTime: new Date(NOW) }],
      }),
    });
    expect(await cli(h, 'activation', 'run', 'ann', '--json')).toBe(0);
    expect(h.stdout[0]).toContain('"costUsd": 0.011685,');
    expect(await cli(h, 'activation', 'list', '--json')).toBe(0);
    expect(h.stdout[1]).toContain('"costUsd": 0.011685,');
    expect(h.stdout.join('\n')).not.toContain('0.011685000000000001');
  });
});

describe('commands that name an agent', () => {
  const named: string[][] = [
    ['agent', 'pause', 'ghost'],
    ['agent', 'resume', 'ghost'],
    ['breaker', 'show', 'ghost'],
    ['breaker', 'reset', 'ghost'],
    ['budget', 'show', 'ghost'],
    ['cache', 'invalidate', 'ghost'],
    ['activation', 'status', 'ghost'],
    ['activation', 'cancel', 'ghost'],
    ['activation', 'list', '--agent', 'ghost'],
  ];

  it.each(named)(
    '%s %s refuses an agent without a definition: exit 3, one line, nothing changed',
    async (...argv) => {
      const h = harness({ exists: false });
      expect(await cli(h, ...argv)).toBe(ExitCode.notFound);
      expect(h.stderr).toHaveLength(1);
      expect(h.stderr[0]).toMatch(
        new RegExp(
          `^botburrow ${argv[0]} ${argv[1]}: no agent 'ghost': agents/ghost/config\\.yaml is not in folder \\./defs \\(.*\\)$`,
        ),
      );
      expect(h.stdout).toEqual([]);
      for (const call of [h.valkey.pause, h.valkey.resume, h.valkey.breakerReset, h.valkey.invalidateCache]) {
        expect(call).not.toHaveBeenCalled();
      }
      expect(h.temporal.cancel).not.toHaveBeenCalled();
    },
  );

  it.each(named)('%s %s goes ahead for an agent that exists', async (...argv) => {
    const h = harness({ exists: true });
    const code = await cli(h, ...argv);
    // status and cancel of an agent that never ran are "no activation" (also 3), with a hint to run one.
    if (code === ExitCode.notFound) expect(h.stderr.join('\n')).toMatch(/no activation of 'ghost'/);
    else expect(code).toBe(ExitCode.ok);
  });

  it('cache invalidate without an agent needs no definition', async () => {
    const h = harness({ exists: false });
    expect(await cli(h, 'cache', 'invalidate')).toBe(0);
  });
});

describe('guards and cache', () => {
  it('pause and resume set and clear the flag and say what was before', async () => {
    const h = harness();
    expect(await cli(h, 'agent', 'pause', 'ann', '--reason', 'cost review')).toBe(0);
    expect(h.valkey.pause).toHaveBeenCalledWith('ann', 'cost review');
    expect(h.stdout.at(-1)).toBe('ann paused: cost review');
    expect(h.temporal.pause).not.toHaveBeenCalled();
    expect(await cli(h, 'agent', 'resume', 'ann')).toBe(0);
    expect(h.stdout.at(-1)).toBe('ann resumed (was paused: cost review)');
    expect(await cli(h, 'agent', 'resume', 'ann', '--json')).toBe(0);
    expect(JSON.parse(h.stdout.at(-1)!)).toEqual({ agentId: 'ann', wasPaused: false, paused: false });
  });

  it('pause also sends the pause Update to a running activation and prints where it was', async () => {
    const h = harness({ temporal: fakeTemporal({ describe: async () => running }) });
    expect(await cli(h, 'agent', 'pause', 'ann', '--reason', 'cost review')).toBe(0);
    expect(h.temporal.pause).toHaveBeenCalledWith(
      { workflowId: running.workflowId, runId: running.runId },
      'cost review',
    );
    expect(h.stdout.at(-1)).toMatch(/^ann paused: cost review\n.*stops at its next safe point\nstopped in/);
  });

  it('breaker show and reset', async () => {
    const h = harness();
    expect(await cli(h, 'breaker', 'show', 'ann')).toBe(0);
    expect(h.stdout.at(-1)).toMatch(
      /state\s+open\n.*failures\s+5\n.*open until\s+2026-11-27 12:02:00Z \(in 2m00s\)/,
    );
    expect(await cli(h, 'breaker', 'show', 'ann', '--json')).toBe(0);
    expect(JSON.parse(h.stdout.at(-1)!)).toEqual({
      agentId: 'ann',
      state: 'open',
      failures: 5,
      openUntil: NOW + 120_000,
      openUntilIso: '2026-11-27T12:02:00.000Z',
    });
    expect(await cli(h, 'breaker', 'reset', 'ann')).toBe(0);
    expect(h.valkey.breakerReset).toHaveBeenCalledWith('ann');
    expect(h.stdout.at(-1)).toMatch(/breaker reset \(was open with 5 failures/);
  });

  it('budget show prints the table, or the status as JSON', async () => {
    const h = harness();
    expect(await cli(h, 'budget', 'show', 'ann')).toBe(0);
    expect(h.stdout.at(-1)).toMatch(/tokens 2026-11-27\s+1000\s+0\s+100000\s+1%/);
    await cli(h, 'budget', 'show', 'ann', '--json');
    expect(JSON.parse(h.stdout.at(-1)!)).toMatchObject({ agentId: 'ann', dailyTokens: { used: 1000 } });
  });

  it('cache invalidate drops one agent or all and prints how many', async () => {
    const h = harness();
    expect(await cli(h, 'cache', 'invalidate', 'ann')).toBe(0);
    expect(h.valkey.invalidateCache).toHaveBeenLastCalledWith('ann');
    expect(h.stdout.at(-1)).toBe('dropped 1 cached entry (ann) in redis://fake:6379');
    expect(await cli(h, 'cache', 'invalidate', '--json')).toBe(0);
    expect(h.valkey.invalidateCache).toHaveBeenLastCalledWith(undefined);
    expect(JSON.parse(h.stdout.at(-1)!)).toEqual({ agentId: null, dropped: 4 });
  });

  it('an unreachable Valkey is exit 5', async () => {
    const h = harness();
    h.ctx.connectValkey = async () => {
      throw new CliError(
        ExitCode.valkeyUnreachable,
        'Valkey not reachable at redis://x:1 (BOTBURROW_REDIS_URL)',
      );
    };
    expect(await cli(h, 'agent', 'pause', 'ann')).toBe(5);
    expect(h.stderr.join('\n')).toMatch(/Valkey not reachable/);
  });
});

describe('skills sync', () => {
  it('runs the sync once with the given sources and reports rejects with exit 1', async () => {
    const h = harness();
    const code = await runCli(['skills', 'sync', '--sources', 'a, s3://b/c'], h.ctx);
    expect(h.temporal.skillSync).toHaveBeenCalledWith(['a', 's3://b/c']);
    expect(code).toBe(1);
    expect(h.stdout.join('\n')).toContain(
      'skill sync: 2 copied, 1 unchanged, 1 rejected (sources: a, s3://b/c)',
    );
    expect(h.stdout.join('\n')).toContain('rejected ./skills-src/bad/SKILL.md: blocked pattern');
  });

  it('uses the configured sources by default and prints JSON', async () => {
    const h = harness({
      temporal: fakeTemporal({
        skillSync: vi.fn(async () => ({
          sources: ['x'],
          copied: 1,
          unchanged: 0,
          rejected: [],
          skills: ['s'],
        })),
      }),
    });
    const code = await runCli(['skills', 'sync', '--json'], h.ctx);
    expect(h.temporal.skillSync).toHaveBeenCalledWith(undefined);
    expect(code).toBe(0);
    expect(JSON.parse(h.stdout.join('\n'))).toMatchObject({ copied: 1, rejected: [] });
  });
});

describe('agents validate', () => {
  const report = (problems: ValidationReport['problems']): ValidationReport => ({
    where: 'folder ./defs',
    agents: 3,
    skills: 2,
    problems,
  });

  it('prints each problem and a summary, and exits 1 when any is an error', async () => {
    const h = harness({
      report: report([
        { severity: 'error', message: "agents/g/config.yaml: type: 'goose' is executed by no runner" },
        { severity: 'warning', message: 'agents/l/config.yaml: legacy field mapped' },
      ]),
    });
    expect(await cli(h, 'agents', 'validate')).toBe(ExitCode.failed);
    const out = h.stdout.join('\n');
    expect(out).toMatch(/^error +agents\/g\/config\.yaml: type: 'goose'/m);
    expect(out).toMatch(/^warning agents\/l\/config\.yaml/m);
    expect(out).toContain('folder ./defs: 3 agents, 2 skills, 1 errors, 1 warnings');
  });

  it('exits 0 when there are only warnings, and prints the report as JSON with --json', async () => {
    const h = harness({ report: report([{ severity: 'warning', message: 'w' }]) });
    expect(await cli(h, 'agents', 'validate', '--json')).toBe(ExitCode.ok);
    expect(JSON.parse(h.stdout.join('\n'))).toMatchObject({ agents: 3, problems: [{ severity: 'warning' }] });
  });
});
