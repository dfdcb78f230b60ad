/**
 * The codec server, served on the coordinator's ops server: `POST /codec/decode` and
 * `POST /codec/encode` in Temporal's remote-codec protocol (body and answer
 * `{"payloads":[{"metadata":{k: base64}, "data": base64}]}`), so the Temporal UI
 * (`--ui-codec-endpoint http://<coordinator>:9090/codec`) and the CLI
 * (`temporal … --codec-endpoint … --codec-auth "Bearer <token>"`) show encrypted payloads decoded.
 *
 * Access: with BOTBURROW_CODEC_TOKEN set, every call needs `Authorization: Bearer <token>`;
 * without it, only loopback clients are answered (the local run, `kubectl port-forward`).
 * Browsers on the origins of BOTBURROW_CODEC_CORS_ORIGINS get the CORS headers the UI needs.
 */
import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Logger } from './logger';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Required bearer token; undefined → loopback clients only. */
  token?: string | undefined;
  /** Origins whose browsers may call (the Temporal UI). */
  corsOrigins: readonly string[];
  logger: Logger;
  /** Path prefix of the two endpoints; default `/codec`. */
  prefix?: string;
}

type Route = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The ops-server route answering `/codec/decode` and `/codec/encode` (false for other paths). */
export function codecServerRoute(o: CodecServerOptions): Route {
  const prefix = o.prefix ?? '/codec';
  const log = o.logger.child({ component: 'codec-server' });
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const op = path === `${prefix}/decode` ? 'decode' : path === `${prefix}/encode` ? 'encode' : undefined;
    if (!op) return false;
    const origin = req.headers.origin;
    const cors: Record<string, string> =
      origin !== undefined && o.corsOrigins.includes(origin)
        ? {
            'access-control-allow-origin': origin,
            'access-control-allow-credentials': 'true',
            'access-control-allow-methods': 'POST, OPTIONS',
            'access-control-allow-headers': 'authorization, content-type, x-namespace',
            'access-control-max-age': '600',
            vary: 'Origin',
          }
        : { vary: 'Origin' };
    const answer = (status: number, body: unknown): void => {
      if (status !== 200) log.debug({ op, status, body }, 'codec answer');
      res.writeHead(status, { ...cors, 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors);
      res.end();
      return true;
    }
    if (req.method !== 'POST') {
      answer(405, { error: `${path} takes POST` });
      return true;
    }
    const denied = refusal(req, o.token);
    if (denied) {
      log.warn({ op, remote: req.socket.remoteAddress, reason: denied.reason }, 'codec request refused');
      answer(denied.status, { error: denied.reason });
      return true;
    }
    log.debug({ op, remote: req.socket.remoteAddress }, 'codec request');
    let payloads: Payload[];
    try {
      payloads = fromJson(await readBody(req));
    } catch (err) {
      answer(400, { error: `${path}: ${(err as Error).message}` });
      return true;
    }
    try {
      const out = op === 'decode' ? await o.codec.decode(payloads) : await o.codec.encode(payloads);
      answer(200, { payloads: out.map(toJson) });
    } catch (err) {
      // A payload written with a key this server lacks: say which, so the operator knows what to add.
      answer(422, { error: (err as Error).message });
    }
    return true;
  };
}

function refusal(
  req: http.IncomingMessage,
  token: string | undefined,
): { status: number; reason: string } | undefined {
  if (token === undefined) {
    const remote = req.socket.remoteAddress ?? '';
    if (remote === '127.0.0.1' || remote === '::1' || remote === '::ffff:127.0.0.1') return undefined;
    return {
      status: 403,
      reason: 'the codec server answers loopback clients only while BOTBURROW_CODEC_TOKEN is unset',
    };
  }
  const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length === b.length && timingSafeEqual(a, b)) return undefined;
  return { status: 401, reason: 'missing or wrong bearer token (BOTBURROW_CODEC_TOKEN)' };
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error(`body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new Error('body is not JSON');
  }
}

function fromJson(body: unknown): Payload[] {
  if (typeof body !== 'object' || body === null) throw new Error('expected {"payloads": [...]}');
  // Protobuf JSON leaves an empty list out: the CLI sends `{}` for an event without payloads.
  const list = (body as { payloads?: unknown }).payloads ?? [];
  if (!Array.isArray(list)) throw new Error('expected {"payloads": [...]}');
  return list.map((p: JsonPayload, i) => {
    if (typeof p !== 'object' || p === null) throw new Error(`payloads[${i}] is not an object`);
    const metadata: Record<string, Uint8Array> = {};
    for (const [k, v] of Object.entries(p.metadata ?? {})) {
      if (typeof v !== 'string') throw new Error(`payloads[${i}].metadata.${k} is not base64 text`);
      metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
    }
    return { metadata, data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')) };
  });
}

function toJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}
