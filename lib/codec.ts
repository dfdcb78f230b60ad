/**
 * Encrypted payloads: a Temporal PayloadCodec with AES-256-GCM, so workflow inputs, results,
 * activity arguments and results (prompts, transcripts, notification text) are stored in Temporal
 * as ciphertext. Keys come from BOTBURROW_CODEC_KEYS (`id=base64,…`): the first encrypts, every
 * one decrypts, so a key is rotated by adding the new one in front and dropping the old one only
 * when no run that needs it is kept any more (docs/deployment.md).
 *
 * An encrypted payload: metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`;
 * data = 12-byte IV ‖ ciphertext of the whole original Payload (its metadata too) ‖ 16-byte tag, the
 * key id bound as additional authenticated data. Payloads without that encoding pass through, so
 * runs recorded before the codec (or with no key) stay readable.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { ValueError } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { CodecKey } from './config';
import type { Logger } from './logger';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A fresh key entry for BOTBURROW_CODEC_KEYS (`<id>=<base64 of 32 random bytes>`). */
export function newCodecKey(id: string): string {
  return `${id}=${randomBytes(32).toString('base64')}`;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** AES-256-GCM payload codec; the first key encrypts, all keys decrypt. */
export class AesGcmCodec implements PayloadCodec {
  private readonly keys: Map<string, Buffer>;
  readonly writeKeyId: string;

  constructor(keys: readonly CodecKey[]) {
    if (keys.length === 0) throw new ValueError('AesGcmCodec needs at least one key');
    this.keys = new Map(keys.map((k) => [k.id, Buffer.from(k.secret, 'base64')]));
    this.writeKeyId = keys[0]!.id;
  }

  /** Ids of every key this codec can decrypt with, the writing one first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.writeKeyId)!;
    const aad = textEncoder.encode(this.writeKeyId);
    return Promise.resolve(
      payloads.map((payload) => {
        const plain = temporal.api.common.v1.Payload.encode(payload).finish();
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv('aes-256-gcm', key, iv);
        cipher.setAAD(aad);
        const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
        return {
          metadata: {
            encoding: textEncoder.encode(ENCRYPTED_ENCODING),
            [KEY_ID_METADATA]: aad,
          },
          data: new Uint8Array(data),
        };
      }),
    );
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    // A throw inside the executor rejects: a payload that cannot be read fails the call, not the caller.
    return new Promise((resolve) => resolve(payloads.map((payload) => this.decodeOne(payload))));
  }

  private decodeOne(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding;
    if (!encoding || textDecoder.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
    const rawId = payload.metadata?.[KEY_ID_METADATA];
    const keyId = rawId ? textDecoder.decode(rawId) : '';
    const key = this.keys.get(keyId);
    if (!key) {
      throw new ValueError(
        `encrypted payload: key id "${keyId}" is not in BOTBURROW_CODEC_KEYS (known: ${this.keyIds.join(', ')}); ` +
          'add the key that wrote it to read this run',
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new ValueError(`encrypted payload: ${data.length} bytes is too short to be AES-256-GCM data`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(textEncoder.encode(keyId));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new ValueError(
        `encrypted payload: authentication failed with key "${keyId}" (a different key under the same id, or altered data)`,
      );
    }
    const decoded = temporal.api.common.v1.Payload.decode(plain);
    return { metadata: decoded.metadata, data: decoded.data };
  }
}

/** The codec for `keys`, or undefined when none are configured (payloads stay plain). */
export function payloadCodec(keys: readonly CodecKey[] | undefined): AesGcmCodec | undefined {
  return keys && keys.length > 0 ? new AesGcmCodec(keys) : undefined;
}

/**
 * The data converter every client and worker of the system uses: the AES-GCM codec when
 * BOTBURROW_CODEC_KEYS is set, else the SDK's default (plain JSON payloads).
 */
export function dataConverter(s: { codecKeys?: readonly CodecKey[] | undefined }): DataConverter {
  const codec = payloadCodec(s.codecKeys);
  return codec ? { payloadCodecs: [codec] } : {};
}

/** The one start-log line that says whether this process encrypts what it sends to Temporal. */
export function logCodecState(s: { codecKeys?: readonly CodecKey[] | undefined }, logger: Logger): void {
  const codec = payloadCodec(s.codecKeys);
  if (codec) {
    logger.info(
      { writeKey: codec.writeKeyId, readKeys: codec.keyIds },
      'payload codec on: payloads sent to Temporal are encrypted (AES-256-GCM)',
    );
  } else {
    logger.info(
      'payload codec off: BOTBURROW_CODEC_KEYS is unset, so payloads (prompts, transcripts, notifications) are stored in Temporal as plain JSON',
    );
  }
}
