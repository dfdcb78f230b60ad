/** The Hub client's node:http transport against a real local HTTP server. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeHttpTransport } from '../../lib/hub/transport';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  remotePort: number;
}

describe('nodeHttpTransport', () => {
  let server: http.Server;
  let base: string;
  const seen: Seen[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body,
          remotePort: req.socket.remotePort ?? 0,
        });
        if (req.url === '/limited') {
          res.writeHead(429, { 'Retry-After': '3', 'Content-Type': 'application/json' });
          res.end('{"error":"slow down"}');
        } else if (req.url === '/cut') {
          // Promise a long body, send part of it, then drop the connection.
          res.writeHead(200, { 'Content-Length': '1000' });
          res.write('{"partial":');
          setTimeout(() => res.socket?.destroy(), 20);
        } else if (req.url === '/hang') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.write('{"slow":');
        } else {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ ok: true, echo: body }));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const signal = (): AbortSignal => new AbortController().signal;

  it('sends method, headers and body, and reads status, headers and text', async () => {
    const res = await nodeHttpTransport(`${base}/api/v1/posts?x=1`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'k-1' },
      body: JSON.stringify({ content: 'héllo' }),
      signal: signal(),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(await res.text())).toEqual({ ok: true, echo: '{"content":"héllo"}' });
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ method: 'POST', url: '/api/v1/posts?x=1', body: '{"content":"héllo"}' });
    expect(last.headers['idempotency-key']).toBe('k-1');
    expect(last.headers['content-length']).toBe(String(Buffer.byteLength('{"content":"héllo"}')));
  });

  it('returns error statuses with their headers (names are case-insensitive)', async () => {
    const res = await nodeHttpTransport(`${base}/limited`, { method: 'GET', headers: {}, signal: signal() });
    expect(res.status).toBe(429);
    expect(res.headers.get('Retry-After')).toBe('3');
    expect(res.headers.get('x-missing')).toBeNull();
  });

  it('reuses its connection for calls one after another', async () => {
    const before = seen.length;
    for (let i = 0; i < 3; i++) {
      await (
        await nodeHttpTransport(`${base}/ping`, { method: 'GET', headers: {}, signal: signal() })
      ).text();
    }
    const ports = new Set(seen.slice(before).map((s) => s.remotePort));
    expect(ports.size).toBe(1);
  });

  it("drops an idle connection before the server's announced keep-alive timeout", async () => {
    server.keepAliveTimeout = 2000; // announced as Keep-Alive: timeout=2 → idle sockets go after 1 s
    try {
      const before = seen.length;
      await (
        await nodeHttpTransport(`${base}/ping`, { method: 'GET', headers: {}, signal: signal() })
      ).text();
      await new Promise((r) => setTimeout(r, 1300));
      await (
        await nodeHttpTransport(`${base}/ping`, { method: 'GET', headers: {}, signal: signal() })
      ).text();
      const [first, second] = seen.slice(before).map((s) => s.remotePort);
      expect(second).not.toBe(first);
    } finally {
      server.keepAliveTimeout = 5000;
    }
  });

  it('rejects when the connection drops in the middle of the body', async () => {
    await expect(
      nodeHttpTransport(`${base}/cut`, { method: 'GET', headers: {}, signal: signal() }),
    ).rejects.toThrow();
  });

  it('rejects at once when its signal aborts, even mid-body', async () => {
    const controller = new AbortController();
    const pending = nodeHttpTransport(`${base}/hang`, {
      method: 'GET',
      headers: {},
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error('caller gave up')), 50);
    const started = Date.now();
    await expect(pending).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rejects with the socket error when nothing listens', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(
      nodeHttpTransport(`http://127.0.0.1:${port}/`, { method: 'GET', headers: {}, signal: signal() }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});
