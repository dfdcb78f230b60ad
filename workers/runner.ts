/**
 * Runner process: Temporal workers for the queues of BOTBURROW_RUNNER_MODE, `/metrics` `/health`
 * `/ready` on :9091. SIGTERM drains (the Temporal runtime stops polling; in-flight activities get
 * BOTBURROW_SHUTDOWN_GRACE seconds), then everything is closed.
 */
import { loadSettingsOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { startOpsServer } from '../lib/http-server';
import { installTracing } from '../lib/tracing';
import { installTemporalRuntime } from './runtime';
import { createRunner } from './runner-app';

async function main(): Promise<void> {
  const settings = loadSettingsOrExit();
  const logger = createLogger('runner', settings.logLevel);
  const metrics = createMetrics(undefined, { process: 'runner' });
  const temporalMetrics = await installTemporalRuntime(logger);
  const tracing = await installTracing(settings, 'runner', { logger });
  const runner = await createRunner({ settings, logger, metrics, tracing });
  const beat = setInterval(() => metrics.runnerHeartbeat.set(Date.now() / 1000), 5000);
  metrics.runnerHeartbeat.set(Date.now() / 1000);
  const ops = await startOpsServer({
    port: settings.metricsPort ?? 9091,
    registry: metrics.registry,
    logger,
    extraMetrics: temporalMetrics,
    readiness: {
      workers: () => runner.isRunning(),
      valkey: async () => (await runner.redis.ping()) === 'PONG',
    },
  });
  try {
    await runner.run();
  } finally {
    clearInterval(beat);
    await ops.close();
    await tracing.shutdown();
  }
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (/TransportError|tcp connect error|Connection refused/i.test(message)) {
    const address = process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
    process.stderr.write(
      `runner: Temporal not reachable at ${address} (TEMPORAL_ADDRESS): is the server running? ` +
        `Locally, ./scripts/start.sh starts one.\n${message}\n`,
    );
  } else {
    process.stderr.write(`runner failed: ${message}\n`);
  }
  process.exit(1);
});
