/**
 * The local run (README command one). In test mode: every piece starts on free ports, the demo
 * agents answer on the Hub simulator within a minute, every operator CLI command works against it,
 * and a SIGKILL of the local run leaves nothing behind (the watchdogs). As a user runs it
 * (`./scripts/start.sh`, its own process group): the banner's CLI command works as printed, and
 * SIGTERM to the pid the user got stops every process and frees every port.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubSimAdmin } from '../../dev/hub-sim/admin';
import { freePort } from '../../lib/net';
import { cli, cliJson } from '../support/cli';
import { descendants, waitAllGone } from '../support/process-tree';
import type { TestProcess } from '../support/processes';
import { startEntry } from '../support/processes';
import { toolPath } from '../unit/k8s-support';
import { dataConverter } from '../../lib/codec';
import { parseCodecKeys } from '../../lib/config';

const ROOT = path.resolve(__dirname, '../..');

interface Ready {
  temporal: string;
  valkey: string;
  hub: string;
  model: string;
  logs: string;
  coordinatorMetrics: string;
  runnerMetrics: string;
  skillSyncMetrics: string;
  env: Record<string, string>;
}

const DEMO_AGENTS = ['research-agent', 'poet-agent', 'devops-agent', 'critic-agent'];

/** The port of `127.0.0.1:7233`, `redis://:pw@127.0.0.1:6379` or `http://localhost:9090/metrics`. */
function portOf(address: string): number {
  return Number(new URL(address.includes('://') ? address : `tcp://${address}`).port);
}

describe('local run (test mode)', () => {
  let run: TestProcess;
  let ready: Ready;

  beforeAll(async () => {
    run = startEntry('scripts/local-run.ts', {}, ['--test', '--ambient', '5']);
    await run.waitFor(/^READY /m, 150_000);
    const line = run
      .output()
      .split('\n')
      .find((l) => l.startsWith('READY '))!;
    ready = JSON.parse(line.slice('READY '.length)) as Ready;
  }, 180_000);
  afterAll(async () => {
    run?.signal('SIGKILL');
    await run?.exited;
  });

  it('answers the demo world: replies from the demo agents appear on the Hub within a minute', async () => {
    const admin = new HubSimAdmin(ready.hub);
    const deadline = Date.now() + 60_000;
    let replies = 0;
    while (Date.now() < deadline) {
      const activity = await Promise.all(DEMO_AGENTS.map((a) => admin.activity(a)));
      replies = activity.reduce((n, a) => n + a.comments.length + a.posts.length, 0);
      const progressed = /activations: \d+ running, [1-9]\d* done \(succeeded/.test(run.output());
      if (replies >= 2 && progressed) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(replies).toBeGreaterThanOrEqual(2);
    expect(run.output()).toMatch(/activations: \d+ running, [1-9]\d* done \(succeeded/);
    const metrics = await (await fetch(ready.runnerMetrics)).text();
    expect(metrics).toMatch(
      /botburrow_activations_total\{agent_id="[a-z-]+",trigger="notification",outcome="succeeded"\} [1-9]/,
    );
    expect(metrics).toMatch(/^temporal_/m);
    expect(metrics).toMatch(/^botburrow_runner_heartbeat \d/m);
    const readiness = await fetch(ready.runnerMetrics.replace('/metrics', '/ready'));
    expect(readiness.status).toBe(200);
    expect(await readiness.json()).toEqual({ ready: true, checks: { workers: true, valkey: true } });
  });

  it('serves metrics that pass promtool check metrics, each process only its own families', async () => {
    const promtool = toolPath('PROMTOOL_PATH', 'promtool');
    if (!promtool) throw new Error('promtool not found: run scripts/provision.sh (or set PROMTOOL_PATH)');
    const text = {
      coordinator: await (await fetch(ready.coordinatorMetrics)).text(),
      runner: await (await fetch(ready.runnerMetrics)).text(),
      'skill-sync': await (await fetch(ready.skillSyncMetrics)).text(),
    };
    for (const [process, body] of Object.entries(text)) {
      const res = spawnSync(promtool, ['check', 'metrics'], { input: body, encoding: 'utf8' });
      expect(`${res.stdout}${res.stderr}`, process).toBe('');
      expect(res.status, process).toBe(0);
    }
    // The workers' SDK counters, with the `_total` suffix promtool wants.
    expect(text.runner).toMatch(/^temporal_[a-z_]+_total\{/m);
    expect(text.runner).not.toMatch(/^temporal_request\{/m);
    expect(text.coordinator).toMatch(/^botburrow_coordinator_is_leader /m);
    expect(text.runner).not.toMatch(/^botburrow_coordinator_is_leader/m);
    expect(text.coordinator).not.toMatch(/^botburrow_runner_heartbeat/m);
    expect(text.runner).toMatch(/^botburrow_runner_heartbeat /m);
    expect(text['skill-sync']).not.toMatch(
      /^botburrow_(coordinator_is_leader|runner_heartbeat|budget_used)/m,
    );
  });

  it('answers every operator CLI command against the local run', async () => {
    const env = ready.env;
    const agent = 'research-agent';

    // One activation now, waited for (it joins a run the coordinator started, if one is open).
    const run1 = await cli(
      env,
      'activation',
      'run',
      agent,
      '--trigger',
      'manual',
      '--timeout',
      '90',
      '--json',
    );
    expect(run1.code, run1.stderr).toBe(0);
    const result = cliJson<{ agentId: string; outcome: string; tokensInput: number }>(run1);
    expect(result).toMatchObject({ agentId: agent });
    expect(['succeeded', 'iteration_cap']).toContain(result.outcome);

    const list = await cli(env, 'activation', 'list', '--agent', agent, '--json');
    expect(list.code, list.stderr).toBe(0);
    expect(cliJson<{ workflowId: string }[]>(list).map((a) => a.workflowId)).toContain(`activation-${agent}`);

    const status = await cli(env, 'activation', 'status', agent, '--json');
    expect(status.code, status.stderr).toBe(0);
    expect(cliJson(status)).toMatchObject({ workflowId: `activation-${agent}` });

    // Nothing may be running for this agent right now: either it was cancelled, or it says so.
    const cancel = await cli(env, 'activation', 'cancel', agent, '--reason', 'local-run test');
    // 1: the run refused because it was already finishing.
    expect([0, 1, 3], cancel.stderr).toContain(cancel.code);
    expect(cancel.stdout + cancel.stderr).toMatch(/cancel|not running|no running/i);

    const pause = await cli(env, 'agent', 'pause', 'poet-agent', '--reason', 'local-run test');
    expect(pause.code, pause.stderr).toBe(0);
    const resume = await cli(env, 'agent', 'resume', 'poet-agent');
    expect(resume.code, resume.stderr).toBe(0);

    const breaker = await cli(env, 'breaker', 'show', 'critic-agent', '--json');
    expect(breaker.code, breaker.stderr).toBe(0);
    expect(cliJson(breaker)).toMatchObject({ state: 'closed' });
    const reset = await cli(env, 'breaker', 'reset', 'critic-agent');
    expect(reset.code, reset.stderr).toBe(0);

    const budget = await cli(env, 'budget', 'show', agent, '--json');
    expect(budget.code, budget.stderr).toBe(0);
    expect(cliJson<{ dailyTokens: { used: number } }>(budget).dailyTokens.used).toBeGreaterThanOrEqual(
      result.tokensInput,
    );

    const invalidate = await cli(env, 'cache', 'invalidate');
    expect(invalidate.code, invalidate.stderr).toBe(0);
    expect(invalidate.stdout).toMatch(/^dropped \d+ cached entr/);

    const sync = await cli(env, 'skills', 'sync', '--json');
    expect(sync.code, sync.stderr).toBe(0);
    expect(cliJson(sync)).toHaveProperty('copied');
  }, 150_000);

  it("skills sync --sources copies into the run's own definitions, never into the tracked demo folder", async () => {
    const source = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-skill-src-'));
    const name = `synced-${process.pid}`;
    fs.mkdirSync(path.join(source, name));
    fs.writeFileSync(
      path.join(source, name, 'SKILL.md'),
      `---\nname: ${name}\ndescription: A skill synced by the local-run test.\n---\nSay hello.\n`,
    );
    const sync = await cli(ready.env, 'skills', 'sync', '--sources', source, '--json');
    fs.rmSync(source, { recursive: true, force: true });
    expect(sync.code, sync.stderr).toBe(0);
    expect(cliJson<{ skills: string[] }>(sync).skills).toContain(name);
    const store = ready.env.BOTBURROW_AGENT_DEFINITIONS_PATH!;
    expect(fs.existsSync(path.join(store, 'skills', name, 'SKILL.md'))).toBe(true);
    expect(fs.existsSync(path.join(ROOT, 'dev/demo/definitions/skills', name))).toBe(false);
    const tracked = spawnSync('git', ['status', '--porcelain', '--', 'dev/demo/definitions'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(tracked.stdout).toBe('');
  }, 60_000);

  it('logs JSON lines only, and a normal end of a session is not a warning', async () => {
    // The demo's devops agent has an MCP server: one activation of it opens and closes a session.
    const devops = await cli(ready.env, 'activation', 'run', 'devops-agent', '--timeout', '90');
    expect([0, 11], devops.stderr).toContain(devops.code);
    const runnerLog = path.join(ready.logs, 'runner.log');
    const deadline = Date.now() + 10_000;
    while (!/"msg":"tool session closed"/.test(fs.readFileSync(runnerLog, 'utf8')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(fs.readFileSync(runnerLog, 'utf8')).toMatch(/"msg":"tool session closed"/);
    let lines = 0;
    for (const name of ['coordinator', 'runner', 'skill-sync']) {
      const text = fs.readFileSync(path.join(ready.logs, `${name}.log`), 'utf8');
      for (const line of text.split('\n').filter(Boolean)) {
        let entry: { level?: string; msg?: string; reason?: string };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          throw new Error(`${name}.log has a line that is not JSON: ${line.slice(0, 300)}`);
        }
        lines++;
        expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], line).toContain(entry.level);
        // A session closing at the end of an activation is routine, not a warning.
        if (entry.reason === 'session closed')
          expect(['trace', 'debug', 'info'], line).toContain(entry.level);
      }
    }
    expect(lines).toBeGreaterThan(20);
  }, 120_000);

  it('leaves no process and no open port within 10 s of a SIGKILL (the watchdogs)', async () => {
    const tree = descendants(run.child.pid!);
    expect(tree.length).toBeGreaterThan(5);
    run.signal('SIGKILL');
    expect(await run.exited).toBe('SIGKILL');
    const ports = [
      ready.temporal,
      ready.valkey,
      ready.hub,
      ready.model,
      ready.coordinatorMetrics,
      ready.runnerMetrics,
      ready.skillSyncMetrics,
    ].map(portOf);
    const { left } = await waitAllGone(tree, ports, 10_000);
    expect(left).toEqual([]);
    fs.rmSync(path.dirname(ready.logs), { recursive: true, force: true });
  });
});

/** The BOTBURROW_LOCAL_*_PORT variables of the local run, each on a free port. */
async function freeLocalPorts(): Promise<Record<string, string>> {
  const names = ['TEMPORAL', 'UI', 'VALKEY', 'HUB', 'MODEL', 'COORDINATOR', 'RUNNER', 'SKILL_SYNC'];
  const env: Record<string, string> = {};
  for (const n of names) env[`BOTBURROW_LOCAL_${n}_PORT`] = String(await freePort());
  return env;
}

describe('./scripts/start.sh as a user runs it', () => {
  let child: ChildProcess;
  let out = '';
  let exited: Promise<number | NodeJS.Signals>;
  let env: Record<string, string>;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-start-'));
    // Free ports and a data folder of its own, so it never collides with a developer's local run.
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? os.tmpdir(),
      BOTBURROW_LOCAL_DATA_DIR: dataDir,
      ...(await freeLocalPorts()),
    };
    // Detached: its own process group, as a terminal or a supervisor would start it.
    child = spawn('./scripts/start.sh', [], { cwd: ROOT, env, detached: true, stdio: 'pipe' });
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? 'SIGKILL')));
    const deadline = Date.now() + 150_000;
    while (!/Press Ctrl-C to stop/.test(out)) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`start.sh did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 180_000);
  afterAll(() => {
    // Only if a test failed half-way: the whole group it started.
    if (child?.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints a CLI command in its banner that works as printed', () => {
    const command = /^Try the CLI +(.+)$/m.exec(out)?.[1];
    expect(command, out).toMatch(/botburrow/);
    // Verbatim, through a shell, with nothing of the run's settings in the environment.
    const res = spawnSync('bash', ['-c', command!], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
    expect(res.status, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toMatch(/outcome +(succeeded|iteration_cap)/);
  }, 150_000);

  it('prints progress as whole lines when stdout is not a terminal', async () => {
    const deadline = Date.now() + 15_000;
    while (!/^activations: \d+ running/m.test(out) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(out).toMatch(/^activations: \d+ running, \d+ done .* · cost \$\d+\.\d+$/m);
    expect(out).not.toContain('\r');
  }, 20_000);

  it('shows activations in the stock Temporal UI: filtered by BotburrowAgentId, each with its summary', async () => {
    const chromium = toolPath('CHROMIUM_PATH', 'chromium');
    if (!chromium) throw new Error('chromium not found: run scripts/provision.sh (or set CHROMIUM_PATH)');
    const ui = /^Temporal Web UI +(http:\/\/\S+)/m.exec(out)?.[1];
    const temporal = /^Temporal +(\S+:\d+)$/m.exec(out)?.[1];
    expect(ui, out).toBeDefined();
    // The headless browser renders the UI's JavaScript, then prints the page or takes a picture.
    const browse = (url: string, ...args: string[]): string =>
      spawnSync(
        chromium,
        ['--headless', '--no-sandbox', '--disable-gpu', '--virtual-time-budget=15000', ...args, url],
        { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      ).stdout;
    const agent = 'research-agent';
    const list = browse(
      `${ui}/namespaces/default/workflows?query=${encodeURIComponent(`BotburrowAgentId = "${agent}"`)}`,
      '--dump-dom',
    );
    const runs = [...list.matchAll(/workflows\/activation-([a-z-]+)\/([0-9a-f-]{36})\//g)];
    expect(runs.length, list.slice(0, 2000)).toBeGreaterThan(0);
    // Only the filtered agent's activations are listed.
    expect(new Set(runs.map((m) => m[1]))).toEqual(new Set([agent]));
    const runId = runs[0]![2]!;
    const connection = await Connection.connect({ address: temporal! });
    // The local run encrypts payloads (the summary too) with the key in its data folder.
    const codecKeys = parseCodecKeys(fs.readFileSync(path.join(dataDir, 'codec-key'), 'utf8').trim());
    const client = new Client({ connection, dataConverter: dataConverter({ codecKeys }) });
    const summary = await (
      await client.workflow.getHandle(`activation-${agent}`, runId).describe()
    ).staticSummary();
    await connection.close();
    expect(summary).toMatch(new RegExp(`^${agent} · (notification|manual|exploration)`));
    // The activation's "User Metadata" tab: its summary, and the details rendered from markdown.
    const page = `${ui}/namespaces/default/workflows/activation-${agent}/${runId}/user-metadata`;
    const html = browse(page, '--dump-dom');
    const shot = path.join(ROOT, '.data', 'test-artifacts', 'temporal-ui-activation.png');
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    fs.writeFileSync(shot.replace(/\.png$/, '.html'), html);
    // The UI renders each in a frame of its own markdown renderer (`/render?content=…`).
    const rendered = (id: string): string | undefined => {
      const src = new RegExp(`<iframe[^>]*src="/render\\?content=([^&"]*)[^>]*id="${id}"`).exec(html)?.[1];
      return src === undefined ? undefined : decodeURIComponent(src);
    };
    expect(rendered('user-metadata-summary'), html.slice(0, 2000)).toBe(summary);
    expect(rendered('user-metadata-details')).toMatch(
      new RegExp(
        `^\\*\\*Agent\\*\\* ${agent}\n\\*\\*Trigger\\*\\* .*\n\\*\\*Started by\\*\\* (coordinator|botburrow CLI) at `,
      ),
    );
    fs.rmSync(shot, { force: true });
    browse(page, `--screenshot=${shot}`, '--window-size=1400,1000');
    expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
  }, 120_000);

  it('stops every process and frees every port within 10 s of SIGTERM to its pid', async () => {
    const tree = descendants(child.pid!);
    expect(tree.length).toBeGreaterThan(5);
    const ports = Object.entries(env)
      .filter(([k]) => k.endsWith('_PORT'))
      .map(([, v]) => Number(v));
    expect(ports).toHaveLength(8);
    process.kill(child.pid!, 'SIGTERM');
    const { left, ms } = await waitAllGone([child.pid!, ...tree], ports, 10_000);
    expect(left, out.slice(-2000)).toEqual([]);
    expect(await exited).toBe(0);
    // The goal is 5 s; the test allows 10 on a loaded machine and reports what it measured.
    console.log(`start.sh: ${tree.length} processes stopped ${ms} ms after SIGTERM`);
  }, 30_000);
});

describe.each(['SIGINT', 'SIGHUP'] as const)('./scripts/start.sh --test stopped by %s', (signal) => {
  it('stops every process and frees every port within 10 s', async () => {
    const child = spawn('./scripts/start.sh', ['--test', '--ambient', '600'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir() },
      detached: true,
      stdio: 'pipe',
    });
    let text = '';
    child.stdout.on('data', (b: Buffer) => (text += b.toString()));
    child.stderr.on('data', (b: Buffer) => (text += b.toString()));
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, sig) => resolve(code ?? sig ?? 'SIGKILL')),
    );
    try {
      const deadline = Date.now() + 150_000;
      while (!/^READY /m.test(text)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no READY:\n${text}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const ready = JSON.parse(
        text
          .split('\n')
          .find((l) => l.startsWith('READY '))!
          .slice(6),
      ) as Ready;
      const ports = [ready.temporal, ready.valkey, ready.hub, ready.model, ready.runnerMetrics].map(portOf);
      const tree = descendants(child.pid!);
      process.kill(child.pid!, signal);
      const { left } = await waitAllGone([child.pid!, ...tree], ports, 10_000);
      expect(left, text.slice(-2000)).toEqual([]);
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
  }, 180_000);
});
