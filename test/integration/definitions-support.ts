/**
 * A real S3-protocol server (s3rver, on a free port, data in a temp dir) for the definitions and
 * skill-sync integration tests, plus helpers to copy fixture folders into buckets and temp dirs.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { freePort, waitForPort } from '../../dev/services';
import { createS3Client } from '../../lib/definitions/store';

export const FIXTURES = path.resolve(__dirname, '../fixtures');
const ROOT = path.resolve(__dirname, '../..');

export interface S3Server {
  endpoint: string;
  client: S3Client;
  stop(): Promise<void>;
}

/**
 * Starts s3rver (its own CLI, as a child process under dev/watchdog.sh) with the given buckets.
 * s3rver encrypts continuation tokens with DES, which OpenSSL 3 only offers through its legacy
 * provider, hence the flag; without it every listing past 1000 keys fails. s3rver checks
 * signatures against its fixed S3RVER keys.
 */
export async function startS3(buckets: string[]): Promise<S3Server> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'botburrow-s3rver-'));
  const port = await freePort();
  const args = [
    '--openssl-legacy-provider',
    path.join(ROOT, 'node_modules/s3rver/bin/s3rver.js'),
    ...['-d', directory, '-a', '127.0.0.1', '-p', String(port), '--silent'],
    ...buckets.flatMap((b) => ['--configure-bucket', b]),
  ];
  const child = spawn(path.join(ROOT, 'dev/watchdog.sh'), [process.execPath, ...args], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, 20_000);
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
      child.kill('SIGTERM');
      await exited;
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
