/**
 * A real S3-protocol server (s3rver, on a free port, data in a temp dir) for the definitions and
 * skill-sync integration tests, plus helpers to copy fixture folders into buckets and temp dirs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { freePort } from '../../dev/services';
import { createS3Client } from '../../lib/definitions/store';

export const FIXTURES = path.resolve(__dirname, '../fixtures');

export interface S3Server {
  endpoint: string;
  client: S3Client;
  stop(): Promise<void>;
}

/** Starts s3rver with the given buckets; s3rver checks signatures against its fixed S3RVER keys. */
export async function startS3(buckets: string[]): Promise<S3Server> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'botburrow-s3rver-'));
  const port = await freePort();
  const server = new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createS3Client({
    endpoint,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
  });
  return {
    endpoint,
    client,
    stop: async () => {
      client.destroy();
      await server.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Every file under `dir`, as `/`-separated paths relative to it. */
export function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** Uploads a fixture folder into `bucket` under `prefix` (PutObject over the S3 protocol). */
export async function uploadFolder(
  client: S3Client,
  bucket: string,
  prefix: string,
  dir: string,
): Promise<string[]> {
  const files = filesUnder(dir);
  await Promise.all(
    files.map((rel) =>
      client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: prefix + rel,
          Body: fs.readFileSync(path.join(dir, rel)),
        }),
      ),
    ),
  );
  return files;
}

/** A fresh temp dir; removed by the returned function. */
export function tempDir(label: string): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `botburrow-${label}-`));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
