/**
 * Real processes for tests: a project entry point run by Node with the tsx loader (one process, so
 * a signal reaches the program itself), with its output kept for failure messages.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
/** Preload that ends a started process when the test process goes away. */
export const EXIT_WITH_PARENT = path.join(__dirname, 'exit-with-parent.cjs');

export interface TestProcess {
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<number | NodeJS.Signals>;
  /** Resolves once a line matching `pattern` was printed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  signal(sig: NodeJS.Signals): void;
}

/** Starts `node --import tsx <entry> [args]` with `env` on top of a minimal environment. */
export function startEntry(entry: string, env: Record<string, string>, args: string[] = []): TestProcess {
  const child = spawn(
    process.execPath,
    ['--require', EXIT_WITH_PARENT, '--import', 'tsx', path.join(ROOT, entry), ...args],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      // stdin stays an open pipe: the child ends itself when it closes (see exit-with-parent.cjs).
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (b: Buffer): void => {
    out += b.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, sig) => resolve(code ?? sig ?? 'SIGKILL')),
  );
  return {
    child,
    output: () => out,
    exited,
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(out)) {
            cleanup();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `${entry}: no output matching ${pattern} within ${timeoutMs} ms; output:\n${out.slice(-3000)}`,
            ),
          );
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
  };
}

/** Starts workers/runner.ts as a real process and resolves once its workers run. */
export async function startRunnerProcess(env: Record<string, string>): Promise<TestProcess> {
  const p = startEntry('workers/runner.ts', {
    ...env,
    BOTBURROW_METRICS_PORT: '0',
    BOTBURROW_LOG_LEVEL: 'info',
  });
  try {
    await p.waitFor(/"msg":"runner started"/);
  } catch (err) {
    p.signal('SIGKILL');
    throw err;
  }
  return p;
}

/**
 * Live (not zombie) processes of this PID namespace with `arg` among their arguments. Sandboxed
 * processes run in a PID namespace of their own, so a pid they report means nothing out here; their
 * arguments (or bwrap's, which name the workspace) find them.
 */
export function processesWithArg(arg: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(arg)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
