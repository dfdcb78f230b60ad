/**
 * The operator CLI as a real process (`node --import tsx cli/botburrow.ts …`) against a real stack:
 * Temporal dev server (own namespace), Valkey (own key prefix), the Hub simulator, the scripted
 * model and an in-process runner. Every command is run end to end and its exit code and output
 * checked against what the stack really did.
 */
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/services';
import type { Scenario } from '../../dev/model-server/scenario';
import { SearchAttr, activationWorkflowId } from '../../lib/contract';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';
import { unique } from '../support/env';
import type { CliRun } from '../support/cli';
import { cli, cliJson } from '../support/cli';

const POST_ID = 'p-cli';

const script: Scenario = {
  name: 'cli-operator',
  rules: [
    { name: 'final', when: { tools: false }, reply: { text: 'Final words.' } },
    // "slow" agents keep the model busy long enough to be looked at and cancelled.
    { name: 'slow', when: { system: 'slow' }, reply: { text: 'Slowly.', delayMs: 90_000 } },
    { name: 'default', when: {}, reply: { text: 'A short reply.' } },
  ],
};

/** Visibility is eventually consistent: retry `fn` until it stops throwing. */
async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

describe('botburrow CLI against a real stack', () => {
  let stack: ActivationStack;
  const run = (...args: string[]): Promise<CliRun> => cli(stack.env, ...args);
  const json = cliJson;
  const notify = (agentId: string) =>
    stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: POST_ID,
      from_agent: { id: 'alice', name: 'Alice' },
      content: 'Hello there?',
    });
  const requestsOf = (agentId: string) =>
    stack.model
      .requests()
      .filter((r) => JSON.stringify((r.body as { system?: unknown }).system ?? '').includes(agentId));

  beforeAll(async () => {
    stack = await startStack({
      script,
      seed: {
        agents: [],
        posts: [{ id: POST_ID, author: { id: 'alice', name: 'Alice' }, content: 'A topic.' }],
      },
    });
    await stack.startRunner();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('activation run waits for the result; list filters it; budget shows its tokens; cache invalidate drops it', async () => {
    const agentId = await stack.addAgent('cli-ok');
    await notify(agentId);
    const r = await run('activation', 'run', agentId, '--trigger', 'notification', '--json');
    expect(r.code, r.stderr).toBe(0);
    const result = json<{
      outcome: string;
      tokensInput: number;
      tokensOutput: number;
      notificationsProcessed: number;
    }>(r);
    expect(result).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1 });
    expect(result.tokensInput).toBeGreaterThan(0);
    expect(r.stderr).toMatch(new RegExp(`started activation-${agentId} \\(run \\w{8}\\) on botburrow-high`));
    // The reply really went to the Hub, and the run carries the coordinator's search attributes.
    expect((await stack.hub.admin.activity(agentId)).comments.map((c) => c.content)).toEqual([
      'A short reply.',
    ]);
    const desc = await stack.client.workflow.getHandle(activationWorkflowId(agentId)).describe();
    expect(desc.taskQueue).toBe('botburrow-high');
    expect(desc.typedSearchAttributes.get(SearchAttr.trigger)).toBe('notification');

    const rows = await eventually(async () => {
      const l = await run('activation', 'list', '--agent', agentId, '--json');
      expect(l.code, l.stderr).toBe(0);
      const parsed = json<{ workflowId: string; status: string; outcome?: string; tokens?: number }[]>(l);
      expect(parsed[0]?.outcome).toBe('succeeded');
      return parsed;
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      workflowId: activationWorkflowId(agentId),
      status: 'COMPLETED',
      tokens: result.tokensInput + result.tokensOutput,
    });

    const [table, cancelledOnly, budget] = await Promise.all([
      run('activation', 'list', '--agent', agentId, '--outcome', 'succeeded', '--since', '1h'),
      run('activation', 'list', '--outcome', 'cancelled', '--since', '1h', '--json'),
      run('budget', 'show', agentId, '--json'),
    ]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^WORKFLOW ID\s+RUN\s+TRIGGER\s+STATUS\s+OUTCOME/);
    expect(table.stdout).toMatch(
      new RegExp(`activation-${agentId}\\s+\\w{8}\\s+notification\\s+COMPLETED\\s+succeeded\\s+1\\s`),
    );
    expect(cancelledOnly.code).toBe(0);
    expect(json<{ workflowId: string }[]>(cancelledOnly).map((x) => x.workflowId)).not.toContain(
      activationWorkflowId(agentId),
    );
    expect(budget.code, budget.stderr).toBe(0);
    expect(json<{ dailyTokens: { used: number } }>(budget).dailyTokens.used).toBe(
      result.tokensInput + result.tokensOutput,
    );

    // The runner cached the definition; the CLI drops it locally in Valkey.
    expect(await stack.redis.exists(stack.keys.agentCache(agentId))).toBe(1);
    const one = await run('cache', 'invalidate', agentId, '--json');
    expect(one.code, one.stderr).toBe(0);
    expect(json(one)).toEqual({ agentId, dropped: 1 });
    expect(await stack.redis.exists(stack.keys.agentCache(agentId))).toBe(0);
    await stack.redis.set(stack.keys.agentCache('other-one'), '{}');
    await stack.redis.set(stack.keys.agentCache('other-two'), '{}');
    // The runner cached the skill library too; dropping everything drops it.
    expect(await stack.redis.exists(stack.keys.skillsCache())).toBe(1);
    const all = await run('cache', 'invalidate');
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^dropped 3 cached entries \(all agents and the skill library\)/);
    expect(await stack.redis.exists(stack.keys.agentCache('other-one'))).toBe(0);
    expect(await stack.redis.exists(stack.keys.skillsCache())).toBe(0);
  });

  it('activation status shows a running activation live; cancel stops it and the waiting run exits 11', async () => {
    const agentId = await stack.addAgent('cli-slow', { systemPrompt: 'You are slow.' });
    await notify(agentId);
    const waiting = run('activation', 'run', agentId, '--trigger', 'notification');
    await eventually(() => expect(requestsOf(agentId)).toHaveLength(1), 30_000);

    const status = await run('activation', 'status', agentId, '--json');
    expect(status.code, status.stderr).toBe(0);
    expect(json(status)).toMatchObject({
      workflowId: activationWorkflowId(agentId),
      status: 'RUNNING',
      live: { agentId, phase: 'notifications', iteration: 1, stopping: null },
    });

    // A second run joins the running activation; --timeout gives up waiting (exit 6), not the run.
    const impatient = await run('activation', 'run', agentId, '--timeout', '2');
    expect(impatient.code, impatient.stderr).toBe(6);
    expect(impatient.stderr).toMatch(
      new RegExp(`activation-${agentId} was already running \\(run \\w{8}, trigger notification\\)`),
    );
    expect(impatient.stderr).toMatch(
      /is still running after 2s; follow it with: botburrow activation status/,
    );
    expect(impatient.ms).toBeLessThan(12_000);

    const cancel = await run('activation', 'cancel', agentId, '--reason', 'cli test');
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(
      new RegExp(`activation-${agentId} \\(run \\w{8}\\) was running: cancelled`),
    );
    expect(cancel.stdout).toMatch(/^stopped in\s+\w+, iteration \d+$/m);
    const ended = await waiting;
    expect(ended.code, ended.stderr).toBe(11);
    expect(ended.stdout).toMatch(/^outcome\s+cancelled$/m);
    expect(ended.stdout).toMatch(/^error\s+cli test$/m);

    const [after, again] = await Promise.all([
      run('activation', 'status', agentId),
      run('activation', 'cancel', agentId, '--json'),
    ]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/^status\s+COMPLETED$/m);
    expect(after.stdout).toMatch(/^outcome\s+cancelled$/m);
    expect(again.code, again.stderr).toBe(0);
    expect(json(again)).toMatchObject({ wasRunning: false, status: 'COMPLETED' });
  });

  it('agent pause makes the next activation end cancelled (paused); resume lets it run', async () => {
    const agentId = await stack.addAgent('cli-pause');
    await notify(agentId);
    const pause = await run('agent', 'pause', agentId, '--reason', 'maintenance');
    expect(pause.code, pause.stderr).toBe(0);
    expect(pause.stdout.trim()).toBe(`${agentId} paused: maintenance`);

    const refused = await run('activation', 'run', agentId, '--trigger', 'notification', '--json');
    expect(refused.code, refused.stderr).toBe(11);
    expect(json(refused)).toMatchObject({
      outcome: 'cancelled',
      error: 'paused: maintenance',
      iterations: 0,
    });
    expect(requestsOf(agentId)).toHaveLength(0);
    expect(refused.stderr).toContain(`${agentId} is paused; lift it with: botburrow agent resume ${agentId}`);

    const resume = await run('agent', 'resume', agentId);
    expect(resume.code, resume.stderr).toBe(0);
    expect(resume.stdout.trim()).toBe(`${agentId} resumed (was paused: maintenance)`);
    const ok = await run('activation', 'run', agentId, '--trigger', 'notification', '--json');
    expect(ok.code, ok.stderr).toBe(0);
    expect(json(ok)).toMatchObject({ outcome: 'succeeded', notificationsProcessed: 1 });
  });

  it('breaker show reports an open breaker after five failures; breaker reset closes it', async () => {
    const agentId = await stack.addAgent('cli-breaker');
    for (let i = 0; i < 5; i++) await stack.guards.breaker.recordFailure(agentId);
    const shown = await run('breaker', 'show', agentId, '--json');
    expect(shown.code, shown.stderr).toBe(0);
    const open = json<{ state: string; failures: number; openUntil: number }>(shown);
    expect(open).toMatchObject({ state: 'open', failures: 5 });
    expect(open.openUntil).toBeGreaterThan(Date.now());

    const reset = await run('breaker', 'reset', agentId);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/breaker reset \(was open with 5 failures, now closed\)/);
    expect(await stack.guards.breaker.status(agentId)).toEqual({ state: 'closed', failures: 0 });
    const table = await run('breaker', 'show', agentId);
    expect(table.stdout).toMatch(/^state\s+closed$/m);
    expect(table.stdout).toMatch(/^failures\s+0$/m);
  });

  it('not found, bad usage, a wrong namespace and unreachable servers have their exit codes and say what to do', async () => {
    const [temporalPort, valkeyPort] = [await freePort(), await freePort()];
    const idle = await stack.addAgent('cli-idle');
    const bare = unique('ns-bare');
    const connection = await Connection.connect({ address: stack.env.TEMPORAL_ADDRESS! });
    await connection.workflowService.registerNamespace({
      namespace: bare,
      workflowExecutionRetentionPeriod: msToTs(3600 * 1000),
    });
    await connection.close();
    const [noRun, noAgent, noAgentGuard, usage, help, noAttributes, noNamespace, noTemporal, noValkey] =
      await Promise.all([
        run('activation', 'status', idle),
        run('activation', 'run', 'no-such-agent'),
        run('agent', 'pause', 'no-such-agent'),
        run('activation', 'run'),
        run('--help'),
        cli({ ...stack.env, TEMPORAL_NAMESPACE: bare }, 'activation', 'list', '--agent', 'cli-ok'),
        cli({ ...stack.env, TEMPORAL_NAMESPACE: 'no-such-namespace' }, 'activation', 'list'),
        cli({ ...stack.env, TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}` }, 'activation', 'list'),
        cli(
          { ...stack.env, BOTBURROW_REDIS_URL: `redis://127.0.0.1:${valkeyPort}` },
          'breaker',
          'show',
          idle,
        ),
      ]);
    expect(noRun.code, noRun.stderr).toBe(3);
    expect(noRun.stderr).toMatch(
      new RegExp(`no activation of '${idle}'.*start one with: botburrow activation run ${idle}`),
    );
    expect(noAgent.code, noAgent.stderr).toBe(3);
    expect(noAgent.stderr).toMatch(/no agent 'no-such-agent': agents\/no-such-agent\/config\.yaml is not in/);
    // A pause flag is never written for an agent that does not exist.
    expect(noAgentGuard.code, noAgentGuard.stderr).toBe(3);
    expect(noAgentGuard.stderr.trim().split('\n')).toHaveLength(1);
    expect((await stack.guards.pause.isPaused('no-such-agent')).paused).toBe(false);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/missing <agent>\nusage: botburrow activation run <agent>/);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:/);

    expect(noAttributes.code, noAttributes.stderr).toBe(1);
    expect(noAttributes.stderr).toMatch(
      /invalid search attribute: BotburrowAgentId\. The namespace lacks the Botburrow search attributes/,
    );
    expect(noNamespace.code, noNamespace.stderr).toBe(1);
    expect(noNamespace.stderr).toContain(
      "Temporal namespace 'no-such-namespace' does not exist at " +
        `${stack.env.TEMPORAL_ADDRESS} (TEMPORAL_NAMESPACE): set TEMPORAL_NAMESPACE`,
    );
    expect(noTemporal.code, noTemporal.stderr).toBe(4);
    expect(noTemporal.stderr).toContain(
      `Temporal not reachable at 127.0.0.1:${temporalPort} (TEMPORAL_ADDRESS): is the server running? ` +
        'Start it with ./scripts/start.sh or set TEMPORAL_ADDRESS.',
    );
    // Seconds, not the SDK's default 10 s connect timeout: compared with a run that reached
    // Temporal at the same time, so process start-up under load does not count.
    expect(noTemporal.ms - noNamespace.ms).toBeLessThan(6_000);
    expect(noValkey.code, noValkey.stderr).toBe(5);
    expect(noValkey.stderr).toContain(
      `Valkey not reachable at redis://127.0.0.1:${valkeyPort} (BOTBURROW_REDIS_URL)`,
    );
    expect(noValkey.ms - help.ms).toBeLessThan(6_000);
  });
});
