/**
 * Where agent definitions and skills live: a local folder or an S3/R2 bucket, behind one small
 * interface of definitions-relative keys (`agents/<id>/config.yaml`, `skills/<name>/SKILL.md`).
 */
import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Settings } from '../config';

/** A flat key → text store. Keys use `/` separators and never start with `/`. */
export interface DefinitionStore {
  /** For logs and error messages, e.g. `folder ./definitions` or `s3://bucket/prefix`. */
  describe(): string;
  /** Every key under `prefix` (recursively), sorted. */
  list(prefix: string): Promise<string[]>;
  /** The object's text, or null when it does not exist. */
  readText(key: string): Promise<string | null>;
  writeText(key: string, body: string): Promise<void>;
}

/** Rejects keys that could escape the store root (`..`, absolute paths, backslashes). */
export function checkKey(key: string): string {
  const parts = key.split('/');
  if (key.startsWith('/') || key.includes('\\') || parts.some((p) => p === '..' || p === '.')) {
    throw new Error(`invalid definitions key ${JSON.stringify(key)}`);
  }
  return key;
}

const isNotFound = (err: unknown): boolean =>
  typeof err === 'object' &&
  err !== null &&
  ((err as { code?: string }).code === 'ENOENT' || (err as { code?: string }).code === 'ENOTDIR');

/** Definitions in a local folder (`BOTBURROW_AGENT_DEFINITIONS_PATH`). */
export class LocalDefinitionStore implements DefinitionStore {
  readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
  }

  describe(): string {
    return `folder ${this.root}`;
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(path.join(this.root, rel), { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(key);
        else if (e.isFile() && key.startsWith(prefix)) out.push(key);
      }
    };
    // Start at the deepest folder named by the prefix, so listing `agents/` never walks `skills/`.
    const dir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    await walk(checkKey(dir));
    return out.sort();
  }

  async readText(key: string): Promise<string | null> {
    try {
      return await fs.readFile(path.join(this.root, checkKey(key)), 'utf8');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async writeText(key: string, body: string): Promise<void> {
    const file = path.join(this.root, checkKey(key));
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Write then rename, so a reader never sees half a file.
    const tmp = `${file}.${randomUUID()}.tmp`;
    await fs.writeFile(tmp, body, 'utf8');
    await fs.rename(tmp, file);
  }
}

export interface S3StoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix inside the bucket (`BOTBURROW_R2_PREFIX`); a trailing `/` is added if missing. */
  prefix?: string;
}

/** The S3 client settings that work for R2, MinIO and s3rver alike. */
export function createS3Client(o: {
  endpoint: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}): S3Client {
  return new S3Client({
    endpoint: o.endpoint,
    region: o.region ?? 'auto',
    forcePathStyle: true,
    // R2 and s3rver do not accept the SDK's default flexible-checksum trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    ...(o.accessKeyId && o.secretAccessKey
      ? { credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } }
      : {}),
  });
}

/** Splits `s3://bucket/some/prefix` into bucket and prefix; undefined if it is not an s3 URL. */
export function parseS3Url(source: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(source);
  if (!m?.[1]) return undefined;
  return { bucket: m[1], prefix: normalisePrefix(m[2] ?? '') };
}

function normalisePrefix(p: string | undefined): string {
  const trimmed = (p ?? '').replace(/^\/+/, '');
  return trimmed === '' || trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

const isNoSuchKey = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

/**
 * Lists every object (key and size) under `prefix` in `bucket`, following continuation tokens
 * (S3 answers at most 1000 keys per page). `onPage` is called after each page (for heartbeats).
 */
export async function listAllObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  onPage?: (count: number) => void,
): Promise<{ key: string; size: number }[]> {
  const objects: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) objects.push({ key: o.Key, size: o.Size ?? 0 });
    onPage?.(objects.length);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

/** Every key under `prefix` in `bucket` (all pages). */
export async function listAllKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  return (await listAllObjects(client, bucket, prefix)).map((o) => o.key);
}

/** Reads one object as text, or null when it does not exist. */
export async function readS3Text(client: S3Client, bucket: string, key: string): Promise<string | null> {
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return res.Body ? await res.Body.transformToString('utf8') : '';
  } catch (err) {
    if (isNoSuchKey(err)) return null;
    throw err;
  }
}

/** Definitions in an S3/R2 bucket, optionally under a prefix. */
export class S3DefinitionStore implements DefinitionStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;

  constructor(o: S3StoreOptions) {
    this.client = o.client;
    this.bucket = o.bucket;
    this.prefix = normalisePrefix(o.prefix);
  }

  describe(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  async list(prefix: string): Promise<string[]> {
    const keys = await listAllKeys(this.client, this.bucket, this.prefix + prefix);
    return keys.map((k) => k.slice(this.prefix.length)).sort();
  }

  async readText(key: string): Promise<string | null> {
    return readS3Text(this.client, this.bucket, this.prefix + checkKey(key));
  }

  async writeText(key: string, body: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + checkKey(key),
        Body: body,
        ContentType: key.endsWith('.md') ? 'text/markdown; charset=utf-8' : 'text/plain; charset=utf-8',
      }),
    );
  }
}

type StoreSettings = Pick<
  Settings,
  | 'definitionsStore'
  | 'definitionsPath'
  | 'r2Endpoint'
  | 'r2Bucket'
  | 'r2Prefix'
  | 'r2Region'
  | 'r2AccessKeyId'
  | 'r2SecretAccessKey'
>;

/** The S3 client of the settings' endpoint, or undefined when no endpoint is configured. */
export function s3ClientFromSettings(s: StoreSettings): S3Client | undefined {
  if (s.r2Endpoint === undefined) return undefined;
  return createS3Client({
    endpoint: s.r2Endpoint,
    region: s.r2Region ?? 'auto',
    accessKeyId: s.r2AccessKeyId,
    secretAccessKey: s.r2SecretAccessKey,
  });
}

/** The store the settings name: `local` (a folder) or `r2` (an S3-compatible bucket). */
export function createDefinitionStore(s: StoreSettings): DefinitionStore {
  if (s.definitionsStore === 'r2') {
    const client = s3ClientFromSettings(s);
    if (!client || s.r2Bucket === undefined) {
      throw new Error('BOTBURROW_DEFINITIONS_STORE=r2 needs BOTBURROW_R2_ENDPOINT and BOTBURROW_R2_BUCKET');
    }
    return new S3DefinitionStore({ client, bucket: s.r2Bucket, prefix: s.r2Prefix });
  }
  return new LocalDefinitionStore(s.definitionsPath ?? './definitions');
}
