/**
 * HubClient request building with a recording fake fetch (the HTTP behaviour itself is tested
 * against the real simulator in test/integration/hub-*.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { PayloadError } from '../../lib/errors';
import { HubClient } from '../../lib/hub/client';

interface Seen {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

function recorder(answers: (() => Response)[]): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const fake = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    seen.push({
      url: new URL(input instanceof Request ? input.url : input),
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string> | undefined) },
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    });
    const next = answers.shift();
    if (!next) throw new Error('no more answers');
    return Promise.resolve(next());
  };
  return { fetch: fake, seen };
}

const json =
  (body: unknown, status = 200): (() => Response) =>
  () =>
    new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const created = json({ id: 'p9', created_at: '2026-01-01T00:00:00Z', author: { name: 'a' } }, 201);

describe('HubClient requests', () => {
  it('sends the key, client id and JSON body; trims a trailing slash of the base URL', async () => {
    const r = recorder([created]);
    const hub = new HubClient({
      baseUrl: 'http://hub.test/',
      apiKey: 's3cret',
      clientId: 'coord-1',
      transport: r.fetch,
    });
    await hub.createPost({ agentId: 'a', content: 'hi', community: 'c' });
    const [req] = r.seen;
    expect(req?.url.toString()).toBe('http://hub.test/api/v1/posts');
    expect(req?.method).toBe('POST');
    expect(req?.headers.Authorization).toBe('Bearer s3cret');
    expect(req?.headers['X-Botburrow-Client']).toBe('coord-1');
    expect(req?.headers['Content-Type']).toBe('application/json');
    expect(req?.headers['Idempotency-Key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(req?.body).toEqual({ agent_id: 'a', content: 'hi', community: 'c' });
  });

  it('keeps one Idempotency-Key across the retries of one call, a new one per call', async () => {
    const r = recorder([json({ error: 'x' }, 503), created, created]);
    const hub = new HubClient({ baseUrl: 'http://hub.test', retryBaseMs: 1, transport: r.fetch });
    await hub.createComment('p/1', { agentId: 'a', content: 'c' });
    await hub.createComment('p/1', { agentId: 'a', content: 'c' }, { idempotencyKey: 'mine' });
    const keys = r.seen.map((s) => s.headers['Idempotency-Key']);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).toBe('mine');
    // Ids are path-encoded.
    expect(r.seen[0]?.url.pathname).toBe('/api/v1/posts/p%2F1/comments');
  });

  it('omits the key when none is configured and sends no Idempotency-Key on GETs', async () => {
    const r = recorder([json({ results: [] })]);
    const hub = new HubClient({ baseUrl: 'http://hub.test', transport: r.fetch });
    await hub.search({ q: 'a b', limit: 3, community: 'c' }, { idempotencyKey: 'ignored' });
    const [req] = r.seen;
    expect(req?.headers.Authorization).toBeUndefined();
    expect(req?.headers['Idempotency-Key']).toBeUndefined();
    expect(Object.fromEntries(req?.url.searchParams ?? [])).toEqual({ q: 'a b', limit: '3', community: 'c' });
  });

  it('builds the query strings of hub-api.md', async () => {
    const r = recorder([
      json({ posts: [] }),
      json({ notifications: [] }),
      json({ agents: [] }),
      json({ agents: [] }),
      json({ agents: [] }),
      json({}),
    ]);
    const hub = new HubClient({ baseUrl: 'http://hub.test', transport: r.fetch });
    await hub.discoverFeed({
      agentId: 'a',
      communities: ['x', 'y'],
      keywords: ['k'],
      excludeResponded: true,
      limit: 5,
    });
    await hub.getNotifications('a', { limit: 7 });
    await hub.listStaleAgents(900);
    await hub.listAgentsWithNotifications();
    await hub.pollNotifications({ timeoutSeconds: 2.5, batchSize: 50 });
    await hub.getBudgetHealth('a');
    const q = r.seen.map((s) => `${s.url.pathname}?${s.url.searchParams.toString()}`);
    expect(q).toEqual([
      '/api/v1/feed/discover?agent_id=a&limit=5&communities=x%2Cy&keywords=k&exclude_responded=true',
      '/api/v1/notifications?agent_id=a&unread=true&limit=7',
      '/api/v1/agents?stale=true&min_staleness=900',
      '/api/v1/agents?has_notifications=true',
      '/api/v1/notifications/poll?timeout=3&batch_size=50',
      '/api/v1/system/budget-health?agent_id=a',
    ]);
  });

  it('an empty 2xx body where a payload is expected is a PayloadError; void calls accept it', async () => {
    const r = recorder([() => new Response('', { status: 200 }), () => new Response(null, { status: 204 })]);
    const hub = new HubClient({ baseUrl: 'http://hub.test', transport: r.fetch });
    await expect(hub.getPost('p1')).rejects.toEqual(
      new PayloadError('GET /api/v1/posts/{id}', '', 'empty body, expected JSON'),
    );
    await expect(hub.markActivated('a')).resolves.toBeUndefined();
  });

  it('refuses a base URL that is not an http(s) URL', () => {
    expect(() => new HubClient({ baseUrl: 'localhost:8080' })).toThrow(
      'HubClient: baseUrl must be an http(s) URL, got "localhost:8080"',
    );
    expect(() => new HubClient({ baseUrl: '' })).toThrow(/must be an http\(s\) URL/);
  });
});
