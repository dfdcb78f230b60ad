import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { Redis } from 'ioredis';
import { freePort } from '../../lib/net';

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

/** A Valkey client pointed at a port nothing listens on: every command fails at once. */
export async function unreachableRedis(): Promise<Redis> {
  const down = new Redis(`redis://127.0.0.1:${await freePort()}`, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  down.on('error', () => undefined);
  return down;
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
