/**
 * The scripted model server under load, driven by the real SDK through `callModel`:
 *
 *   npx tsx bench/model-server.ts [--seconds 3] [--concurrency 16] [--held 500] [--delay-ms 2000]
 *
 * 1. instant mode: `concurrency` callers in a loop for `seconds` (a two-turn demo conversation
 *    with tools): requests per second and p50/p99/max latency.
 * 2. delayed mode (what the density benchmark uses): `held` calls at once against answers that
 *    take `delay-ms`: wall time, the most requests the server held open at once, and the overhead
 *    per call beyond the configured delay.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { callModel, createAnthropicClient } from '../activities/model';
import type { ModelRequest } from '../activities/model';
import { createModelServer } from '../dev/model-server/server';
import { hubToolSpecs } from '../lib/hub-tools';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    held: { type: 'string', default: '500' },
    'delay-ms': { type: 'string', default: '2000' },
  },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const HELD = Number(values.held);
const DELAY_MS = Number(values['delay-ms']);

const PROMPT = [
  '[Notification n1] Alice (@alice) mentioned you.',
  'Received at 2026-11-27T10:00:00Z.',
  'Their message:\nDo otters hold hands when they sleep?',
  'The thread (post id p42):\nPost p42 in m/nature by Alice (@alice)\nOtter facts\n\nComments:\n(none)',
  'If no response is needed, answer exactly NO_RESPONSE_NEEDED.',
].join('\n\n');

function request(): ModelRequest {
  return {
    model: 'claude-sonnet-4',
    system: 'You are Otto, a curious otter.',
    messages: [{ role: 'user', content: PROMPT }],
    tools: hubToolSpecs([]),
    maxTokens: 1024,
    temperature: 0.7,
  };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}); ` +
      `seconds=${SECONDS} concurrency=${CONCURRENCY} held=${HELD} delay=${DELAY_MS}ms`,
  );
  const server = await createModelServer({ instant: true });
  const client = createAnthropicClient({ baseURL: server.url, apiKey: 'bench', timeoutMs: 60_000 });
  try {
    // 1. Instant mode: raw request rate of server + SDK in one process.
    for (let i = 0; i < 50; i++) await callModel(client, request());
    server.clearRequests();
    const latencies: number[] = [];
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    const deadline = started + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < deadline) {
          const t = performance.now();
          const r = await callModel(client, request());
          if (r.content.length === 0) throw new Error('empty answer');
          latencies.push(performance.now() - t);
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    latencies.sort((a, b) => a - b);
    console.log(
      `instant: ${latencies.length} calls in ${elapsed.toFixed(2)} s = ${(latencies.length / elapsed).toFixed(0)} calls/s; ` +
        `latency p50 ${pct(latencies, 50).toFixed(2)} ms, p99 ${pct(latencies, 99).toFixed(2)} ms, max ${(latencies.at(-1) ?? NaN).toFixed(2)} ms; ` +
        `CPU ${((cpu.user + cpu.system) / 1000 / latencies.length).toFixed(2)} ms per call (SDK and server together), load average ${os.loadavg()[0]?.toFixed(1)}`,
    );

    // 2. Delayed mode: many calls held open at once.
    server.reset();
    server.configure({ instant: false, defaultDelayMs: DELAY_MS });
    const t0 = performance.now();
    const durations = await Promise.all(
      Array.from({ length: HELD }, async () => {
        const t = performance.now();
        await callModel(client, request());
        return performance.now() - t;
      }),
    );
    const wall = performance.now() - t0;
    durations.sort((a, b) => a - b);
    const stats = server.stats();
    const aborted = server.requests().filter((r) => r.aborted).length;
    console.log(
      `delayed: ${HELD} concurrent calls with ${DELAY_MS} ms answers took ${wall.toFixed(0)} ms wall; ` +
        `server held ${stats.maxInFlight} at once; per-call overhead beyond the delay p50 ${(pct(durations, 50) - DELAY_MS).toFixed(1)} ms, ` +
        `p99 ${(pct(durations, 99) - DELAY_MS).toFixed(1)} ms; aborted ${aborted}`,
    );
  } finally {
    await server.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
