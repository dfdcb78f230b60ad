/**
 * Shared plumbing of the guards: server-side scripts registered with ioredis `defineCommand`
 * (sent as EVALSHA, re-sent as EVAL after a server restart flushed the script cache), and the
 * translation of "Valkey did not answer" into `GuardUnavailableError`.
 */
import type { Redis } from 'ioredis';
import { ReplyError } from 'ioredis';
import { GuardUnavailableError } from '../errors';

/** A Lua script callable with its keys and arguments. */
export type Script = (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

type ScriptCommand = (numKeys: number, ...rest: (string | number)[]) => Promise<unknown>;

/**
 * Registers `lua` on `redis` under `name` (once per client) and returns a typed caller. Every call
 * goes through `guarded`, so connection failures surface as `GuardUnavailableError`.
 */
export function defineScript(redis: Redis, name: string, lua: string, operation: string): Script {
  const commands = redis as unknown as Record<string, ScriptCommand | undefined>;
  if (typeof commands[name] !== 'function') {
    // No numberOfKeys: the caller passes the key count first, so one script serves optional keys.
    redis.defineCommand(name, { lua });
  }
  const command = commands[name] as ScriptCommand;
  return (keys, args) => guarded(redis, operation, () => command.call(redis, keys.length, ...keys, ...args));
}

/** Server replies that mean "not available right now" rather than "your script is wrong". */
const UNAVAILABLE_REPLIES = ['LOADING', 'BUSY', 'MASTERDOWN', 'READONLY', 'TRYAGAIN', 'CLUSTERDOWN'];

/**
 * True when `err` means Valkey did not answer (connect error, timeout, closed connection, server
 * loading or busy) as opposed to a bug in a script or its arguments.
 */
export function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof ReplyError) {
    const code = err.message.split(' ', 1)[0] ?? '';
    return UNAVAILABLE_REPLIES.includes(code);
  }
  // Programming errors are not outages; everything else ioredis throws is about the connection.
  return !(err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError);
}

/** `host:port` (or socket path) of a client, for error messages. */
export function describeServer(redis: Redis): string {
  const { host, port, path } = redis.options;
  return path ? path : `${host ?? 'localhost'}:${port ?? 6379}`;
}

/** The message of the fail-safe error (pure, unit-tested). */
export function unavailableMessage(server: string, operation: string, cause: string): string {
  return `Valkey unreachable at ${server} (${operation}): ${cause}; no budget spent unguarded`;
}

/**
 * Runs one Valkey operation; a connection failure becomes a (retryable) `GuardUnavailableError`
 * naming the server and operation, anything else (a script bug) is rethrown unchanged.
 */
export async function guarded<T>(redis: Redis, operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isUnavailableError(err)) throw err;
    const message = (err as Error).message;
    // ioredis' wording for "the connection is down and we do not queue" says little to operators.
    const cause = message.includes('enableOfflineQueue') ? 'not connected (reconnecting)' : message;
    throw new GuardUnavailableError(unavailableMessage(describeServer(redis), operation, cause), {
      cause: err,
    });
  }
}

/** Lua returns integers; anything else from our own scripts is a bug worth a clear message. */
export function asNumbers(reply: unknown, script: string): number[] {
  if (!Array.isArray(reply)) throw new Error(`${script}: expected an array reply, got ${typeof reply}`);
  return reply.map((v, i) => {
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(n)) throw new Error(`${script}: reply[${i}] is not a number: ${String(v)}`);
    return n;
  });
}
