/**
 * The agent's own MCP servers as a CLI executor's MCP server. They already run in the session on
 * this runner (each in its sandbox, with the credentials its grants allow: activities/tools), so
 * the CLI gets one streamable-HTTP MCP endpoint on the run's bridge that lists the session's MCP
 * tools and forwards each call to the session. Workspace tools are left out (the CLI has its own
 * file and shell tools, confined by the CLI's sandbox), and so is the session's Hub server (the
 * CLI gets the publishing one of hub-mcp.ts).
 */
import type http from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { SessionHost } from '../session';
import type { ToolSpec } from '../model';

/** Session tools a CLI may use: MCP tools except the session's own Hub server's. */
export function cliSessionTools(specs: readonly ToolSpec[]): ToolSpec[] {
  return specs.filter((s) => s.name.startsWith('mcp_') && !s.name.startsWith('mcp_hub_'));
}

export function createSessionMcpEndpoint(o: {
  sessions: Pick<SessionHost, 'call'>;
  sessionId: string;
  tools: readonly ToolSpec[];
  onCall?: (name: string) => void;
}): { handler: (req: http.IncomingMessage, res: http.ServerResponse) => void } {
  const offered = new Map(o.tools.map((t) => [t.name, t]));

  function build(): Server {
    const server = new Server(
      { name: 'botburrow-agent-tools', version: '0.1.0' },
      { capabilities: { tools: {} } },
    );
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: o.tools.map((t) => ({
        name: t.name,
        description: t.description,
        inputSchema: { ...t.input_schema, type: 'object' as const },
      })),
    }));
    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      const name = req.params.name;
      if (!offered.has(name)) {
        return { isError: true, content: [{ type: 'text' as const, text: `tool ${name} is not available` }] };
      }
      o.onCall?.(name);
      const r = await o.sessions.call(o.sessionId, name, req.params.arguments ?? {}, extra.signal);
      return { isError: r.isError, content: [{ type: 'text' as const, text: r.content }] };
    });
    return server;
  }

  function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    void (async () => {
      const server = build();
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
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  }
  return { handler };
}
