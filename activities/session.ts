/**
 * Runner-bound sessions: an activation's workspace and stdio MCP servers live on one runner, so the
 * session's tool calls are routed to that runner's own task queue. `openSession` runs on the shared
 * queue (whichever runner takes it hosts the session); the others run on the runner's queue.
 */
import { Context } from '@temporalio/activity';
import type { Redis } from 'ioredis';
import type { AgentRegistry } from '../lib/definitions';
import { HUB_MCP_PREFIX, hubToolOfCall, HubToolInputError, HubToolRefusal, mayUse } from '../lib/hub-tools';
import type { HubTool, HubToolApi } from '../lib/hub-tools';
import type { Keys } from '../lib/keys';
import type { Metrics } from '../lib/metrics';
import type { ConversationStore, ToolResultRef } from './conversation';
import type { Publish } from './activation/publish';
import type { ToolSpec } from './model';

/** What the workflow keeps about an open session. */
export interface SessionInfo {
  sessionId: string;
  /** The hosting runner's own task queue. */
  taskQueue: string;
  tools: string[];
  callTimeoutSeconds: number;
}

/** The part of the tools area's SessionManager that activations use. */
export interface SessionHost {
  open(o: { sessionId: string; agentId: string }): Promise<{ tools: ToolSpec[] }>;
  call(
    sessionId: string,
    name: string,
    input: Record<string, unknown>,
    signal?: AbortSignal,
    opts?: { idempotencyKey?: string },
  ): Promise<{ content: string; isError: boolean }>;
  close(sessionId: string): Promise<void>;
  /** The workspace folder of a session open here (CLI executors run in it). */
  workspaceDir?(sessionId: string): string | undefined;
  /** Closes every session (runner shutdown). */
  closeAll?(): Promise<void>;
}

export interface SessionDeps {
  sessions: SessionHost;
  /**
   * Posts of the Hub MCP server's posting tools are made by the runner through the same publisher as
   * the native tool (write-ahead intent, reconciliation, behaviour limits), not by the server
   * process, so they are exactly-once and the workflow learns that the notification has its reply.
   */
  publish: Publish;
  registry: Pick<AgentRegistry, 'get'>;
  /** This runner's own task queue. */
  runnerQueue: string;
  callTimeoutSeconds: number;
  conversations: ConversationStore;
  redis: Redis;
  keys: Keys;
  metrics: Metrics;
}

const refuseRead = (): Promise<never> => Promise.reject(new Error('a posting tool made a Hub read'));
const NO_READS: HubToolApi = {
  search: refuseRead,
  getPost: refuseRead,
  getNotifications: refuseRead,
  getBudgetHealth: refuseRead,
  discoverFeed: refuseRead,
};

const SESSION_TOOLS_TTL_SECONDS = 2 * 24 * 3600;

function toolsKey(keys: Keys, sessionId: string): string {
  return keys.blob(`session:${sessionId}:tools`);
}

/** Tool specs of a session, readable by any runner (the conversation setup needs them). */
export async function readSessionTools(redis: Redis, keys: Keys, sessionId: string): Promise<ToolSpec[]> {
  const raw = await redis.get(toolsKey(keys, sessionId));
  return raw === null ? [] : (JSON.parse(raw) as ToolSpec[]);
}

export function createSessionActivities(deps: SessionDeps) {
  /**
   * A posting tool of the Hub MCP server (`mcp_hub_create_post`, `mcp_hub_hub_post`, …), made by
   * the runner through the publisher; the result text is the server's shape. Runs from before the
   * registry's workflow patch call it here; newer ones run it as the native Hub tool activity.
   */
  async function publishHubMcpPost(
    agentId: string,
    tool: HubTool,
    args: Record<string, unknown>,
    idempotencyKey: string,
  ): Promise<{ content: string; isError: boolean; posted?: 'post' | 'comment' }> {
    const def = await deps.registry.get(agentId);
    if (!mayUse(def.config.capabilities.grants ?? [], tool)) {
      return { content: `Hub post failed: ${agentId} has no hub:write grant`, isError: true };
    }
    let posted: 'post' | 'comment' | undefined;
    try {
      const value = await tool.call(args, {
        agentId,
        // Posting tools read nothing: their handlers only publish.
        hub: NO_READS,
        publish: async (p) => {
          const r = await deps.publish(def, p, idempotencyKey);
          if (!r.ok) throw new HubToolRefusal(`not posted: ${r.reason}`);
          posted = r.kind;
          return r;
        },
      });
      return { content: JSON.stringify(value), isError: false, ...(posted && { posted }) };
    } catch (err) {
      if (err instanceof HubToolRefusal) return { content: err.message, isError: true };
      if (err instanceof HubToolInputError) {
        return { content: `invalid tool input: ${err.message}`, isError: true };
      }
      throw err;
    }
  }

  return {
    async openSession(input: { sessionId: string; agentId: string }): Promise<SessionInfo> {
      const { tools } = await deps.sessions.open(input);
      await deps.redis.set(
        toolsKey(deps.keys, input.sessionId),
        JSON.stringify(tools),
        'EX',
        SESSION_TOOLS_TTL_SECONDS,
      );
      return {
        sessionId: input.sessionId,
        taskQueue: deps.runnerQueue,
        tools: tools.map((t) => t.name),
        callTimeoutSeconds: deps.callTimeoutSeconds,
      };
    },

    /** Runs one session tool call; its input is read from the transcript. */
    async callSessionTool(input: {
      sessionId: string;
      agentId?: string;
      conversationId: string;
      turn: number;
      toolUseId: string;
      /** Workflow id + tool-use id: an MCP server that posts (the Hub's) sends it with the post. */
      idempotencyKey?: string;
    }): Promise<ToolResultRef & { posted?: 'post' | 'comment' }> {
      const call = await deps.conversations.toolUse(input.conversationId, input.turn, input.toolUseId);
      const store = (content: string, isError: boolean): Promise<ToolResultRef> =>
        deps.conversations.storeToolOutput(input.conversationId, input.toolUseId, content, isError);
      if (!call) return store(`tool call ${input.toolUseId} not found in the transcript`, true);
      if (call.inputError) return store(`invalid tool input: ${call.inputError}`, true);
      const posting = hubToolOfCall(call.name);
      if (posting?.posts && call.name.startsWith(HUB_MCP_PREFIX) && input.agentId) {
        const r = await publishHubMcpPost(
          input.agentId,
          posting,
          call.input,
          input.idempotencyKey ?? input.toolUseId,
        );
        deps.metrics.toolCalls.inc({ tool: call.name, result: r.isError ? 'error' : 'ok' });
        const ref = await store(r.content, r.isError);
        return r.posted ? { ...ref, posted: r.posted } : ref;
      }
      // Heartbeats come from the runner's interceptor; the cancellation signal aborts the call.
      const r = await deps.sessions.call(
        input.sessionId,
        call.name,
        call.input,
        Context.current().cancellationSignal,
        {
          idempotencyKey: input.idempotencyKey,
        },
      );
      deps.metrics.toolCalls.inc({ tool: call.name, result: r.isError ? 'error' : 'ok' });
      return store(r.content, r.isError);
    },

    async closeSession(input: { sessionId: string }): Promise<void> {
      await deps.sessions.close(input.sessionId);
      await deps.redis.del(toolsKey(deps.keys, input.sessionId));
    },
  };
}

export type SessionActivities = ReturnType<typeof createSessionActivities>;
