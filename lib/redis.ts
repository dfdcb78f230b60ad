/**
 * The project's Valkey client factory. Guards must fail fast when Valkey is gone (an activity that
 * cannot reach its budget counters should fail and retry, not hang), so the client bounds every
 * command and never queues commands for an unreachable server.
 */
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { Logger } from './logger';

export interface CreateRedisOptions {
  logger?: Logger;
  /** Connection name shown by `CLIENT LIST` (e.g. `runner`). */
  name?: string;
  /** TCP connect timeout (ms); default 2000. */
  connectTimeoutMs?: number;
  /** Upper bound for any single command, including scripts (ms); default 2000. */
  commandTimeoutMs?: number;
  /** Longest pause between reconnect attempts (ms); default 2000. */
  maxReconnectDelayMs?: number;
  /** ACL user and password; when set they override any in the URL (kept out of the URL, so out of logs). */
  username?: string;
  password?: string;
}

/** The credentials a process takes from its settings (`BOTBURROW_REDIS_USERNAME`/`_PASSWORD`). */
export function redisAuth(s: { redisUsername?: string; redisPassword?: string }): {
  username?: string;
  password?: string;
} {
  return {
    ...(s.redisUsername === undefined ? {} : { username: s.redisUsername }),
    ...(s.redisPassword === undefined ? {} : { password: s.redisPassword }),
  };
}

/** Delay before reconnect attempt `times` (1-based): 100 ms doubling, capped at `maxMs`. */
export function reconnectDelayMs(times: number, maxMs: number): number {
  return Math.min(100 * 2 ** Math.min(Math.max(times - 1, 0), 16), maxMs);
}

/** The ioredis options `createRedis` uses (exported so tests can assert them). */
export function redisOptions(o: CreateRedisOptions = {}): RedisOptions {
  const maxDelay = o.maxReconnectDelayMs ?? 2000;
  return {
    connectionName: o.name,
    ...(o.username === undefined ? {} : { username: o.username }),
    ...(o.password === undefined ? {} : { password: o.password }),
    connectTimeout: o.connectTimeoutMs ?? 2000,
    commandTimeout: o.commandTimeoutMs ?? 2000,
    // One retry after a reconnect, then the caller gets the error (ioredis default is 20).
    maxRetriesPerRequest: 1,
    // Queue only until the first connection is ready (commands sent right after construction);
    // createRedis switches it off from then on, so an outage fails commands at once.
    enableOfflineQueue: true,
    lazyConnect: false,
    // Commands issued in the same tick share one write: many concurrent activities then cost one
    // syscall per tick instead of one per command.
    enableAutoPipelining: true,
    retryStrategy: (times: number) => reconnectDelayMs(times, maxDelay),
  };
}

/**
 * Creates a Valkey client with bounded timeouts: connect and command timeouts (~2 s), one retry
 * per request, no offline queue once connected (commands fail immediately while the server is
 * unreachable) and reconnects with capped backoff forever. Connection errors are logged, never
 * thrown as unhandled `error` events.
 */
export function createRedis(url: string, o: CreateRedisOptions = {}): Redis {
  // ioredis lets a user or password in the URL win over the options: drop the ones the options set.
  const redis = new Redis(withoutCredentials(url, o), redisOptions(o));
  const where = redactUrl(url);
  let lastError = '';
  let wasReady = false;
  let lost = false;
  redis.on('ready', () => {
    redis.options.enableOfflineQueue = false;
    if (lost) o.logger?.info({ redis: where }, 'Valkey connection restored');
    wasReady = true;
    lost = false;
    lastError = '';
  });
  redis.on('close', () => {
    if (!wasReady || lost) return;
    lost = true;
    o.logger?.warn({ redis: where }, 'Valkey connection lost; reconnecting');
  });
  redis.on('error', (err: Error) => {
    // Log each distinct failure once per outage instead of once per reconnect attempt.
    if (err.message === lastError) return;
    lastError = err.message;
    o.logger?.warn({ redis: where, err: err.message }, 'Valkey connection error');
  });
  return redis;
}

function withoutCredentials(url: string, o: CreateRedisOptions): string {
  if (o.username === undefined && o.password === undefined) return url;
  try {
    const u = new URL(url);
    if (o.username !== undefined) u.username = '';
    if (o.password !== undefined) u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** `redis://user:secret@host:6379/0` → `redis://host:6379/0` (never log credentials). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid Valkey URL)';
  }
}
