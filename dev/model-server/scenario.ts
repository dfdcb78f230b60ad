/**
 * Scenario scripts for the scripted Messages API server: ordered rules that match a request
 * (system prompt, latest user text, latest tool results, offered tools, turn number) and say how to
 * answer (text, tool calls, a delay, a fault). Loaded from YAML or JSON and validated up front, so
 * a typo in a script fails at load time with the rule and field that are wrong.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';

export const FAULT_KINDS = [
  '429',
  '529',
  '500',
  '400',
  '401',
  'slow',
  'malformed',
  'invalid_tool_json',
  'reset',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A regular expression as text: `pattern`, or `/pattern/flags` to give flags. */
const regexText = z.string().superRefine((s, ctx) => {
  try {
    compileRegex(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(err as Error).message}` });
  }
});

export const faultSchema = z.strictObject({
  kind: z.enum(FAULT_KINDS),
  /** How many matching requests get the fault (default 1). */
  count: z.number().int().min(1).optional(),
  /** For 429/529: the `retry-after` header in seconds (429 defaults to 1). */
  retryAfterSeconds: z.number().min(0).optional(),
  /** For `slow`: how long to wait before answering normally (default 5000). */
  delayMs: z.number().int().min(0).optional(),
  /** For `malformed`: a body that is not JSON, or JSON without the required fields. */
  variant: z.enum(['invalid_json', 'missing_fields']).optional(),
  /** Only requests whose system prompt matches get the fault. */
  match: z.strictObject({ system: regexText.optional(), model: regexText.optional() }).optional(),
});
export type Fault = z.infer<typeof faultSchema>;

const toolCallSchema = z.strictObject({
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()).default({}),
});

const whenSchema = z.strictObject({
  system: regexText.optional(),
  /** The text of the latest user message that has text (tool_result-only messages are skipped). */
  user: regexText.optional(),
  /** The content of the tool_result blocks of the last message, joined by newlines. */
  toolResult: regexText.optional(),
  /** The name of a tool whose result is in the last message. */
  toolName: z.string().min(1).optional(),
  /** Whether one of the last message's tool results is an error. */
  toolError: z.boolean().optional(),
  /** Whether the request offers tools (a `tool_choice` of none counts as no tools). */
  tools: z.boolean().optional(),
  /** The request offers a tool of this name. */
  hasTool: z.string().min(1).optional(),
  /** An earlier assistant turn of this conversation called a tool of this name. */
  called: z.string().min(1).optional(),
  /** The turn number (1 + assistant messages in the request): a number or a range. */
  turn: z
    .union([
      z.number().int().min(1),
      z.strictObject({ min: z.number().int().min(1).optional(), max: z.number().int().min(1).optional() }),
    ])
    .optional(),
  model: regexText.optional(),
  /** Script variables that must be defined and match. */
  vars: z.record(z.string(), regexText).optional(),
  /** Script variables that must be undefined (their pattern found nothing). */
  unset: z.array(z.string().min(1)).optional(),
});

const replySchema = z
  .strictObject({
    text: z.string().optional(),
    toolCalls: z.array(toolCallSchema).optional(),
    stopReason: z.enum(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use']).optional(),
    delayMs: z.number().int().min(0).optional(),
    fault: faultSchema.omit({ count: true, match: true }).optional(),
  })
  .refine((r) => r.text !== undefined || (r.toolCalls?.length ?? 0) > 0 || r.fault !== undefined, {
    message: 'a reply needs text, toolCalls or a fault',
  });

const ruleSchema = z.strictObject({
  name: z.string().min(1).optional(),
  when: whenSchema.default({}),
  reply: replySchema,
});

const varSchema = z.strictObject({
  from: z.enum(['system', 'user', 'first_user', 'tool_result', 'conversation']),
  pattern: regexText,
});

export const scenarioSchema = z.strictObject({
  name: z.string().optional(),
  /** Delay before every answer unless a rule says otherwise (ms). */
  defaultDelayMs: z.number().int().min(0).optional(),
  /** Values taken from the conversation for `{{name}}` templates and `when.vars`. */
  vars: z.record(z.string(), varSchema).default({}),
  rules: z.array(ruleSchema),
  /** The answer when no rule matches (default: a text naming the miss). */
  fallback: replySchema.optional(),
});

export type Scenario = z.input<typeof scenarioSchema>;
export type ParsedScenario = z.output<typeof scenarioSchema>;
export type Rule = ParsedScenario['rules'][number];
export type Reply = Rule['reply'];
export type ScriptedFault = NonNullable<Reply['fault']>;

export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

const compiled = new Map<string, RegExp>();

/** Compiles `pattern` or `/pattern/flags` (cached: every request runs every rule's patterns). */
export function compileRegex(text: string): RegExp {
  let re = compiled.get(text);
  if (!re) {
    const m = /^\/([\s\S]*)\/([dgimsuy]*)$/.exec(text);
    // `g` and `y` would make a shared RegExp stateful (lastIndex): dropped, matching is first-hit.
    re = m ? new RegExp(m[1] ?? '', (m[2] ?? '').replace(/[gy]/g, '')) : new RegExp(text);
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(text, re);
  }
  return re;
}

function describeIssues(where: string, error: z.ZodError): string {
  return error.issues
    .map((i) => `${where}: ${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Validates a scenario object; `where` names it in errors (a file name, "PUT /_admin/script"). */
export function parseScenario(value: unknown, where = 'scenario'): ParsedScenario {
  const r = scenarioSchema.safeParse(value);
  if (!r.success) throw new ScenarioError(describeIssues(where, r.error));
  return r.data;
}

/** Parses scenario text: JSON when it looks like JSON, YAML otherwise. */
export function parseScenarioText(text: string, where = 'scenario'): ParsedScenario {
  let value: unknown;
  try {
    value = /^\s*[{[]/.test(text) ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new ScenarioError(`${where}: not valid YAML or JSON: ${(err as Error).message}`);
  }
  return parseScenario(value, where);
}

/** Reads and validates a scenario file (YAML or JSON). */
export function loadScenarioFile(file: string): ParsedScenario {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ScenarioError(`${file}: cannot read: ${(err as Error).message}`);
  }
  return parseScenarioText(text, path.basename(file));
}

/** The demo persona script shipped with the server. */
export function demoScenarioPath(): string {
  // Compiled code runs from dist/dev/model-server, which has no copy of the YAML.
  const candidates = [
    path.join(__dirname, 'scripts', 'demo.yaml'),
    path.resolve(__dirname, '..', '..', '..', 'dev', 'model-server', 'scripts', 'demo.yaml'),
  ];
  return candidates.find((p) => fs.existsSync(p)) ?? (candidates[0] as string);
}
