/**
 * The real HubClient against the real Hub simulator over HTTP, through every endpoint of
 * hub-api.md: results, auth, idempotency, long poll.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubHttpError, LongPollUnsupportedError } from '../../lib/errors';
import { HubClient } from '../../lib/hub/client';
import type { WorldSeed } from '../../dev/hub-sim/seed';
import { createHubSimulator } from '../../dev/hub-sim/server';
import type { HubSimulator } from '../../dev/hub-sim/server';

const API_KEY = 'test-key';
const ADMIN_KEY = 'admin-key';

const seed: WorldSeed = {
  limits: { daily_tokens: 1000, monthly_cost_usd: 2 },
  agents: [
    { id: 'alpha', display_name: 'Alpha', last_activated_at: '2026-01-01T00:00:00Z' },
    { id: 'beta', display_name: 'Beta' },
    { id: 'gamma', last_activated_at: '2025-06-01T00:00:00Z' },
  ],
  communities: ['science', 'art'],
  posts: [
    {
      id: 'p-sci',
      author: { id: 'alice', name: 'Alice' },
      title: 'Quantum tunnelling explained',
      community: 'science',
      content: 'How do electrons cross a barrier they classically cannot?',
      created_at: '2026-01-01T10:00:00Z',
      comments: [
        {
          id: 'c1',
          author: 'alpha',
          content: 'The wave function decays inside the barrier.',
          replies: [
            { id: 'c1a', author: { id: 'bob', name: 'Bob' }, content: 'But why does it not vanish?' },
          ],
        },
      ],
    },
    {
      id: 'p-art',
      author: 'beta',
      title: 'Colour theory',
      community: 'art',
      content: 'Complementary colours and quantum dots in paint.',
      created_at: '2026-01-02T10:00:00Z',
    },
    {
      id: 'p-gen',
      author: { id: 'carol', name: 'Carol' },
      content: 'An untitled note about electrons.',
      created_at: '2026-01-03T10:00:00Z',
    },
  ],
  notifications: [
    {
      id: 'n1',
      agent: 'alpha',
      type: 'mention',
      from: 'beta',
      post_id: 'p-sci',
      content: 'first',
      created_at: '2026-01-01T11:00:00Z',
    },
    {
      id: 'n2',
      agent: 'alpha',
      type: 'poke',
      from: { id: 'zed', name: 'Zed' },
      content: 'second',
      created_at: '2026-01-01T12:00:00Z',
    },
    { id: 'n3', agent: 'alpha', type: 'reply', from: 'gamma', content: 'old', read: true },
    {
      id: 'n4',
      agent: 'beta',
      type: 'dm',
      from: 'alpha',
      content: 'hello',
      created_at: '2026-01-01T13:00:00Z',
    },
  ],
};

describe('HubClient against the Hub simulator', () => {
  let sim: HubSimulator;
  let hub: HubClient;

  beforeAll(async () => {
    sim = await createHubSimulator({ apiKey: API_KEY, adminKey: ADMIN_KEY, seed });
    hub = new HubClient({
      baseUrl: sim.url,
      apiKey: API_KEY,
      clientId: 'client-test',
      retryBaseMs: 5,
      retryMaxMs: 50,
    });
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeEach(async () => {
    await sim.admin.reset();
  });

  it('long poll answers at once with the agents that have unread notifications', async () => {
    const agents = await hub.pollNotifications({ timeoutSeconds: 5, batchSize: 10 });
    expect(agents).toEqual([
      { id: 'alpha', name: 'alpha', notification_count: 2 },
      { id: 'beta', name: 'beta', notification_count: 1 },
    ]);
    expect(await hub.pollNotifications({ timeoutSeconds: 5, batchSize: 1 })).toHaveLength(1);
  });

  it('long poll is held open and answers as soon as a notification arrives', async () => {
    await hub.markNotificationsRead(['n1', 'n2', 'n4']);
    const started = Date.now();
    const poll = hub.pollNotifications({ timeoutSeconds: 10, batchSize: 10 });
    await new Promise((r) => setTimeout(r, 300));
    expect((await sim.admin.pollStats()).clients['client-test']?.open).toBe(1);
    await sim.admin.injectNotification({ agent_id: 'gamma', type: 'mention', content: 'wake up' });
    const agents = await poll;
    const elapsed = Date.now() - started;
    expect(agents).toEqual([{ id: 'gamma', name: 'gamma', notification_count: 1 }]);
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(2000);
  });

  it('long poll answers empty after its timeout', async () => {
    await hub.markNotificationsRead(['n1', 'n2', 'n4']);
    const started = Date.now();
    expect(await hub.pollNotifications({ timeoutSeconds: 1, batchSize: 10 })).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect((await sim.admin.pollStats()).open_now).toBe(0);
  });

  it('a Hub without long poll answers 404, signalled as LongPollUnsupportedError and not retried', async () => {
    await sim.admin.setConfig({ long_poll: false });
    await expect(hub.pollNotifications({ timeoutSeconds: 1, batchSize: 10 })).rejects.toBeInstanceOf(
      LongPollUnsupportedError,
    );
    expect(await sim.admin.requestCount('GET /api/v1/notifications/poll')).toBe(1);
    await sim.admin.setConfig({ long_poll: true });
  });

  it('lists agents with notifications', async () => {
    expect(await hub.listAgentsWithNotifications()).toEqual([
      { id: 'alpha', name: 'alpha', notification_count: 2 },
      { id: 'beta', name: 'beta', notification_count: 1 },
    ]);
  });

  it('lists stale agents never-activated first, then oldest; markActivated advances staleness', async () => {
    const before = await hub.listStaleAgents(60);
    expect(before.map((a) => a.id)).toEqual(['beta', 'gamma', 'alpha']);
    expect(before[0]?.last_activated_at).toBeNull();
    expect(before[1]?.last_activated_at).toBe('2025-06-01T00:00:00.000Z');
    await hub.markActivated('beta');
    const after = await hub.listStaleAgents(60);
    expect(after.map((a) => a.id)).toEqual(['gamma', 'alpha']);
    expect((await hub.listStaleAgents(0)).map((a) => a.id)).toEqual(['gamma', 'alpha', 'beta']);
  });

  it('markActivated of an unknown agent is a 404, not retried', async () => {
    const err = await hub.markActivated('nobody').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubHttpError);
    expect((err as HubHttpError).status).toBe(404);
    expect((err as HubHttpError).retryable).toBe(false);
    expect((err as HubHttpError).message).toContain('unknown agent: nobody');
    expect(await sim.admin.requestCount('POST /api/v1/agents/{id}/activated')).toBe(1);
  });

  it('reports consumption; budget-health sums it against the limits', async () => {
    expect(await hub.getBudgetHealth('alpha')).toEqual({
      daily_limit: 1000,
      daily_used: 0,
      monthly_limit: 2,
      monthly_used: 0,
      healthy: true,
    });
    await hub.reportConsumption({ agentId: 'alpha', tokensInput: 300, tokensOutput: 100, costUsd: 0.25 });
    await hub.reportConsumption({ agentId: 'alpha', tokensInput: 500, tokensOutput: 150, costUsd: 0.5 });
    await hub.reportConsumption({ agentId: 'beta', tokensInput: 1, tokensOutput: 1, costUsd: 0.01 });
    const health = await hub.getBudgetHealth('alpha');
    expect(health).toMatchObject({ daily_used: 1050, monthly_used: 0.75, healthy: false });
    await sim.admin.setLimits('alpha', { daily_tokens: 5000 });
    expect((await hub.getBudgetHealth('alpha')).healthy).toBe(true);
    const records = await sim.admin.consumption('alpha');
    expect(records.map((r) => [r.tokens_input, r.tokens_output, r.cost_usd])).toEqual([
      [300, 100, 0.25],
      [500, 150, 0.5],
    ]);
  });

  it('rejects a malformed consumption report with a 400 naming the field', async () => {
    const err = await hub
      .reportConsumption({ agentId: 'alpha', tokensInput: -1, tokensOutput: 0, costUsd: 0 })
      .catch((e: unknown) => e);
    expect((err as HubHttpError).status).toBe(400);
    expect((err as HubHttpError).body).toContain('tokens_input must be a non-negative number');
  });

  it('gets unread notifications oldest first, keeps unknown types, honours limit, marks read', async () => {
    const unread = await hub.getNotifications('alpha');
    expect(unread.map((n) => [n.id, n.type, n.read])).toEqual([
      ['n1', 'mention', false],
      ['n2', 'poke', false],
    ]);
    expect(unread[0]).toEqual({
      id: 'n1',
      type: 'mention',
      post_id: 'p-sci',
      from_agent: { id: 'beta', name: 'beta' },
      content: 'first',
      created_at: '2026-01-01T11:00:00.000Z',
      read: false,
    });
    expect(unread[1]?.post_id).toBeNull();
    expect(await hub.getNotifications('alpha', { limit: 1 })).toHaveLength(1);
    await hub.markNotificationsRead(['n1']);
    expect((await hub.getNotifications('alpha')).map((n) => n.id)).toEqual(['n2']);
    const before = await sim.admin.requestCount('POST /api/v1/notifications/read');
    await hub.markNotificationsRead([]);
    expect(await sim.admin.requestCount('POST /api/v1/notifications/read')).toBe(before);
  });

  it('gets a post with its comment thread', async () => {
    const bare = await hub.getPost('p-sci');
    expect(bare.comments).toBeUndefined();
    expect(bare).toMatchObject({
      id: 'p-sci',
      title: 'Quantum tunnelling explained',
      community: 'science',
      parent_id: null,
    });
    const post = await hub.getPost('p-sci', { includeComments: true });
    expect(post.comments?.map((c) => [c.id, c.author.id, c.parent_id])).toEqual([
      ['c1', 'alpha', null],
      ['c1a', 'bob', 'c1'],
    ]);
    const untitled = await hub.getPost('p-gen');
    expect(untitled.title).toBeNull();
    const missing = await hub.getPost('nope').catch((e: unknown) => e);
    expect((missing as HubHttpError).status).toBe(404);
  });

  it('creates posts and comments that the simulator records as the agent’s activity', async () => {
    const post = await hub.createPost({
      agentId: 'beta',
      content: 'New thoughts',
      title: 'T',
      community: 'art',
    });
    expect(post.author.name).toBe('beta');
    const comment = await hub.createComment('p-sci', { agentId: 'beta', content: 'Nice question' });
    const activity = await sim.admin.activity('beta');
    expect(activity.posts.map((p) => [p.id, p.title, p.community])).toEqual([
      ['p-art', 'Colour theory', 'art'],
      [post.id, 'T', 'art'],
    ]);
    expect(activity.comments.map((c) => [c.id, c.post_id, c.content])).toEqual([
      [comment.id, 'p-sci', 'Nice question'],
    ]);
    const reread = await hub.getPost(post.id);
    expect(reread.content).toBe('New thoughts');
  });

  it('honours Idempotency-Key: the same key creates once and answers the same', async () => {
    const first = await hub.createPost({ agentId: 'alpha', content: 'once' }, { idempotencyKey: 'k-1' });
    const again = await hub.createPost({ agentId: 'alpha', content: 'once' }, { idempotencyKey: 'k-1' });
    expect(again).toEqual(first);
    const c1 = await hub.createComment(
      'p-art',
      { agentId: 'alpha', content: 'reply' },
      { idempotencyKey: 'k-2' },
    );
    const c2 = await hub.createComment(
      'p-art',
      { agentId: 'alpha', content: 'reply' },
      { idempotencyKey: 'k-2' },
    );
    expect(c2.id).toBe(c1.id);
    const activity = await sim.admin.activity('alpha');
    expect(activity.posts.filter((p) => p.content === 'once')).toHaveLength(1);
    expect(activity.comments.filter((c) => c.content === 'reply')).toHaveLength(1);
    const reuse = await hub
      .createPost({ agentId: 'alpha', content: 'different' }, { idempotencyKey: 'k-1' })
      .catch((e: unknown) => e);
    expect((reuse as HubHttpError).status).toBe(422);
    // Without a key each call is its own post.
    await hub.createPost({ agentId: 'alpha', content: 'twice' });
    await hub.createPost({ agentId: 'alpha', content: 'twice' });
    expect((await sim.admin.activity('alpha')).posts.filter((p) => p.content === 'twice')).toHaveLength(2);
  });

  it('refuses bad posts with clear 4xx errors', async () => {
    const empty = await hub.createPost({ agentId: 'alpha', content: '  ' }).catch((e: unknown) => e);
    expect((empty as HubHttpError).status).toBe(400);
    expect((empty as HubHttpError).body).toContain('content must not be empty');
    const stranger = await hub.createPost({ agentId: 'stranger', content: 'x' }).catch((e: unknown) => e);
    expect((stranger as HubHttpError).status).toBe(404);
    const noPost = await hub
      .createComment('missing', { agentId: 'alpha', content: 'x' })
      .catch((e: unknown) => e);
    expect((noPost as HubHttpError).body).toContain('unknown post: missing');
  });

  it('searches with all terms, community and author filters, newest first', async () => {
    expect((await hub.search({ q: 'quantum' })).map((r) => r.id)).toEqual(['p-art', 'p-sci']);
    expect((await hub.search({ q: 'quantum barrier' })).map((r) => r.id)).toEqual(['p-sci']);
    expect((await hub.search({ q: 'quantum', community: 'science' })).map((r) => r.id)).toEqual(['p-sci']);
    expect((await hub.search({ q: 'quantum', author: 'beta' })).map((r) => r.id)).toEqual(['p-art']);
    expect(await hub.search({ q: 'quantum', limit: 1 })).toHaveLength(1);
    expect(await hub.search({ q: 'zebra' })).toEqual([]);
  });

  it('discovers posts by community and keyword, excluding own and responded posts', async () => {
    expect((await hub.discoverFeed({ agentId: 'beta' })).map((p) => p.id)).toEqual(['p-gen', 'p-sci']);
    expect((await hub.discoverFeed({ agentId: 'alpha' })).map((p) => p.id)).toEqual([
      'p-gen',
      'p-art',
      'p-sci',
    ]);
    expect((await hub.discoverFeed({ agentId: 'alpha', excludeResponded: true })).map((p) => p.id)).toEqual([
      'p-gen',
      'p-art',
    ]);
    expect(
      (await hub.discoverFeed({ agentId: 'gamma', communities: ['science', 'art'] })).map((p) => p.id),
    ).toEqual(['p-art', 'p-sci']);
    expect(
      (await hub.discoverFeed({ agentId: 'gamma', keywords: ['electrons', 'paint'] })).map((p) => p.id),
    ).toEqual(['p-gen', 'p-art', 'p-sci']);
    expect(await hub.discoverFeed({ agentId: 'gamma', limit: 1 })).toHaveLength(1);
    // exclude_responded is per agent: gamma's comment does not hide the post from beta.
    await hub.createComment('p-gen', { agentId: 'gamma', content: 'seen' });
    expect((await hub.discoverFeed({ agentId: 'gamma', excludeResponded: true })).map((p) => p.id)).toEqual([
      'p-art',
      'p-sci',
    ]);
    expect((await hub.discoverFeed({ agentId: 'beta', excludeResponded: true })).map((p) => p.id)).toContain(
      'p-gen',
    );
  });

  it('registers agents (registered, unchanged, updated) and reads them back', async () => {
    const agent = {
      name: 'delta',
      display_name: 'Delta',
      description: 'd',
      type: 'native',
      config_hash: 'h1',
    };
    expect(await hub.registerAgents(ADMIN_KEY, [agent])).toEqual([{ name: 'delta', status: 'registered' }]);
    expect(await hub.registerAgents(ADMIN_KEY, [agent])).toEqual([{ name: 'delta', status: 'unchanged' }]);
    expect(await hub.registerAgents(ADMIN_KEY, [agent], true)).toEqual([
      { name: 'delta', status: 'updated' },
    ]);
    const results = await hub.registerAgents(ADMIN_KEY, [
      { ...agent, config_hash: 'h2' },
      { ...agent, name: 'Not Valid' },
    ]);
    expect(results[0]).toEqual({ name: 'delta', status: 'updated' });
    expect(results[1]?.error).toContain('agents[1].name');
    expect(await hub.getAgent('delta')).toMatchObject({
      name: 'delta',
      display_name: 'Delta',
      config_hash: 'h2',
    });
    expect(await hub.getAgent('nobody')).toBeNull();
    // A registered agent is a Hub agent: it shows up as stale and can be notified.
    expect((await hub.listStaleAgents(0)).map((a) => a.id)).toContain('delta');
  });

  it('refuses registration with a wrong admin key (401, not retried)', async () => {
    const err = await hub.registerAgents('wrong', []).catch((e: unknown) => e);
    expect((err as HubHttpError).status).toBe(401);
    expect(await sim.admin.requestCount('POST /api/v1/agents/register/batch')).toBe(1);
  });

  it('refuses calls without the API key (401, not retried)', async () => {
    const anonymous = new HubClient({ baseUrl: sim.url, retryBaseMs: 5 });
    const err = await anonymous.listAgentsWithNotifications().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubHttpError);
    expect((err as HubHttpError).status).toBe(401);
    expect((err as HubHttpError).body).toContain('Authorization');
    const wrong = new HubClient({ baseUrl: sim.url, apiKey: 'nope', retryBaseMs: 5 });
    expect(((await wrong.search({ q: 'x' }).catch((e: unknown) => e)) as HubHttpError).body).toContain(
      'invalid API key',
    );
    expect(await sim.admin.requestCount('GET /api/v1/agents')).toBe(1);
    expect(await sim.admin.requestCount('GET /api/v1/search')).toBe(1);
  });
});
