/**
 * The scripted server's deterministic embeddings (`POST …/embeddings`): a hashed bag of words, so
 * tests can say exactly which texts are near. Each distinct word (lower case, letters and digits,
 * two characters or more) sets one of `EMBEDDING_DIMENSIONS` coordinates, picked by FNV-1a; the
 * vector is normalised. Two texts without hash collisions have cosine shared / √(n₁·n₂).
 */
export const EMBEDDING_DIMENSIONS = 512;

/** Words that carry no meaning here (so "the" does not make everything near). */
const STOPWORDS = new Set(['the', 'and', 'of', 'to', 'in', 'on', 'is', 'it', 'an', 'at', 'for', 'with']);

export function embeddingWords(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) {
    if (m[0].length >= 2 && !STOPWORDS.has(m[0])) out.add(m[0]);
  }
  return [...out];
}

function fnv1a(word: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(word, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The embedding of `text` (unit length; all zeros for a text without words). */
export function hashedEmbedding(text: string): number[] {
  const v = new Array<number>(EMBEDDING_DIMENSIONS).fill(0);
  for (const w of embeddingWords(text)) v[fnv1a(w) % EMBEDDING_DIMENSIONS] = 1;
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return norm === 0 ? v : v.map((x) => x / norm);
}

/** Validates an embeddings request body; the OpenAI error message for a bad one. */
export function embeddingInputs(body: unknown): string[] | string {
  if (typeof body !== 'object' || body === null) return 'body: expected a JSON object';
  const { model, input } = body as { model?: unknown; input?: unknown };
  if (typeof model !== 'string' || model === '') return "'model' is a required string";
  const inputs = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.some((s) => typeof s !== 'string')) {
    return "'input' must be a string or a non-empty array of strings";
  }
  return inputs as string[];
}
