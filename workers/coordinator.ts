/**
 * Coordinator process: leader election, Hub polling and scheduling of activations
 * (lib/coordinator). Runs as two replicas; only the lease holder polls and schedules.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { dataConverter, logCodecState, payloadCodec } from '../lib/codec';
import { codecServerRoute } from '../lib/codec-server';
import { loadSettingsOrExit } from '../lib/config';
import { buildCoordinator, newOwnerId, readinessChecks } from '../lib/coordinator';
import {
  AgentRegistry,
  cacheInvalidateRoute,
  createDefinitionStore,
  validateStore,
} from '../lib/definitions';
import type { DefinitionStore } from '../lib/definitions';
import type { Logger } from '../lib/logger';
import { createGuards } from '../lib/guards';
import { startOpsServer } from '../lib/http-server';
import { HubClient } from '../lib/hub/client';
import { Keys } from '../lib/keys';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { createRedis, redisAuth } from '../lib/redis';
import { temporalConnectionOptions } from '../lib/temporal';
import { installTracing } from '../lib/tracing';

async function main(): Promise<void> {
  const settings = loadSettingsOrExit();
  const ownerId = newOwnerId();
  const logger = createLogger('coordinator', settings.logLevel).child({ owner: ownerId });
  const metrics = createMetrics(undefined, { process: 'coordinator' });
  const keys = new Keys(settings.keyPrefix);
  const redis = createRedis(settings.redisUrl, { logger, name: 'coordinator', ...redisAuth(settings) });
  // Lazy: a Temporal that is down at start is an outage to ride out, not a reason to exit.
  const connection = Connection.lazy(temporalConnectionOptions(settings));
  const tracing = await installTracing(settings, 'coordinator', { logger });
  const temporal = new Client({
    connection,
    namespace: settings.temporalNamespace,
    dataConverter: dataConverter(settings),
    interceptors: tracing.clientInterceptors,
  });
  logCodecState(settings, logger);
  const hub = new HubClient({
    baseUrl: settings.hubUrl,
    apiKey: settings.hubApiKey,
    timeoutMs: settings.hubTimeout * 1000,
    // The coordinator's loops own the backoff (and log Hub outages once); keep in-call retries short.
    maxRetries: 1,
    clientId: ownerId,
    logger,
  });
  const guards = createGuards(redis, keys, settings, { metrics });
  const store = createDefinitionStore(settings);
  const registry = new AgentRegistry({ store, redis, keys, logger });
  const coordinator = buildCoordinator({
    ownerId,
    redis,
    keys,
    hub,
    temporal,
    guards: { pauseFlags: guards.pause, breaker: guards.breaker },
    registry,
    metrics,
    logger,
    settings,
  });
  const ops = await startOpsServer({
    port: settings.metricsPort ?? 9090,
    registry: metrics.registry,
    logger,
    readiness: readinessChecks(redis, temporal),
    routes: opsRoutes(settings, registry, logger),
  });
  try {
    coordinator.start();
    void reportDefinitions(store, logger);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    logger.info({ signal }, 'stopping: releasing the leader lease');
    // A stuck dependency must not keep a stopping pod alive; the lease then expires by itself.
    setTimeout(() => {
      logger.error('shutdown took longer than 10 s: exiting anyway');
      process.exit(1);
    }, 10_000).unref();
  } finally {
    await coordinator.stop();
    await ops.close();
    await tracing.shutdown();
    redis.disconnect();
    await connection.close();
  }
}

/** Admin routes, plus the codec server when payloads are encrypted (lib/codec-server.ts). */
function opsRoutes(
  settings: ReturnType<typeof loadSettingsOrExit>,
  registry: AgentRegistry,
  logger: Logger,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const admin = cacheInvalidateRoute({ registry, token: settings.adminToken });
  const codec = payloadCodec(settings.codecKeys);
  if (!codec) return admin;
  const codecRoute = codecServerRoute({
    codec,
    token: settings.codecToken,
    corsOrigins: settings.codecCorsOrigins,
    logger,
  });
  logger.info(
    { path: '/codec', auth: settings.codecToken ? 'bearer token' : 'loopback only' },
    'codec server on the ops server',
  );
  return async (req, res) => (await codecRoute(req, res)) || admin(req, res);
}

/**
 * Once at start: what `botburrow agents validate` would say, so an agent that cannot run (a type no
 * runner executes, a definition that does not load) is in the log before anyone wonders why it is silent.
 */
async function reportDefinitions(store: DefinitionStore, logger: Logger): Promise<void> {
  try {
    const r = await validateStore(store);
    const errors = r.problems.filter((p) => p.severity === 'error');
    for (const p of errors) logger.warn({ definitions: r.where }, `definition problem: ${p.message}`);
    logger.info(
      { definitions: r.where, agents: r.agents, skills: r.skills, errors: errors.length },
      'definitions checked',
    );
  } catch (err) {
    logger.warn({ err, definitions: store.describe() }, 'definitions could not be checked at start');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `coordinator: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
