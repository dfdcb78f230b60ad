#!/usr/bin/env node
/**
 * `botburrow`: the operator CLI (see `botburrow --help` and README "Operator CLI"). This file only
 * wires the real Temporal, Valkey and definition store into `runCli`. Each is loaded on first use,
 * so a command starts without the SDKs it does not need (the S3 SDK alone takes a second).
 */
import type { CliContext } from './context';
import { localRunHint, withLocalRunSettings } from './local-run';
import { runCli } from './main';

// Without TEMPORAL_ADDRESS & co. in the environment, a running local run's settings file.
const local = withLocalRunSettings(process.env, process.cwd());

const context: CliContext = {
  env: local.env,
  output: {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  },
  now: Date.now,
  connectTemporal: async (s) => (await import('./temporal.js')).connectTemporal(s),
  connectValkey: async (s) => (await import('./valkey.js')).connectValkey(s),
  async definitions(s) {
    const [
      { createDefinitionStore, LocalDefinitionStore },
      { configKey },
      { validateStore },
      { ModelProviders },
    ] = await Promise.all([
      import('../lib/definitions/store.js'),
      import('../lib/definitions/registry.js'),
      import('../lib/definitions/validate.js'),
      import('../activities/models/providers.js'),
    ]);
    const store = createDefinitionStore(s);
    // The runners' allow-lists of key variables and hosts, as these settings configure them.
    const providers = new ModelProviders(
      { keyEnvs: s.modelKeyEnvs, apiHosts: s.modelApiHosts, baseUrls: {}, timeoutMs: 1000 },
      {},
    );
    return {
      where: store.describe(),
      exists: async (agentId) => (await store.readText(configKey(agentId))) !== null,
      validate: (dir) =>
        validateStore(dir === undefined ? store : new LocalDefinitionStore(dir), {
          checkBrain: (b) => providers.refusal(b),
        }),
    };
  },
};

runCli(process.argv.slice(2), context).then(
  (code) => {
    const hint = localRunHint(code, local.file);
    if (hint) process.stderr.write(`${hint}\n`);
    // Exit explicitly: an abandoned long poll (a --timeout wait) must not keep the process alive.
    process.exitCode = code;
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`botburrow: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
