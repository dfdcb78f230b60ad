#!/usr/bin/env node
/**
 * `botburrow`: the operator CLI (see `botburrow --help` and README "Operator CLI"). This file only
 * wires the real Temporal, Valkey and definition store into `runCli`.
 */
import { configKey, createDefinitionStore } from '../lib/definitions';
import type { CliContext } from './context';
import { runCli } from './main';
import { connectTemporal } from './temporal';
import { connectValkey } from './valkey';

const context: CliContext = {
  env: process.env,
  output: {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  },
  now: Date.now,
  connectTemporal: (s) => connectTemporal(s),
  connectValkey: (s) => connectValkey(s),
  definitions(s) {
    const store = createDefinitionStore(s);
    return {
      where: store.describe(),
      exists: async (agentId) => (await store.readText(configKey(agentId))) !== null,
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
