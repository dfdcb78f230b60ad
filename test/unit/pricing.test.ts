import { describe, expect, it } from 'vitest';
import {
  costUsd,
  estimateTokens,
  lookupPrice,
  normalizeModelId,
  priceFor,
  UNKNOWN_MODEL_PRICE,
} from '../../lib/pricing';

describe('priceFor', () => {
  it.each([
    ['claude-opus-4-5', 15, 75],
    ['claude-opus-4-5-20251101', 15, 75],
    ['claude-sonnet-4', 3, 15],
    ['claude-sonnet-4-20250514', 3, 15],
    ['claude-haiku-4-5', 0.25, 1.25],
    ['claude-3-5-haiku-20241022', 0.25, 1.25],
    ['claude-3-haiku-20240307', 0.25, 1.25],
    ['anthropic/claude-haiku-4-5', 0.25, 1.25],
    ['CLAUDE-SONNET-4', 3, 15],
    ['gpt-4o', 5, 15],
    ['gpt-4o-2024-08-06', 5, 15],
    ['gpt-4o-mini', 0.15, 0.6],
    ['gpt-4o-mini-2024-07-18', 0.15, 0.6],
  ])('prices %s at %d/%d', (model, input, output) => {
    expect(priceFor(model)).toEqual({ input, output });
  });

  it('prices unknown models at the default and does not match across a word boundary', () => {
    expect(priceFor('mistral-large')).toEqual(UNKNOWN_MODEL_PRICE);
    expect(priceFor('gpt-4omega')).toEqual(UNKNOWN_MODEL_PRICE);
    expect(priceFor('claude-opus-4-1')).toEqual({ input: 3, output: 15 });
  });

  it('lets an override win, even over a longer built-in prefix', () => {
    const overrides = { claude: { input: 1, output: 2 }, 'my-model': { input: 7, output: 8 } };
    expect(priceFor('claude-sonnet-4-20250514', overrides)).toEqual({ input: 1, output: 2 });
    expect(priceFor('my-model-v2', overrides)).toEqual({ input: 7, output: 8 });
    expect(priceFor('gpt-4o', overrides)).toEqual({ input: 5, output: 15 });
  });

  it('picks the longest override prefix', () => {
    const overrides = { claude: { input: 1, output: 1 }, 'claude-haiku': { input: 2, output: 2 } };
    expect(priceFor('claude-3-5-haiku-latest', overrides)).toEqual({ input: 2, output: 2 });
  });

  it('returns a copy that callers cannot use to corrupt the table', () => {
    const p = priceFor('claude-sonnet-4');
    p.input = 999;
    expect(priceFor('claude-sonnet-4').input).toBe(3);
  });
});

describe('normalizeModelId', () => {
  it('rewrites the legacy naming to family-first', () => {
    expect(normalizeModelId('claude-3-5-haiku-20241022')).toBe('claude-haiku-3-5-20241022');
    expect(normalizeModelId('claude-3-7-sonnet-latest')).toBe('claude-sonnet-3-7-latest');
    expect(normalizeModelId('claude-sonnet-4-5')).toBe('claude-sonnet-4-5');
  });
});

describe('costUsd', () => {
  it('charges input and output at their own rates per million tokens', () => {
    expect(costUsd('claude-sonnet-4', { inputTokens: 1_000_000, outputTokens: 0 })).toBeCloseTo(3, 10);
    expect(costUsd('claude-sonnet-4', { inputTokens: 0, outputTokens: 1_000_000 })).toBeCloseTo(15, 10);
    expect(costUsd('claude-opus-4-5', { inputTokens: 2000, outputTokens: 500 })).toBeCloseTo(0.0675, 10);
    expect(
      costUsd('x', { inputTokens: 10, outputTokens: 10 }, { x: { input: 100, output: 200 } }),
    ).toBeCloseTo(0.003, 10);
  });
});

describe('estimateTokens', () => {
  it('is about four characters per token, rounded up, and deterministic', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('a')).toBe(1);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
    const text = 'The quick brown fox jumps over the lazy dog.';
    expect(estimateTokens(text)).toBe(11);
    expect(estimateTokens(text)).toBe(estimateTokens(text));
  });

  it('counts code points, not UTF-16 units', () => {
    expect(estimateTokens('🦊🦊🦊🦊')).toBe(1);
  });
});

describe('prices per provider', () => {
  it.each([
    ['anthropic', 'claude-sonnet-4-20250514', 3, 15],
    ['openai', 'gpt-4o-mini-2024-07-18', 0.15, 0.6],
    ['openai', 'gpt-4.1-mini', 0.4, 1.6],
    ['google', 'gemini-2.5-flash', 0.3, 2.5],
    ['google', 'models/gemini-2.5-pro', 1.25, 10],
  ] as const)('%s prices %s from its own table', (provider, model, input, output) => {
    expect(lookupPrice(model, {}, { provider })).toEqual({ price: { input, output }, source: 'built-in' });
  });

  it("does not price one provider's model from another's table", () => {
    expect(lookupPrice('gpt-4o', {}, { provider: 'google' }).source).toBe('unknown');
    expect(lookupPrice('gpt-4o', {}, { provider: 'local' }).source).toBe('unknown');
  });

  it('prices an unknown model at the configured default', () => {
    const unknown = { input: 1, output: 2 };
    expect(lookupPrice('llama-3.1-8b', {}, { provider: 'local', unknown })).toEqual({
      price: unknown,
      source: 'unknown',
    });
    expect(
      costUsd(
        'llama-3.1-8b',
        { inputTokens: 1_000_000, outputTokens: 0 },
        {},
        { provider: 'local', unknown },
      ),
    ).toBe(1);
  });

  it('takes provider/model overrides for that provider only, before unqualified ones', () => {
    const overrides = {
      'local/llama': { input: 0, output: 0 },
      llama: { input: 9, output: 9 },
      'google/gemini-2.5-flash': { input: 0.5, output: 3 },
    };
    expect(priceFor('llama-3.1-8b', overrides, { provider: 'local' })).toEqual({ input: 0, output: 0 });
    expect(priceFor('llama-3.1-8b', overrides, { provider: 'openai' })).toEqual({ input: 9, output: 9 });
    expect(priceFor('gemini-2.5-flash', overrides, { provider: 'google' })).toEqual({
      input: 0.5,
      output: 3,
    });
    expect(lookupPrice('gemini-2.5-flash', overrides, { provider: 'google' }).source).toBe('override');
  });
});
