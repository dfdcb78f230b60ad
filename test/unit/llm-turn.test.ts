/**
 * `llmTurn` through MockActivityEnvironment with fake dependencies: the brain's route is resolved
 * from the conversation setup (the key variable's name only), a refused route fails before any
 * budget is reserved, and an unknown model is costed at the configured default and logged once.
 */
import { describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { Registry } from 'prom-client';
import type { ConversationSetup } from '../../activities/conversation';
import { createLlmTurnActivities } from '../../activities/activation/llm-turn';
import type { LlmTurnDeps } from '../../activities/activation/llm-turn';
import type { ModelClient, ModelRequest } from '../../activities/model';
import type { BrainRoute } from '../../activities/models/providers';
import { nonRetryable } from '../../activities/models/failures';
import { createMetrics } from '../../lib/metrics';

const baseSetup: ConversationSetup = {
  agentId: 'a1',
  provider: 'local',
  apiBase: 'http://127.0.0.1:8000/v1',
  apiKeyEnv: 'LOCAL_LLM_KEY',
  model: 'llama-3.1-8b',
  system: 'sys',
  tools: [],
  maxTokens: 100,
  temperature: 0.5,
  opening: [{ type: 'text', text: 'hello' }],
};

function harness(setup: ConversationSetup, refuse = false) {
  const routes: BrainRoute[] = [];
  const calls: ModelRequest[] = [];
  const reservations: { costUsd: number }[] = [];
  const settled: { costUsd: number }[] = [];
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const client: ModelClient = {
    protocol: 'fake',
    call: (req) => {
      calls.push(req);
      return Promise.resolve({
        id: 'r1',
        model: req.model,
        content: [{ type: 'text', text: 'hi' }],
        stopReason: 'end_turn',
        usage: { inputTokens: 1_000_000, outputTokens: 0 },
      });
    },
  };
  const deps = {
    pause: { isPaused: () => Promise.resolve({ paused: false }) },
    budget: {
      reserve: (_a: string, r: { costUsd: number }) => {
        reservations.push(r);
        return Promise.resolve({ ok: true });
      },
      settle: (_a: string, _id: string, s: { costUsd: number }) => {
        settled.push(s);
        return Promise.resolve();
      },
    },
    conversations: {
      setup: () => Promise.resolve(setup),
      turns: () => Promise.resolve([]),
      resolveToolResults: () => Promise.resolve([]),
      saveTurn: () => Promise.resolve(),
    },
    models: {
      resolve: (route: BrainRoute) => {
        routes.push(route);
        if (refuse) throw nonRetryable(`brain.api_key_env ${route.apiKeyEnv} is not set on this runner`);
        return { client, baseUrl: route.apiBase ?? '', keyEnv: route.apiKeyEnv ?? null };
      },
    },
    metrics: createMetrics(new Registry(), { defaults: false }),
    logger: { warn: (obj: Record<string, unknown>, msg: string) => warnings.push({ obj, msg }) },
    settings: {
      activationTimeoutSeconds: 60,
      maxIterations: 3,
      priceTable: {},
      unknownModelPrice: { input: 2, output: 4 },
      hubBudgetCheck: 'off',
    },
  } as unknown as LlmTurnDeps;
  const acts = createLlmTurnActivities(deps);
  const turn = (n: number) =>
    new MockActivityEnvironment().run(acts.llmTurn, {
      conversationId: 'c1',
      agentId: 'a1',
      turn: n,
      toolResults: [],
      final: false,
      reservationId: `c1:${n}`,
    });
  return { turn, routes, calls, reservations, settled, warnings };
}

describe('llmTurn and model providers', () => {
  it("routes by the setup's provider, api_base and key variable name, sending temperature", async () => {
    const h = harness(baseSetup);
    const r = await h.turn(0);
    expect(h.routes).toEqual([
      { provider: 'local', apiBase: 'http://127.0.0.1:8000/v1', apiKeyEnv: 'LOCAL_LLM_KEY' },
    ]);
    expect(h.calls[0]).toMatchObject({ model: 'llama-3.1-8b', temperature: 0.5, maxTokens: 100 });
    expect(r).toMatchObject({ kind: 'ok', tokensInput: 1_000_000, costUsd: 2 });
  });

  it('routes a setup from before providers to anthropic', async () => {
    const { provider: _p, apiBase: _b, apiKeyEnv: _k, ...old } = baseSetup;
    const h = harness({ ...old, model: 'claude-sonnet-4' });
    await h.turn(0);
    expect(h.routes).toEqual([{ provider: 'anthropic' }]);
  });

  it('fails a refused route before reserving any budget', async () => {
    const h = harness(baseSetup, true);
    const err = await h.turn(0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('LlmNonRetryableError');
    expect((err as ApplicationFailure).message).toContain('LOCAL_LLM_KEY');
    expect([h.reservations, h.settled, h.calls]).toEqual([[], [], []]);
  });

  it('costs an unknown model at the configured default, reserving with it, and logs it once', async () => {
    const h = harness(baseSetup);
    await h.turn(0);
    await h.turn(1);
    expect(h.settled.map((s) => s.costUsd)).toEqual([2, 2]);
    expect(h.reservations[0]!.costUsd).toBeGreaterThan(0);
    const priced = h.warnings.filter((w) => /no known price/.test(w.msg));
    expect(priced).toHaveLength(1);
    expect(priced[0]!.obj).toMatchObject({
      provider: 'local',
      model: 'llama-3.1-8b',
      price: { input: 2, output: 4 },
    });
  });

  it('logs nothing for a model its provider prices', async () => {
    const h = harness({ ...baseSetup, provider: 'google', model: 'gemini-2.5-flash' });
    await h.turn(0);
    expect(h.warnings).toEqual([]);
    expect(h.settled[0]!.costUsd).toBeCloseTo(0.3, 10);
  });
});
