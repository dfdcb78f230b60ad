/**
 * `llmTurn`: one step of the built-in tool loop. Reserves the call's worst case, calls the model,
 * settles the real usage and stores the turn. Idempotent per (conversation, turn).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { costUsd, estimateTokens } from '../../lib/pricing';
import { FINAL_ITERATION_NOTE } from '../../lib/prompts';
import type { ToolResultRef, UserBlock } from '../conversation';
import type { MessageParam, ModelContent } from '../model';
import { callModel } from '../model';
import { withCancellation } from './definition';
import type { ActivationDeps, LlmTurnResult } from './types';
import { MAX_TEXT_IN_HISTORY } from './types';

export type LlmTurnDeps = Pick<
  ActivationDeps,
  'pause' | 'budget' | 'conversations' | 'anthropic' | 'metrics' | 'settings'
>;

/** Converts stored assistant content back into Messages API parameters. */
function toParam(b: ModelContent): Anthropic.ContentBlockParam {
  return b.type === 'text'
    ? { type: 'text', text: b.text }
    : { type: 'tool_use', id: b.id, name: b.name, input: b.input };
}

export function createLlmTurnActivities(deps: LlmTurnDeps) {
  const { conversations, metrics, settings } = deps;
  return {
    async llmTurn(input: {
      conversationId: string;
      agentId: string;
      turn: number;
      toolResults: ToolResultRef[];
      final: boolean;
      reservationId: string;
    }): Promise<LlmTurnResult> {
      const { agentId } = input;
      const paused = await deps.pause.isPaused(agentId);
      if (paused.paused) return { kind: 'paused', reason: paused.reason ?? 'paused by an operator' };

      const setup = await conversations.setup(input.conversationId);
      const history = await conversations.turns(input.conversationId, input.turn);
      const userBlocks: UserBlock[] =
        input.turn === 0 ? [...setup.opening] : await conversations.resolveToolResults(input.toolResults);
      if (input.final) userBlocks.push({ type: 'text', text: FINAL_ITERATION_NOTE });
      const messages: MessageParam[] = [];
      for (const t of history) {
        messages.push(
          { role: 'user', content: t.user },
          { role: 'assistant', content: t.assistant.map(toParam) },
        );
      }
      messages.push({ role: 'user', content: userBlocks });
      // The last step may not call tools; they stay declared (tool_choice none) because the API
      // refuses tool_use/tool_result history without tool definitions.
      const tools = setup.tools;
      const toolChoice = input.final ? ('none' as const) : ('auto' as const);

      const promptTokens = estimateTokens(setup.system + JSON.stringify(messages) + JSON.stringify(tools));
      const worstCase = costUsd(
        setup.model,
        { inputTokens: promptTokens, outputTokens: setup.maxTokens },
        settings.priceTable,
      );
      // Per attempt: two attempts of one call alive at once (after a timeout) both count.
      const reservationId = `${input.reservationId}:${Context.current().info.attempt}`;
      const reserved = await deps.budget.reserve(agentId, {
        reservationId,
        tokens: promptTokens + setup.maxTokens,
        costUsd: worstCase,
      });
      if (!reserved.ok) return { kind: 'budget_exceeded', reason: reserved.message };

      let spent = { tokens: 0, costUsd: 0 };
      try {
        const response = await withCancellation((signal) =>
          callModel(
            deps.anthropic,
            {
              model: setup.model,
              system: setup.system,
              messages,
              tools,
              toolChoice,
              maxTokens: setup.maxTokens,
              temperature: setup.temperature,
            },
            signal,
          ),
        );
        const usage = response.usage;
        const cost = costUsd(setup.model, usage, settings.priceTable);
        spent = { tokens: usage.inputTokens + usage.outputTokens, costUsd: cost };
        await conversations.saveTurn(input.conversationId, input.turn, {
          user: userBlocks,
          assistant: response.content,
        });
        metrics.llmRequests.inc({ model: setup.model, result: 'ok' });
        metrics.tokens.inc({ agent_id: agentId, model: setup.model, direction: 'input' }, usage.inputTokens);
        metrics.tokens.inc(
          { agent_id: agentId, model: setup.model, direction: 'output' },
          usage.outputTokens,
        );
        metrics.cost.inc({ agent_id: agentId, model: setup.model }, cost);
        const text = response.content
          .filter((b): b is Extract<ModelContent, { type: 'text' }> => b.type === 'text')
          .map((b) => b.text)
          .join('\n');
        return {
          kind: 'ok',
          text: text.slice(0, MAX_TEXT_IN_HISTORY),
          toolCalls: response.content
            .filter((b): b is Extract<ModelContent, { type: 'tool_use' }> => b.type === 'tool_use')
            .map((b) => ({ id: b.id, name: b.name, preview: JSON.stringify(b.input).slice(0, 200) })),
          stopReason: response.stopReason,
          model: response.model || setup.model,
          tokensInput: usage.inputTokens,
          tokensOutput: usage.outputTokens,
          costUsd: cost,
        };
      } catch (err) {
        // An aborted call may already have been billed for its prompt; provider errors were not.
        if (err instanceof CancelledFailure) {
          spent = {
            tokens: promptTokens,
            costUsd: costUsd(
              setup.model,
              { inputTokens: promptTokens, outputTokens: 0 },
              settings.priceTable,
            ),
          };
        }
        metrics.llmRequests.inc({
          model: setup.model,
          result: err instanceof ApplicationFailure ? (err.type ?? 'error') : 'error',
        });
        throw err;
      } finally {
        await deps.budget.settle(agentId, reservationId, spent);
      }
    },
  };
}
