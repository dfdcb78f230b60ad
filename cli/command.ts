/**
 * The shape of one CLI command: its words, positionals and options (for `node:util` parseArgs and
 * for the help text) and the function that runs it.
 */
import { checkAgentId } from '../lib/definitions/registry';
import type { Settings } from '../lib/config';
import type { CommandDeps } from './context';
import { CliError, ExitCode, usageError } from './errors';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Placeholder shown in help, e.g. `s` for `--timeout s`. */
  value?: string;
  description: string;
  /** The default as the settings make it, shown in help, e.g. `900 s: BOTBURROW_ACTIVATION_TIMEOUT + 300`. */
  shownDefault?: (s: Settings) => string;
}

export interface Parsed {
  /** Positionals by name (from `CommandSpec.positionals`). */
  args: Record<string, string | undefined>;
  options: Record<string, string | boolean | undefined>;
}

export interface CommandSpec {
  /** The command words, e.g. `['activation', 'run']`. */
  words: readonly [string, string];
  summary: string;
  positionals: readonly { name: string; required: boolean }[];
  options: Record<string, OptionSpec>;
  /** Lines of extra help (examples, what the output means). */
  details?: readonly string[];
  run(p: Parsed, d: CommandDeps): Promise<number>;
}

/** `activation run <agent> [--trigger t] …`: the one-line synopsis of a command. */
export function synopsis(c: CommandSpec): string {
  const pos = c.positionals.map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`));
  const opts = Object.entries(c.options).map(([name, o]) =>
    o.type === 'string' ? `[--${name} ${o.value ?? 'value'}]` : `[--${name}]`,
  );
  return ['botburrow', ...c.words, ...pos, ...opts, '[--json]'].join(' ');
}

/** A string option's value (parseArgs already refused a missing value). */
export function stringOption(p: Parsed, name: string): string | undefined {
  const v = p.options[name];
  return typeof v === 'string' ? v : undefined;
}

/** The agent id positional, checked against the definition rule (exit 2 when malformed). */
export function agentArg(p: Parsed, name = 'agent'): string {
  const id = p.args[name];
  if (id === undefined) throw usageError(`missing <${name}>`);
  try {
    checkAgentId(id);
  } catch {
    throw usageError(`'${id}' is not an agent id: 3-50 lowercase letters, digits or hyphens`);
  }
  return id;
}

/** A positive whole number option, or `fallback` when absent (exit 2 when malformed). */
export function intOption(p: Parsed, name: string, fallback: number, max = 1_000_000): number {
  const raw = stringOption(p, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw usageError(`--${name} must be a whole number between 1 and ${max}, got '${raw}'`);
  }
  return Number(raw);
}

/** True when the definition store has `agents/<agentId>/config.yaml` (exit 1 when unreadable). */
export async function agentExists(d: CommandDeps, agentId: string): Promise<boolean> {
  const defs = await d.definitions();
  try {
    return await defs.exists(agentId);
  } catch (err) {
    throw new CliError(
      ExitCode.failed,
      `cannot read agent definitions from ${defs.where}: ${(err as Error).message}`,
    );
  }
}

/** Exit 3 with a one-line hint unless the definition store has the agent. */
export async function requireAgent(d: CommandDeps, agentId: string): Promise<void> {
  if (!(await agentExists(d, agentId))) throw await noSuchAgent(d, agentId);
}

/** The "no such agent" error: where the CLI looked, and which setting selects it. */
export async function noSuchAgent(d: CommandDeps, agentId: string): Promise<CliError> {
  const defs = await d.definitions();
  return new CliError(
    ExitCode.notFound,
    `no agent '${agentId}': agents/${agentId}/config.yaml is not in ${defs.where} ` +
      '(BOTBURROW_DEFINITIONS_STORE / BOTBURROW_AGENT_DEFINITIONS_PATH must point at the store the runners use)',
  );
}
