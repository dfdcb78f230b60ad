/**
 * Two real coordinator processes (workers/coordinator.ts) against the suite's Temporal and Valkey,
 * a Hub simulator, and an in-process runner with the real activationWorkflow (the scripted model
 * answers NO_RESPONSE_NEEDED, so every activation reads its notifications and finishes).
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';
import type { CoordinatorProcess } from './coordinator-support';
import {
  activationRuns,
  coordinatorEnv,
  overlaps,
  sleep,
  spawnCoordinator,
  waitUntil,
} from './coordinator-support';

const TTL_MS = 3000;
const script: Scenario = {
  name: 'coordinator-failover',
  rules: [],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

describe('coordinator: two replicas, failovers', () => {
  let stack: ActivationStack;
  let agents: string[] = [];
  const procs: CoordinatorProcess[] = [];
  let injected = 0;

  const spawn = (name: string): CoordinatorProcess => {
    const p = spawnCoordinator(
      name,
      coordinatorEnv(stack.env, { BOTBURROW_LEADER_TTL: String(TTL_MS / 1000) }),
    );
    procs.push(p);
    return p;
  };

  async function inject(n: number, gapMs = 0): Promise<void> {
    for (let i = 0; i < n; i++) {
      const agentId = agents[injected % agents.length]!;
      injected++;
      await stack.hub.admin.injectNotification({ agent_id: agentId, content: `note ${injected}` });
      if (gapMs > 0) await sleep(gapMs);
    }
  }

  /** The first run of the agent's activation that started at or after `since` (epoch ms). */
  async function runStartedSince(agentId: string, since: number): Promise<number | undefined> {
    const runs = await activationRuns(stack.client, agentId);
    return runs.find((r) => r.start >= since - 50)?.start;
  }

  beforeAll(async () => {
    stack = await startStack({ script });
    agents = await Promise.all(Array.from({ length: 50 }, (_, i) => stack.addAgent(`co${i}`)));
    await stack.startRunner();
  });

  afterAll(async () => {
    for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await stack?.stop();
  });

  it('one poller at a time; SIGKILL and SIGTERM failovers; 200 notifications handled, never two activations of an agent', async () => {
    const a = spawn('A');
    const b = spawn('B');
    const first = await waitUntil(
      'a leader',
      () => (a.leading() ? a : b.leading() ? b : undefined),
      20_000,
      25,
    );
    let follower = first === a ? b : a;
    await follower.waitFor((l) => l.msg === 'ops server listening', 20_000);
    // The leader's long poll is open (nothing unread yet): the simulator now counts one poller.
    await waitUntil(
      'an open long poll',
      async () => (await stack.hub.admin.pollStats()).open_now === 1,
      10_000,
      50,
    );

    // Phase 1: 70 notifications while `first` leads.
    await inject(70, 10);
    await waitUntil(
      'phase 1 read',
      async () => (await stack.hub.admin.notifications()).every((n) => n.read),
      60_000,
      250,
    );
    let stats = await stack.hub.admin.pollStats();
    const pollers = Object.entries(stats.clients)
      .filter(([, s]) => s.total > 0)
      .map(([c]) => c);
    expect(pollers).toEqual([first.owner()]);
    expect(stats.max_concurrent_distinct_pollers).toBe(1);

    // SIGKILL the leader; a notification right after must still be scheduled within 2 × TTL.
    const killedAt = Date.now();
    first.proc.kill('SIGKILL');
    const probeAgent = agents[0]!;
    await stack.hub.admin.injectNotification({ agent_id: probeAgent, content: 'after the crash' });
    injected++;
    const scheduledAt = await waitUntil(
      'scheduling after SIGKILL',
      () => runStartedSince(probeAgent, killedAt),
      3 * TTL_MS,
      50,
    );
    expect(scheduledAt - killedAt).toBeLessThanOrEqual(2 * TTL_MS);
    expect(follower.leading()).toBe(true);

    // A replacement replica joins; 65 more notifications; then the leader is stopped with SIGTERM.
    const c = spawn('C');
    await c.waitFor((l) => l.msg === 'ops server listening', 20_000);
    await inject(65, 10);
    const leader = follower;
    follower = c;
    const termAt = Date.now();
    leader.proc.kill('SIGTERM');
    await waitUntil('takeover after SIGTERM', () => c.leading(), 5000, 20);
    const takeoverMs = Date.now() - termAt;
    expect(takeoverMs).toBeLessThanOrEqual(2000);
    process.stderr.write(
      `coordinator failover: SIGKILL → scheduled in ${scheduledAt - killedAt} ms; SIGTERM → takeover in ${takeoverMs} ms\n`,
    );
    expect(await leader.exited).toBe(0);
    expect(leader.lines.some((l) => l.msg === 'leader lease released' && l.released === true)).toBe(true);

    // The rest, up to 200 in all, with C leading.
    await inject(200 - injected, 10);
    expect(injected).toBe(200);
    const all = await waitUntil(
      'every notification read',
      async () => {
        const ns = await stack.hub.admin.notifications();
        return ns.length === 200 && ns.every((n) => n.read) ? ns : undefined;
      },
      90_000,
      250,
    );
    expect(all).toHaveLength(200);

    // Temporal's visibility: every agent ran, and no agent ever had two activations at once.
    await waitUntil(
      'visibility up to date',
      async () => {
        const runs = await Promise.all(agents.map((id) => activationRuns(stack.client, id)));
        return runs.every((r) => r.length > 0 && r.every((x) => x.close !== undefined));
      },
      30_000,
      500,
    );
    let totalRuns = 0;
    for (const id of agents) {
      const runs = await activationRuns(stack.client, id);
      totalRuns += runs.length;
      expect(overlaps(runs), `overlapping activations of ${id}`).toEqual([]);
    }
    expect(totalRuns).toBeGreaterThanOrEqual(50);

    stats = await stack.hub.admin.pollStats();
    expect(stats.max_concurrent_distinct_pollers).toBe(1);
    // Between the failovers, the polls came from the one leader of that period only.
    const polledBy = async (since: number, until: number): Promise<string[]> =>
      ((await stack.hub.admin.pollStats({ since, until })).window?.clients ?? []).sort();
    expect(await polledBy(scheduledAt + 100, termAt)).toEqual([leader.owner()]);
    expect(await polledBy(termAt + 2000, Date.now())).toEqual([c.owner()]);
    const owners = new Set([a.owner(), b.owner(), c.owner()]);
    for (const client of Object.keys(stats.clients)) expect(owners.has(client)).toBe(true);
    // The dedupe window kept the long poll from spinning: far fewer polls than a hot loop would make.
    const totalPolls = Object.values(stats.clients).reduce((n, s) => n + s.total, 0);
    expect(totalPolls).toBeLessThan(2000);
  });

  it('explores stale agents that enable discovery, honouring an hourly frequency, and skips invalid definitions', async () => {
    const leader = await waitUntil(
      'a leader',
      () => procs.find((p) => p.proc.exitCode === null && p.proc.signalCode === null && p.leading()),
      10_000,
    );
    const explorer = await stack.addAgent('explorer', {
      extra: {
        behavior: {
          max_iterations: 2,
          discovery: { enabled: true, frequency: 'hourly' },
          limits: {
            max_daily_posts: 5,
            max_daily_comments: 5,
            max_responses_per_thread: 1,
            min_interval_seconds: 0,
          },
        },
      },
    });
    const broken = await stack.addAgent('broken');
    const file = path.join(stack.definitionsDir, 'agents', broken, 'config.yaml');
    const cfg = YAML.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(file, YAML.stringify({ ...cfg, behavior: { discovery: { enabled: 'very' } } }));

    // The explorer never gets notifications: each of its runs is an exploration.
    const explorations = async (id: string) => (await activationRuns(stack.client, id)).length;
    await waitUntil('an exploration run', async () => (await explorations(explorer)) > 0, 15_000, 200);
    await leader.waitFor(
      (l) => l.msg === 'invalid agent definition: not exploring' && l.agentId === broken,
      10_000,
    );
    // Three more exploration rounds (poll interval 2 s): hourly means no second run.
    await sleep(6500);
    expect(await explorations(explorer)).toBe(1);
    const [run] = await activationRuns(stack.client, explorer);
    const desc = await stack.client.workflow.getHandle(activationWorkflowId(explorer), run!.runId).describe();
    expect(desc.taskQueue).toBe('botburrow-normal');
    expect(desc.searchAttributes.BotburrowTrigger).toEqual(['exploration']);
    const recorded = await stack.redis.hget(stack.keys.explorationStarts(), explorer);
    expect(Number(recorded)).toBeGreaterThan(Date.now() - 60_000);
    // The invalid definition is reported once, not every round, and never crashed the leader.
    expect(
      leader.lines.filter((l) => l.msg === 'invalid agent definition: not exploring' && l.agentId === broken),
    ).toHaveLength(1);
    expect(leader.proc.exitCode).toBeNull();
    // Agents without discovery were never explored.
    expect((await activationRuns(stack.client, agents[1]!)).length).toBeGreaterThan(0);
    const nonExplorer = await stack.client.workflow.count(
      `BotburrowTrigger = "exploration" AND BotburrowAgentId = "${agents[1]!}"`,
    );
    expect(nonExplorer.count).toBe(0);
  });
});
