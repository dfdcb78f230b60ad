/**
 * Agent memory steps of the built-in loop: `rememberConversation` (what a finished conversation
 * leaves in memory, per `memory.remember`) and `memoryTool` (the model's `memory_search` and
 * `memory_save`). Memory content never enters workflow history: both return counts or a claim
 * check, and their output lives in Valkey.
 */
import { Context } from '@temporalio/activity';
import type { MemoryItem, MemoryKind } from '../../lib/memory';
import { MAX_MEMORY_TEXT, MEMORY_KINDS, clipMemoryText, isMemoryTool } from '../../lib/memory';
import type { ToolResultRef } from '../conversation';
import { conversationMemories } from '../memory/remember';
import { memoryId } from '../memory/service';
import { loadDefinition, withCancellation } from './definition';
import type { ActivationDeps } from './types';

export type MemoryActivityDeps = Pick<ActivationDeps, 'registry' | 'conversations' | 'metrics' | 'memory'>;

/** When the step was first scheduled: the same on every retry, so a retried item is identical. */
function scheduledAt(): string {
  return new Date(Context.current().info.scheduledTimestampMs).toISOString();
}

export function createMemoryActivities(deps: MemoryActivityDeps) {
  const { conversations, memory } = deps;
  return {
    /** Stores what the conversation's `turns` turns leave in memory; returns counts only. */
    async rememberConversation(input: {
      conversationId: string;
      agentId: string;
      turns: number;
    }): Promise<{ added: number; evicted: number }> {
      const def = await loadDefinition(deps.registry, input.agentId);
      if (!def.config.memory.enabled || memory === undefined) return { added: 0, evicted: 0 };
      const setup = await conversations.setup(input.conversationId);
      const turns = await conversations.turns(input.conversationId, input.turns);
      const items = conversationMemories({
        conversationId: input.conversationId,
        remember: def.config.memory.remember,
        context: setup.memory ?? {},
        turns,
        at: scheduledAt(),
      });
      const r = await withCancellation((signal) => memory.remember(def, input.conversationId, items, signal));
      return { added: r?.added ?? 0, evicted: r?.evicted ?? 0 };
    },

    /** Runs one `memory_search` / `memory_save` call of turn `turn`; the result is always a claim check. */
    async memoryTool(input: {
      conversationId: string;
      agentId: string;
      turn: number;
      toolUseId: string;
      idempotencyKey: string;
    }): Promise<ToolResultRef> {
      const call = await conversations.toolUse(input.conversationId, input.turn, input.toolUseId);
      const done = async (content: string, isError: boolean, summary: string): Promise<ToolResultRef> => {
        deps.metrics.toolCalls.inc({ tool: call?.name ?? 'memory', result: isError ? 'error' : 'ok' });
        return conversations.storeOutsideHistory(
          input.conversationId,
          input.toolUseId,
          content,
          isError,
          summary,
        );
      };
      if (!call) return done(`tool call ${input.toolUseId} not found in the transcript`, true, 'not found');
      if (call.inputError) return done(`invalid tool input: ${call.inputError}`, true, 'invalid input');
      if (!isMemoryTool(call.name)) return done(`unknown tool ${call.name}`, true, 'unknown tool');
      const def = await loadDefinition(deps.registry, input.agentId);
      if (!def.config.memory.enabled || memory === undefined) {
        return done(`${call.name}: memory is not enabled for ${def.id} (memory.enabled)`, true, 'memory off');
      }
      const args = call.input;
      if (call.name === 'memory_search') {
        const query = args.query;
        if (typeof query !== 'string' || query.trim() === '') {
          return done('memory_search: "query" must be a non-empty string', true, 'invalid input');
        }
        const max = def.config.memory.retrieval.max_context_items;
        const limit =
          typeof args.limit === 'number' && Number.isFinite(args.limit)
            ? Math.min(Math.max(1, Math.floor(args.limit)), 100)
            : max;
        const r = await withCancellation((signal) => memory.retrieve(def, query, { limit, signal }));
        const items = r.items.map((m) => ({ kind: m.kind, at: m.at, score: m.score, text: m.text }));
        return done(JSON.stringify({ strategy: r.strategy, items }), false, `${items.length} items`);
      }
      const content = args.content;
      if (typeof content !== 'string' || content.trim() === '') {
        return done('memory_save: "content" must be a non-empty string', true, 'invalid input');
      }
      if (content.length > MAX_MEMORY_TEXT) {
        return done(
          `memory_save: "content" has ${content.length} characters; at most ${MAX_MEMORY_TEXT} are kept — save a shorter summary`,
          true,
          'too long',
        );
      }
      const kind = args.kind ?? 'note';
      if (typeof kind !== 'string' || !(MEMORY_KINDS as readonly string[]).includes(kind)) {
        return done(`memory_save: "kind" must be one of ${MEMORY_KINDS.join(', ')}`, true, 'invalid input');
      }
      const item: MemoryItem = {
        id: memoryId(input.idempotencyKey),
        kind: kind as MemoryKind,
        text: clipMemoryText(content),
        at: scheduledAt(),
        source: { conversation: input.conversationId },
      };
      const r = await withCancellation((signal) =>
        memory.remember(def, input.idempotencyKey, [item], signal),
      );
      return done(JSON.stringify({ saved: item.id, evicted: r?.evicted ?? 0 }), false, `saved ${item.id}`);
    },
  };
}
