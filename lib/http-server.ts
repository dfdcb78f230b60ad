import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger';

export type ReadinessCheck = () => Promise<boolean> | boolean;

export interface OpsServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  logger: Logger;
  /** Every check must answer true for `/ready` to be 200. Each check has 2 s to answer. */
  readiness?: Record<string, ReadinessCheck>;
  /** Extra Prometheus text appended to `/metrics` (e.g. the Temporal SDK's own worker metrics). */
  extraMetrics?: () => Promise<string>;
  /** Further routes (e.g. authenticated admin endpoints); return false when not handled. */
  routes?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

async function runCheck(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(check),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 2000);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** The small HTTP server every process runs: `/metrics`, `/health` (liveness), `/ready`. */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const { registry, logger } = options;
  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      logger.error({ err, url: req.url }, 'ops server request failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      let body = await registry.metrics();
      if (options.extraMetrics) {
        try {
          body += `\n${await options.extraMetrics()}`;
        } catch (err) {
          logger.debug({ err }, 'extra metrics unavailable');
        }
      }
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(body);
      return;
    }
    if (req.method === 'GET' && path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    if (req.method === 'GET' && path === '/ready') {
      const checks = options.readiness ?? {};
      const results: Record<string, boolean> = {};
      await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          results[name] = await runCheck(check);
        }),
      );
      const ready = Object.values(results).every(Boolean);
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ready, checks: results }));
      return;
    }
    if (options.routes && (await options.routes(req, res))) return;
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found"}');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port }, 'ops server listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
