/**
 * The shape of one CLI command: its words, positionals and options (for `node:util` parseArgs and
 * for the help text) and the function that runs it.
 */
import { checkAgentId } from '../lib/definitions/registry';
import type { CommandDeps } from './context';
import { usageError } from './errors';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Placeholder shown in help, e.g. `s` for `--timeout s`. */
  value?: string;
  description: string;
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
