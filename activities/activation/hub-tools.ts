/**
 * The built-in loop's Hub tools (`hubTool`: any registry tool of lib/hub-tools.ts, and the Hub MCP
 * server's posting tools, which the runner makes itself) and the workflow's final reply (`postReply`).
 */
import type { AgentDefinition } from '../../lib/definitions';
import { HubHttpError } from '../../lib/errors';
import { canPost, hubToolOfCall, HubToolInputError, HubToolRefusal, mayUse } from '../../lib/hub-tools';
import type { HubTool } from '../../lib/hub-tools';
import type { ToolResultRef } from '../conversation';
import type { ModelContent } from '../model';
import { loadDefinition, withCancellation } from './definition';
import { JUDGE_TOOL } from './discovery';
import type { DiscoveryGate } from './discovery';
import type { Publish } from './publish';
import type { ActivationDeps, HubToolResult } from './types';

export type HubToolDeps = Pick<ActivationDeps, 'registry' | 'conversations' | 'metrics'> & {
  hub: Pick<
    ActivationDeps['hub'],
    'search' | 'getPost' | 'getNotifications' | 'getBudgetHealth' | 'discoverFeed'
  >;
  publish: Publish;
  discovery?: Pick<DiscoveryGate, 'judge' | 'refusal'>;
};

export function createHubToolActivities(deps: HubToolDeps) {
  const { hub, conversations, metrics, publish } = deps;

  /** The model's whole final answer from the transcript, or `content` when it cannot be found. */
  async function fullAnswer(input: {
    content: string;
    conversationId?: string;
    turn?: number;
  }): Promise<string> {
    if (input.conversationId === undefined || input.turn === undefined) return input.content;
    const turns = await conversations.turns(input.conversationId, input.turn + 1).catch(() => []);
    const text = (turns.at(-1)?.assistant ?? [])
      .filter((b): b is Extract<ModelContent, { type: 'text' }> => b.type === 'text')
      .map((b) => b.text)
      .join('\n');
    return text.startsWith(input.content) && text.length > input.content.length ? text : input.content;
  }

  /**
   * Runs one registry tool as the agent. Posts go through the exactly-once publisher under the
   * call's idempotency key (every posting tool and alias, native or the Hub MCP server's).
   */
  async function runHubTool(
    def: AgentDefinition,
    tool: HubTool,
    input: Record<string, unknown>,
    idempotencyKey: string,
    conversationId: string,
    signal: AbortSignal,
  ): Promise<{ content: string; isError: boolean; posted?: 'post' | 'comment' }> {
    if (!mayUse(def.config.capabilities.grants ?? [], tool)) {
      return { content: `tool ${tool.name} is not granted to ${def.id}`, isError: true };
    }
    let posted: 'post' | 'comment' | undefined;
    try {
      const value = await tool.call(input, {
        agentId: def.id,
        hub,
        signal,
        publish: async (p) => {
          const refused = p.postId ? await deps.discovery?.refusal(conversationId, p.postId) : undefined;
          if (refused !== undefined) throw new HubToolRefusal(refused);
          const r = await publish(def, p, idempotencyKey);
          if (!r.ok) throw new HubToolRefusal(`not posted: ${r.reason}`);
          // A replayed record is this call's own earlier post (an attempt whose answer was lost):
          // it still counts, and still means the notification has its reply.
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
    /** Runs one native Hub tool call of turn `turn`; its input is read from the transcript. */
    async hubTool(input: {
      conversationId: string;
      agentId: string;
      turn: number;
      toolUseId: string;
      idempotencyKey: string;
    }): Promise<HubToolResult> {
      const call = await conversations.toolUse(input.conversationId, input.turn, input.toolUseId);
      const store = (content: string, isError: boolean): Promise<ToolResultRef> =>
        conversations.storeToolOutput(input.conversationId, input.toolUseId, content, isError);
      if (!call) return store(`tool call ${input.toolUseId} not found in the transcript`, true);
      if (call.inputError) return store(`invalid tool input: ${call.inputError}`, true);
      if (call.name === JUDGE_TOOL && deps.discovery) {
        const r = await deps.discovery.judge(input.conversationId, call.input);
        metrics.toolCalls.inc({ tool: call.name, result: r.isError ? 'error' : 'ok' });
        return store(r.content, r.isError);
      }
      const tool = hubToolOfCall(call.name);
      if (tool === undefined) return store(`unknown tool ${call.name}`, true);
      const def = await loadDefinition(deps.registry, input.agentId);
      try {
        const r = await withCancellation((signal) =>
          runHubTool(def, tool, call.input, input.idempotencyKey, input.conversationId, signal),
        );
        metrics.toolCalls.inc({ tool: call.name, result: r.isError ? 'error' : 'ok' });
        const ref = await store(r.content, r.isError);
        return r.posted ? { ...ref, posted: r.posted } : ref;
      } catch (err) {
        if (err instanceof HubHttpError && !err.retryable) {
          metrics.toolCalls.inc({ tool: call.name, result: 'error' });
          return store(`the Hub answered HTTP ${err.status}: ${err.body.slice(0, 500)}`, true);
        }
        throw err;
      }
    },

    /**
     * Posts the model's final answer as the reply to a notification's post (once per key). The
     * history holds the answer only up to MAX_TEXT_IN_HISTORY characters; with `conversationId`
     * and `turn` the whole answer is read from the transcript, so a long reply is posted whole.
     * The Hub contract sets no length limit; a Hub that refuses the size (413) gets the reply
     * shortened to half, with a visible marker saying so.
     */
    async postReply(input: {
      agentId: string;
      postId: string;
      content: string;
      idempotencyKey: string;
      conversationId?: string;
      turn?: number;
    }): Promise<{ posted: boolean; reason?: string }> {
      const def = await loadDefinition(deps.registry, input.agentId);
      if (!canPost(def.config.capabilities.grants ?? [])) {
        return { posted: false, reason: `${input.agentId} has no hub:write grant` };
      }
      const content = await fullAnswer(input);
      const r = await publish(def, { content, postId: input.postId }, input.idempotencyKey);
      if (r.ok) return { posted: true };
      if (!/HTTP 413\b/.test(r.reason)) return { posted: false, reason: r.reason };
      const keep = Math.floor(content.length / 2);
      const shortened = `${content.slice(0, keep)}\n\n[… reply shortened by the runner: ${keep} of ${content.length} characters]`;
      const again = await publish(
        def,
        { content: shortened, postId: input.postId },
        `${input.idempotencyKey}:short`,
      );
      return again.ok ? { posted: true } : { posted: false, reason: again.reason };
    },
  };
}
