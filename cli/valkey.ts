/**
 * `ValkeyApi` on a real Valkey: the guards (pause flags, circuit breaker, budget) and the agent
 * definition cache, exactly as the runners see them (same key prefix, same settings). The first
 * PING is bounded, so an unreachable server fails the command in seconds.
 */
import type { Redis } from 'ioredis';
import pino from 'pino';
import type { Settings } from '../lib/config';
import { AgentRegistry } from '../lib/definitions/registry';
import { DefinitionError } from '../lib/errors';
import { GuardUnavailableError, createGuards, isUnavailableError } from '../lib/guards';
import { Keys } from '../lib/keys';
import { createRedis, redactUrl, redisAuth } from '../lib/redis';
import type { ValkeyApi } from './context';
import { CliError, ExitCode } from './errors';

/** The operator-facing message for "cannot reach Valkey at `url`". */
export function valkeyUnreachableMessage(url: string, cause: string): string {
  return (
    `Valkey not reachable at ${redactUrl(url)} (BOTBURROW_REDIS_URL): is the server running? ` +
    `Start it with ./scripts/start.sh or set BOTBURROW_REDIS_URL. (${cause})`
  );
}

/** The operator-facing message for "Valkey answered but refused the login". */
export function valkeyLoginRefusedMessage(url: string, user: string | undefined, cause: string): string {
  return (
    `Valkey refused the login as ${user ?? 'default'} at ${redactUrl(url)}: check ` +
    `BOTBURROW_REDIS_USERNAME and BOTBURROW_REDIS_PASSWORD (or the user in BOTBURROW_REDIS_URL). (${cause})`
  );
}

const LOGIN_REFUSED = /WRONGPASS|NOAUTH|NOPERM/;

/** Connects and PINGs within `timeoutMs`; throws `CliError` 5 when Valkey does not answer. */
export async function connectValkey(s: Settings, o: { timeoutMs?: number } = {}): Promise<ValkeyApi> {
  const timeoutMs = o.timeoutMs ?? 3000;
  const redis = createRedis(s.redisUrl, {
    name: 'botburrow-cli',
    connectTimeoutMs: timeoutMs,
    commandTimeoutMs: timeoutMs,
    ...redisAuth(s),
  });
  let timer: NodeJS.Timeout | undefined;
  // The socket error ("connect ECONNREFUSED …") says more than the failed command's own error.
  let socketError: string | undefined;
  const onError = (err: Error): void => {
    socketError ??= err.message;
  };
  redis.on('error', onError);
  try {
    await Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    redis.disconnect();
    const cause = socketError ?? (err as Error).message;
    throw new CliError(
      ExitCode.valkeyUnreachable,
      LOGIN_REFUSED.test(cause)
        ? valkeyLoginRefusedMessage(s.redisUrl, s.redisUsername ?? urlUser(s.redisUrl), cause)
        : valkeyUnreachableMessage(s.redisUrl, cause),
    );
  } finally {
    clearTimeout(timer);
    redis.off('error', onError);
  }
  return valkeyApi(redis, s);
}

function valkeyApi(redis: Redis, s: Settings): ValkeyApi {
  const keys = new Keys(s.keyPrefix);
  const guards = createGuards(redis, keys, s);
  // Warnings only, and on stderr: stdout is the command's output.
  const logger = pino({ name: 'botburrow-cli', level: 'warn' }, pino.destination(2));
  let registry: AgentRegistry | undefined;
  const where = redactUrl(s.redisUrl) + (s.keyPrefix ? ` prefix ${s.keyPrefix}` : '');

  const call = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      // Our own errors (an invalid agent id) are not outages, whatever isUnavailableError says.
      const ours = err instanceof DefinitionError || err instanceof CliError;
      if (err instanceof GuardUnavailableError || (!ours && isUnavailableError(err))) {
        throw new CliError(
          ExitCode.valkeyUnreachable,
          valkeyUnreachableMessage(s.redisUrl, `${operation}: ${(err as Error).message}`),
        );
      }
      throw err;
    }
  };

  return {
    where,
    pause: (agentId, reason) => call('pause', () => guards.pause.pause(agentId, reason)),
    resume: (agentId) => call('resume', () => guards.pause.resume(agentId)),
    isPaused: (agentId) => call('pause check', () => guards.pause.isPaused(agentId)),
    breakerStatus: (agentId) => call('breaker status', () => guards.breaker.status(agentId)),
    breakerReset: (agentId) => call('breaker reset', () => guards.breaker.reset(agentId)),
    budgetStatus: (agentId) => call('budget status', () => guards.budget.status(agentId)),
    invalidateCache: (agentId) =>
      call('cache invalidate', async () => {
        // Loaded here only: the store module pulls in the S3 SDK, which no other command needs
        // (and invalidation never reads the store anyway).
        const { createDefinitionStore } = await import('../lib/definitions/store.js');
        registry ??= new AgentRegistry({ store: createDefinitionStore(s), redis, keys, logger });
        return registry.invalidate(agentId);
      }),
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

function urlUser(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).username) || undefined;
  } catch {
    return undefined;
  }
}
