#!/usr/bin/env node
/**
 * `botburrow`: the operator CLI (see `botburrow --help` and README "Operator CLI"). This file only
 * wires the real Temporal, Valkey and definition store into `runCli`. Each is loaded on first use,
 * so a command starts without the SDKs it does not need (the S3 SDK alone takes a second).
 */
import type { CliContext } from './context';
import { withLocalRunSettings } from './local-run';
import { runCli } from './main';

const context: CliContext = {
  // Without TEMPORAL_ADDRESS & co. in the environment, a running local run's settings file.
  env: withLocalRunSettings(process.env, process.cwd()).env,
  output: {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  },
  now: Date.now,
  connectTemporal: async (s) => (await import('./temporal.js')).connectTemporal(s),
  connectValkey: async (s) => (await import('./valkey.js')).connectValkey(s),
  async definitions(s) {
    const [{ createDefinitionStore, LocalDefinitionStore }, { configKey }, { validateStore }] =
      await Promise.all([
        import('../lib/definitions/store.js'),
        import('../lib/definitions/registry.js'),
        import('../lib/definitions/validate.js'),
      ]);
    const store = createDefinitionStore(s);
    return {
      where: store.describe(),
      exists: async (agentId) => (await store.readText(configKey(agentId))) !== null,
      validate: (dir) => validateStore(dir === undefined ? store : new LocalDefinitionStore(dir)),
    };
  },
};

runCli(process.argv.slice(2), context).then(
  (code) => {
    // Exit explicitly: an abandoned long poll (a --timeout wait) must not keep the process alive.
    process.exitCode = code;
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`botburrow: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
