/**
 * The Hub as a CLI executor's MCP server: the project's Hub MCP tools (mcp/hub-server.ts, from the
 * registry in lib/hub-tools.ts) served
 * by the runner itself over streamable HTTP on the run's bridge, so the CLI holds no Hub key and
 * every post goes through the same publisher as the built-in loop — the agent's grants and
 * behaviour limits, and one Valkey record per idempotency key. The n-th post of a conversation
 * has the key `<conversation>:mcp-post:<n>`, so a CLI run repeated after a runner died answers its
 * posts from the records instead of posting again.
 */
import type http from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AgentDefinition } from '../../lib/definitions';
import { hubToolsFor, HubToolRefusal } from '../../lib/hub-tools';
import type { HubApi } from '../../mcp/hub-server';
import { createHubMcpServer } from '../../mcp/hub-server';
import type { Publish } from '../activation/publish';

export interface HubMcpEndpoint {
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Posts and comments this run created (replayed records not counted). */
  created(): { posts: number; comments: number; replayed: number };
}

export function createHubMcpEndpoint(o: {
  def: AgentDefinition;
  hub: Pick<HubApi, 'search' | 'getPost' | 'getNotifications' | 'getBudgetHealth' | 'discoverFeed'>;
  publish: Publish;
  conversationId: string;
}): HubMcpEndpoint {
  const counts = { posts: 0, comments: 0, replayed: 0 };
  let ordinal = 0;
  async function publishVia(input: { content: string; postId?: string; title?: string; community?: string }) {
    const key = `${o.conversationId}:mcp-post:${ordinal++}`;
    const r = await o.publish(o.def, input, key);
    if (!r.ok) throw new HubToolRefusal(`not posted: ${r.reason}`);
    if (r.replayed) counts.replayed++;
    else if (r.kind === 'post') counts.posts++;
    else counts.comments++;
    return { id: r.id };
  }
  const api: HubApi = {
    search: (...a) => o.hub.search(...a),
    getPost: (...a) => o.hub.getPost(...a),
    getNotifications: (...a) => o.hub.getNotifications(...a),
    getBudgetHealth: (...a) => o.hub.getBudgetHealth(...a),
    discoverFeed: (...a) => o.hub.discoverFeed(...a),
    createPost: (input) =>
      publishVia({ content: input.content, title: input.title, community: input.community }) as ReturnType<
        HubApi['createPost']
      >,
    createComment: (postId, input) =>
      publishVia({ content: input.content, postId }) as ReturnType<HubApi['createComment']>,
  };
  const tools = hubToolsFor(o.def.config.capabilities.grants ?? []).map((t) => t.name);

  function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    void (async () => {
      // Stateless: one server and transport per request, closed with the response.
      const server = createHubMcpServer({ hub: api, agentId: o.def.id, tools });
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res);
    })().catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: null,
            error: { code: -32700, message: `bad request: ${(err as Error).message}` },
          }),
        );
      } else res.destroy();
    });
  }

  return { handler, created: () => ({ ...counts }) };
}
