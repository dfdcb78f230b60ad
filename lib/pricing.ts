/**
 * Model prices and token estimates. Pure functions: the workflow uses them to reserve a call's
 * worst case before it is made, activities to cost the real usage after it.
 *
 * Prices are USD per million tokens (DESIGN.md), per provider. Model ids are matched by the
 * longest known prefix, so dated ids (`claude-sonnet-4-20250514`) and path-qualified ids
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

/** The model protocols of `brain.provider` (DESIGN.md), each priced from its own table. */
export type ModelProvider = 'anthropic' | 'openai' | 'google' | 'local';
export const MODEL_PROVIDERS: readonly ModelProvider[] = ['anthropic', 'openai', 'google', 'local'];

/**
 * The built-in prices per provider (list prices, USD per million tokens). `local` models have no
 * list price: they cost what `BOTBURROW_PRICE_TABLE` or the unknown-model default says.
 */
export const BUILT_IN_PRICES: Readonly<Record<ModelProvider, Readonly<Record<string, Price>>>> =
  Object.freeze({
    anthropic: Object.freeze({
      'claude-opus-4-5': { input: 15, output: 75 },
      'claude-sonnet-4': { input: 3, output: 15 },
      'claude-haiku': { input: 0.25, output: 1.25 },
    }),
    openai: Object.freeze({
      'gpt-4o': { input: 5, output: 15 },
      'gpt-4o-mini': { input: 0.15, output: 0.6 },
      'gpt-4.1': { input: 2, output: 8 },
      'gpt-4.1-mini': { input: 0.4, output: 1.6 },
      'gpt-4.1-nano': { input: 0.1, output: 0.4 },
    }),
    google: Object.freeze({
      'gemini-2.5-pro': { input: 1.25, output: 10 },
      'gemini-2.5-flash': { input: 0.3, output: 2.5 },
      'gemini-2.5-flash-lite': { input: 0.1, output: 0.4 },
      'gemini-2.0-flash': { input: 0.1, output: 0.4 },
    }),
    local: Object.freeze({}),
  });

/** Price of a model that no table knows, unless `BOTBURROW_UNKNOWN_MODEL_PRICE` says otherwise. */
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

export interface PriceOptions {
  /** The brain's provider: its built-in table and its `provider/…` overrides; absent: every table. */
  provider?: ModelProvider;
  /** The price of a model no table knows (`BOTBURROW_UNKNOWN_MODEL_PRICE`). */
  unknown?: Price;
}

/** Splits an override key into its provider (`openai/gpt-4o` → openai) and model prefix. */
function overrideProvider(key: string): { provider: ModelProvider | undefined; model: string } {
  const slash = key.indexOf('/');
  const head = slash > 0 ? key.slice(0, slash).trim().toLowerCase() : '';
  return (MODEL_PROVIDERS as readonly string[]).includes(head)
    ? { provider: head as ModelProvider, model: key.slice(slash + 1) }
    : { provider: undefined, model: key };
}

/**
 * The price of `model` and where it came from. Entries of `overrides` (the `BOTBURROW_PRICE_TABLE`
 * setting) win over the built-in tables even when a built-in prefix is longer, so an operator's
 * `{"claude": …}` really reprices every Claude model; a key `provider/model` (e.g.
 * `local/llama-3.1`) applies to that provider only and wins over an unqualified one. Unknown models
 * cost `opts.unknown` (default {@link UNKNOWN_MODEL_PRICE}) with `source: 'unknown'`.
 */
export function lookupPrice(
  model: string,
  overrides: PriceTable = {},
  opts: PriceOptions = {},
): { price: Price; source: 'override' | 'built-in' | 'unknown' } {
  const id = normalizeModelId(model);
  const qualified: Record<string, Price> = {};
  const plain: Record<string, Price> = {};
  for (const [key, p] of Object.entries(overrides)) {
    const o = overrideProvider(key);
    if (o.provider === undefined) plain[o.model] = p;
    else if (opts.provider === undefined || o.provider === opts.provider) qualified[o.model] = p;
  }
  const override = longestPrefix(id, qualified) ?? longestPrefix(id, plain);
  if (override) return { price: { input: override.input, output: override.output }, source: 'override' };
  const tables = opts.provider ? [BUILT_IN_PRICES[opts.provider]] : Object.values(BUILT_IN_PRICES);
  for (const table of tables) {
    const found = longestPrefix(id, table);
    if (found) return { price: { input: found.input, output: found.output }, source: 'built-in' };
  }
  const unknown = opts.unknown ?? UNKNOWN_MODEL_PRICE;
  return { price: { input: unknown.input, output: unknown.output }, source: 'unknown' };
}

/** The price of `model` (see {@link lookupPrice}). */
export function priceFor(model: string, overrides: PriceTable = {}, opts: PriceOptions = {}): Price {
  return lookupPrice(model, overrides, opts).price;
}

/** USD cost of `usage` tokens on `model`. */
export function costUsd(
  model: string,
  usage: { inputTokens: number; outputTokens: number },
  overrides?: PriceTable,
  opts?: PriceOptions,
): number {
  return costAt(priceFor(model, overrides, opts), usage);
}

/** USD cost of `usage` tokens at `price`. */
export function costAt(price: Price, usage: { inputTokens: number; outputTokens: number }): number {
  return (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
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
