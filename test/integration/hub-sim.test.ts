/**
 * The Hub simulator's own behaviour over HTTP: poll statistics, event-driven wake-ups, social
 * notifications, ambient mode, error answers, seeds, reset, and the standalone entry point.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubClient } from '../../lib/hub/client';
import { createHubSimulator } from '../../dev/hub-sim/server';
import type { HubSimulator, PollStats } from '../../dev/hub-sim/server';

const ROOT = path.resolve(__dirname, '../..');
const seed = {
  agents: [{ id: 'alpha' }, { id: 'beta' }, { id: 'gamma' }],
  posts: [{ id: 'p1', author: 'alpha', title: 'Alpha speaks', content: 'hello' }],
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Hub simulator', () => {
  let sim: HubSimulator;
  const hub = (clientId?: string): HubClient => new HubClient({ baseUrl: sim.url, clientId, retryBaseMs: 5 });

  beforeAll(async () => {
    sim = await createHubSimulator({ seed });
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeEach(async () => {
    await sim.admin.reset();
  });

  /** Poll statistics once `ready` holds (checked every 20 ms, up to 5 s). */
  async function statsWhen(ready: (s: PollStats) => boolean): Promise<PollStats> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const stats = await sim.admin.pollStats();
      if (ready(stats) || Date.now() > deadline) return stats;
      await sleep(20);
    }
  }

  it('counts polls per client, open polls, and the most distinct pollers open at once', async () => {
    const a = hub('replica-a').pollNotifications({ timeoutSeconds: 10, batchSize: 10 });
    const a2 = hub('replica-a').pollNotifications({ timeoutSeconds: 10, batchSize: 10 });
    // Wait until both polls are held open (a fixed sleep is flaky on a loaded machine).
    let stats = await statsWhen((s) => s.open_now === 2);
    expect(stats.clients['replica-a']).toEqual({ total: 2, open: 2 });
    // Two polls of one client are one distinct poller.
    expect(stats.max_concurrent_distinct_pollers).toBe(1);
    const b = hub('replica-b').pollNotifications({ timeoutSeconds: 10, batchSize: 10 });
    stats = await statsWhen((s) => s.open_now === 3);
    expect(stats.open_now).toBe(3);
    expect(stats.max_concurrent_distinct_pollers).toBe(2);
    await sim.admin.injectNotification({ agent_id: 'beta' });
    await Promise.all([a, a2, b]);
    stats = await sim.admin.pollStats();
    expect(stats.open_now).toBe(0);
    expect(stats.clients['replica-b']).toEqual({ total: 1, open: 0 });
    expect(stats.max_concurrent_distinct_pollers).toBe(2);
    await sim.admin.resetPollStats();
    expect((await sim.admin.pollStats()).max_concurrent_distinct_pollers).toBe(0);
  });

  it('tells which clients polled inside a time window', async () => {
    await hub('early').pollNotifications({ timeoutSeconds: 0, batchSize: 1 });
    await sleep(50);
    const since = Date.now();
    await hub('late').pollNotifications({ timeoutSeconds: 0, batchSize: 1 });
    await hub().pollNotifications({ timeoutSeconds: 0, batchSize: 1 });
    const stats = await sim.admin.pollStats({ since });
    expect(stats.window?.clients).toEqual(['anonymous', 'late']);
    expect(stats.window?.polls).toBe(2);
    expect((await sim.admin.pollStats({ until: since })).window?.clients).toEqual(['early']);
  });

  it('one notification wakes every open poll at once', async () => {
    const polls = [1, 2, 3, 4].map((i) =>
      hub(`c${i}`).pollNotifications({ timeoutSeconds: 10, batchSize: 10 }),
    );
    await sleep(150);
    const injected = Date.now();
    await sim.admin.injectNotification({ agent_id: 'gamma', type: 'thread_update' });
    const answers = await Promise.all(polls);
    expect(Date.now() - injected).toBeLessThan(500);
    for (const agents of answers)
      expect(agents).toEqual([{ id: 'gamma', name: 'gamma', notification_count: 1 }]);
    const [n] = await hub().getNotifications('gamma');
    expect(n?.type).toBe('thread_update');
    expect(n?.from_agent).toEqual({ id: 'hub-user', name: 'hub-user' });
  });

  it('a request that notifies several agents answers an open poll once, with all of them', async () => {
    await sim.admin.setConfig({ social: true });
    const poll = hub('burst').pollNotifications({ timeoutSeconds: 10, batchSize: 10 });
    await sleep(150);
    await hub().createComment('p1', { agentId: 'beta', content: 'cc @gamma' });
    expect((await poll).map((a) => a.id)).toEqual(['alpha', 'gamma']);
  });

  it('social mode notifies post authors, comment authors and mentioned agents, never the writer', async () => {
    await sim.admin.setConfig({ social: true });
    const c = await hub().createComment('p1', { agentId: 'beta', content: 'Nice, @gamma should see this' });
    expect((await hub().getNotifications('alpha')).map((n) => [n.type, n.from_agent.id, n.post_id])).toEqual([
      ['comment', 'beta', 'p1'],
    ]);
    expect((await hub().getNotifications('gamma')).map((n) => n.type)).toEqual(['mention']);
    expect(await hub().getNotifications('beta')).toEqual([]);
    // A reply inside the thread notifies the parent comment's author (over raw HTTP: parent_id).
    const res = await fetch(`${sim.url}/api/v1/posts/p1/comments`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ agent_id: 'alpha', content: 'thanks', parent_id: c.id }),
    });
    expect(res.status).toBe(201);
    expect((await hub().getNotifications('beta')).map((n) => n.type)).toEqual(['reply']);
    // The author commenting on their own post is told nothing new.
    expect((await hub().getNotifications('alpha')).map((n) => n.type)).toEqual(['comment']);
    await hub().createPost({ agentId: 'gamma', content: 'hey @alpha and @nobody' });
    expect((await hub().getNotifications('alpha')).map((n) => n.type)).toEqual(['comment', 'mention']);
    await sim.admin.setConfig({ social: false });
    await hub().createComment('p1', { agentId: 'gamma', content: '@beta quiet now' });
    expect(await hub().getNotifications('beta')).toHaveLength(1);
  });

  it('answers bad requests with clear JSON errors', async () => {
    const get = async (p: string, init?: RequestInit): Promise<[number, string]> => {
      const res = await fetch(sim.url + p, init);
      const body = (await res.json()) as { error: string };
      return [res.status, body.error];
    };
    expect(await get('/api/v1/nothing')).toEqual([404, 'no such endpoint: GET /api/v1/nothing']);
    expect(await get('/api/v1/search', { method: 'POST' })).toEqual([
      405,
      'method POST not allowed on /api/v1/search',
    ]);
    expect(await get('/api/v1/search')).toEqual([400, 'query q is required']);
    expect((await get('/api/v1/search?q=x&limit=0'))[1]).toBe(
      'query limit must be an integer from 1 to 100, got "0"',
    );
    expect(await get('/api/v1/notifications')).toEqual([400, 'query agent_id is required']);
    expect(await get('/api/v1/notifications?agent_id=zed')).toEqual([404, 'unknown agent: zed']);
    expect(await get('/api/v1/system/budget-health')).toEqual([400, 'agent_id is required']);
    expect((await get('/api/v1/agents?stale=maybe'))[1]).toContain('query stale must be true or false');
    expect((await get('/api/v1/feed/discover?exclude_responded=true'))[1]).toBe(
      'exclude_responded=true needs agent_id',
    );
    const post = (p: string, body: string): Promise<[number, string]> =>
      get(p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    expect((await post('/api/v1/posts', '{oops'))[1]).toMatch(/^body is not valid JSON/);
    expect(await post('/api/v1/posts', '[1]')).toEqual([400, 'body must be a JSON object']);
    expect(await post('/api/v1/posts', '{"content":"x"}')).toEqual([400, 'body field agent_id is required']);
    expect(await post('/api/v1/notifications/read', '{"notification_ids":[1]}')).toEqual([
      400,
      'body field notification_ids must be an array of strings',
    ]);
    const fault = await fetch(`${sim.url}/_admin/faults`, {
      method: 'POST',
      body: JSON.stringify({ endpoint: 'GET /api/v1/nope', status: 500 }),
    });
    expect(fault.status).toBe(400);
    expect(await fault.text()).toContain('known: GET /api/v1/notifications/poll');
    await expect(sim.admin.addFault({ endpoint: 'GET /api/v1/search' })).rejects.toThrow(/a fault needs/);
  });

  it('a fault with a probability hits that share of requests, repeatably, and counts only its hits', async () => {
    /** Which of `n` sequential searches the fault answered with 503. */
    const pattern = async (n: number): Promise<boolean[]> => {
      const out: boolean[] = [];
      for (let i = 0; i < n; i++) {
        out.push((await fetch(`${sim.url}/api/v1/search?q=hello`)).status === 503);
      }
      return out;
    };
    const { id } = await sim.admin.addFault({
      endpoint: 'GET /api/v1/search',
      status: 503,
      probability: 0.25,
    });
    const first = await pattern(400);
    const hit = first.filter(Boolean).length;
    // 100 expected; a binomial(400, 0.25) stays within ±40 far beyond 4 standard deviations.
    expect(hit).toBeGreaterThan(60);
    expect(hit).toBeLessThan(140);
    expect((await sim.admin.faults()).find((f) => f.id === id)?.hits).toBe(hit);
    // Reset re-seeds the generator: the same requests meet the same faults.
    await sim.admin.reset();
    await sim.admin.addFault({ endpoint: 'GET /api/v1/search', status: 503, probability: 0.25 });
    expect(await pattern(400)).toEqual(first);

    // A spared request goes on to the next fault; `count` counts hits, then the fault clears.
    await sim.admin.reset();
    await sim.admin.addFault({ endpoint: 'GET /api/v1/search', status: 503, probability: 0.5, count: 3 });
    await sim.admin.addFault({ endpoint: '*', status: 502 });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await fetch(`${sim.url}/api/v1/search?q=hello`)).status);
    expect(statuses.filter((s) => s === 503)).toHaveLength(3);
    expect(statuses.filter((s) => s === 502)).toHaveLength(17);
    expect(statuses.slice(statuses.lastIndexOf(503) + 1).every((s) => s === 502)).toBe(true);

    await expect(
      sim.admin.addFault({ endpoint: 'GET /api/v1/search', status: 503, probability: 1.5 }),
    ).rejects.toThrow(/probability must be a number from 0 to 1/);
  });

  it('reset returns to the initial seed, or loads a new one', async () => {
    await hub().createPost({ agentId: 'alpha', content: 'temporary' });
    await sim.admin.injectNotification({ agent_id: 'beta' });
    await sim.admin.addFault({ endpoint: '*', delayMs: 1 });
    await sim.admin.reset();
    let state = await sim.admin.state();
    expect(state.posts.map((p) => p.id)).toEqual(['p1']);
    expect(state.notifications).toEqual([]);
    expect(await sim.admin.faults()).toEqual([]);
    expect(await sim.admin.requestCounts()).toEqual({});
    await sim.admin.reset({
      agents: [{ id: 'solo' }],
      notifications: [{ agent: 'solo', type: 'dm', from: 'x' }],
    });
    state = await sim.admin.state();
    expect(state.agents.map((a) => a.id)).toEqual(['solo']);
    expect(await hub().listAgentsWithNotifications()).toEqual([
      { id: 'solo', name: 'solo', notification_count: 1 },
    ]);
    await expect(sim.admin.reset({ agents: [{ id: 'BAD' }] })).rejects.toThrow(/agents\[0\]\.id/);
  });

  it('ambient mode injects demo notifications that answer a waiting poll', async () => {
    const ambient = await createHubSimulator({ seed, ambientEverySeconds: 0.2 });
    try {
      const client = new HubClient({ baseUrl: ambient.url });
      const started = Date.now();
      const agents = await client.pollNotifications({ timeoutSeconds: 5, batchSize: 10 });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(agents).toHaveLength(1);
      const [n] = await client.getNotifications(agents[0]?.id ?? '');
      expect(n?.content).not.toBe('');
      expect(n?.from_agent.id).not.toBe(agents[0]?.id);
    } finally {
      await ambient.close();
    }
  });

  it('loads a seed file and refuses a broken one naming the file', async () => {
    const demo = await createHubSimulator({ seed: path.join(ROOT, 'dev/demo/world.yaml') });
    try {
      const state = await demo.admin.state();
      expect(state.agents.map((a) => a.id).sort()).toEqual([
        'critic-agent',
        'devops-agent',
        'poet-agent',
        'research-agent',
      ]);
      expect(
        (await new HubClient({ baseUrl: demo.url }).listAgentsWithNotifications()).length,
      ).toBeGreaterThan(0);
    } finally {
      await demo.close();
    }
    await expect(createHubSimulator({ seed: path.join(ROOT, 'package.json') })).rejects.toThrow(
      /package\.json: /,
    );
    await expect(createHubSimulator({ seed: '/nonexistent/world.yaml' })).rejects.toThrow(
      /\/nonexistent\/world\.yaml: cannot read seed/,
    );
  });

  it('runs standalone from dev/hub-sim/main.ts', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'dev/hub-sim/main.ts',
        '--port',
        '0',
        '--seed',
        'dev/demo/world.yaml',
        '--api-key',
        'k',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no start line: ${out}`)), 20_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m?.[1]) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      const client = new HubClient({ baseUrl: url, apiKey: 'k' });
      expect((await client.listStaleAgents(0)).length).toBe(4);
      const anonymous = await fetch(`${url}/api/v1/agents`);
      expect(anonymous.status).toBe(401);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
