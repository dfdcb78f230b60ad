/**
 * `llmTurn`: one step of the built-in tool loop. Picks the brain's model client (provider, endpoint
 * and key variable, under the runner's allow-lists), reserves the call's worst case, calls the
 * model, settles the real usage and stores the turn. Idempotent per (conversation, turn).
 */
import type Anthropic from '@anthropic-ai/sdk';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { costAt as cost, estimateTokens, lookupPrice } from '../../lib/pricing';
import type { ModelProvider, Price } from '../../lib/pricing';
import { isMemoryTool } from '../../lib/memory';
import { FINAL_ITERATION_NOTE } from '../../lib/prompts';
import { SpanAttr, withSpan } from '../../lib/spans';
import type { ToolResultRef, UserBlock } from '../conversation';
import type { MessageParam, ModelContent } from '../model';
import { withCancellation } from './definition';
import type { ActivationDeps, LlmTurnResult } from './types';
import { MAX_TEXT_IN_HISTORY } from './types';

export type LlmTurnDeps = Pick<
  ActivationDeps,
  'budget' | 'conversations' | 'models' | 'metrics' | 'settings' | 'logger'
>;

/** Converts stored assistant content back into Messages API parameters. */
function toParam(b: ModelContent): Anthropic.ContentBlockParam {
  return b.type === 'text'
    ? { type: 'text', text: b.text }
    : { type: 'tool_use', id: b.id, name: b.name, input: b.input };
}

export function createLlmTurnActivities(deps: LlmTurnDeps) {
  const { conversations, metrics, settings } = deps;
  /** Models already reported as priced by the unknown-model default (one log line each). */
  const unpriced = new Set<string>();
  /** USD per million tokens of `model` on `provider`; an unknown model is logged once. */
  const priceOf = (provider: ModelProvider, model: string): Price => {
    const found = lookupPrice(model, settings.priceTable, {
      provider,
      ...(settings.unknownModelPrice !== undefined && { unknown: settings.unknownModelPrice }),
    });
    const key = `${provider}/${model}`;
    if (found.source === 'unknown' && !unpriced.has(key)) {
      unpriced.add(key);
      deps.logger.warn(
        { provider, model, price: found.price },
        'model has no known price: costed at BOTBURROW_UNKNOWN_MODEL_PRICE (set BOTBURROW_PRICE_TABLE to price it)',
      );
    }
    return found.price;
  };
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
      const setup = await conversations.setup(input.conversationId);
      const provider = setup.provider ?? 'anthropic';
      // Before any reservation: a key or endpoint the runner does not allow fails here, clearly.
      const { client } = deps.models.resolve({
        provider,
        ...(setup.apiBase !== undefined && { apiBase: setup.apiBase }),
        ...(setup.apiKeyEnv !== undefined && { apiKeyEnv: setup.apiKeyEnv }),
      });
      const price = priceOf(provider, setup.model);
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
      const worstCase = cost(price, { inputTokens: promptTokens, outputTokens: setup.maxTokens });
      // Per attempt: two attempts of one call alive at once (after a timeout) both count.
      const reservationId = `${input.reservationId}:${Context.current().info.attempt}`;
      // The pause flag is read in the same script: a paused agent reserves nothing and stops here.
      const reserved = await deps.budget.reserve(
        agentId,
        { reservationId, tokens: promptTokens + setup.maxTokens, costUsd: worstCase },
        { checkPause: true },
      );
      if (!reserved.ok) {
        return reserved.limit === 'paused'
          ? { kind: 'paused', reason: reserved.message }
          : { kind: 'budget_exceeded', reason: reserved.message };
      }

      let spent = { tokens: 0, costUsd: 0 };
      try {
        // A `model.call` span when tracing is on (lib/tracing.ts), with the tokens the turn used.
        const response = await withSpan(
          'model.call',
          { [SpanAttr.modelSystem]: provider, [SpanAttr.model]: setup.model, [SpanAttr.agentId]: agentId },
          async (span) => {
            const res = await withCancellation((signal) =>
              client.call(
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
            span?.setAttributes({
              [SpanAttr.inputTokens]: res.usage.inputTokens,
              [SpanAttr.outputTokens]: res.usage.outputTokens,
            });
            return res;
          },
        );
        const usage = response.usage;
        const turnCost = cost(price, usage);
        spent = { tokens: usage.inputTokens + usage.outputTokens, costUsd: turnCost };
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
        metrics.cost.inc({ agent_id: agentId, model: setup.model }, turnCost);
        const text = response.content
          .filter((b): b is Extract<ModelContent, { type: 'text' }> => b.type === 'text')
          .map((b) => b.text)
          .join('\n');
        return {
          kind: 'ok',
          text: text.slice(0, MAX_TEXT_IN_HISTORY),
          toolCalls: response.content
            .filter((b): b is Extract<ModelContent, { type: 'tool_use' }> => b.type === 'tool_use')
            .map((b) => ({
              id: b.id,
              name: b.name,
              // Memory content never enters history, not even as a preview of what is saved.
              preview: isMemoryTool(b.name) ? '(memory call)' : JSON.stringify(b.input).slice(0, 200),
            })),
          stopReason: response.stopReason,
          model: response.model || setup.model,
          tokensInput: usage.inputTokens,
          tokensOutput: usage.outputTokens,
          costUsd: turnCost,
        };
      } catch (err) {
        // An aborted call may already have been billed for its prompt; provider errors were not.
        if (err instanceof CancelledFailure) {
          spent = {
            tokens: promptTokens,
            costUsd: cost(price, { inputTokens: promptTokens, outputTokens: 0 }),
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
