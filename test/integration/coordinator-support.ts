/**
 * Helpers for the coordinator's integration tests: real coordinator processes (workers/coordinator.ts
 * run by node with tsx), their JSON logs, and checks against Temporal's visibility.
 */
import { spawn } from 'node:child_process';
import { EXIT_WITH_PARENT } from '../support/processes';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { activationWorkflowId } from '../../lib/contract';

const ROOT = path.resolve(__dirname, '../..');

export interface LogLine {
  level: string;
  msg: string;
  time: string;
  owner?: string;
  [k: string]: unknown;
}

export interface CoordinatorProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly lines: LogLine[];
  /** Lease owner id (from the first log line that carries it). */
  owner(): string | undefined;
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string | null>;
  /** The first log line (from `fromIndex`) matching `pred`, waiting up to `timeoutMs`. */
  waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, fromIndex?: number): Promise<LogLine>;
  /** True when the last leadership event in the log is an acquisition. */
  leading(): boolean;
  stderr(): string;
}

/** Starts `workers/coordinator.ts` in its own process with `env` on top of this process's environment. */
export function spawnCoordinator(name: string, env: Record<string, string>): CoordinatorProcess {
  const proc = spawn(
    process.execPath,
    ['--require', EXIT_WITH_PARENT, '--import', 'tsx', path.join(ROOT, 'workers/coordinator.ts')],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: LogLine[] = [];
  let err = '';
  let buf = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const raw = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(raw) as LogLine);
      } catch {
        err += `${raw}\n`;
      }
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  return {
    name,
    proc,
    lines,
    exited,
    owner: () => lines.find((l) => typeof l.owner === 'string')?.owner,
    async waitFor(pred, timeoutMs, fromIndex = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.slice(fromIndex).find(pred);
        if (hit) return hit;
        if (Date.now() > deadline || proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(
            `${name}: no matching log line within ${timeoutMs} ms; last lines:\n${lines
              .slice(-15)
              .map((l) => `${l.time} ${l.level} ${l.msg}`)
              .join('\n')}\nstderr: ${err.slice(-2000)}`,
          );
        }
        await sleep(25);
      }
    },
    leading() {
      const events = lines.filter((l) => l.msg === 'leadership acquired' || l.msg === 'leadership lost');
      return events.at(-1)?.msg === 'leadership acquired';
    },
    stderr: () => err,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastErr instanceof Error ? `: ${lastErr.message}` : ''}`,
      );
    }
    await sleep(everyMs);
  }
}

export interface RunInterval {
  runId: string;
  start: number;
  close: number | undefined;
  status: string;
}

/** Every run of the agent's activation workflow, from Temporal's visibility, oldest first. */
export async function activationRuns(client: Client, agentId: string): Promise<RunInterval[]> {
  const runs: RunInterval[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = "${activationWorkflowId(agentId)}"` })) {
    runs.push({
      runId: w.runId,
      start: w.startTime.getTime(),
      close: w.closeTime?.getTime(),
      status: w.status.name,
    });
  }
  return runs.sort((a, b) => a.start - b.start);
}

/** Pairs of runs of one agent whose lifetimes overlap (should be none). */
export function overlaps(runs: RunInterval[]): [RunInterval, RunInterval][] {
  const out: [RunInterval, RunInterval][] = [];
  for (let i = 0; i < runs.length; i++) {
    for (let j = i + 1; j < runs.length; j++) {
      const a = runs[i]!;
      const b = runs[j]!;
      const aEnd = a.close ?? Number.POSITIVE_INFINITY;
      const bEnd = b.close ?? Number.POSITIVE_INFINITY;
      if (a.start < bEnd && b.start < aEnd) out.push([a, b]);
    }
  }
  return out;
}

/** Environment for a coordinator process in tests: short TTL and intervals, a free ops port. */
export function coordinatorEnv(
  base: Record<string, string>,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...base,
    BOTBURROW_LEADER_TTL: '3',
    BOTBURROW_POLL_INTERVAL: '2',
    BOTBURROW_METRICS_PORT: '0',
    BOTBURROW_LOG_LEVEL: 'info',
    ...extra,
  };
}

/** GET `path` on a coordinator's ops server (port from its 'ops server listening' log line). */
export async function ops(p: CoordinatorProcess, urlPath: string): Promise<{ status: number; body: string }> {
  const line = await p.waitFor((l) => l.msg === 'ops server listening', 20_000);
  const res = await fetch(`http://127.0.0.1:${String(line.port)}${urlPath}`);
  return { status: res.status, body: await res.text() };
}
