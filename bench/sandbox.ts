/**
 * What the sandbox adds to one Bash call: a trivial command (`true`) run through runShell with the
 * bubblewrap sandbox and without it (BOTBURROW_SANDBOX=none), alternating so both see the same
 * machine, and the median, p99 and max of each plus the difference. Target: under 20 ms median.
 *
 *   npx tsx bench/sandbox.ts [--calls 300]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createSandbox } from '../activities/sandbox';
import type { Sandbox } from '../activities/sandbox';
import { runShell } from '../activities/tools/shell';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '300' } } });
const CALLS = Number(values.calls);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function once(sandbox: Sandbox, cwd: string): Promise<number> {
  const t = process.hrtime.bigint();
  const r = await runShell({
    command: 'true',
    cwd,
    env: { PATH: '/usr/bin:/bin', HOME: cwd },
    timeoutMs: 10_000,
    maxOutputBytes: 1024,
    sandbox,
  });
  if (r.exitCode !== 0) throw new Error(`command failed: ${r.output}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function main(): Promise<void> {
  const logger = pino({ level: 'silent' });
  const boxed = await createSandbox({ mode: 'bwrap', logger });
  if (boxed.unavailable) throw new Error(boxed.unavailable);
  const none = await createSandbox({ mode: 'none', logger });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bb-bench-sandbox-'));
  await boxed.prepareWorkspace(dir);
  const times = { bwrap: [] as number[], none: [] as number[] };
  for (let i = 0; i < 20; i++) await once(boxed, dir); // warm-up, uncounted
  for (let i = 0; i < CALLS; i++) {
    times.bwrap.push(await once(boxed, dir));
    times.none.push(await once(none, dir));
  }
  await rm(dir, { recursive: true, force: true });
  const row = (name: string, xs: number[]): number[] => {
    const s = [...xs].sort((a, b) => a - b);
    const r = [pct(s, 50), pct(s, 99), s[s.length - 1] ?? NaN];
    console.log(
      `${name.padEnd(12)} median ${r[0]!.toFixed(2)} ms  p99 ${r[1]!.toFixed(2)} ms  max ${r[2]!.toFixed(2)} ms`,
    );
    return r;
  };
  console.log(`Bash call of 'true', ${CALLS} calls each, alternating (${os.cpus().length} CPUs)`);
  const b = row('sandboxed', times.bwrap);
  const n = row('unconfined', times.none);
  console.log(
    `added by the sandbox: median ${(b[0]! - n[0]!).toFixed(2)} ms, p99 ${(b[1]! - n[1]!).toFixed(2)} ms (target: median < 20 ms)`,
  );
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
