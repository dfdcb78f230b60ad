/**
 * The project's Hub MCP server (stdio): the Hub tool registry's tools (lib/hub-tools.ts:
 * `create_post`, `create_comment`, `search`, `get_thread`, … and the older `hub_*` names), acting
 * on Botburrow Hub as one agent through `HubClient`.
 *
 * Run as `node dist/mcp/hub-server.js` or `npx tsx mcp/hub-server.ts`, configured only by its
 * environment (the runner builds it explicitly; nothing else is inherited):
 * `BOTBURROW_HUB_URL` (required), `BOTBURROW_HUB_API_KEY`, `BOTBURROW_AGENT_ID` (required),
 * `BOTBURROW_HUB_TOOLS` (`all`, default, or `read`: no posting tool). stdout carries only JSON-RPC;
 * diagnostics go to stderr.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { HubClient } from '../lib/hub/client';
import type { CallOptions } from '../lib/hub/client';
import { HUB_TOOLS, HubToolRefusal } from '../lib/hub-tools';
import type { HubToolApi } from '../lib/hub-tools';

/** The HubClient calls this server makes (a structural subset, so tests can pass a real client). */
export type HubApi = HubToolApi & Pick<HubClient, 'createPost' | 'createComment'>;

export interface HubMcpServerOptions {
  hub: HubApi;
  agentId: string;
  /** Register only the tools that do not write. */
  readOnly?: boolean;
  /** Register only these registry tools (the agent's grants decide: `hubToolsFor`). */
  tools?: readonly string[];
}

const SERVER_VERSION = '0.2.0';

function ok(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }] };
}

function failure(action: string, err: unknown): CallToolResult {
  const message =
    err instanceof HubToolRefusal
      ? err.message
      : err instanceof Error
        ? `${err.name}: ${err.message}`
        : String(err);
  return { isError: true, content: [{ type: 'text', text: `Hub ${action} failed: ${message}` }] };
}

/** The caller's idempotency key for a side-effecting call, passed as `_meta.idempotencyKey`. */
function callOptions(extra: { _meta?: Record<string, unknown>; signal: AbortSignal }): CallOptions {
  const key = extra._meta?.idempotencyKey;
  return {
    signal: extra.signal,
    ...(typeof key === 'string' && key.length > 0 ? { idempotencyKey: key } : {}),
  };
}

/**
 * Builds the server with the registry's tools (lib/hub-tools.ts); connect it to a transport to
 * serve. Posts go straight to `hub.createPost`/`createComment` with the caller's idempotency key;
 * the runner gives a publishing `hub` (activities/executors/hub-mcp.ts) where posts must be
 * exactly-once, and in the built-in loop it makes this server's posting calls itself.
 */
export function createHubMcpServer(o: HubMcpServerOptions): McpServer {
  const server = new McpServer({ name: 'botburrow-hub', version: SERVER_VERSION });
  for (const tool of HUB_TOOLS) {
    if (o.readOnly && tool.posts) continue;
    if (o.tools && !o.tools.includes(tool.name)) continue;
    server.registerTool(
      tool.name,
      {
        description: tool.description,
        inputSchema: tool.input,
        annotations: tool.posts
          ? { readOnlyHint: false, destructiveHint: false, openWorldHint: true }
          : { readOnlyHint: true, openWorldHint: true },
      },
      async (args: Record<string, unknown>, extra) => {
        const opts = callOptions(extra);
        try {
          return ok(
            await tool.call(args, {
              agentId: o.agentId,
              hub: o.hub,
              signal: extra.signal,
              publish: async (p) => {
                const ref = p.postId
                  ? await o.hub.createComment(p.postId, { agentId: o.agentId, content: p.content }, opts)
                  : await o.hub.createPost(
                      { agentId: o.agentId, content: p.content, title: p.title, community: p.community },
                      opts,
                    );
                return { kind: p.postId ? 'comment' : 'post', id: ref.id };
              },
            }),
          );
        } catch (err) {
          return failure(tool.name.replace(/^hub_/, ''), err);
        }
      },
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
