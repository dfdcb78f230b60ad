/**
 * Tool session benchmark on real components: the SessionManager with real MCP servers from npm
 * (filesystem, everything in the custom form), the project's Hub MCP server and the Hub simulator.
 *
 *   npx tsx bench/tool-sessions.ts [--sessions 5] [--calls 200]
 *
 * Prints, per phase, count / mean / p50 / p95 / max in milliseconds:
 * 1. open: a session with workspace tools only, and one with filesystem + everything + hub
 *    (three server processes started and their tools listed);
 * 2. calls: workspace Read, Bash `true`, MCP everything echo, filesystem read_text_file, Hub search
 *    through the Hub MCP server;
 * 3. close: servers stopped (process groups) and the workspace deleted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { SessionManager } from '../activities/tools/sessions';
import type { ToolsAgent } from '../activities/tools/types';
import { createHubSimulator } from '../dev/hub-sim/server';
import { realSandbox } from '../test/support/sandbox';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  return Number.isFinite(v) && v > 0 ? v : def;
}

function report(label: string, ms: number[]): void {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  console.log(
    `${label.padEnd(34)} n=${String(s.length).padStart(4)}  mean=${mean.toFixed(2).padStart(8)}  p50=${q(0.5).toFixed(2).padStart(8)}  p95=${q(0.95).toFixed(2).padStart(8)}  max=${(s[s.length - 1] ?? NaN).toFixed(2).padStart(8)}`,
  );
}

async function timed<T>(out: number[], fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const r = await fn();
  out.push(performance.now() - t);
  return r;
}

async function main(): Promise<void> {
  const sessionsN = arg('sessions', 5);
  const callsN = arg('calls', 200);
  const root = await mkdtemp(path.join(os.tmpdir(), 'bb-bench-tools-'));
  const sim = await createHubSimulator({
    apiKey: 'bench-key',
    seed: {
      agents: [{ id: 'bench-agent' }],
      posts: [{ author: 'bench-agent', content: 'benchmarks are fun' }],
    },
  });
  const m = new SessionManager({
    root,
    sandbox: await realSandbox(),
    credentials: {},
    hub: { url: sim.url, apiKey: 'bench-key' },
    timeoutMs: 30_000,
    logger: pino({ level: 'silent' }),
    path: process.env.PATH,
  });
  const light: ToolsAgent = { id: 'bench-agent', config: { capabilities: { shell: { enabled: true } } } };
  const full: ToolsAgent = {
    id: 'bench-agent',
    config: {
      capabilities: {
        grants: ['filesystem:read', 'hub:read'],
        mcp_servers: [
          'filesystem',
          'hub',
          { name: 'everything', command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything'] },
        ],
        shell: { enabled: true },
      },
    },
  };
  try {
    console.log(
      `tool sessions: ${sessionsN} sessions per kind, ${callsN} calls per tool (${os.cpus().length} cores)`,
    );
    const openLight: number[] = [];
    const openFull: number[] = [];
    const close: number[] = [];
    for (let i = 0; i < sessionsN; i++) {
      await timed(openLight, () => m.open({ sessionId: `light-${i}`, agent: light }));
      await timed(close, () => m.close(`light-${i}`));
    }
    for (let i = 0; i < sessionsN; i++) {
      const { tools, refused } = await timed(openFull, () => m.open({ sessionId: `full-${i}`, agent: full }));
      if (refused.length > 0) throw new Error(`servers refused: ${JSON.stringify(refused)}`);
      if (i === 0) console.log(`full session offers ${tools.length} tools`);
      if (i < sessionsN - 1) await timed(close, () => m.close(`full-${i}`));
    }
    report('open: workspace only', openLight);
    report('open: filesystem + everything + hub', openFull);

    const sid = `full-${sessionsN - 1}`;
    const dir = m.workspaceDir(sid) ?? '';
    await m.call(sid, 'Write', { file_path: 'bench.txt', content: 'line\n'.repeat(100) });
    const calls: [string, string, Record<string, unknown>][] = [
      ['call: workspace Read', 'Read', { file_path: 'bench.txt' }],
      ['call: workspace Bash `true`', 'Bash', { command: 'true' }],
      ['call: mcp everything echo', 'mcp_everything_echo', { message: 'x' }],
      ['call: mcp filesystem read', 'mcp_filesystem_read_text_file', { path: path.join(dir, 'bench.txt') }],
      ['call: mcp hub search (→ Hub sim)', 'mcp_hub_hub_search', { query: 'benchmarks' }],
    ];
    for (const [label, name, input] of calls) {
      const ms: number[] = [];
      for (let i = 0; i < callsN; i++) {
        const r = await timed(ms, () => m.call(sid, name, input));
        if (r.isError) throw new Error(`${name} failed: ${r.content}`);
      }
      report(label, ms);
    }
    await timed(close, () => m.close(sid));
    report('close (servers stopped, dir removed)', close);
  } finally {
    await m.closeAll();
    await sim.close();
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
