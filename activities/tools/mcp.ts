/**
 * MCP client side of an activation: starts the resolved servers, fixes the tool list when the
 * session opens (so a replayed activation sees the same tools), and turns every call, including
 * failures, crashes and timeouts, into a `ToolResult`.
 */
import { createHash } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../../lib/logger';
import type { Sandbox } from '../sandbox';
import { ProcessGroupStdioTransport } from './transport';
import { DEFAULT_MAX_OUTPUT_BYTES, capOutput, errorMessage, scrub, toolError } from './text';
import type { McpServerSpec, ToolResult, ToolSpec } from './types';
import { SpanAttr, withSpan } from '../../lib/spans';

export interface McpSessionOptions {
  /** Per-call timeout (`BOTBURROW_MCP_TIMEOUT`). */
  timeoutMs: number;
  logger: Logger;
  /** Time allowed for a server to start and answer `initialize` + `tools/list`; timeoutMs when absent. */
  connectTimeoutMs?: number;
  maxOutputBytes?: number;
  /** Credential values to scrub from everything returned. */
  secrets?: readonly string[];
  /** Every stdio server runs inside it. */
  sandbox: Sandbox;
  /** Paths under a server's read-only paths that it must not see (the workspace root, state). */
  hide?: readonly string[];
}

interface Connection {
  spec: McpServerSpec;
  client: Client;
  transport: ProcessGroupStdioTransport | StreamableHTTPClientTransport;
  /** Why the server is gone, once it is. */
  dead?: string;
  /** Restarts so far (a crashed stdio server is restarted on its next call, a bounded number of times). */
  restarts: number;
  reviving?: Promise<Connection | string>;
}

/** How often a crashed server is restarted within one session before its tools stay unavailable. */
const MAX_RESTARTS = 1;

interface ToolEntry {
  server: string;
  tool: string;
  spec: ToolSpec;
}

const NAME_LIMIT = 64;
const MAX_TOOLS_PER_SERVER = 200;
const MAX_DESCRIPTION = 2000;
const READ_NAME = /^(get|list|search|read|find|query|describe|fetch|show|view)[_-]?/i;

/** Why a connection is dead after the session ended it on purpose. */
const SESSION_CLOSED = 'session closed';

function sanitize(s: string): string {
  return s.replace(/[^a-zA-Z0-9_-]/g, '_');
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 8);
}

/** `mcp_<server>_<tool>`, within ^[a-zA-Z0-9_-]{1,64}$ and unique among `taken`. */
export function toolName(server: string, tool: string, taken: ReadonlySet<string>): string {
  let name = `mcp_${sanitize(server)}_${sanitize(tool)}`;
  if (name.length > NAME_LIMIT) name = `${name.slice(0, NAME_LIMIT - 9)}_${shortHash(`${server}/${tool}`)}`;
  if (taken.has(name)) name = `${name.slice(0, NAME_LIMIT - 9)}_${shortHash(`${server}/${tool}/dup`)}`;
  return name;
}

function isReadOnly(tool: Tool): boolean {
  const hint = tool.annotations?.readOnlyHint;
  return hint === undefined ? READ_NAME.test(tool.name) : hint;
}

function describeExit(t: Connection['transport']): string {
  if (!(t instanceof ProcessGroupStdioTransport)) return 'the connection closed';
  const e = t.exit;
  const how = e ? (e.signal ? `killed by ${e.signal}` : `exit code ${e.code ?? '?'}`) : 'connection closed';
  const tail = t.stderr.trim().split('\n').slice(-3).join(' | ');
  return tail ? `${how}; stderr: ${tail.slice(-500)}` : how;
}

/** Renders MCP content blocks as text for the model. */
function renderContent(result: Record<string, unknown>): string {
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  const parts: string[] = [];
  const content = Array.isArray(result.content) ? (result.content as Record<string, unknown>[]) : [];
  for (const c of content) {
    switch (c.type) {
      case 'text':
        parts.push(text(c.text));
        break;
      case 'image':
      case 'audio':
        parts.push(`[${c.type} ${text(c.mimeType)}, ${Math.floor((text(c.data).length * 3) / 4)} bytes]`);
        break;
      case 'resource': {
        const r = (c.resource ?? {}) as Record<string, unknown>;
        parts.push(typeof r.text === 'string' ? r.text : `[resource ${text(r.uri)}]`);
        break;
      }
      case 'resource_link':
        parts.push(`[resource link ${text(c.uri)}${c.name ? ` (${text(c.name)})` : ''}]`);
        break;
      default:
        parts.push(JSON.stringify(c));
    }
  }
  if (parts.length === 0 && result.structuredContent !== undefined)
    parts.push(JSON.stringify(result.structuredContent));
  if (parts.length === 0 && 'toolResult' in result) parts.push(JSON.stringify(result.toolResult));
  return parts.join('\n');
}

export class McpSession {
  private constructor(
    private readonly connections: Map<string, Connection>,
    private readonly tools: Map<string, ToolEntry>,
    /** Servers that could not be started, and why (already scrubbed). */
    readonly failures: { name: string; reason: string }[],
    private readonly o: McpSessionOptions,
  ) {}

  /**
   * Starts every server in parallel and lists its tools. A server that fails to start is recorded
   * in `failures` and left out; the others still serve.
   */
  static async open(servers: McpServerSpec[], o: McpSessionOptions): Promise<McpSession> {
    const secrets = o.secrets ?? [];
    const connections = new Map<string, Connection>();
    const tools = new Map<string, ToolEntry>();
    const failures: { name: string; reason: string }[] = [];
    const listed = await Promise.all(
      servers.map(async (spec) => {
        try {
          const { conn, list } = await McpSession.connect(spec, o);
          return { spec, conn, list };
        } catch (err) {
          return { spec, error: scrub(errorMessage(err), secrets) };
        }
      }),
    );
    // Name tools in the order servers were listed, so names are stable for a given definition.
    for (const r of listed) {
      if (!('conn' in r) || !r.conn || !r.list) {
        failures.push({ name: r.spec.name, reason: r.error ?? 'unknown error' });
        o.logger.warn({ server: r.spec.name, reason: r.error }, 'MCP server failed to start');
        continue;
      }
      connections.set(r.spec.name, r.conn);
      const offered = r.spec.readOnly ? r.list.filter(isReadOnly) : r.list;
      for (const t of offered.slice(0, MAX_TOOLS_PER_SERVER)) {
        const name = toolName(r.spec.name, t.name, new Set(tools.keys()));
        const description = scrub(
          t.description ?? t.title ?? `${t.name} (MCP server ${r.spec.name})`,
          secrets,
        );
        const schema = JSON.parse(
          scrub(JSON.stringify(t.inputSchema ?? { type: 'object' }), secrets),
        ) as Record<string, unknown>;
        tools.set(name, {
          server: r.spec.name,
          tool: t.name,
          spec: {
            name,
            description:
              description.length > MAX_DESCRIPTION
                ? `${description.slice(0, MAX_DESCRIPTION)}…`
                : description,
            input_schema: { type: 'object', ...schema },
          },
        });
      }
    }
    return new McpSession(connections, tools, failures, o);
  }

  private static async connect(
    spec: McpServerSpec,
    o: McpSessionOptions,
  ): Promise<{ conn: Connection; list: Tool[] }> {
    let transport: ProcessGroupStdioTransport | StreamableHTTPClientTransport;
    if (spec.transport === 'stdio') {
      let boxed;
      try {
        boxed = o.sandbox.wrap({
          command: spec.command,
          args: spec.args,
          env: spec.env,
          workspace: spec.cwd,
          network: spec.network,
          readOnly: spec.readOnlyPaths,
          hide: o.hide,
        });
      } catch (err) {
        throw new Error(`could not start MCP server '${spec.name}': ${errorMessage(err)}`);
      }
      transport = new ProcessGroupStdioTransport(boxed);
    } else {
      transport = new StreamableHTTPClientTransport(new URL(spec.url), {
        requestInit: { headers: spec.headers },
      });
    }
    const client = new Client({ name: 'botburrow-agents', version: '0.1.0' }, { capabilities: {} });
    const conn: Connection = { spec, client, transport, restarts: 0 };
    const timeout = o.connectTimeoutMs ?? o.timeoutMs;
    try {
      await client.connect(transport, { timeout });
      const list: Tool[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : {}, { timeout });
        list.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor && list.length < MAX_TOOLS_PER_SERVER);
      client.onclose = () => {
        // close() marks the end of a session first: then the server stopping is routine.
        const routine = conn.dead === SESSION_CLOSED;
        conn.dead ??= scrub(describeExit(transport), o.secrets ?? []);
        if (routine) o.logger.debug({ server: spec.name, reason: conn.dead }, 'MCP server stopped');
        else o.logger.warn({ server: spec.name, reason: conn.dead }, 'MCP server exited');
      };
      return { conn, list };
    } catch (err) {
      const why =
        transport instanceof ProcessGroupStdioTransport && transport.exit
          ? ` (${scrub(describeExit(transport), o.secrets ?? [])})`
          : '';
      await client.close().catch(() => undefined);
      throw new Error(`could not start MCP server '${spec.name}': ${errorMessage(err)}${why}`);
    }
  }

  /** The tools offered to the model, fixed when the session opened. */
  specs(): ToolSpec[] {
    return [...this.tools.values()].map((t) => structuredClone(t.spec));
  }

  /** Which server and tool a `mcp_…` name stands for (for activity summaries and logs). */
  describe(name: string): { server: string; tool: string } | undefined {
    const t = this.tools.get(name);
    return t ? { server: t.server, tool: t.tool } : undefined;
  }

  /**
   * Calls a tool. Never throws: unknown tools, server errors, `isError` results, crashes,
   * timeouts and cancellation all come back as `{ isError: true }` with the reason.
   */
  async call(
    name: string,
    input: unknown,
    signal?: AbortSignal,
    meta?: Record<string, unknown>,
  ): Promise<ToolResult> {
    const entry = this.tools.get(name);
    const secrets = this.o.secrets ?? [];
    const cap = (r: ToolResult): ToolResult => ({
      content: capOutput(scrub(r.content, secrets), this.o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES),
      isError: r.isError,
    });
    if (!entry) return toolError(`unknown MCP tool ${JSON.stringify(name)}`);
    const conn = this.connections.get(entry.server);
    const label = `${entry.server}.${entry.tool}`;
    if (!conn) return toolError(`MCP server '${entry.server}' is not connected`);
    if (conn.dead) {
      const revived = await this.revive(conn);
      if (typeof revived === 'string') {
        return cap(toolError(`MCP server '${entry.server}' is not running (${conn.dead}); ${revived}`));
      }
      return this.call(name, input, signal, meta);
    }
    if (signal?.aborted) return toolError(`MCP tool ${label} was cancelled`);
    const args =
      typeof input === 'object' && input !== null && !Array.isArray(input)
        ? (input as Record<string, unknown>)
        : {};
    try {
      const result = await withSpan(`mcp ${label}`, { [SpanAttr.mcpTool]: label }, () =>
        conn.client.callTool(
          { name: entry.tool, arguments: args, ...(meta ? { _meta: meta } : {}) },
          undefined,
          {
            timeout: this.o.timeoutMs,
            maxTotalTimeout: this.o.timeoutMs,
            ...(signal ? { signal } : {}),
          },
        ),
      );
      const text = renderContent(result);
      if (result.isError === true)
        return cap(toolError(text || `MCP tool ${label} reported an error without details`));
      return cap({ content: text, isError: false });
    } catch (err) {
      if (signal?.aborted) return toolError(`MCP tool ${label} was cancelled`);
      if (err instanceof McpError && err.code === (ErrorCode.RequestTimeout as number)) {
        return toolError(
          `MCP tool ${label} timed out after ${Math.round(this.o.timeoutMs / 100) / 10}s (BOTBURROW_MCP_TIMEOUT)`,
        );
      }
      if (conn.dead || (err instanceof McpError && err.code === (ErrorCode.ConnectionClosed as number))) {
        // The close event may land just after the rejection; give it a tick to record the exit.
        await new Promise((r) => setTimeout(r, 50));
        conn.dead ??= scrub(describeExit(conn.transport), this.o.secrets ?? []);
        const next =
          conn.restarts < MAX_RESTARTS
            ? 'it will be restarted on the next call'
            : 'it will not be restarted again';
        return cap(toolError(`MCP server '${entry.server}' stopped during ${label} (${conn.dead}); ${next}`));
      }
      return cap(toolError(`MCP tool ${label} failed: ${errorMessage(err)}`));
    }
  }

  /**
   * Restarts a crashed stdio server once (its tool list stays the one fixed at open). Returns the
   * new connection, or why there is none.
   */
  private revive(conn: Connection): Promise<Connection | string> {
    if (this.closed) return Promise.resolve('the session is closed');
    if (conn.spec.transport !== 'stdio' || conn.restarts >= MAX_RESTARTS) {
      return Promise.resolve('it is not restarted again in this activation');
    }
    conn.reviving ??= (async (): Promise<Connection | string> => {
      try {
        const { conn: fresh } = await McpSession.connect(conn.spec, this.o);
        fresh.restarts = conn.restarts + 1;
        if (this.closed) {
          await fresh.client.close().catch(() => undefined);
          return 'the session is closed';
        }
        this.connections.set(conn.spec.name, fresh);
        this.o.logger.info({ server: conn.spec.name, restarts: fresh.restarts }, 'MCP server restarted');
        return fresh;
      } catch (err) {
        conn.restarts = MAX_RESTARTS;
        return `restarting it failed: ${scrub(errorMessage(err), this.o.secrets ?? [])}`;
      }
    })();
    return conn.reviving;
  }

  private closed = false;

  /** Ends every server (whole process groups for stdio). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.connections.values()].map(async (c) => {
        c.dead ??= SESSION_CLOSED;
        await c.client
          .close()
          .catch((err: unknown) => this.o.logger.warn({ server: c.spec.name, err }, 'MCP close failed'));
      }),
    );
  }
}
