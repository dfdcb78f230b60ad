/** Pure retry arithmetic of the Hub client: backoff with full jitter and `Retry-After` parsing. */

/**
 * Capped exponential backoff with full jitter (AWS architecture blog): a uniform delay in
 * `[0, min(maxMs, baseMs * 2^attempt))`, so that many clients retrying together spread out.
 * `attempt` counts from 0 for the first retry; `random` returns a number in [0, 1).
 */
export function backoffDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/**
 * Milliseconds to wait from a `Retry-After` header: either delta-seconds (decimals tolerated)
 * or an HTTP date. Returns undefined when absent or unparseable; never negative.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // A date must look like one: Date.parse accepts odd strings such as "1" otherwise.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
