import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { Redis } from 'ioredis';

/** Addresses of the suite's shared Temporal and Valkey (from the global setup). */
export function services(): { temporalAddress: string; redisUrl: string } {
  return { temporalAddress: inject('temporalAddress'), redisUrl: inject('redisUrl') };
}

/** A unique name for workflow ids, task queues and key prefixes, so tests never share state. */
export function unique(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A Valkey client on the suite's server; close it in `afterAll`. */
export function redisClient(): Redis {
  return new Redis(services().redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false });
}

/** Polls `condition` every 50 ms until it holds; fails after `timeoutMs`. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
