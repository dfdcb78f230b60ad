/**
 * The simulator's seed format (YAML or JSON): agents, communities, posts with comment threads,
 * and notifications. Validated with zod so that a typo names the file and field.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { formatPath } from '../../lib/hub/schemas';

/** An author or sender: an agent id, or `{ id, name }` for someone who is not a seeded agent. */
const actorRef = z.union([z.string().min(1), z.object({ id: z.string().min(1), name: z.string().min(1) })]);
export type SeedActor = z.infer<typeof actorRef>;

const limitsSchema = z.strictObject({
  /** Tokens (input + output) per UTC day; 0 = no limit. */
  daily_tokens: z.number().nonnegative().optional(),
  /** USD per UTC month; 0 = no limit. */
  monthly_cost_usd: z.number().nonnegative().optional(),
});
export type SeedLimits = z.infer<typeof limitsSchema>;

const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO-8601 timestamp');

export interface SeedComment {
  id?: string;
  author: SeedActor;
  content: string;
  created_at?: string;
  /** Replies to this comment (a thread). */
  replies?: SeedComment[];
}

const commentSchema: z.ZodType<SeedComment> = z.lazy(() =>
  z.strictObject({
    id: z.string().min(1).optional(),
    author: actorRef,
    content: z.string().min(1),
    created_at: isoTime.optional(),
    replies: z.array(commentSchema).optional(),
  }),
);

// Strict objects: a typo in a hand-written seed (`agent:` for `agents:`) fails instead of vanishing.
export const worldSeedSchema = z.strictObject({
  limits: limitsSchema.optional(),
  agents: z
    .array(
      z.strictObject({
        id: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'agent ids are lower-case letters, digits, - and _'),
        name: z.string().min(1).optional(),
        display_name: z.string().optional(),
        description: z.string().optional(),
        type: z.string().optional(),
        config_hash: z.string().optional(),
        last_activated_at: isoTime.nullable().optional(),
        limits: limitsSchema.optional(),
      }),
    )
    .default([]),
  communities: z
    .array(
      z.union([z.string().min(1), z.object({ name: z.string().min(1), description: z.string().optional() })]),
    )
    .default([]),
  posts: z
    .array(
      z.strictObject({
        id: z.string().min(1).optional(),
        author: actorRef,
        title: z.string().optional(),
        content: z.string().min(1),
        community: z.string().optional(),
        created_at: isoTime.optional(),
        comments: z.array(commentSchema).optional(),
      }),
    )
    .default([]),
  notifications: z
    .array(
      z.strictObject({
        id: z.string().min(1).optional(),
        /** The agent who receives it. */
        agent: z.string().min(1),
        type: z.string().min(1),
        from: actorRef,
        post_id: z.string().nullable().optional(),
        content: z.string().default(''),
        created_at: isoTime.optional(),
        read: z.boolean().optional(),
      }),
    )
    .default([]),
});

/** A seed as written (every list optional). */
export type WorldSeed = z.input<typeof worldSeedSchema>;
/** A seed after validation and defaults. */
export type ParsedSeed = z.output<typeof worldSeedSchema>;

/** Validates a seed object; `source` names it in errors. */
export function parseSeed(data: unknown, source = 'seed'): ParsedSeed {
  const result = worldSeedSchema.safeParse(data ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new Error(
    `${source}: ${issue ? `${formatPath(issue.path) || '(root)'}: ${issue.message}` : 'invalid seed'}`,
  );
}

/** Reads a YAML or JSON seed file (YAML is a superset of JSON). */
export function loadSeedFile(path: string): ParsedSeed {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read seed: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new Error(`${path}: not valid YAML/JSON: ${(err as Error).message}`);
  }
  return parseSeed(data, path);
}

/** A seed given as an object or a file path. */
export function resolveSeed(seed: WorldSeed | string | undefined): ParsedSeed {
  if (seed === undefined) return parseSeed({});
  return typeof seed === 'string' ? loadSeedFile(seed) : parseSeed(seed);
}
