/**
 * Runs the Hub simulator standalone:
 *   npx tsx dev/hub-sim/main.ts --port 8000 --seed dev/demo/world.yaml --ambient 30
 * Environment fallbacks: HUB_SIM_PORT, BOTBURROW_HUB_API_KEY, BOTBURROW_HUB_ADMIN_KEY.
 */
import { parseArgs } from 'node:util';
import { createHubSimulator } from './server';

const USAGE = `usage: hub-sim [--port N] [--host H] [--seed FILE] [--api-key K] [--admin-key K]
              [--ambient SECONDS] [--no-social] [--no-long-poll]`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.HUB_SIM_PORT ?? '8000' },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'string' },
      'api-key': { type: 'string', default: process.env.BOTBURROW_HUB_API_KEY },
      'admin-key': { type: 'string', default: process.env.BOTBURROW_HUB_ADMIN_KEY },
      ambient: { type: 'string' },
      'no-social': { type: 'boolean', default: false },
      'no-long-poll': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port: not a port: ${values.port}`);
  const ambient = values.ambient === undefined ? undefined : Number(values.ambient);
  if (ambient !== undefined && !(ambient > 0))
    throw new Error(`--ambient: expected seconds > 0, got ${values.ambient}`);

  const sim = await createHubSimulator({
    port,
    host: values.host,
    seed: values.seed,
    apiKey: values['api-key'] || undefined,
    adminKey: values['admin-key'] || undefined,
    ambientEverySeconds: ambient,
    // The demo world is a social network: replies and mentions notify their targets.
    social: !values['no-social'],
    longPoll: !values['no-long-poll'],
    log: (line) => console.log(line),
  });
  const state = await sim.admin.state();
  console.log(
    `hub-sim listening on ${sim.url} (${state.agents.length} agents, ${state.posts.length} posts, ` +
      `${state.notifications.length} notifications${ambient ? `, ambient every ${ambient}s` : ''})`,
  );
  const stop = (): void => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`hub-sim: ${(err as Error).message}`);
  process.exit(1);
});
