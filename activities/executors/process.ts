/**
 * What every CLI executor does with its process, in one place: find the binary (and tell a real
 * one from the placeholder an npm package ships until its install script runs), and run the
 * sandboxed command in its own process group, one JSON event per stdout line, ended as a group on
 * cancel or timeout, with nothing it started left behind.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { SandboxedCommand } from '../sandbox';
import { CliCancelled } from './types';

/** Larger than the npm placeholders (about 500 B), far smaller than any real CLI binary. */
const PLACEHOLDER_MAX_BYTES = 64 * 1024;
/** Grace between SIGTERM and SIGKILL of the group on cancel or timeout (the 5 s promise). */
const KILL_GRACE_MS = 1_500;
/** How much of the CLI's stderr is kept for an error message. */
const MAX_STDERR_CHARS = 16_000;

/** `binary`, or why it cannot run: absent, or the npm placeholder its install script replaces. */
export function locateCliBinary(
  binary: string,
  o: { name: string; pkg: string },
): { path: string } | { missing: string } {
  const size = statSync(binary, { throwIfNoEntry: false })?.size;
  if (size === undefined) {
    return { missing: `the ${o.name} CLI is not installed (${binary}); run scripts/provision.sh` };
  }
  if (size < PLACEHOLDER_MAX_BYTES) {
    return {
      missing: `${binary} is the npm placeholder, not the ${o.name} binary (installed with --ignore-scripts?); run npm rebuild ${o.pkg}`,
    };
  }
  return { path: binary };
}

export interface CliProcessExit {
  code: number | null;
  /** Set when the process could not be started. */
  error?: Error;
  /** The run was ended because it passed `timeoutMs`. */
  timedOut: boolean;
  /** The run was ended because `onLine` said 'stop'. */
  ended: boolean;
  /** The tail of its stderr. */
  stderr: string;
}

/**
 * Runs `boxed` to its end, feeding each stdout line that is JSON to `onEvent` (other lines are
 * not events and are skipped), or every line as text to `onLine` for a CLI that prints no JSON
 * (aider); `onLine` returning 'stop' ends the run (`ended`), for a CLI that would otherwise retry
 * what cannot succeed. `signal` or `timeoutMs` end the whole process group (SIGTERM, then
 * SIGKILL); on `signal` it rejects with `CliCancelled` once the group is gone.
 */
export async function runCliProcess<E>(
  boxed: SandboxedCommand,
  o: { stdin?: string; timeoutMs: number; signal: AbortSignal } & (
    | { onEvent: (event: E) => void; onLine?: undefined }
    | { onLine: (line: string) => 'stop' | undefined; onEvent?: undefined }
  ),
): Promise<CliProcessExit> {
  const child = spawn(boxed.command, boxed.args, {
    cwd: boxed.cwd,
    env: boxed.env,
    uid: boxed.uid,
    gid: boxed.gid,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.on('error', () => undefined); // a CLI that never starts closes it early
  child.stdin.end(o.stdin ?? '');
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    if (stderr.length < MAX_STDERR_CHARS) stderr += b.toString('utf8');
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (o.onLine) {
      if (o.onLine(line) === 'stop') stopGroup('ended');
      return;
    }
    let event: E;
    try {
      event = JSON.parse(line) as E;
    } catch {
      return;
    }
    o.onEvent?.(event);
  });

  let stopped: 'cancelled' | 'timeout' | 'ended' | undefined;
  const stopGroup = (why: 'cancelled' | 'timeout' | 'ended'): void => {
    stopped ??= why;
    signalGroup(child.pid, 'SIGTERM');
    setTimeout(() => signalGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS).unref();
  };
  const timer = setTimeout(() => stopGroup('timeout'), o.timeoutMs);
  const onAbort = (): void => stopGroup('cancelled');
  o.signal.addEventListener('abort', onAbort, { once: true });
  if (o.signal.aborted) onAbort();

  const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  clearTimeout(timer);
  o.signal.removeEventListener('abort', onAbort);
  // Nothing the CLI started outlives it.
  signalGroup(child.pid, 'SIGKILL');
  if (stopped === 'cancelled') throw new CliCancelled();
  return { ...exit, timedOut: stopped === 'timeout', ended: stopped === 'ended', stderr };
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}
