/**
 * Starts an isolated, in-memory, headless Temporal dev server and a Valkey on free ports for the
 * integration suite and hands their addresses to the tests (`inject('temporalAddress')`). Both run
 * under the watchdog, so they stop with this process even when the run is interrupted. Valkey
 * requires a login with the users of k8s/base/valkey-acl.sh; the tests connect as `runner`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { startTemporal, startValkey } from '../../dev/services';
import type { ValkeyRole } from './valkey-acl';
import { passwordEnv, randomPasswords, renderValkeyAcl, roleUrl } from './valkey-acl';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    redisUrl: string;
    /** The Valkey without credentials, and each ACL user's password. */
    valkeyBareUrl: string;
    valkeyPasswords: Record<ValkeyRole, string>;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const logDir = path.resolve(__dirname, '../../.data/test-logs');
  fs.mkdirSync(logDir, { recursive: true });
  const passwords = randomPasswords();
  const authDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-suite-valkey-'));
  const aclFile = path.join(authDir, 'users.acl');
  renderValkeyAcl(aclFile, passwordEnv(passwords));
  const [temporal, valkey] = await Promise.all([
    startTemporal({ logFile: path.join(logDir, 'temporal.log') }),
    startValkey({ logFile: path.join(logDir, 'valkey.log'), aclFile }),
  ]);
  project.provide('temporalAddress', temporal.address);
  project.provide('redisUrl', roleUrl(valkey.url, 'runner', passwords.runner));
  project.provide('valkeyBareUrl', valkey.url);
  project.provide('valkeyPasswords', passwords);
  return async () => {
    await Promise.all([temporal.stop(), valkey.stop()]);
    fs.rmSync(authDir, { recursive: true, force: true });
  };
}
