/**
 * zod schemas for every Hub response. Unknown fields are stripped (hub-api.md: ignore them);
 * a shape that breaks a rule becomes a PayloadError naming the endpoint and the field path.
 */
import { z } from 'zod';
import { PayloadError } from '../errors';
import type {
  AgentWithNotifications,
  BudgetHealth,
  CreatedRef,
  HubAgent,
  HubComment,
  HubNotification,
  HubPost,
  HubSearchResult,
  RegistrationResult,
  StaleAgent,
} from './types';

const agentRef = z.object({ id: z.string(), name: z.string() });
/** Optional-and-nullable text fields come out as `string | null`, never `undefined`. */
const nullableText = z
  .string()
  .nullish()
  .transform((v) => v ?? null);
/** hub-api.md: budget numbers default to 0 (also when sent as null). */
const numberOrZero = z
  .number()
  .nullish()
  .transform((v) => v ?? 0);

export const agentWithNotificationsSchema: z.ZodType<AgentWithNotifications> = z.object({
  id: z.string(),
  name: z.string(),
  notification_count: z.number().int().nonnegative(),
});

export const agentsWithNotificationsResponse = z.object({
  agents: z.array(agentWithNotificationsSchema),
});

export const staleAgentSchema: z.ZodType<StaleAgent> = z.object({
  id: z.string(),
  name: z.string(),
  last_activated_at: nullableText,
});

export const staleAgentsResponse = z.object({ agents: z.array(staleAgentSchema) });

export const budgetHealthSchema: z.ZodType<BudgetHealth> = z.object({
  daily_limit: numberOrZero,
  daily_used: numberOrZero,
  monthly_limit: numberOrZero,
  monthly_used: numberOrZero,
  healthy: z
    .boolean()
    .nullish()
    .transform((v) => v ?? true),
});

export const notificationSchema: z.ZodType<HubNotification> = z.object({
  id: z.string(),
  type: z.string().min(1),
  post_id: nullableText,
  from_agent: agentRef,
  content: z
    .string()
    .nullish()
    .transform((v) => v ?? ''),
  created_at: z.string(),
  read: z
    .boolean()
    .nullish()
    .transform((v) => v ?? false),
});

export const notificationsResponse = z.object({ notifications: z.array(notificationSchema) });

export const commentSchema: z.ZodType<HubComment> = z.object({
  id: z.string(),
  author: agentRef,
  content: z.string(),
  parent_id: nullableText,
  created_at: z.string(),
});

export const postSchema: z.ZodType<HubPost> = z.object({
  id: z.string(),
  author: agentRef,
  title: nullableText,
  content: z.string(),
  community: nullableText,
  parent_id: nullableText,
  created_at: z.string(),
  updated_at: nullableText,
  comments: z.array(commentSchema).optional(),
});

export const createdRefSchema: z.ZodType<CreatedRef> = z.object({
  id: z.string(),
  created_at: z.string(),
  author: z.object({ name: z.string() }),
});

export const searchResultSchema: z.ZodType<HubSearchResult> = z.object({
  id: z.string(),
  author: agentRef,
  title: nullableText,
  content: z.string(),
  community: nullableText,
  created_at: z.string(),
});

export const searchResponse = z.object({ results: z.array(searchResultSchema) });
export const feedResponse = z.object({ posts: z.array(searchResultSchema) });

export const registrationResultSchema: z.ZodType<RegistrationResult> = z
  .object({
    name: z.string(),
    status: z.string(),
    error: z.string().nullish(),
  })
  .transform((r) =>
    r.error ? { name: r.name, status: r.status, error: r.error } : { name: r.name, status: r.status },
  );

export const registrationResponse = z.object({ results: z.array(registrationResultSchema) });

export const hubAgentSchema: z.ZodType<HubAgent> = z.object({
  id: nullableText,
  name: z.string(),
  display_name: nullableText,
  description: nullableText,
  type: nullableText,
  config_hash: nullableText,
});

/** `a.b[2].c` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** A short name for the JSON type of a value, for "expected string, got number". */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[part];
  }
  return cur;
}

/** One human rule for a zod issue: `expected string, got number`, `must be >= 0`... */
function describeIssue(issue: z.core.$ZodIssue, data: unknown): string {
  if (issue.code === 'invalid_type') {
    return `expected ${issue.expected}, got ${jsonType(valueAt(data, issue.path))}`;
  }
  return issue.message;
}

/**
 * Validates `data` against `schema`; on failure throws a PayloadError naming `endpoint`, the
 * first failing field path and the rule (further failures are counted in the rule).
 */
export function parsePayload<T>(endpoint: string, schema: z.ZodType<T>, data: unknown): T {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const [first, ...rest] = result.error.issues;
  if (!first) throw new PayloadError(endpoint, '', 'invalid payload');
  const more = rest.length ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : '';
  throw new PayloadError(endpoint, formatPath(first.path), describeIssue(first, data) + more);
}
