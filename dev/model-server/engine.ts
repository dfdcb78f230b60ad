/**
 * Picks the scenario rule that answers a request and renders its templates. Pure: the server
 * feeds it a `ConversationView` and sends what it returns.
 */
import type { ConversationView } from './messages';
import type { ParsedScenario, Reply, Rule } from './scenario';
import { compileRegex } from './scenario';

export type Vars = Record<string, string | undefined>;

export interface Decision {
  /** The rule's name (or `rules[i]`), `fallback` when none matched. */
  rule: string;
  text: string | undefined;
  toolCalls: { name: string; input: Record<string, unknown> }[];
  stopReason: Reply['stopReason'];
  delayMs: number | undefined;
  fault: Reply['fault'];
  vars: Vars;
}

/** The first sentence that ends in a question mark, trimmed. */
export function firstQuestion(text: string): string | undefined {
  const m = /[^.!?\n]*\?/.exec(text);
  const q = m?.[0].trim();
  return q ? q : undefined;
}

function builtins(v: ConversationView): Vars {
  return {
    turn: String(v.turn),
    model: v.model,
    system: v.system,
    user: v.userText,
    first_user: v.firstUserText,
    question: firstQuestion(v.userText),
    tool_result: v.toolResults.length > 0 ? v.toolResults.map((r) => r.content).join('\n') : undefined,
    tool_name: v.toolResults[0]?.name,
  };
}

function source(v: ConversationView, from: ParsedScenario['vars'][string]['from']): string {
  switch (from) {
    case 'system':
      return v.system;
    case 'user':
      return v.userText;
    case 'first_user':
      return v.firstUserText;
    case 'tool_result':
      return v.toolResults.map((r) => r.content).join('\n');
    case 'conversation':
      return v.conversationText;
  }
}

/**
 * `groups.value`, else the first group that took part in the match, else the whole match when the
 * pattern has no groups. A pattern whose groups all stayed out (e.g. `"title":(?:"(.*)"|null)`
 * meeting `null`) leaves the variable undefined.
 */
function captured(m: RegExpExecArray): string | undefined {
  const named = m.groups?.value;
  if (named !== undefined) return named.trim();
  for (let i = 1; i < m.length; i++) if (m[i] !== undefined) return (m[i] as string).trim();
  return m.length > 1 ? undefined : m[0].trim();
}

/** Matches `text` against `pattern`, adding named groups to `into`; false when it does not match. */
function test(pattern: string | undefined, text: string, into: Vars): boolean {
  if (pattern === undefined) return true;
  const m = compileRegex(pattern).exec(text);
  if (!m) return false;
  for (const [k, val] of Object.entries(m.groups ?? {})) if (val !== undefined) into[k] = val.trim();
  return true;
}

function matches(rule: Rule, v: ConversationView, vars: Vars): Vars | undefined {
  const w = rule.when;
  const got: Vars = {};
  if (w.tools !== undefined && w.tools !== v.offeredTools.length > 0) return undefined;
  if (w.hasTool !== undefined && !v.offeredTools.includes(w.hasTool)) return undefined;
  if (w.called !== undefined && !v.called.includes(w.called)) return undefined;
  if (w.toolName !== undefined && !v.toolResults.some((r) => r.name === w.toolName)) return undefined;
  if (w.toolError !== undefined && w.toolError !== v.toolResults.some((r) => r.isError)) return undefined;
  if (typeof w.turn === 'number' && v.turn !== w.turn) return undefined;
  if (typeof w.turn === 'object' && (v.turn < (w.turn.min ?? 1) || v.turn > (w.turn.max ?? Infinity))) {
    return undefined;
  }
  if (w.toolResult !== undefined && v.toolResults.length === 0) return undefined;
  if (!test(w.system, v.system, got)) return undefined;
  if (!test(w.model, v.model, got)) return undefined;
  if (!test(w.user, v.userText, got)) return undefined;
  if (!test(w.toolResult, v.toolResults.map((r) => r.content).join('\n'), got)) return undefined;
  if (w.unset?.some((name) => vars[name] !== undefined)) return undefined;
  for (const [name, pattern] of Object.entries(w.vars ?? {})) {
    const value = vars[name];
    if (value === undefined || !test(pattern, value, got)) return undefined;
  }
  return got;
}

const TEMPLATE = /\{\{\s*([\w.-]+)\s*(?:\|([^}]*))?\}\}/g;
const WHOLE_TEMPLATE = /^\{\{\s*([\w.-]+)\s*\}\}$/;

/** Replaces `{{name}}` and `{{name|fallback}}`; an unknown name without fallback becomes ''. */
export function renderTemplate(text: string, vars: Vars): string {
  return text.replace(
    TEMPLATE,
    (_all, name: string, fallback: string | undefined) => vars[name] ?? fallback ?? '',
  );
}

/**
 * Renders every string in a tool input. A value that is exactly `{{name}}` with `name` undefined
 * drops the key, so e.g. `post_id: "{{post_id}}"` is simply absent when there is no post.
 */
export function renderInput(value: unknown, vars: Vars): unknown {
  if (typeof value === 'string') return renderTemplate(value, vars);
  if (Array.isArray(value)) return value.map((x) => renderInput(x, vars));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(value)) {
      const whole = typeof x === 'string' ? WHOLE_TEMPLATE.exec(x) : null;
      if (whole && vars[whole[1] as string] === undefined) continue;
      out[k] = renderInput(x, vars);
    }
    return out;
  }
  return value;
}

function render(rule: string, reply: Reply, vars: Vars, offered: readonly string[]): Decision {
  return {
    rule,
    text: reply.text === undefined ? undefined : renderTemplate(reply.text, vars),
    toolCalls: (reply.toolCalls ?? [])
      .filter((c) => offered.includes(c.name))
      .map((c) => ({ name: c.name, input: renderInput(c.input, vars) as Record<string, unknown> })),
    stopReason: reply.stopReason,
    delayMs: reply.delayMs,
    fault: reply.fault,
    vars,
  };
}

/**
 * The answer to a request: the first rule whose conditions all hold and whose tool calls are all
 * offered (a real model never calls a tool it was not given), else the scenario's fallback.
 */
export function decide(script: ParsedScenario, v: ConversationView): Decision {
  const vars: Vars = builtins(v);
  for (const [name, spec] of Object.entries(script.vars)) {
    const m = compileRegex(spec.pattern).exec(source(v, spec.from));
    vars[name] = m ? captured(m) : undefined;
  }
  for (const [i, rule] of script.rules.entries()) {
    const calls = rule.reply.toolCalls ?? [];
    if (calls.some((c) => !v.offeredTools.includes(c.name))) continue;
    const got = matches(rule, v, vars);
    if (got) return render(rule.name ?? `rules[${i}]`, rule.reply, { ...vars, ...got }, v.offeredTools);
  }
  const fallback: Reply = script.fallback ?? {
    text: `(scripted model: no rule of ${script.name ?? 'the scenario'} matched turn ${v.turn})`,
  };
  return render('fallback', fallback, vars, v.offeredTools);
}
