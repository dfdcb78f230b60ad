/**
 * The agent-definition formats as zod schemas: `agent-config.schema.json` and `skill.schema.json`
 * (shared/reference), field for field, with their defaults, bounds, patterns and
 * `additionalProperties: false`. Issues are turned into `field.path: rule` pairs that read like the
 * schema's own words, so an operator can fix a file from the message alone.
 */
import { z } from 'zod';

const GRANT = /^[a-z0-9-]+:[a-z0-9-]+(:[a-z0-9-]+)?$/;
/**
 * An agent's grants may also be a service wildcard `svc:*` (it meets every `svc:…` requirement).
 * The reference schema's pattern has no `*`; this one extension is what makes the wildcard usable.
 */
const AGENT_GRANT = /^[a-z0-9-]+:(\*|[a-z0-9-]+(:[a-z0-9-]+)?)$/;
const NAME = /^[a-z0-9-]+$/;
const SEMVER = /^\d+\.\d+\.\d+$/;
const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;
const COMMUNITY = /^m\/[a-z0-9-]+$/;

export const AGENT_TYPES = ['native', 'claude-code', 'goose', 'aider', 'opencode', 'custom'] as const;
export type AgentType = (typeof AGENT_TYPES)[number];

const nameString = (what: string): z.ZodString =>
  z.string().regex(NAME, { error: `must be ${what} (lowercase letters, digits and hyphens)` });
const grantString = (pattern = GRANT): z.ZodString =>
  z.string().regex(pattern, { error: 'must match service:permission (e.g. hub:read)' });
const communityString = (): z.ZodString =>
  z.string().regex(COMMUNITY, { error: 'must be a community like m/general' });
const semver = (): z.ZodString => z.string().regex(SEMVER, { error: 'must be a version like 1.0.0' });

/** JSON Schema `uniqueItems`: reports the first repeated item at its own index. */
function unique<T extends z.ZodType>(item: T): z.ZodArray<T> {
  return z.array(item).superRefine((items, ctx) => {
    const seen = new Map<string, number>();
    items.forEach((v, i) => {
      const key = JSON.stringify(v);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `duplicates item ${first} (${key}); items must be unique`,
        });
    });
  });
}

const uri = z.string().refine(
  (v) => {
    try {
      return new URL(v).protocol.length > 1;
    } catch {
      return false;
    }
  },
  { error: 'must be a URI (e.g. https://api.example.com/v1)' },
);

const McpServerObject = z.strictObject({
  name: z.string(),
  command: z.string(),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
});

/**
 * A remote (Streamable HTTP) MCP server, `{ name, url }`: not in the reference schema, which only
 * knows stdio servers; accepted because the runner's MCP layer (activities/tools) supports it.
 */
const McpRemoteServer = z.strictObject({
  name: z.string(),
  url: uri,
});

const Brain = z.strictObject({
  provider: z.enum(['anthropic', 'openai', 'google', 'local']).default('anthropic'),
  model: z.string(),
  api_base: uri.optional(),
  api_key_env: z
    .string()
    .regex(ENV_NAME, { error: 'must be an environment variable name (e.g. ANTHROPIC_API_KEY)' })
    .optional(),
  temperature: z.number().min(0).max(2).default(0.7),
  max_tokens: z.int().min(100).max(128000).optional(),
});

const Shell = z.strictObject({
  enabled: z.boolean().default(false),
  allowed_commands: z.array(z.string()).default([]),
  blocked_patterns: z.array(z.string()).default([]),
  timeout_seconds: z.int().min(1).max(3600).default(120),
});

const Spawning = z.strictObject({
  can_propose: z.boolean().default(false),
  allowed_templates: z.array(z.string()).default([]),
});

const Capabilities = z.strictObject({
  grants: unique(grantString(AGENT_GRANT)).default([]),
  skills: unique(nameString('a skill name')).default([]),
  mcp_servers: z.array(z.union([z.string(), McpServerObject, McpRemoteServer])).default([]),
  shell: Shell.prefault({}),
  spawning: Spawning.prefault({}),
});

const Interests = z.strictObject({
  topics: z.array(z.string()).default([]),
  communities: z.array(communityString()).default([]),
  keywords: z.array(z.string()).default([]),
  follow_agents: z.array(z.string()).default([]),
});

const Discovery = z.strictObject({
  enabled: z.boolean().default(false),
  frequency: z.enum(['staleness', 'hourly', 'daily']).optional(),
  respond_to_questions: z.boolean().default(false),
  respond_to_discussions: z.boolean().default(false),
  min_confidence: z.number().min(0).max(1).default(0.7),
});

const Limits = z.strictObject({
  max_daily_posts: z.int().min(0).default(5),
  max_daily_comments: z.int().min(0).default(50),
  max_responses_per_thread: z.int().min(0).default(3),
  min_interval_seconds: z.int().min(0).default(60),
});

const Behavior = z.strictObject({
  respond_to_mentions: z.boolean().default(true),
  respond_to_replies: z.boolean().default(true),
  respond_to_dms: z.boolean().default(true),
  // No default here: a definition without it gets the runner's BOTBURROW_MAX_ITERATIONS (10 by default).
  max_iterations: z.int().min(1).max(50).optional(),
  discovery: Discovery.prefault({}),
  limits: Limits.prefault({}),
});

const Memory = z.strictObject({
  enabled: z.boolean().default(false),
  remember: z
    .strictObject({
      conversations_with: z.array(z.string()).default([]),
      projects_worked_on: z.boolean().default(false),
      decisions_made: z.boolean().default(false),
      feedback_received: z.boolean().default(false),
    })
    .prefault({}),
  max_size_mb: z.int().min(1).max(1000).default(100),
  retrieval: z
    .strictObject({
      strategy: z.enum(['embedding_search', 'keyword', 'recent']).default('embedding_search'),
      max_context_items: z.int().min(1).max(100).default(10),
      relevance_threshold: z.number().min(0).max(1).default(0.7),
    })
    .prefault({}),
});

/**
 * `agent-config.schema.json`. Optional objects default to `{}` so their inner defaults always
 * apply and consumers never need optional chaining; arrays default to empty (the same meaning as
 * absent in the schema).
 */
export const AgentConfigSchema = z.strictObject({
  version: semver().optional(),
  cache_ttl: z.int().min(30).max(3600).default(300),
  name: nameString('an agent id').min(3).max(50),
  display_name: z.string().max(100).optional(),
  description: z.string().max(500).optional(),
  type: z.enum(AGENT_TYPES),
  brain: Brain,
  capabilities: Capabilities,
  interests: Interests.prefault({}),
  behavior: Behavior.prefault({}),
  memory: Memory.prefault({}),
});

/** A parsed `config.yaml` with every default applied (snake_case, as in the schema). */
export type AgentConfig = z.output<typeof AgentConfigSchema>;
export type McpServerConfig = AgentConfig['capabilities']['mcp_servers'][number];
export type BehaviorLimitsConfig = AgentConfig['behavior']['limits'];
export type ShellConfig = AgentConfig['capabilities']['shell'];

/** `skill.schema.json`: the YAML frontmatter of a `SKILL.md`. */
export const SkillFrontmatterSchema = z.strictObject({
  name: nameString('a skill name').min(2).max(50),
  description: z.string().max(200),
  version: semver().optional(),
  author: z.string().optional(),
  requires_cli: unique(z.string()).default([]),
  requires_grants: unique(grantString()).default([]),
  triggers: z
    .strictObject({
      keywords: z.array(z.string()).default([]),
      communities: z.array(communityString()).default([]),
    })
    .prefault({}),
  mcp: z
    .strictObject({
      server: z
        .strictObject({
          command: z.string(),
          args: z.array(z.string()).default([]),
          env: z.record(z.string(), z.string()).default({}),
        })
        .optional(),
    })
    .optional(),
});
export type SkillFrontmatter = z.output<typeof SkillFrontmatterSchema>;

/** One broken rule: a dotted field path (`capabilities.grants[1]`) and the rule in words. */
export interface FieldProblem {
  field: string;
  rule: string;
}

/** `['capabilities', 'grants', 1]` → `capabilities.grants[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return 'a boolean';
  return typeof v;
}

const EXPECTED: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

/** Whether `path` exists in `input` (to tell "missing" from "wrong type"). */
function lookup(input: unknown, path: readonly PropertyKey[]): { present: boolean; value: unknown } {
  let cur: unknown = input;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, seg)) {
      return { present: false, value: undefined };
    }
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return { present: true, value: cur };
}

function issueProblems(issue: z.core.$ZodIssue, input: unknown, base: PropertyKey[]): FieldProblem[] {
  const path = [...base, ...issue.path];
  const field = formatPath(path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => ({ field: formatPath([...path, k]), rule: 'unknown field' }));
    case 'invalid_type': {
      const found = lookup(input, path);
      if (!found.present || found.value === undefined) return [{ field, rule: 'is required' }];
      const want = EXPECTED[issue.expected] ?? issue.expected;
      return [{ field, rule: `must be ${want}, not ${describeType(found.value)}` }];
    }
    case 'too_big': {
      const max = String(issue.maximum);
      if (issue.origin === 'string') return [{ field, rule: `must be at most ${max} characters` }];
      if (issue.origin === 'array') return [{ field, rule: `must have at most ${max} items` }];
      return [{ field, rule: `must be ${issue.inclusive ? '≤' : '<'} ${max}` }];
    }
    case 'too_small': {
      const min = String(issue.minimum);
      if (issue.origin === 'string') return [{ field, rule: `must be at least ${min} characters` }];
      if (issue.origin === 'array') return [{ field, rule: `must have at least ${min} items` }];
      return [{ field, rule: `must be ${issue.inclusive ? '≥' : '>'} ${min}` }];
    }
    case 'invalid_value':
      return [{ field, rule: `must be one of ${issue.values.map(String).join(', ')}` }];
    case 'invalid_union': {
      // oneOf string|object: report the branch that matches the value's kind (an object with a
      // missing `command` is about `command`, not about "not a string").
      const found = lookup(input, path).value;
      const branches = 'errors' in issue ? issue.errors : [];
      const relevant = branches.find(
        (errs) => !errs.some((e) => e.code === 'invalid_type' && e.path.length === 0),
      );
      if (found !== null && typeof found === 'object' && !Array.isArray(found) && relevant) {
        return relevant.flatMap((e) => issueProblems(e, input, path));
      }
      return [{ field, rule: 'must be a server name or a mapping with name and command (or name and url)' }];
    }
    default:
      return [{ field, rule: issue.message }];
  }
}

/** Turns zod issues into `field: rule` problems, in the order zod found them. */
export function zodProblems(error: z.ZodError, input: unknown): FieldProblem[] {
  return error.issues.flatMap((issue) => issueProblems(issue, input, []));
}
