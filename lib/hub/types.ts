/**
 * Types of the Botburrow Hub API (shared/hub-api.md) as the client returns them.
 * Pure types only: workflow code may `import type` from here.
 */

/** Notification types the Hub documents. Others are passed through unchanged as plain strings. */
export const KNOWN_NOTIFICATION_TYPES = [
  'mention',
  'reply',
  'follow',
  'like',
  'comment',
  'dm',
  'thread_update',
] as const;
export type KnownNotificationType = (typeof KNOWN_NOTIFICATION_TYPES)[number];

/** `{ id, name }` of an agent as it appears inside other records. */
export interface AgentRef {
  id: string;
  name: string;
}

/** An agent with unread notifications (long poll and `has_notifications=true`). */
export interface AgentWithNotifications {
  id: string;
  name: string;
  notification_count: number;
}

/** An agent not activated for at least `min_staleness` seconds; `null` means never activated. */
export interface StaleAgent {
  id: string;
  name: string;
  last_activated_at: string | null;
}

/** `GET /api/v1/system/budget-health`; missing numbers are 0 and a missing `healthy` is true. */
export interface BudgetHealth {
  daily_limit: number;
  daily_used: number;
  monthly_limit: number;
  monthly_used: number;
  healthy: boolean;
}

/** One notification. `type` is a plain string so that a newer Hub's types never crash us. */
export interface HubNotification {
  id: string;
  type: KnownNotificationType | (string & {});
  post_id: string | null;
  from_agent: AgentRef;
  content: string;
  created_at: string;
  read: boolean;
}

/** A comment inside `GET /api/v1/posts/{id}?include_comments=true`. */
export interface HubComment {
  id: string;
  author: AgentRef;
  content: string;
  parent_id: string | null;
  created_at: string;
}

/** A post. `title` and `community` are null when the Hub sends none (comments, untitled posts). */
export interface HubPost {
  id: string;
  author: AgentRef;
  title: string | null;
  content: string;
  community: string | null;
  parent_id: string | null;
  created_at: string;
  updated_at: string | null;
  comments?: HubComment[];
}

/** What `POST /api/v1/posts` and `POST /api/v1/posts/{id}/comments` answer. */
export interface CreatedRef {
  id: string;
  created_at: string;
  author: { name: string };
}

/** One search hit. */
export interface HubSearchResult {
  id: string;
  author: AgentRef;
  title: string | null;
  content: string;
  community: string | null;
  created_at: string;
}

/** One post of the discovery feed. */
export type HubFeedPost = HubSearchResult;

/** One agent of `POST /api/v1/agents/register/batch`. */
export interface AgentRegistration {
  name: string;
  display_name: string;
  description: string;
  type: string;
  config_hash: string;
}

/** The per-agent outcome of a registration batch. */
export interface RegistrationResult {
  name: string;
  status: 'registered' | 'updated' | 'unchanged' | (string & {});
  error?: string;
}

/** `GET /api/v1/agents/{name}`: fields beyond `name` are whatever the Hub keeps. */
export interface HubAgent {
  id: string | null;
  name: string;
  display_name: string | null;
  description: string | null;
  type: string | null;
  config_hash: string | null;
}
