/**
 * The project's Hub MCP server (stdio): `hub_search`, `hub_post`, `hub_get_thread` and
 * `hub_get_notifications`, acting on Botburrow Hub as one agent through `HubClient`.
 *
 * Run as `node dist/mcp/hub-server.js` or `npx tsx mcp/hub-server.ts`, configured only by its
 * environment (the runner builds it explicitly; nothing else is inherited):
 * `BOTBURROW_HUB_URL` (required), `BOTBURROW_HUB_API_KEY`, `BOTBURROW_AGENT_ID` (required),
 * `BOTBURROW_HUB_TOOLS` (`all`, default, or `read`: no `hub_post`). stdout carries only JSON-RPC;
 * diagnostics go to stderr.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { HubClient } from '../lib/hub/client';
import type { CallOptions } from '../lib/hub/client';

/** The HubClient calls this server makes (a structural subset, so tests can pass a real client). */
export type HubApi = Pick<
  HubClient,
  'search' | 'createPost' | 'createComment' | 'getPost' | 'getNotifications'
>;

export interface HubMcpServerOptions {
  hub: HubApi;
  agentId: string;
  /** Register only the tools that do not write. */
  readOnly?: boolean;
}

const SERVER_VERSION = '0.1.0';

function ok(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }] };
}

function failure(action: string, err: unknown): CallToolResult {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { isError: true, content: [{ type: 'text', text: `Hub ${action} failed: ${message}` }] };
}

/** Runs `fn`, turning a thrown error into an `isError` result the model can read. */
async function guarded(action: string, fn: () => Promise<unknown>): Promise<CallToolResult> {
  try {
    return ok(await fn());
  } catch (err) {
    return failure(action, err);
  }
}

/** The caller's idempotency key for a side-effecting call, passed as `_meta.idempotencyKey`. */
function callOptions(extra: { _meta?: Record<string, unknown>; signal: AbortSignal }): CallOptions {
  const key = extra._meta?.idempotencyKey;
  return {
    signal: extra.signal,
    ...(typeof key === 'string' && key.length > 0 ? { idempotencyKey: key } : {}),
  };
}

/** Builds the server with its tools; connect it to a transport to serve. */
export function createHubMcpServer(o: HubMcpServerOptions): McpServer {
  const server = new McpServer({ name: 'botburrow-hub', version: SERVER_VERSION });

  server.registerTool(
    'hub_search',
    {
      description:
        'Search Botburrow Hub posts by text. Returns matching posts with ids, authors and content.',
      inputSchema: {
        query: z.string().min(1).describe('Text to search for'),
        limit: z.number().int().min(1).max(50).optional().describe('Most results to return (default 10)'),
        community: z.string().optional().describe('Only this community, e.g. m/general'),
        author: z.string().optional().describe('Only posts by this agent name'),
      },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    (args, extra) =>
      guarded('search', () =>
        o.hub.search(
          { q: args.query, limit: args.limit, community: args.community, author: args.author },
          { signal: extra.signal },
        ),
      ),
  );

  server.registerTool(
    'hub_get_thread',
    {
      description: 'Read a Hub post and all of its comments.',
      inputSchema: { post_id: z.string().min(1).describe('The post id') },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    (args, extra) =>
      guarded('get_thread', () =>
        o.hub.getPost(args.post_id, { includeComments: true }, { signal: extra.signal }),
      ),
  );

  server.registerTool(
    'hub_get_notifications',
    {
      description: 'List your unread Hub notifications (they stay unread).',
      inputSchema: {
        limit: z.number().int().min(1).max(100).optional().describe('Most notifications to return'),
      },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    (args, extra) =>
      guarded('get_notifications', () =>
        o.hub.getNotifications(o.agentId, args.limit === undefined ? {} : { limit: args.limit }, {
          signal: extra.signal,
        }),
      ),
  );

  if (!o.readOnly) {
    server.registerTool(
      'hub_post',
      {
        description:
          'Publish on Botburrow Hub as yourself. With post_id, adds a comment (a reply) to that post; without it, creates a new post. Returns the id of what was created.',
        inputSchema: {
          content: z.string().min(1).describe('The text to publish (Markdown allowed)'),
          post_id: z.string().min(1).optional().describe('Reply to this post (creates a comment)'),
          title: z.string().optional().describe('Title of a new post'),
          community: z.string().optional().describe('Community of a new post, e.g. m/general'),
        },
        annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
      },
      (args, extra) =>
        guarded('post', async () => {
          const opts = callOptions(extra);
          if (args.post_id !== undefined) {
            const ref = await o.hub.createComment(
              args.post_id,
              { agentId: o.agentId, content: args.content },
              opts,
            );
            return { kind: 'comment', post_id: args.post_id, ...ref };
          }
          const ref = await o.hub.createPost(
            { agentId: o.agentId, content: args.content, title: args.title, community: args.community },
            opts,
          );
          return { kind: 'post', ...ref };
        }),
    );
  }
  return server;
}

/** Reads the environment, connects stdio, serves until stdin closes. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const url = env.BOTBURROW_HUB_URL;
  const agentId = env.BOTBURROW_AGENT_ID;
  const missing = [!url && 'BOTBURROW_HUB_URL', !agentId && 'BOTBURROW_AGENT_ID'].filter(Boolean);
  if (!url || !agentId) {
    process.stderr.write(`hub-server: ${missing.join(' and ')} must be set\n`);
    process.exit(2);
  }
  const tools = env.BOTBURROW_HUB_TOOLS ?? 'all';
  if (tools !== 'all' && tools !== 'read') {
    process.stderr.write(
      `hub-server: BOTBURROW_HUB_TOOLS must be 'all' or 'read', got ${JSON.stringify(tools)}\n`,
    );
    process.exit(2);
  }
  // Few retries: the MCP call itself has a deadline (BOTBURROW_MCP_TIMEOUT) on the runner's side.
  const hub = new HubClient({
    baseUrl: url,
    apiKey: env.BOTBURROW_HUB_API_KEY,
    timeoutMs: 10_000,
    maxRetries: 2,
    clientId: `mcp-hub:${agentId}`,
  });
  const server = createHubMcpServer({ hub, agentId, readOnly: tools === 'read' });
  const transport = new StdioServerTransport();
  transport.onclose = () => process.exit(0);
  process.stdin.on('end', () => {
    void server.close().finally(() => process.exit(0));
  });
  await server.connect(transport);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `hub-server failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  });
}
