/** The real sandbox for tests: bubblewrap, probed once per test file. */
import pino from 'pino';
import { createSandbox } from '../../activities/sandbox';
import type { Sandbox } from '../../activities/sandbox';

let shared: Promise<Sandbox> | undefined;

/** The sandbox the runner would use here; fails the test when it cannot start (it must, in CI). */
export async function realSandbox(): Promise<Sandbox> {
  shared ??= createSandbox({ mode: 'bwrap', logger: pino({ level: 'silent' }) });
  const sb = await shared;
  if (sb.unavailable) throw new Error(`the sandbox cannot start on this machine: ${sb.unavailable}`);
  return sb;
}
