import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Payload } from '@temporalio/common';
import pino from 'pino';
import {
  AesGcmCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  logCodecState,
  newCodecKey,
  payloadCodec,
} from '../../lib/codec';
import { installTracing } from '../../lib/tracing';
import { loadSettings, parseCodecKeys, secretSettingValues } from '../../lib/config';

const k1 = newCodecKey('k1');
const k2 = newCodecKey('k2');
const text = (b: Uint8Array | null | undefined): string =>
  Buffer.from(b ?? new Uint8Array()).toString('utf8');

function codec(raw: string): AesGcmCodec {
  return new AesGcmCodec(parseCodecKeys(raw)!);
}

describe('AesGcmCodec', () => {
  const plain = defaultPayloadConverter.toPayload({ prompt: 'the secret prompt', n: 3 });

  it('encrypts the whole payload, metadata included, and names the key', async () => {
    const [enc] = await codec(k1).encode([plain]);
    expect(text(enc!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(enc!.metadata![KEY_ID_METADATA])).toBe('k1');
    expect(text(enc!.data)).not.toContain('secret prompt');
    expect(text(enc!.data)).not.toContain('json/plain');
    const [dec] = await codec(k1).decode([enc!]);
    expect(defaultPayloadConverter.fromPayload(dec!)).toEqual({ prompt: 'the secret prompt', n: 3 });
    expect(text(dec!.metadata!.encoding)).toBe('json/plain');
  });

  it('uses a fresh IV per payload', async () => {
    const [a, b] = await codec(k1).encode([plain, plain]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('writes with the first key and reads with every key (rotation)', async () => {
    const [old] = await codec(k1).encode([plain]);
    const rotated = codec(`${k2},${k1}`);
    const [fresh] = await rotated.encode([plain]);
    expect(text(fresh!.metadata![KEY_ID_METADATA])).toBe('k2');
    const decoded = await rotated.decode([old!, fresh!]);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([
      { prompt: 'the secret prompt', n: 3 },
      { prompt: 'the secret prompt', n: 3 },
    ]);
  });

  it('refuses a payload of a key it does not hold, naming that key', async () => {
    const [old] = await codec(k1).encode([plain]);
    await expect(codec(k2).decode([old!])).rejects.toThrow(
      /key id "k1" is not in BOTBURROW_CODEC_KEYS \(known: k2\)/,
    );
  });

  it('refuses altered data and a different key under the same id', async () => {
    const [enc] = await codec(k1).encode([plain]);
    const tampered: Payload = { ...enc!, data: Uint8Array.from(enc!.data!) };
    tampered.data![20] = tampered.data![20]! ^ 1;
    await expect(codec(k1).decode([tampered])).rejects.toThrow(/authentication failed with key "k1"/);
    const impostor = newCodecKey('k1');
    await expect(codec(impostor).decode([enc!])).rejects.toThrow(/authentication failed/);
  });

  it('passes payloads that are not encrypted through (runs from before the codec)', async () => {
    const [out] = await codec(k1).decode([plain]);
    expect(out).toBe(plain);
  });

  it('is off without keys', () => {
    expect(payloadCodec(undefined)).toBeUndefined();
    expect(payloadCodec(loadSettings({}).codecKeys)).toBeUndefined();
  });
});

describe('BOTBURROW_CODEC_KEYS', () => {
  it('parses id=base64 entries, the first one writing', () => {
    const s = loadSettings({ BOTBURROW_CODEC_KEYS: `${k2}, ${k1}` });
    expect(s.codecKeys?.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(payloadCodec(s.codecKeys)?.writeKeyId).toBe('k2');
  });

  it.each([
    ['no id', k1.slice(3)],
    ['a short key', 'k1=c2hvcnQ='],
    ['a duplicate id', `${k1},${k1.replace(/=.*/, '')}=${k2.slice(3)}`],
    ['a bad id', `k 1=${k1.slice(3)}`],
  ])('refuses %s without showing the value', (_what, raw) => {
    expect(() => loadSettings({ BOTBURROW_CODEC_KEYS: raw })).toThrow(
      /^BOTBURROW_CODEC_KEYS: expected comma-separated id=base64 entries .*, got \(hidden\)$/,
    );
  });

  it('is scrubbed: every key is among the secret values', () => {
    const s = loadSettings({ BOTBURROW_CODEC_KEYS: `${k1},${k2}` });
    const secrets = secretSettingValues(s);
    expect(secrets).toContain(k1.slice(3));
    expect(secrets).toContain(k2.slice(3));
  });
});

describe('start log and defaults', () => {
  function logged(keys: string | undefined): string {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    logCodecState(loadSettings(keys ? { BOTBURROW_CODEC_KEYS: keys } : {}), logger);
    return lines.join('');
  }

  it('says payloads stay plain without a key, and which keys are in use with them', () => {
    expect(logged(undefined)).toContain('payload codec off: BOTBURROW_CODEC_KEYS is unset');
    const on = logged(`${k2},${k1}`);
    expect(on).toContain('payload codec on');
    expect(on).toContain('"writeKey":"k2"');
    expect(on).not.toContain(k1.slice(3));
  });

  it('has traces off by default: no interceptors, no sinks', async () => {
    const t = await installTracing(loadSettings({}), 'test');
    expect(t.sinks).toBeUndefined();
    expect(t.enabled).toBe(false);
    expect(t.clientInterceptors.workflow).toEqual([]);
    expect(t.activityInterceptors).toEqual([]);
  });
});
