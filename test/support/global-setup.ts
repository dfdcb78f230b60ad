/**
 * Starts an isolated, in-memory, headless Temporal dev server and a Valkey on free ports for the
 * integration suite and hands their addresses to the tests (`inject('temporalAddress')`). Both run
 * under the watchdog, so they stop with this process even when the run is interrupted.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { startTemporal, startValkey } from '../../dev/services';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const logDir = path.resolve(__dirname, '../../.data/test-logs');
  fs.mkdirSync(logDir, { recursive: true });
  const [temporal, valkey] = await Promise.all([
    startTemporal({ logFile: path.join(logDir, 'temporal.log') }),
    startValkey({ logFile: path.join(logDir, 'valkey.log') }),
  ]);
  project.provide('temporalAddress', temporal.address);
  project.provide('redisUrl', valkey.url);
  return async () => {
    await Promise.all([temporal.stop(), valkey.stop()]);
  };
}
