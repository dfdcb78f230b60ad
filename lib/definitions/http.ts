/**
 * `POST /api/v1/cache/invalidate[?agent=<id>]` for the coordinator's ops server: drops cached
 * agent definitions so a changed persona is used at the next activation.
 */
import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { DefinitionError } from '../errors';
import type { AgentRegistry } from './registry';

export const CACHE_INVALIDATE_PATH = '/api/v1/cache/invalidate';

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m?.[1]) return false;
  const given = Buffer.from(m[1].trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * A route for `startOpsServer({ routes })`. Answers `{ invalidated: n }`; 401 without the right
 * `Authorization: Bearer <BOTBURROW_ADMIN_TOKEN>`, 503 when no token is configured (the endpoint
 * is then off) or Valkey fails, 400 for a malformed agent id, 405 for other methods.
 * Resolves false for any other path.
 */
export function cacheInvalidateRoute(o: {
  registry: Pick<AgentRegistry, 'invalidate'>;
  token?: string;
}): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== CACHE_INVALIDATE_PATH) return false;
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      send(res, 405, { error: 'use POST' });
      return true;
    }
    if (o.token === undefined || o.token === '') {
      send(res, 503, { error: 'admin endpoints are disabled: BOTBURROW_ADMIN_TOKEN is not set' });
      return true;
    }
    if (!tokenMatches(req.headers.authorization, o.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      send(res, 401, { error: 'missing or wrong bearer token' });
      return true;
    }
    const agent = url.searchParams.get('agent') ?? undefined;
    try {
      const invalidated = await o.registry.invalidate(agent === '' ? undefined : agent);
      send(res, 200, { invalidated });
    } catch (err) {
      if (err instanceof DefinitionError) send(res, 400, { error: err.rule });
      else send(res, 503, { error: `cache unavailable: ${(err as Error).message}` });
    }
    return true;
  };
}
