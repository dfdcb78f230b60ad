/**
 * Model prices and token estimates. Pure functions: the workflow uses them to reserve a call's
 * worst case before it is made, activities to cost the real usage after it.
 *
 * Prices are USD per million tokens (DESIGN.md). Model ids are matched by the longest known
 * prefix, so dated ids (`claude-sonnet-4-20250514`) and provider-qualified ids
 * (`anthropic/claude-haiku-4-5`) price as their family.
 */
import type { PriceTable } from './config';

export type { PriceTable } from './config';

export interface Price {
  /** USD per million input tokens. */
  input: number;
  /** USD per million output tokens. */
  output: number;
}

/** The built-in table of DESIGN.md. */
export const BUILT_IN_PRICES: Readonly<Record<string, Price>> = Object.freeze({
  'claude-opus-4-5': { input: 15, output: 75 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-haiku': { input: 0.25, output: 1.25 },
  'gpt-4o': { input: 5, output: 15 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
});

/** Price of a model that no table knows. */
export const UNKNOWN_MODEL_PRICE: Readonly<Price> = Object.freeze({ input: 3, output: 15 });

/**
 * Normalises a model id for matching: lower case, provider path dropped, and the legacy Claude
 * naming `claude-<version>-<family>` (e.g. `claude-3-5-haiku-20241022`) rewritten to the current
 * `claude-<family>-<version>` so both generations share one prefix per family.
 */
export function normalizeModelId(model: string): string {
  let id = model.trim().toLowerCase();
  const slash = id.lastIndexOf('/');
  if (slash >= 0) id = id.slice(slash + 1);
  const legacy = /^claude-(\d+(?:[-.]\d+)?)-(opus|sonnet|haiku)(.*)$/.exec(id);
  if (legacy) id = `claude-${legacy[2]}-${legacy[1]}${legacy[3]}`;
  return id;
}

/** `prefix` matches `id` when it is the whole id or is followed by a separator (not `gpt-4` vs `gpt-40`). */
function prefixMatches(id: string, prefix: string): boolean {
  if (!id.startsWith(prefix)) return false;
  const next = id.charAt(prefix.length);
  return next === '' || /[^a-z0-9]/.test(next);
}

function longestPrefix(id: string, table: Readonly<Record<string, Price>>): Price | undefined {
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    const k = normalizeModelId(key);
    if (prefixMatches(id, k) && (best === undefined || k.length > normalizeModelId(best).length)) {
      best = key;
    }
  }
  return best === undefined ? undefined : table[best];
}

/**
 * The price of `model`. A matching entry of `overrides` (the `BOTBURROW_PRICE_TABLE` setting) wins
 * over the built-in table even when a built-in prefix is longer, so an operator's `{"claude": …}`
 * really reprices every Claude model; unknown models cost {@link UNKNOWN_MODEL_PRICE}.
 */
export function priceFor(model: string, overrides: PriceTable = {}): Price {
  const id = normalizeModelId(model);
  const found = longestPrefix(id, overrides) ?? longestPrefix(id, BUILT_IN_PRICES) ?? UNKNOWN_MODEL_PRICE;
  return { input: found.input, output: found.output };
}

/** USD cost of `usage` tokens on `model`. */
export function costUsd(
  model: string,
  usage: { inputTokens: number; outputTokens: number },
  overrides?: PriceTable,
): number {
  const p = priceFor(model, overrides);
  return (usage.inputTokens * p.input + usage.outputTokens * p.output) / 1_000_000;
}

/**
 * A deterministic token estimate: one token per four characters (Unicode code points), rounded
 * up. Used to reserve budget before a call and by the scripted model server to report `usage`;
 * real tokenizers differ by tens of percent, which the reservation's `max_tokens` margin absorbs.
 */
export function estimateTokens(text: string): number {
  let chars = 0;
  for (const _ of text) chars++;
  return Math.ceil(chars / 4);
}
