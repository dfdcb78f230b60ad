/**
 * The real HubClient against the real Hub simulator with faults switched on: what is retried
 * (counted by the simulator), what is not, Retry-After, timeouts, malformed payloads, aborts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubHttpError, HubUnavailableError, PayloadError } from '../../lib/errors';
import { HubClient } from '../../lib/hub/client';
import type { HubClientOptions } from '../../lib/hub/client';
import { createHubSimulator } from '../../dev/hub-sim/server';
import type { HubSimulator } from '../../dev/hub-sim/server';

const seed = {
  agents: [{ id: 'alpha' }, { id: 'beta' }],
  posts: [{ id: 'p1', author: 'beta', title: 'Hello', content: 'hello world' }],
  notifications: [
    { id: 'n1', agent: 'alpha', type: 'mention', from: 'beta', post_id: 'p1', content: 'hi' },
    { id: 'n2', agent: 'alpha', type: 'reply', from: 'beta', content: 'again' },
  ],
};

const NOTIFICATIONS = 'GET /api/v1/notifications';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('HubClient retries and faults against the Hub simulator', () => {
  let sim: HubSimulator;
  const client = (o: Partial<HubClientOptions> = {}): HubClient =>
    new HubClient({ baseUrl: sim.url, maxRetries: 3, retryBaseMs: 5, retryMaxMs: 40, timeoutMs: 2000, ...o });

  beforeAll(async () => {
    sim = await createHubSimulator({ seed });
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeEach(async () => {
    await sim.admin.reset();
  });

  it('retries 5xx until it succeeds (each attempt reaches the Hub)', async () => {
    await sim.admin.addFault({ endpoint: NOTIFICATIONS, status: 503, count: 2 });
    const list = await client().getNotifications('alpha');
    expect(list.map((n) => n.id)).toEqual(['n1', 'n2']);
    expect(await sim.admin.requestCount(NOTIFICATIONS)).toBe(3);
    expect(await sim.admin.faults()).toEqual([]);
  });

  it('gives up after maxRetries with the last HubHttpError', async () => {
    await sim.admin.addFault({ endpoint: NOTIFICATIONS, status: 500 });
    const err = await rejection(client({ maxRetries: 2 }).getNotifications('alpha'));
    expect(err).toBeInstanceOf(HubHttpError);
    expect((err as HubHttpError).status).toBe(500);
    expect((err as HubHttpError).retryable).toBe(true);
    expect((err as HubHttpError).message).toContain('GET /api/v1/notifications: HTTP 500');
    expect(await sim.admin.requestCount(NOTIFICATIONS)).toBe(3);
  });

  it('does not retry other 4xx', async () => {
    for (const status of [400, 403, 404, 409, 422]) {
      await sim.admin.reset();
      await sim.admin.addFault({ endpoint: 'GET /api/v1/search', status, body: { error: `nope ${status}` } });
      const err = await rejection(client().search({ q: 'x' }));
      expect((err as HubHttpError).status).toBe(status);
      expect((err as HubHttpError).retryable).toBe(false);
      expect((err as HubHttpError).body).toContain(`nope ${status}`);
      expect(await sim.admin.requestCount('GET /api/v1/search')).toBe(1);
    }
  });

  it('honours Retry-After (seconds) on 429', async () => {
    await sim.admin.addFault({ endpoint: NOTIFICATIONS, status: 429, retryAfter: 1, count: 1 });
    const started = Date.now();
    const list = await client().getNotifications('alpha');
    const elapsed = Date.now() - started;
    expect(list).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(3000);
    expect(await sim.admin.requestCount(NOTIFICATIONS)).toBe(2);
  });

  it('honours Retry-After as an HTTP date on 503', async () => {
    const at = new Date(Date.now() + 2000);
    await sim.admin.addFault({
      endpoint: 'GET /api/v1/search',
      status: 503,
      retryAfter: at.toUTCString(),
      count: 1,
    });
    const started = Date.now();
    await client().search({ q: 'hello' });
    // HTTP dates have whole seconds: the wait is between 1 and 2 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(await sim.admin.requestCount('GET /api/v1/search')).toBe(2);
  });

  it('hands a Retry-After longer than a minute to the caller instead of sleeping', async () => {
    await sim.admin.addFault({ endpoint: NOTIFICATIONS, status: 429, retryAfter: 120 });
    const started = Date.now();
    const err = await rejection(client().getNotifications('alpha'));
    expect(Date.now() - started).toBeLessThan(1000);
    expect((err as HubHttpError).status).toBe(429);
    expect((err as HubHttpError).retryAfterMs).toBe(120_000);
    expect(await sim.admin.requestCount(NOTIFICATIONS)).toBe(1);
  });

  it('retries dropped connections, then reports the Hub unavailable', async () => {
    await sim.admin.addFault({ endpoint: 'GET /api/v1/agents', drop: true, count: 1 });
    expect(await client().listAgentsWithNotifications()).toHaveLength(1);
    expect(await sim.admin.requestCount('GET /api/v1/agents')).toBe(2);

    await sim.admin.addFault({ endpoint: 'GET /api/v1/agents', drop: true });
    const err = await rejection(client({ maxRetries: 2 }).listAgentsWithNotifications());
    expect(err).toBeInstanceOf(HubUnavailableError);
    expect((err as Error).message).toMatch(/^GET \/api\/v1\/agents: Hub unavailable after 3 attempts/);
    expect(await sim.admin.requestCount('GET /api/v1/agents')).toBe(5);
  });

  it('reports connection refused as HubUnavailableError after its retries', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const hub = new HubClient({
      baseUrl: `http://127.0.0.1:${port}`,
      maxRetries: 2,
      retryBaseMs: 5,
      retryMaxMs: 20,
    });
    const err = await rejection(hub.getBudgetHealth('alpha'));
    expect(err).toBeInstanceOf(HubUnavailableError);
    expect((err as Error).message).toContain('after 3 attempts');
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  it('times out a slow answer and retries it', async () => {
    await sim.admin.addFault({ endpoint: 'GET /api/v1/posts/{id}', delayMs: 1500, count: 1 });
    const started = Date.now();
    const post = await client({ timeoutMs: 300 }).getPost('p1');
    expect(post.id).toBe('p1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(await sim.admin.requestCount('GET /api/v1/posts/{id}')).toBe(2);

    await sim.admin.addFault({ endpoint: 'GET /api/v1/posts/{id}', delayMs: 1000 });
    const err = await rejection(client({ timeoutMs: 200, maxRetries: 1 }).getPost('p1'));
    expect(err).toBeInstanceOf(HubUnavailableError);
    expect((err as Error).message).toContain('no answer within 200 ms');
  });

  it('a slow answer within the timeout is simply slow', async () => {
    await sim.admin.addFault({ endpoint: 'GET /api/v1/posts/{id}', delayMs: 300 });
    const started = Date.now();
    expect((await client().getPost('p1')).title).toBe('Hello');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(await sim.admin.requestCount('GET /api/v1/posts/{id}')).toBe(1);
  });

  it('the long poll gets its timeout plus 5 s, not the call timeout', async () => {
    await sim.admin.reset({ agents: [{ id: 'alpha' }] });
    const started = Date.now();
    // The call timeout (300 ms) would abort a 1 s poll; the long poll must outlive it.
    expect(await client({ timeoutMs: 300 }).pollNotifications({ timeoutSeconds: 1, batchSize: 5 })).toEqual(
      [],
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(await sim.admin.requestCount('GET /api/v1/notifications/poll')).toBe(1);
  });

  it('a malformed payload names the endpoint and field, and is not retried', async () => {
    await sim.admin.addFault({
      endpoint: NOTIFICATIONS,
      malformed: { set: { 'notifications[1].from_agent.id': 42 } },
    });
    const err = await rejection(client().getNotifications('alpha'));
    expect(err).toBeInstanceOf(PayloadError);
    expect((err as PayloadError).message).toBe(
      'GET /api/v1/notifications: notifications[1].from_agent.id: expected string, got number',
    );
    expect(await sim.admin.requestCount(NOTIFICATIONS)).toBe(1);
  });

  it('a missing field and a body that is not JSON are PayloadErrors too', async () => {
    await sim.admin.addFault({
      endpoint: 'GET /api/v1/posts/{id}',
      malformed: { delete: ['author'] },
      count: 1,
    });
    const missing = await rejection(client().getPost('p1'));
    expect((missing as PayloadError).field).toBe('author');
    expect((missing as PayloadError).source).toBe('GET /api/v1/posts/{id}');

    await sim.admin.addFault({
      endpoint: 'GET /api/v1/system/budget-health',
      malformed: { raw: '<html>oops' },
    });
    const html = await rejection(client().getBudgetHealth('alpha'));
    expect(html).toBeInstanceOf(PayloadError);
    expect((html as Error).message).toMatch(/^GET \/api\/v1\/system\/budget-health: \(body\): invalid JSON/);

    await sim.admin.addFault({ endpoint: 'GET /api/v1/search', malformed: {} });
    expect((await rejection(client().search({ q: 'x' }))) as Error).toBeInstanceOf(PayloadError);
  });

  it('an abort stops a slow call at once, with no retry', async () => {
    await sim.admin.addFault({ endpoint: 'GET /api/v1/search', delayMs: 3000 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('shutting down')), 150);
    const err = await rejection(client().search({ q: 'x' }, { signal: controller.signal }));
    expect((err as Error).message).toBe('shutting down');
    expect(Date.now() - started).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 100));
    expect(await sim.admin.requestCount('GET /api/v1/search')).toBe(1);
  });

  it('an abort during the backoff wait stops retrying', async () => {
    await sim.admin.addFault({ endpoint: NOTIFICATIONS, status: 429, retryAfter: 5 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 200);
    const err = await rejection(client().getNotifications('alpha', {}, { signal: controller.signal }));
    expect((err as Error).name).toBe('AbortError');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await sim.admin.requestCount(NOTIFICATIONS)).toBe(1);
  });

  it('an already-aborted signal makes no request', async () => {
    const err = await rejection(client().getPost('p1', {}, { signal: AbortSignal.abort() }));
    expect((err as Error).name).toBe('AbortError');
    expect(await sim.admin.requestCount('GET /api/v1/posts/{id}')).toBe(0);
  });

  it('aborting an open long poll frees it on the Hub', async () => {
    await sim.admin.reset({ agents: [{ id: 'alpha' }] });
    const controller = new AbortController();
    const poll = client({ clientId: 'aborter' }).pollNotifications(
      { timeoutSeconds: 20, batchSize: 5 },
      { signal: controller.signal },
    );
    await new Promise((r) => setTimeout(r, 200));
    expect((await sim.admin.pollStats()).clients.aborter).toEqual({ total: 1, open: 1 });
    controller.abort();
    await expect(poll).rejects.toMatchObject({ name: 'AbortError' });
    await new Promise((r) => setTimeout(r, 100));
    expect((await sim.admin.pollStats()).open_now).toBe(0);
  });

  it('a POST whose answer was lost is retried with the same Idempotency-Key and creates once', async () => {
    await sim.admin.addFault({ endpoint: 'POST /api/v1/posts', loseAnswer: true, count: 1 });
    await sim.admin.addFault({ endpoint: 'POST /api/v1/posts/{id}/comments', loseAnswer: true, count: 2 });
    const post = await client().createPost({ agentId: 'alpha', content: 'posted once' });
    const comment = await client().createComment('p1', { agentId: 'alpha', content: 'commented once' });
    expect(await sim.admin.requestCount('POST /api/v1/posts')).toBe(2);
    expect(await sim.admin.requestCount('POST /api/v1/posts/{id}/comments')).toBe(3);
    const activity = await sim.admin.activity('alpha');
    expect(activity.posts.map((p) => p.id)).toEqual([post.id]);
    expect(activity.comments.map((c) => c.id)).toEqual([comment.id]);
  });

  it('a simulator without idempotency keys would have doubled the post (control)', async () => {
    await sim.admin.addFault({ endpoint: 'POST /api/v1/posts', loseAnswer: true, count: 1 });
    const res = await fetch(`${sim.url}/api/v1/posts`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ agent_id: 'alpha', content: 'keyless' }),
    }).catch((e: unknown) => e);
    expect(res).toBeInstanceOf(Error);
    await client().createPost({ agentId: 'alpha', content: 'keyless' });
    expect((await sim.admin.activity('alpha')).posts.filter((p) => p.content === 'keyless')).toHaveLength(2);
  });

  it('fault "*" hits every endpoint until cleared', async () => {
    const fault = await sim.admin.addFault({ endpoint: '*', status: 502 });
    expect(((await rejection(client({ maxRetries: 0 }).search({ q: 'x' }))) as HubHttpError).status).toBe(
      502,
    );
    expect(((await rejection(client({ maxRetries: 0 }).getPost('p1'))) as HubHttpError).status).toBe(502);
    expect(await sim.admin.clearFault(fault.id)).toBe(1);
    expect((await client().getPost('p1')).id).toBe('p1');
  });
});
