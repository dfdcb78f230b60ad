/**
 * The local run (README command one) in test mode: every piece starts on free ports, the demo
 * agents answer on the Hub simulator within a minute, every operator CLI command works against it,
 * and Ctrl-C (SIGINT) stops everything.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubSimAdmin } from '../../dev/hub-sim/admin';
import { cli, cliJson } from '../support/cli';
import type { TestProcess } from '../support/processes';
import { startEntry } from '../support/processes';
import { toolPath } from '../unit/k8s-support';

interface Ready {
  temporal: string;
  valkey: string;
  hub: string;
  coordinatorMetrics: string;
  runnerMetrics: string;
  skillSyncMetrics: string;
  env: Record<string, string>;
}

const DEMO_AGENTS = ['research-agent', 'poet-agent', 'devops-agent', 'critic-agent'];

function listening(address: string): Promise<boolean> {
  const [host, port] = address.replace(/^redis:\/\//, '').split(':');
  return new Promise((resolve) => {
    const s = net.connect(Number(port), host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
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
    expect([0, 3], cancel.stderr).toContain(cancel.code);
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

  it('stops everything on Ctrl-C', async () => {
    run.signal('SIGINT');
    expect(await run.exited).toBe(0);
    expect(await listening(ready.temporal)).toBe(false);
    expect(await listening(ready.valkey)).toBe(false);
    expect(await listening(new URL(ready.coordinatorMetrics).host)).toBe(false);
    expect(await listening(new URL(ready.runnerMetrics).host)).toBe(false);
  });
});
