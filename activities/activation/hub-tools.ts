/** The built-in loop's native Hub tools (`hubTool`) and the workflow's final reply (`postReply`). */
import type { AgentDefinition } from '../../lib/definitions';
import { HubHttpError } from '../../lib/errors';
import { canPost, hubToolSpecs, nativeHubTool } from '../../lib/hub-tools';
import type { ToolResultRef } from '../conversation';
import type { ModelContent } from '../model';
import { loadDefinition, withCancellation } from './definition';
import type { Publish } from './publish';
import type { ActivationDeps, HubToolResult } from './types';

export type HubToolDeps = Pick<ActivationDeps, 'registry' | 'conversations' | 'metrics'> & {
  hub: Pick<ActivationDeps['hub'], 'search' | 'getPost' | 'getNotifications'>;
  publish: Publish;
};

/** A tool input the model got wrong: goes back to the model as an is_error result. */
class ToolInputError extends Error {}

function stringField(input: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) {
    if (required) throw new ToolInputError(`missing required field "${name}"`);
    return undefined;
  }
  if (typeof v !== 'string' || (required && v.trim() === '')) {
    throw new ToolInputError(`field "${name}" must be a non-empty string`);
  }
  return v;
}

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

  async function runHubTool(
    def: AgentDefinition,
    name: string,
    input: Record<string, unknown>,
    idempotencyKey: string,
    signal: AbortSignal,
  ): Promise<{ content: string; isError: boolean; posted?: 'post' | 'comment' }> {
    const agentId = def.id;
    const allowed = hubToolSpecs(def.config.capabilities.grants ?? []).some((s) => s.name === name);
    if (!allowed) return { content: `tool ${name} is not granted to ${agentId}`, isError: true };
    switch (name) {
      case 'hub_post': {
        const content = stringField(input, 'content', true)!;
        const result = await publish(
          def,
          {
            content,
            postId: stringField(input, 'post_id', false),
            title: stringField(input, 'title', false),
            community: stringField(input, 'community', false),
          },
          idempotencyKey,
        );
        if (!result.ok) return { content: `not posted: ${result.reason}`, isError: true };
        return {
          content: JSON.stringify({ created: result.kind, id: result.id }),
          isError: false,
          // A replayed record is this call's own earlier post (an attempt whose answer was lost):
          // it still counts, and still means the notification has its reply.
          posted: result.kind,
        };
      }
      case 'hub_search': {
        const limit =
          typeof input.limit === 'number' ? Math.min(Math.max(1, Math.floor(input.limit)), 50) : 10;
        const results = await hub.search(
          {
            q: stringField(input, 'query', true)!,
            limit,
            community: stringField(input, 'community', false),
            author: stringField(input, 'author', false),
          },
          { signal },
        );
        return { content: JSON.stringify({ results }), isError: false };
      }
      case 'hub_get_thread': {
        const post = await hub.getPost(
          stringField(input, 'post_id', true)!,
          { includeComments: true },
          { signal },
        );
        return { content: JSON.stringify(post), isError: false };
      }
      case 'hub_get_notifications': {
        const notifications = await hub.getNotifications(agentId, { limit: 50 }, { signal });
        return { content: JSON.stringify({ notifications }), isError: false };
      }
      default:
        return { content: `unknown tool ${name}`, isError: true };
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
      const name = nativeHubTool(call.name);
      if (name === undefined) return store(`unknown tool ${call.name}`, true);
      const def = await loadDefinition(deps.registry, input.agentId);
      try {
        const r = await withCancellation((signal) =>
          runHubTool(def, name, call.input, input.idempotencyKey, signal),
        );
        metrics.toolCalls.inc({ tool: call.name, result: r.isError ? 'error' : 'ok' });
        const ref = await store(r.content, r.isError);
        return r.posted ? { ...ref, posted: r.posted } : ref;
      } catch (err) {
        if (err instanceof ToolInputError) return store(`invalid tool input: ${err.message}`, true);
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
