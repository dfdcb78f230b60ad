/**
 * Parsing of `agents/<id>/config.yaml`: YAML → legacy fields mapped (with warnings) → schema
 * validation with defaults. Every failure is a `DefinitionError` naming the file, the field path
 * and the rule, so a bad definition affects only its own agent.
 */
import YAML from 'yaml';
import { DefinitionError, UnsupportedAgentTypeError } from '../errors';
import { AgentConfigSchema, zodProblems } from './schema';
import type { AgentConfig, FieldProblem } from './schema';

export type { AgentConfig } from './schema';

/** Agent types a coding CLI runs (activities/executors/index.ts has one executor per type). */
export const CLI_AGENT_TYPES = ['claude-code', 'opencode', 'aider'] as const;

/** Agent types this runner executes: the built-in loop's and the CLI executors'. */
export const RUNNABLE_AGENT_TYPES = ['native', 'custom', ...CLI_AGENT_TYPES] as const;

/** True for the types a runner executes (goose, with no obtainable CLI, is not one of them). */
export function isRunnableAgentType(type: string): boolean {
  return (RUNNABLE_AGENT_TYPES as readonly string[]).includes(type);
}

/** Throws `UnsupportedAgentTypeError` for a type the schema accepts but no runner executes. */
export function assertRunnableAgentType(agentId: string, type: string): void {
  if (!isRunnableAgentType(type)) throw new UnsupportedAgentTypeError(agentId, type, RUNNABLE_AGENT_TYPES);
}

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Legacy top-level daily counts (seed format) that now live in `behavior.limits`. */
const LEGACY_LIMIT_KEYS = [
  'max_daily_posts',
  'max_daily_comments',
  'max_responses_per_thread',
  'min_interval_seconds',
] as const;

/**
 * Maps the seed's legacy fields onto the schema, in place on a copy, returning warnings:
 * - `network` (top level): dropped. Network access is decided by grants (which tools an agent
 *   gets) and by the deployment's network policy, not per agent.
 * - `behavior.can_create_posts: false` → `behavior.limits.max_daily_posts: 0`; `true` is the
 *   default behaviour and is dropped.
 * - top-level (or `behavior.`-level) `max_daily_posts`, `max_daily_comments`,
 *   `max_responses_per_thread`, `min_interval_seconds` → `behavior.limits.*`, unless
 *   `behavior.limits` already sets that field (the schema's own field wins).
 */
function mapLegacyFields(doc: Record<string, unknown>): {
  doc: Record<string, unknown>;
  warnings: string[];
  problems: FieldProblem[];
} {
  const out: Record<string, unknown> = { ...doc };
  const warnings: string[] = [];
  const problems: FieldProblem[] = [];
  const behavior: Record<string, unknown> | undefined = isMapping(out.behavior)
    ? { ...out.behavior }
    : undefined;
  let limits: Record<string, unknown> | undefined =
    behavior && isMapping(behavior.limits) ? { ...behavior.limits } : undefined;
  const setLimit = (from: string, key: string, value: unknown): void => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      problems.push({ field: from, rule: 'must be an integer ≥ 0' });
      return;
    }
    limits ??= {};
    if (key in limits) {
      warnings.push(`${from}: legacy field ignored; behavior.limits.${key} is set and wins`);
      return;
    }
    limits[key] = value;
    warnings.push(`${from}: legacy field, mapped to behavior.limits.${key}`);
  };

  if ('network' in out) {
    delete out.network;
    warnings.push('network: legacy field ignored (tools are decided by capabilities.grants)');
  }
  for (const key of LEGACY_LIMIT_KEYS) {
    if (key in out) {
      setLimit(key, key, out[key]);
      delete out[key];
    }
    if (behavior && key in behavior) {
      setLimit(`behavior.${key}`, key, behavior[key]);
      delete behavior[key];
    }
  }
  if (behavior && 'can_create_posts' in behavior) {
    const v = behavior.can_create_posts;
    delete behavior.can_create_posts;
    if (typeof v !== 'boolean') {
      problems.push({ field: 'behavior.can_create_posts', rule: 'must be true or false' });
    } else if (v) {
      warnings.push('behavior.can_create_posts: legacy field ignored (posting is allowed by default)');
    } else {
      limits ??= {};
      limits.max_daily_posts = 0;
      warnings.push('behavior.can_create_posts: legacy field, mapped to behavior.limits.max_daily_posts: 0');
    }
  }
  if (limits !== undefined) {
    const b = behavior ?? {};
    b.limits = limits;
    out.behavior = b;
  } else if (behavior) out.behavior = behavior;
  return { doc: out, warnings, problems };
}

/**
 * What an agent type cannot do: aider has no MCP client, so MCP servers listed for it would never
 * be offered; the definition is refused rather than run without the tools it was written for.
 */
function cliProblems(config: AgentConfig): FieldProblem[] {
  if (config.type !== 'aider' || config.capabilities.mcp_servers.length === 0) return [];
  return [
    {
      field: 'capabilities.mcp_servers',
      rule: 'type aider has no MCP support, so its MCP servers would never be offered; remove them or use type claude-code or opencode',
    },
  ];
}

function fail(file: string, problems: FieldProblem[]): never {
  const [first, ...more] = problems;
  throw new DefinitionError(file, first?.field ?? '', first?.rule ?? 'invalid', more);
}

/**
 * Parses and validates one `config.yaml`. `file` is the definitions-relative path used in
 * messages (`agents/<id>/config.yaml`). Throws `DefinitionError` on YAML syntax errors (with the
 * line), unknown fields, missing required fields and broken bounds.
 */
export function parseAgentConfig(
  yamlText: string,
  file: string,
): { config: AgentConfig; warnings: string[] } {
  const doc = YAML.parseDocument(yamlText, { prettyErrors: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = syntax.linePos?.[0];
    const where = pos ? `line ${pos.line}, column ${pos.col}` : 'YAML';
    const what = syntax.message.split('\n')[0] ?? 'invalid YAML';
    throw new DefinitionError(
      file,
      where,
      `YAML syntax error: ${what.replace(/ at line \d+, column \d+:?$/, '')}`,
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (err) {
    // The yaml package refuses alias bombs ("Excessive alias count …") with a ReferenceError.
    throw new DefinitionError(file, 'YAML', `cannot be read: ${(err as Error).message}`);
  }
  if (raw === null || raw === undefined) throw new DefinitionError(file, '', 'file is empty');
  if (!isMapping(raw)) throw new DefinitionError(file, '', 'must be a YAML mapping of fields');

  const legacy = mapLegacyFields(raw);
  const result = AgentConfigSchema.safeParse(legacy.doc);
  const problems = [...legacy.problems, ...(result.success ? [] : zodProblems(result.error, legacy.doc))];
  if (result.success) problems.push(...cliProblems(result.data));
  if (!result.success || problems.length > 0) fail(file, problems);
  const warnings = [...legacy.warnings];
  const { type, memory } = result.data;
  if (memory.enabled && type !== 'native' && type !== 'custom') {
    warnings.push(
      `memory.enabled: agent memory works in the built-in loop (types native and custom); type ${type} runs its own CLI and does not remember`,
    );
  }
  return { config: result.data, warnings };
}
