/**
 * Guard throughput and latency against a local Valkey this script starts itself.
 *
 *   npx tsx bench/guards.ts [--seconds 3] [--concurrency 50]
 *
 * Each scenario runs `concurrency` callers in a loop for `seconds` on one ioredis client (as one
 * runner process would) and prints operations per second and p50/p99/max latency per operation.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { startValkey, toolPaths } from '../dev/services';
import { BehaviorLimits } from '../lib/guards/limits';
import { BudgetGuard } from '../lib/guards/budget';
import { CircuitBreaker } from '../lib/guards/breaker';
import { Keys } from '../lib/keys';
import { createRedis } from '../lib/redis';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '50' } },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);

interface Result {
  name: string;
  ops: number;
  seconds: number;
  latenciesMs: number[];
}

/** Runs `op(worker, i)` from `CONCURRENCY` concurrent loops for `SECONDS`. */
async function run(name: string, op: (worker: number, i: number) => Promise<unknown>): Promise<Result> {
  // Warm up (script load, connection) outside the measurement.
  for (let i = 0; i < 50; i++) await op(0, -i - 1);
  const latenciesMs: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const t = performance.now();
        await op(worker, i);
        latenciesMs.push(performance.now() - t);
      }
    }),
  );
  return { name, ops: latenciesMs.length, seconds: (performance.now() - started) / 1000, latenciesMs };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function report(r: Result): void {
  const sorted = [...r.latenciesMs].sort((a, b) => a - b);
  const row = [
    r.name.padEnd(52),
    String(Math.round(r.ops / r.seconds)).padStart(8),
    percentile(sorted, 50).toFixed(2).padStart(8),
    percentile(sorted, 99).toFixed(2).padStart(8),
    (sorted[sorted.length - 1] ?? NaN).toFixed(2).padStart(8),
    String(r.ops).padStart(8),
  ];
  console.log(row.join(' '));
}

async function main(): Promise<void> {
  const valkey = await startValkey();
  const redis = createRedis(valkey.url, { name: 'bench' });
  const serverVersion = execFileSync(toolPaths().valkey, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`guards bench: ${serverVersion}`);
  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs, concurrency ${CONCURRENCY}, ${SECONDS} s per scenario`,
  );
  console.log(
    [
      'scenario'.padEnd(52),
      'ops/s'.padStart(8),
      'p50 ms'.padStart(8),
      'p99 ms'.padStart(8),
      'max ms'.padStart(8),
      'ops'.padStart(8),
    ].join(' '),
  );
  try {
    const keys = new Keys('bench:');
    const budget = (fleet?: number): BudgetGuard =>
      new BudgetGuard(redis, keys, {
        dailyTokenLimit: 1e15,
        monthlyCostLimitUsd: 1e9,
        fleetMonthlyCostLimitUsd: fleet,
        reservationTtlSeconds: 600,
      });
    const noCap = budget();
    const withCap = budget(1e9);

    report(
      await run('budget reserve+settle (1 agent, ≤50 open reservations)', async (w, i) => {
        const id = `one-${w}-${i}`;
        await noCap.reserve('agent-0', { reservationId: id, tokens: 5_000, costUsd: 0.05 });
        await noCap.settle('agent-0', id, { tokens: 3_000, costUsd: 0.03 });
      }),
    );
    report(
      await run('budget reserve+settle (50 agents)', async (w, i) => {
        const id = `many-${w}-${i}`;
        await noCap.reserve(`agent-${w}`, { reservationId: id, tokens: 5_000, costUsd: 0.05 });
        await noCap.settle(`agent-${w}`, id, { tokens: 3_000, costUsd: 0.03 });
      }),
    );
    report(
      await run('budget reserve+settle (50 agents, fleet cap on)', async (w, i) => {
        const id = `fleet-${w}-${i}`;
        await withCap.reserve(`agent-${w}`, { reservationId: id, tokens: 5_000, costUsd: 0.05 });
        await withCap.settle(`agent-${w}`, id, { tokens: 3_000, costUsd: 0.03 });
      }),
    );

    const breaker = new CircuitBreaker(redis, keys, { threshold: 5, baseSeconds: 60, maxSeconds: 3600 });
    report(await run('breaker check (closed, 50 agents)', (w, i) => breaker.check(`agent-${w}`, `wf-${i}`)));
    for (let w = 0; w < CONCURRENCY; w++) {
      for (let f = 0; f < 5; f++) await breaker.recordFailure(`open-${w}`);
    }
    report(await run('breaker check (open, 50 agents)', (w, i) => breaker.check(`open-${w}`, `wf-${i}`)));
    report(
      await run('breaker recordFailure+recordSuccess (50 agents)', async (w) => {
        await breaker.recordFailure(`flap-${w}`);
        await breaker.recordSuccess(`flap-${w}`);
      }),
    );

    const limits = new BehaviorLimits(redis, keys);
    const open = {
      max_daily_posts: 1e9,
      max_daily_comments: 1e9,
      max_responses_per_thread: 1e9,
      min_interval_seconds: 0,
    };
    report(
      await run('limits acquire (comment in a thread, 50 agents)', (w, i) =>
        limits.acquire(`agent-${w}`, { kind: 'comment', threadId: `p${i % 10}`, limits: open }),
      ),
    );
    report(
      await run('limits acquire+release (1 agent)', async (_w, i) => {
        const r = await limits.acquire('agent-0', { kind: 'comment', threadId: `p${i % 10}`, limits: open });
        if (r.ok) await limits.release('agent-0', r.token);
      }),
    );
  } finally {
    redis.disconnect();
    await valkey.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
