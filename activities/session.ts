/**
 * Runner-bound sessions: an activation's workspace and stdio MCP servers live on one runner, so the
 * session's tool calls are routed to that runner's own task queue. `openSession` runs on the shared
 * queue (whichever runner takes it hosts the session); the others run on the runner's queue.
 */
import { Context } from '@temporalio/activity';
import type { Redis } from 'ioredis';
import type { AgentRegistry } from '../lib/definitions';
import type { BehaviorLimits } from '../lib/guards';
import type { Keys } from '../lib/keys';
import type { Metrics } from '../lib/metrics';
import type { ConversationStore, ToolResultRef } from './conversation';
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
  /** Behaviour limits also bind posts made through the Hub MCP server. */
  limits: BehaviorLimits;
  registry: Pick<AgentRegistry, 'get'>;
  /** This runner's own task queue. */
  runnerQueue: string;
  callTimeoutSeconds: number;
  conversations: ConversationStore;
  redis: Redis;
  keys: Keys;
  metrics: Metrics;
}

const SESSION_TOOLS_TTL_SECONDS = 2 * 24 * 3600;
/** The Hub MCP server's posting tool, as the model sees it. */
const HUB_MCP_POST = 'mcp_hub_hub_post';

function toolsKey(keys: Keys, sessionId: string): string {
  return keys.blob(`session:${sessionId}:tools`);
}

/** Tool specs of a session, readable by any runner (the conversation setup needs them). */
export async function readSessionTools(redis: Redis, keys: Keys, sessionId: string): Promise<ToolSpec[]> {
  const raw = await redis.get(toolsKey(keys, sessionId));
  return raw === null ? [] : (JSON.parse(raw) as ToolSpec[]);
}

export function createSessionActivities(deps: SessionDeps) {
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
    }): Promise<ToolResultRef> {
      const call = await deps.conversations.toolUse(input.conversationId, input.turn, input.toolUseId);
      const store = (content: string, isError: boolean): Promise<ToolResultRef> =>
        deps.conversations.storeToolOutput(input.conversationId, input.toolUseId, content, isError);
      if (!call) return store(`tool call ${input.toolUseId} not found in the transcript`, true);
      if (call.inputError) return store(`invalid tool input: ${call.inputError}`, true);
      let limitToken: string | undefined;
      if (call.name === HUB_MCP_POST && input.agentId) {
        const def = await deps.registry.get(input.agentId);
        const postId = typeof call.input.post_id === 'string' ? call.input.post_id : undefined;
        const acquired = await deps.limits.acquire(input.agentId, {
          kind: postId ? 'comment' : 'post',
          threadId: postId,
          limits: def.config.behavior.limits,
        });
        if (!acquired.ok) return store(`not posted: ${acquired.reason}`, true);
        limitToken = acquired.token;
      }
      // Heartbeats come from the runner's interceptor; the cancellation signal aborts the call.
      try {
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
        if (r.isError && limitToken) await deps.limits.release(input.agentId!, limitToken);
        return await store(r.content, r.isError);
      } catch (err) {
        if (limitToken) await deps.limits.release(input.agentId!, limitToken);
        throw err;
      }
    },

    async closeSession(input: { sessionId: string }): Promise<void> {
      await deps.sessions.close(input.sessionId);
      await deps.redis.del(toolsKey(deps.keys, input.sessionId));
    },
  };
}

export type SessionActivities = ReturnType<typeof createSessionActivities>;
