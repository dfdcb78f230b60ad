import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import { defaultPayloadConverter } from '@temporalio/common';
import { newCodecKey, payloadCodec } from '../../lib/codec';
import { codecServerRoute } from '../../lib/codec-server';
import { parseCodecKeys } from '../../lib/config';
import { startOpsServer } from '../../lib/http-server';
import type { OpsServer } from '../../lib/http-server';

const codec = payloadCodec(parseCodecKeys(newCodecKey('k1')))!;
const UI = 'http://localhost:8233';

async function serve(token: string | undefined): Promise<OpsServer> {
  return startOpsServer({
    port: 0,
    host: '127.0.0.1',
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
    routes: codecServerRoute({ codec, token, corsOrigins: [UI], logger: pino({ level: 'silent' }) }),
  });
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const plain = { metadata: { encoding: b64('json/plain') }, data: b64('"a transcript line"') };

describe('codec server', () => {
  let withToken: OpsServer;
  let loopbackOnly: OpsServer;
  beforeAll(async () => {
    [withToken, loopbackOnly] = await Promise.all([serve('s3cret'), serve(undefined)]);
  });
  afterAll(async () => {
    await Promise.all([withToken?.close(), loopbackOnly?.close()]);
  });

  const post = (server: OpsServer, op: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${server.port}/codec/${op}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('encodes and decodes in the remote-codec JSON form', async () => {
    const auth = { authorization: 'Bearer s3cret' };
    const enc = await post(withToken, 'encode', { payloads: [plain] }, auth);
    expect(enc.status).toBe(200);
    const encoded = (await enc.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(encoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe(
      'binary/encrypted',
    );
    expect(Buffer.from(encoded.payloads[0]!.data, 'base64').toString()).not.toContain('transcript');
    const dec = await post(withToken, 'decode', encoded, auth);
    const decoded = (await dec.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    const p = decoded.payloads[0]!;
    expect(
      defaultPayloadConverter.fromPayload({
        metadata: { encoding: Buffer.from(p.metadata.encoding!, 'base64') },
        data: Buffer.from(p.data, 'base64'),
      }),
    ).toBe('a transcript line');
  });

  it('answers an event without payloads ({}, as the CLI sends it)', async () => {
    const res = await post(withToken, 'decode', {}, { authorization: 'Bearer s3cret' });
    expect(await res.json()).toEqual({ payloads: [] });
  });

  it('refuses a missing or wrong token, and bad bodies with a reason', async () => {
    expect((await post(withToken, 'decode', { payloads: [] })).status).toBe(401);
    expect((await post(withToken, 'decode', { payloads: [] }, { authorization: 'Bearer nope' })).status).toBe(
      401,
    );
    const bad = await post(withToken, 'decode', { payloads: 'x' }, { authorization: 'Bearer s3cret' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: '/codec/decode: expected {"payloads": [...]}' });
  });

  it('names the missing key when a payload was written with another one', async () => {
    const [other] = await payloadCodec(parseCodecKeys(newCodecKey('k0')))!.encode([
      defaultPayloadConverter.toPayload('old'),
    ]);
    const json = {
      metadata: Object.fromEntries(
        Object.entries(other!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
      data: Buffer.from(other!.data!).toString('base64'),
    };
    const res = await post(withToken, 'decode', { payloads: [json] }, { authorization: 'Bearer s3cret' });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /key id "k0" is not in BOTBURROW_CODEC_KEYS/,
    );
  });

  it('without a token answers loopback clients', async () => {
    expect((await post(loopbackOnly, 'decode', { payloads: [plain] })).status).toBe(200);
  });

  it('gives the UI origin the CORS headers of its preflight, and no other origin', async () => {
    const preflight = (origin: string) =>
      fetch(`http://127.0.0.1:${withToken.port}/codec/decode`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    const ok = await preflight(UI);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(UI);
    expect(ok.headers.get('access-control-allow-headers')).toContain('x-namespace');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
