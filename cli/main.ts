/**
 * The CLI's dispatcher: finds the command in the table, parses its arguments with node:util
 * parseArgs, loads settings, runs it with lazily opened connections, and turns every foreseen
 * failure into its exit code and a message on stderr.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { SettingsError, loadSettings } from '../lib/config';
import type { Settings } from '../lib/config';
import { synopsis } from './command';
import type { CommandSpec, Parsed } from './command';
import { activationCommands } from './commands/activation';
import { agentCommands } from './commands/agents';
import { guardCommands } from './commands/guards';
import { skillCommands } from './commands/skills';
import type { ActivationsApi, CliContext, CommandDeps, ValkeyApi } from './context';
import { CliError, ExitCode, usageError } from './errors';

export const COMMANDS: readonly CommandSpec[] = [
  ...activationCommands,
  ...agentCommands,
  ...guardCommands,
  ...skillCommands,
];

const HELP_TAIL = `Options for every command:
  --json       machine-readable output on stdout (progress notes stay on stderr)
  -h, --help   help for the command

Settings come from the environment, as for every botburrow process (see .env.example):
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (and TEMPORAL_TLS*/TEMPORAL_API_KEY), BOTBURROW_REDIS_URL,
  BOTBURROW_KEY_PREFIX, BOTBURROW_DEFINITIONS_STORE and BOTBURROW_AGENT_DEFINITIONS_PATH or
  BOTBURROW_R2_*, and the budget/breaker limits. The Hub is never contacted.

Exit codes:
  0   ok (activation run: outcome succeeded or iteration_cap)
  1   the operation failed
  2   usage error
  3   not found (no such agent or activation)
  4   Temporal unreachable
  5   Valkey unreachable
  6   activation run: still running when --timeout passed (it goes on)
  10  activation run: outcome failed
  11  activation run: outcome cancelled (also a paused agent)
  12  activation run: outcome budget_exceeded
  13  activation run: outcome circuit_open
  14  activation run: outcome timed_out
  78  configuration error (a malformed environment variable)`;

/** The top-level help text. */
export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.words.join(' ').length));
  const lines = COMMANDS.map((c) => `  ${c.words.join(' ').padEnd(width)}  ${c.summary}`);
  return `botburrow: operate botburrow-agents (activations on Temporal, guards in Valkey)

Usage: botburrow <command> [arguments] [options]

Commands:
${lines.join('\n')}

Run 'botburrow <command> --help' for a command's arguments and options.

${HELP_TAIL}`;
}

/** The help text of one command; with `settings`, the defaults they make. */
export function commandHelp(c: CommandSpec, settings?: Settings): string {
  const opts = Object.entries(c.options).map(([name, o]) => {
    const flag = o.type === 'string' ? `--${name} ${o.value ?? 'value'}` : `--${name}`;
    const shown = settings && o.shownDefault ? ` (default ${o.shownDefault(settings)})` : '';
    return [flag, `${o.description}${shown}`] as const;
  });
  opts.push(['--json', 'machine-readable output']);
  const width = Math.max(...opts.map(([f]) => f.length));
  return [
    `Usage: ${synopsis(c)}`,
    '',
    c.summary,
    '',
    'Options:',
    ...opts.map(([f, desc]) => `  ${f.padEnd(width)}  ${desc}`),
    ...(c.details ? ['', ...c.details] : []),
  ].join('\n');
}

function findCommand(argv: readonly string[]): { command?: CommandSpec; rest: string[]; group?: string } {
  const [group, action, ...rest] = argv;
  const command = COMMANDS.find((c) => c.words[0] === group && c.words[1] === action);
  if (command) return { command, rest };
  return { rest: [], group: COMMANDS.some((c) => c.words[0] === group) ? group : undefined };
}

function groupUsage(group: string): string {
  return COMMANDS.filter((c) => c.words[0] === group)
    .map((c) => `  ${synopsis(c)}`)
    .join('\n');
}

/**
 * `--limit -3` as `--limit=-3`: parseArgs takes a value starting with '-' for an option, but a
 * negative number is plainly meant as the value, and the option's own check then says what is wrong.
 */
function joinNegativeValues(c: CommandSpec, argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : undefined;
    if (name !== undefined && c.options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** One line for a parseArgs error, in the CLI's words (its own are several lines of advice). */
function parseArgsMessage(c: CommandSpec, err: Error & { code?: string }): string {
  const name = /'--([a-z-]+)/.exec(err.message)?.[1];
  const option = name === undefined ? undefined : c.options[name];
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option?.type === 'string') {
    return /ambiguous/.test(err.message)
      ? `--${name} needs a value; one starting with '-' is written --${name}=-x`
      : `--${name} needs a value (${option.value ?? 'value'})`;
  }
  // Other parseArgs messages are precise ("Unknown option '--x'"); keep their first sentence.
  return err.message.replace(/\. To specify a positional.*$/s, '').split('\n')[0]!;
}

/** Parses a command's arguments; throws a usage error naming the problem. */
export function parseCommandArgs(
  c: CommandSpec,
  argv: readonly string[],
): Parsed & { json: boolean; help: boolean } {
  const options: NonNullable<ParseArgsConfig['options']> = {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, o] of Object.entries(c.options)) options[name] = { type: o.type };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinNegativeValues(c, argv), options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError(parseArgsMessage(c, err as Error & { code?: string }), synopsis(c));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const help = values.help === true;
  const positionals = parsed.positionals;
  if (!help) {
    const required = c.positionals.filter((p) => p.required).length;
    if (positionals.length < required) {
      const missing = c.positionals[positionals.length]!;
      throw usageError(`missing <${missing.name}>`, synopsis(c));
    }
    if (positionals.length > c.positionals.length) {
      throw usageError(`unexpected argument '${positionals[c.positionals.length]}'`, synopsis(c));
    }
  }
  const args: Record<string, string | undefined> = {};
  c.positionals.forEach((p, i) => (args[p.name] = positionals[i]));
  return { args, options: values, json: values.json === true, help };
}

/**
 * Runs the CLI on `argv` (without node and script) and resolves to the process exit code. Never
 * throws for foreseen failures: they are printed to `ctx.output.err`.
 */
export async function runCli(rawArgv: readonly string[], ctx: CliContext): Promise<number> {
  const { output } = ctx;
  // `botburrow --json activation list` means the same as `botburrow activation list --json`.
  const leadingJson = rawArgv.findIndex((a) => a !== '--json');
  const argv =
    leadingJson > 0 ? [...rawArgv.slice(leadingJson), ...rawArgv.slice(0, leadingJson)] : [...rawArgv];
  if (argv.length === 0) {
    output.err(helpText());
    return ExitCode.usage;
  }
  if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    output.out(helpText());
    return ExitCode.ok;
  }
  const { command, rest, group } = findCommand(argv);
  if (!command) {
    if (group !== undefined) {
      if (argv[1] === '--help' || argv[1] === '-h') {
        output.out(`Usage:\n${groupUsage(group)}`);
        return ExitCode.ok;
      }
      const missing = argv[1] === undefined || argv[1].startsWith('-');
      output.err(
        `${missing ? `'${group}' needs a subcommand` : `unknown command '${group} ${argv[1]}'`}; usage:\n${groupUsage(group)}`,
      );
      return ExitCode.usage;
    }
    output.err(`unknown command '${argv[0]}'. Run 'botburrow --help' for the list of commands.`);
    return ExitCode.usage;
  }

  let temporal: ActivationsApi | undefined;
  let valkey: ValkeyApi | undefined;
  try {
    const parsed = parseCommandArgs(command, rest);
    if (parsed.help) {
      let settings: Settings | undefined;
      try {
        settings = loadSettings(ctx.env);
      } catch {
        // Help without the defaults a malformed environment would give.
      }
      output.out(commandHelp(command, settings));
      return ExitCode.ok;
    }
    let settings: Settings;
    try {
      settings = loadSettings(ctx.env);
    } catch (err) {
      if (err instanceof SettingsError)
        throw new CliError(ExitCode.config, `configuration error: ${err.message}`);
      throw err;
    }
    const deps: CommandDeps = {
      settings,
      output,
      json: parsed.json,
      now: () => ctx.now(),
      temporal: async () => (temporal ??= await ctx.connectTemporal(settings)),
      valkey: async () => (valkey ??= await ctx.connectValkey(settings)),
      definitions: () => ctx.definitions(settings),
    };
    return await command.run(parsed, deps);
  } catch (err) {
    if (err instanceof CliError) {
      output.err(`botburrow ${command.words.join(' ')}: ${err.message}`);
      if (err.exitCode === ExitCode.usage) output.err(`usage: ${err.usage ?? synopsis(command)}`);
      return err.exitCode;
    }
    output.err(
      `botburrow ${command.words.join(' ')}: unexpected error: ${(err as Error).stack ?? String(err)}`,
    );
    return ExitCode.failed;
  } finally {
    await Promise.allSettled([temporal?.close(), valkey?.close()]);
  }
}
