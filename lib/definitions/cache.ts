/**
 * Valkey entries of parsed definitions (`cache:agent:<id>`, `cache:skills`): JSON tagged with a
 * format number, so a deploy never reads another release's shape. Valkey being down, a corrupt
 * entry or another format is a miss, and a failed write is logged: only the cache is lost, the
 * store still answers.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger';

/** Bumped when the shape of a cached value changes. */
const CACHE_FORMAT = 1;

interface Entry<T> {
  v?: number;
  value?: T;
}

/** The cached value under `key`, or undefined on a miss (absent, unreadable or another format). */
export async function readCached<T>(redis: Redis, key: string, logger: Logger): Promise<T | undefined> {
  let raw: string | null;
  try {
    raw = await redis.get(key);
  } catch (err) {
    logger.warn({ err, key }, 'definition cache unavailable; reading the store');
    return undefined;
  }
  if (raw === null) return undefined;
  try {
    const entry = JSON.parse(raw) as Entry<T>;
    if (entry.v === CACHE_FORMAT && entry.value !== undefined) return entry.value;
  } catch {
    // A corrupt entry is a miss; the caller's write replaces it.
  }
  return undefined;
}

/** Caches `value` under `key` for `ttlSeconds`; a failure is logged, never thrown. */
export async function writeCached<T>(
  redis: Redis,
  key: string,
  value: T,
  ttlSeconds: number,
  logger: Logger,
): Promise<void> {
  const entry: Entry<T> = { v: CACHE_FORMAT, value };
  try {
    await redis.set(key, JSON.stringify(entry), 'EX', ttlSeconds);
  } catch (err) {
    logger.warn({ err, key }, 'could not write the definition cache');
  }
}
