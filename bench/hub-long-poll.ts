/**
 * Hub simulator benchmark: (1) long-poll answer latency — a poll is open, a notification is
 * injected, how long until the poll answers (target p99 < 50 ms); (2) request rate of a simple GET
 * under concurrency. The simulator runs in its own process (dev/hub-sim/main.ts), as in the local run.
 *
 *   npx tsx bench/hub-long-poll.ts [--injections 200] [--concurrency 50] [--seconds 5]
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { HubClient } from '../lib/hub/client';
import { HubSimAdmin } from '../dev/hub-sim/admin';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, idx)] ?? NaN;
}

function summary(label: string, samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const f = (n: number): string => n.toFixed(2);
  return `${label}: n=${s.length} p50=${f(percentile(s, 50))} ms p99=${f(percentile(s, 99))} ms max=${f(s[s.length - 1] ?? NaN)} ms`;
}

async function startSimulator(): Promise<{ url: string; stop: () => Promise<void> }> {
  const root = path.resolve(__dirname, '..');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'dev/hub-sim/main.ts', '--port', '0', '--seed', 'dev/demo/world.yaml', '--no-social'],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`simulator exited ${code}: ${out}`)));
  });
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function longPollLatency(url: string, injections: number): Promise<number[]> {
  const admin = new HubSimAdmin(url);
  const hub = new HubClient({ baseUrl: url, clientId: 'bench' });
  // Start from no unread notifications so that every poll is held open.
  for (const n of await admin.notifications()) if (!n.read) await hub.markNotificationsRead([n.id]);
  const agents = ['research-agent', 'poet-agent', 'devops-agent', 'critic-agent'];
  const samples: number[] = [];
  for (let i = 0; i < injections; i++) {
    const agent = agents[i % agents.length] ?? 'research-agent';
    let answeredAt = 0;
    const poll = hub.pollNotifications({ timeoutSeconds: 10, batchSize: 10 }).then((r) => {
      answeredAt = performance.now();
      return r;
    });
    // Inject only once the Hub holds the poll open.
    while ((await admin.pollStats()).open_now < 1) await new Promise((r) => setTimeout(r, 1));
    const injectedAt = performance.now();
    const n = await admin.injectNotification({ agent_id: agent, content: `bench ${i}` });
    const result = await poll;
    if (result[0]?.id !== agent)
      throw new Error(`poll answered ${JSON.stringify(result)}, expected ${agent}`);
    samples.push(answeredAt - injectedAt);
    await hub.markNotificationsRead([n.id]);
  }
  return samples;
}

interface RateResult {
  requests: number;
  errors: number;
  elapsedMs: number;
  latencies: number[];
}

/** Runs `once` from `concurrency` loops for `seconds`; `once` resolves true for a good answer. */
async function measureRate(
  concurrency: number,
  seconds: number,
  once: () => Promise<boolean>,
): Promise<RateResult> {
  const deadline = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        if (await once()) latencies.push(performance.now() - t0);
        else errors += 1;
      }
    }),
  );
  return { requests: latencies.length, errors, elapsedMs: performance.now() - started, latencies };
}

async function requestRate(url: string, concurrency: number, seconds: number): Promise<RateResult> {
  const hub = new HubClient({ baseUrl: url, clientId: 'bench-rate', maxRetries: 0 });
  return measureRate(concurrency, seconds, () =>
    hub.getAgent('research-agent').then(
      () => true,
      () => false,
    ),
  );
}

/** The same load over bare node:http keep-alive sockets: the simulator's own capacity, without client-side parsing. */
async function rawRequestRate(url: string, concurrency: number, seconds: number): Promise<RateResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL('/api/v1/agents/research-agent', url);
  const get = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.get(target, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
  try {
    return await measureRate(concurrency, seconds, () =>
      get().then(
        (status) => status === 200,
        () => false,
      ),
    );
  } finally {
    agent.destroy();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      injections: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '5' },
    },
  });
  const injections = Number(values.injections);
  const concurrency = Number(values.concurrency);
  const seconds = Number(values.seconds);
  const sim = await startSimulator();
  try {
    console.log(`hub simulator at ${sim.url} (separate process); node ${process.version}`);
    // Warm up connections and JIT before measuring.
    await longPollLatency(sim.url, 10);
    const latency = await longPollLatency(sim.url, injections);
    console.log(summary('long-poll answer latency after injection (incl. admin HTTP round trip)', latency));
    const sorted = [...latency].sort((a, b) => a - b);
    console.log(`target p99 < 50 ms: ${percentile(sorted, 99) < 50 ? 'met' : 'MISSED'}`);

    await requestRate(sim.url, concurrency, 1);
    const rate = await requestRate(sim.url, concurrency, seconds);
    const rps = rate.requests / (rate.elapsedMs / 1000);
    console.log(
      `request rate GET /api/v1/agents/{name} through HubClient, concurrency ${concurrency}, ${seconds}s: ` +
        `${rps.toFixed(0)} req/s (${rate.requests} ok, ${rate.errors} errors)`,
    );
    console.log(summary('request latency under that load', rate.latencies));
    const raw = await rawRequestRate(sim.url, concurrency, seconds);
    console.log(
      `request rate, same GET over bare node:http keep-alive: ` +
        `${(raw.requests / (raw.elapsedMs / 1000)).toFixed(0)} req/s (${raw.requests} ok, ${raw.errors} errors)`,
    );
    console.log(summary('bare request latency under that load', raw.latencies));
  } finally {
    await sim.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
