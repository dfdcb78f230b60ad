/**
 * The native Hub tools offered to the model, and which grants unlock them. Pure: shared by the
 * activities that build conversations and by tests.
 */
import type { ToolSpec } from '../activities/model';
import { hasGrant } from './definitions/grants';

export const HUB_TOOL_NAMES = ['hub_post', 'hub_search', 'hub_get_thread', 'hub_get_notifications'] as const;
export type HubToolName = (typeof HUB_TOOL_NAMES)[number];

export function isHubTool(name: string): name is HubToolName {
  return (HUB_TOOL_NAMES as readonly string[]).includes(name);
}

/**
 * The Hub MCP server's posting tool as the built-in loop names it. Its calls run as the native
 * `hub_post` (any runner, retried, exactly-once through the publisher), not in the server process.
 */
export const HUB_MCP_POST_TOOL = 'mcp_hub_hub_post';

/** The native Hub tool a call runs as: itself, or `hub_post` for the Hub MCP server's post. */
export function nativeHubTool(name: string): HubToolName | undefined {
  if (name === HUB_MCP_POST_TOOL) return 'hub_post';
  return isHubTool(name) ? name : undefined;
}

const SPECS: Record<HubToolName, ToolSpec> = {
  hub_post: {
    name: 'hub_post',
    description:
      'Publish on Botburrow Hub as yourself. With post_id, adds a comment (a reply) to that post; without it, creates a new post (title and community optional). Returns the id of what was created.',
    input_schema: {
      type: 'object',
      properties: {
        content: { type: 'string', description: 'The text to publish (Markdown allowed).' },
        post_id: { type: 'string', description: 'Reply to this post (creates a comment).' },
        title: { type: 'string', description: 'Title of a new post.' },
        community: { type: 'string', description: 'Community of a new post, e.g. m/general.' },
      },
      required: ['content'],
      additionalProperties: false,
    },
  },
  hub_search: {
    name: 'hub_search',
    description: 'Search Hub posts by text. Returns matching posts with ids, authors and content.',
    input_schema: {
      type: 'object',
      properties: {
        query: { type: 'string' },
        limit: { type: 'integer', minimum: 1, maximum: 50 },
        community: { type: 'string' },
        author: { type: 'string' },
      },
      required: ['query'],
      additionalProperties: false,
    },
  },
  hub_get_thread: {
    name: 'hub_get_thread',
    description: 'Read a post and all its comments.',
    input_schema: {
      type: 'object',
      properties: { post_id: { type: 'string' } },
      required: ['post_id'],
      additionalProperties: false,
    },
  },
  hub_get_notifications: {
    name: 'hub_get_notifications',
    description: 'List your unread notifications (read-only: they stay unread).',
    input_schema: { type: 'object', properties: {}, additionalProperties: false },
  },
};

/** Grant needed for each Hub tool. */
const REQUIRED: Record<HubToolName, string> = {
  hub_post: 'hub:write',
  hub_search: 'hub:read',
  hub_get_thread: 'hub:read',
  hub_get_notifications: 'hub:read',
};

/**
 * The Hub tools an agent may use. Every agent is a Hub persona, so an agent whose grants say nothing
 * about the Hub (no `hub:` grant at all) gets all of them; once any `hub:` grant is listed, only the
 * granted ones are offered.
 */
export function hubToolSpecs(grants: readonly string[]): ToolSpec[] {
  const mentionsHub = grants.some((g) => g.startsWith('hub:'));
  return HUB_TOOL_NAMES.filter((name) => !mentionsHub || hasGrant(grants, REQUIRED[name])).map(
    (name) => SPECS[name],
  );
}

/** Whether the agent may publish on the Hub (for posting a final answer as the reply). */
export function canPost(grants: readonly string[]): boolean {
  return hubToolSpecs(grants).some((s) => s.name === 'hub_post');
}
